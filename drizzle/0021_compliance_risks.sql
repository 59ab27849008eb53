CREATE TABLE "compliance_risks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"likelihood" integer NOT NULL,
	"impact" integer NOT NULL,
	"owner" text NOT NULL,
	"treatment" text NOT NULL,
	"treatment_plan" text NOT NULL,
	"controls" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" text NOT NULL,
	"review_due" timestamp with time zone NOT NULL,
	"last_reviewed_at" timestamp with time zone,
	"overdue_alerted_for" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "compliance_risks_scale" CHECK (likelihood BETWEEN 1 AND 5 AND impact BETWEEN 1 AND 5),
	CONSTRAINT "compliance_risks_treatment" CHECK (treatment in ('avoid', 'mitigate', 'transfer', 'accept')),
	CONSTRAINT "compliance_risks_status" CHECK (status in ('identified', 'treating', 'monitoring', 'closed'))
);
--> statement-breakpoint
ALTER TABLE "compliance_risks" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "compliance_risks" ADD CONSTRAINT "compliance_risks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "compliance_risks_tenant_idx" ON "compliance_risks" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "compliance_risks_due_idx" ON "compliance_risks" USING btree ("review_due") WHERE "compliance_risks"."status" <> 'closed';--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "compliance_risks" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());