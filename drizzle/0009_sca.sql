CREATE TABLE "sca_approvals" (
	"tenant_id" uuid NOT NULL,
	"payment_id" uuid NOT NULL,
	"token_id" text NOT NULL,
	"user_id" text NOT NULL,
	"client_id" text NOT NULL,
	"detail" jsonb NOT NULL,
	"approved_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sca_approvals_tenant_id_payment_id_pk" PRIMARY KEY("tenant_id","payment_id"),
	CONSTRAINT "sca_approvals_token_uq" UNIQUE("token_id")
);
--> statement-breakpoint
ALTER TABLE "sca_approvals" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sca_exemption_counters" (
	"tenant_id" uuid NOT NULL,
	"payer_ref" text NOT NULL,
	"cumulative" bigint NOT NULL,
	"count" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sca_exemption_counters_tenant_id_payer_ref_pk" PRIMARY KEY("tenant_id","payer_ref")
);
--> statement-breakpoint
ALTER TABLE "sca_exemption_counters" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sca_settings" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"currency" text NOT NULL,
	"low_value_limit" bigint NOT NULL,
	"cumulative_limit" bigint NOT NULL,
	"count_limit" integer NOT NULL,
	"mode" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sca_settings_limits" CHECK (low_value_limit >= 0 AND cumulative_limit >= 0 AND count_limit >= 0)
);
--> statement-breakpoint
ALTER TABLE "sca_settings" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "sca_approvals" ADD CONSTRAINT "sca_approvals_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sca_exemption_counters" ADD CONSTRAINT "sca_exemption_counters_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sca_settings" ADD CONSTRAINT "sca_settings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "sca_approvals" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "sca_exemption_counters" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "sca_settings" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());