CREATE TABLE "operator_bootstrap" (
	"id" integer PRIMARY KEY NOT NULL,
	"platform_tenant_id" uuid NOT NULL,
	"first_operator_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone,
	CONSTRAINT "operator_bootstrap_single" CHECK (id = 1)
);
--> statement-breakpoint
ALTER TABLE "operator_bootstrap" ADD CONSTRAINT "operator_bootstrap_platform_tenant_id_tenants_id_fk" FOREIGN KEY ("platform_tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;