CREATE TABLE "payment_daily_usage" (
	"tenant_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"direction" text NOT NULL,
	"currency" text NOT NULL,
	"day" date NOT NULL,
	"total" bigint NOT NULL,
	CONSTRAINT "payment_daily_usage_tenant_id_partner_id_direction_currency_day_pk" PRIMARY KEY("tenant_id","partner_id","direction","currency","day")
);
--> statement-breakpoint
ALTER TABLE "payment_daily_usage" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "payment_limits" (
	"tenant_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"direction" text NOT NULL,
	"currency" text NOT NULL,
	"max_per_payment" bigint NOT NULL,
	"max_per_day" bigint NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "payment_limits_tenant_id_partner_id_direction_currency_pk" PRIMARY KEY("tenant_id","partner_id","direction","currency"),
	CONSTRAINT "payment_limits_check" CHECK ("payment_limits"."max_per_payment" > 0 and "payment_limits"."max_per_day" >= "payment_limits"."max_per_payment")
);
--> statement-breakpoint
ALTER TABLE "payment_limits" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "payment_mandates" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"reference" text NOT NULL,
	"debtor_iban_enc" text NOT NULL,
	"debtor_name_enc" text NOT NULL,
	"signed_on" date NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"sandbox" boolean NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "payment_mandates_reference_key" UNIQUE("tenant_id","reference"),
	CONSTRAINT "payment_mandates_status_check" CHECK ("payment_mandates"."status" in ('active', 'revoked'))
);
--> statement-breakpoint
ALTER TABLE "payment_mandates" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"owner_user_id" uuid,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"mandate_id" uuid,
	"claim_id" uuid,
	"policy_id" uuid,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"counterparty_name_enc" text NOT NULL,
	"counterparty_iban_enc" text NOT NULL,
	"payee_check" text,
	"payee_check_name_enc" text,
	"reference_enc" text,
	"sca_status" text NOT NULL,
	"sca_detail_enc" text,
	"due_date" date,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 1 NOT NULL,
	"retry_spacing_ms" bigint DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"rail" text NOT NULL,
	"rail_ref" uuid,
	"reason_code" text,
	"sandbox" boolean NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"submitted_at" timestamp with time zone,
	"settled_at" timestamp with time zone,
	CONSTRAINT "payments_amount_check" CHECK ("payments"."amount" > 0),
	CONSTRAINT "payments_currency_check" CHECK ("payments"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "payments_kind_check" CHECK ("payments"."kind" in ('collection', 'claim_payout')),
	CONSTRAINT "payments_status_check" CHECK ("payments"."status" in ('created', 'scheduled', 'awaiting_sca', 'submitted', 'settled', 'returned', 'rejected', 'failed', 'cancelled')),
	CONSTRAINT "payments_links_check" CHECK (("payments"."kind" = 'collection' and "payments"."mandate_id" is not null) or ("payments"."kind" = 'claim_payout' and "payments"."claim_id" is not null))
);
--> statement-breakpoint
ALTER TABLE "payments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "rail_sim_transfers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"payment_id" uuid NOT NULL,
	"outcome" text NOT NULL,
	"reason_code" text,
	"due_at" timestamp with time zone NOT NULL,
	"reported_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "rail_sim_transfers" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "payment_daily_usage" ADD CONSTRAINT "payment_daily_usage_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_limits" ADD CONSTRAINT "payment_limits_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_mandates" ADD CONSTRAINT "payment_mandates_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rail_sim_transfers" ADD CONSTRAINT "rail_sim_transfers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "payment_mandates_partner_idx" ON "payment_mandates" USING btree ("tenant_id","partner_id","id");--> statement-breakpoint
CREATE INDEX "payments_partner_idx" ON "payments" USING btree ("tenant_id","partner_id","id");--> statement-breakpoint
CREATE INDEX "payments_claim_idx" ON "payments" USING btree ("tenant_id","claim_id") WHERE "payments"."claim_id" is not null;--> statement-breakpoint
CREATE INDEX "payments_due_idx" ON "payments" USING btree ("next_attempt_at") WHERE "payments"."status" = 'scheduled';--> statement-breakpoint
CREATE INDEX "rail_sim_transfers_due_idx" ON "rail_sim_transfers" USING btree ("due_at") WHERE "rail_sim_transfers"."reported_at" is null;--> statement-breakpoint
CREATE INDEX "rail_sim_transfers_payment_idx" ON "rail_sim_transfers" USING btree ("tenant_id","payment_id");--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "payment_daily_usage" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "payment_limits" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "payment_mandates" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "payments" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "rail_sim_transfers" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());