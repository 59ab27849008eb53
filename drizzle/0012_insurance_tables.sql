CREATE TABLE "insurance_adjuster_authorities" (
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"currency" text NOT NULL,
	"single_limit" bigint NOT NULL,
	"multi_limit" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_adjuster_authorities_tenant_id_user_id_currency_pk" PRIMARY KEY("tenant_id","user_id","currency"),
	CONSTRAINT "insurance_adjuster_authorities_limits_check" CHECK ("insurance_adjuster_authorities"."single_limit" >= 0 and "insurance_adjuster_authorities"."single_limit" <= "insurance_adjuster_authorities"."multi_limit")
);
--> statement-breakpoint
ALTER TABLE "insurance_adjuster_authorities" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_claim_documents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"claim_id" uuid NOT NULL,
	"filename_enc" text NOT NULL,
	"media_type" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"uploaded_by_type" text NOT NULL,
	"uploaded_by_id" text NOT NULL,
	"uploaded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_claim_documents_size_check" CHECK ("insurance_claim_documents"."size_bytes" >= 0)
);
--> statement-breakpoint
ALTER TABLE "insurance_claim_documents" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_claim_payouts" (
	"tenant_id" uuid NOT NULL,
	"claim_id" uuid NOT NULL,
	"payment_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_claim_payouts_tenant_id_claim_id_payment_id_kind_pk" PRIMARY KEY("tenant_id","claim_id","payment_id","kind"),
	CONSTRAINT "insurance_claim_payouts_kind_check" CHECK ("insurance_claim_payouts"."kind" in ('settled', 'returned')),
	CONSTRAINT "insurance_claim_payouts_amount_check" CHECK ("insurance_claim_payouts"."amount" > 0)
);
--> statement-breakpoint
ALTER TABLE "insurance_claim_payouts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_claims" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"policy_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"owner_user_id" uuid,
	"status" text NOT NULL,
	"incident_date" date NOT NULL,
	"amount_claimed" bigint NOT NULL,
	"currency" text NOT NULL,
	"description_enc" text NOT NULL,
	"payee_name_enc" text NOT NULL,
	"payee_iban_enc" text NOT NULL,
	"payee_iban_idx" text NOT NULL,
	"approved_amount" bigint,
	"paid_amount" bigint DEFAULT 0 NOT NULL,
	"fraud_review" boolean DEFAULT false NOT NULL,
	"fraud_signals" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"adjuster_id" uuid,
	"adjuster_notes_enc" text,
	"decided_at" timestamp with time zone,
	"decided_by" uuid,
	"filed_by_type" text NOT NULL,
	"filed_by_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_claims_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "insurance_claims_status_check" CHECK ("insurance_claims"."status" in ('fnol', 'triage', 'assessment', 'approved', 'denied', 'paid', 'closed')),
	CONSTRAINT "insurance_claims_amounts_check" CHECK ("insurance_claims"."amount_claimed" > 0 and "insurance_claims"."paid_amount" >= 0 and ("insurance_claims"."approved_amount" is null or ("insurance_claims"."approved_amount" > 0 and "insurance_claims"."approved_amount" <= "insurance_claims"."amount_claimed" and "insurance_claims"."paid_amount" <= "insurance_claims"."approved_amount")))
);
--> statement-breakpoint
ALTER TABLE "insurance_claims" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_instalments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"policy_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"due_date" date NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text DEFAULT 'due' NOT NULL,
	"payment_id" uuid,
	"paid_at" timestamp with time zone,
	CONSTRAINT "insurance_instalments_policy_seq_key" UNIQUE("tenant_id","policy_id","seq"),
	CONSTRAINT "insurance_instalments_amount_check" CHECK ("insurance_instalments"."amount" >= 0),
	CONSTRAINT "insurance_instalments_status_check" CHECK ("insurance_instalments"."status" in ('due', 'paid', 'void'))
);
--> statement-breakpoint
ALTER TABLE "insurance_instalments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_policies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"product_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"owner_user_id" uuid,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"cover_amount" bigint NOT NULL,
	"premium_amount" bigint NOT NULL,
	"premium_frequency" text NOT NULL,
	"start_date" date NOT NULL,
	"end_date" date NOT NULL,
	"quote_expires_at" timestamp with time zone NOT NULL,
	"bound_at" timestamp with time zone,
	"ended_on" date,
	"end_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_policies_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "insurance_policies_status_check" CHECK ("insurance_policies"."status" in ('quoted', 'bound', 'active', 'cancelled', 'lapsed', 'expired')),
	CONSTRAINT "insurance_policies_amounts_check" CHECK ("insurance_policies"."cover_amount" > 0 and "insurance_policies"."premium_amount" >= 0),
	CONSTRAINT "insurance_policies_dates_check" CHECK ("insurance_policies"."start_date" < "insurance_policies"."end_date")
);
--> statement-breakpoint
ALTER TABLE "insurance_policies" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "insurance_products" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"line_of_business" text NOT NULL,
	"currency" text NOT NULL,
	"premium_frequency" text NOT NULL,
	"annual_base" bigint NOT NULL,
	"rate_per_mille" bigint NOT NULL,
	"cover_limit" bigint NOT NULL,
	"term_months" integer NOT NULL,
	"waiting_days" integer NOT NULL,
	"max_start_delay_days" integer NOT NULL,
	"quote_valid_days" integer NOT NULL,
	"grace_days" integer NOT NULL,
	"early_claim_days" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "insurance_products_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "insurance_products_tenant_name_key" UNIQUE("tenant_id","name"),
	CONSTRAINT "insurance_products_amounts_check" CHECK ("insurance_products"."cover_limit" > 0 and "insurance_products"."annual_base" >= 0 and "insurance_products"."rate_per_mille" >= 0),
	CONSTRAINT "insurance_products_status_check" CHECK ("insurance_products"."status" in ('active', 'retired'))
);
--> statement-breakpoint
ALTER TABLE "insurance_products" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "insurance_adjuster_authorities" ADD CONSTRAINT "insurance_adjuster_authorities_tenant_id_user_id_users_tenant_id_id_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_claim_documents" ADD CONSTRAINT "insurance_claim_documents_tenant_id_claim_id_insurance_claims_tenant_id_id_fk" FOREIGN KEY ("tenant_id","claim_id") REFERENCES "public"."insurance_claims"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_claim_payouts" ADD CONSTRAINT "insurance_claim_payouts_tenant_id_claim_id_insurance_claims_tenant_id_id_fk" FOREIGN KEY ("tenant_id","claim_id") REFERENCES "public"."insurance_claims"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_claims" ADD CONSTRAINT "insurance_claims_tenant_id_policy_id_insurance_policies_tenant_id_id_fk" FOREIGN KEY ("tenant_id","policy_id") REFERENCES "public"."insurance_policies"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_instalments" ADD CONSTRAINT "insurance_instalments_tenant_id_policy_id_insurance_policies_tenant_id_id_fk" FOREIGN KEY ("tenant_id","policy_id") REFERENCES "public"."insurance_policies"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_policies" ADD CONSTRAINT "insurance_policies_tenant_id_product_id_insurance_products_tenant_id_id_fk" FOREIGN KEY ("tenant_id","product_id") REFERENCES "public"."insurance_products"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "insurance_products" ADD CONSTRAINT "insurance_products_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "insurance_claim_documents_claim_idx" ON "insurance_claim_documents" USING btree ("tenant_id","claim_id","id");--> statement-breakpoint
CREATE INDEX "insurance_claims_policy_idx" ON "insurance_claims" USING btree ("tenant_id","policy_id");--> statement-breakpoint
CREATE INDEX "insurance_claims_partner_idx" ON "insurance_claims" USING btree ("tenant_id","partner_id","id");--> statement-breakpoint
CREATE INDEX "insurance_claims_owner_idx" ON "insurance_claims" USING btree ("tenant_id","owner_user_id","id");--> statement-breakpoint
CREATE INDEX "insurance_claims_payee_idx" ON "insurance_claims" USING btree ("tenant_id","payee_iban_idx");--> statement-breakpoint
CREATE INDEX "insurance_policies_partner_idx" ON "insurance_policies" USING btree ("tenant_id","partner_id","id");--> statement-breakpoint
CREATE INDEX "insurance_policies_owner_idx" ON "insurance_policies" USING btree ("tenant_id","owner_user_id","id");--> statement-breakpoint
CREATE INDEX "insurance_policies_customer_idx" ON "insurance_policies" USING btree ("tenant_id","customer_id");--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_adjuster_authorities" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_claim_documents" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_claim_payouts" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_claims" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_instalments" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_policies" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "insurance_products" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());