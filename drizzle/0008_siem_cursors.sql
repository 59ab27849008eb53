CREATE TABLE "siem_cursors" (
	"sink" text PRIMARY KEY NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "siem_cursors_seq_check" CHECK ("siem_cursors"."last_seq" >= 0)
);
--> statement-breakpoint
ALTER TABLE "siem_cursors" ENABLE ROW LEVEL SECURITY;