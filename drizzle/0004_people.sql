CREATE TABLE "user_recovery_codes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"code_hash" text NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_recovery_codes_code_key" UNIQUE("tenant_id","user_id","code_hash")
);
--> statement-breakpoint
ALTER TABLE "user_recovery_codes" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "user_totp" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"secret_enc" text NOT NULL,
	"status" text NOT NULL,
	"last_used_step" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"confirmed_at" timestamp with time zone,
	CONSTRAINT "user_totp_status_check" CHECK ("user_totp"."status" in ('pending', 'active'))
);
--> statement-breakpoint
ALTER TABLE "user_totp" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"username_idx" text NOT NULL,
	"username_enc" text NOT NULL,
	"email_idx" text,
	"email_enc" text,
	"display_name_enc" text,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"password_hash" text,
	"password_changed_at" timestamp with time zone,
	"failed_attempts" integer DEFAULT 0 NOT NULL,
	"lockouts" integer DEFAULT 0 NOT NULL,
	"locked_at" timestamp with time zone,
	"locked_until" timestamp with time zone,
	"last_login_at" timestamp with time zone,
	"invite_token_hash" text,
	"invite_expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_tenant_id_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "users_tenant_username_key" UNIQUE("tenant_id","username_idx"),
	CONSTRAINT "users_tenant_email_key" UNIQUE("tenant_id","email_idx"),
	CONSTRAINT "users_status_check" CHECK ("users"."status" in ('invited', 'active', 'disabled')),
	CONSTRAINT "users_roles_check" CHECK ("users"."roles" <@ array['tenant_admin', 'security_operator', 'underwriter', 'claims_adjuster', 'policyholder', 'auditor']::text[]),
	CONSTRAINT "users_attempts_check" CHECK ("users"."failed_attempts" >= 0 and "users"."lockouts" >= 0),
	CONSTRAINT "users_password_check" CHECK ("users"."status" = 'invited' or "users"."password_hash" is not null)
);
--> statement-breakpoint
ALTER TABLE "users" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "webauthn_credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"credential_id" text NOT NULL,
	"public_key" text NOT NULL,
	"counter" bigint DEFAULT 0 NOT NULL,
	"transports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"device_type" text NOT NULL,
	"backed_up" boolean DEFAULT false NOT NULL,
	"aaguid" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "webauthn_credentials_credential_key" UNIQUE("tenant_id","credential_id"),
	CONSTRAINT "webauthn_credentials_status_check" CHECK ("webauthn_credentials"."status" in ('active', 'suspended')),
	CONSTRAINT "webauthn_credentials_counter_check" CHECK ("webauthn_credentials"."counter" >= 0)
);
--> statement-breakpoint
ALTER TABLE "webauthn_credentials" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "user_recovery_codes" ADD CONSTRAINT "user_recovery_codes_tenant_id_user_id_users_tenant_id_id_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_totp" ADD CONSTRAINT "user_totp_tenant_id_user_id_users_tenant_id_id_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webauthn_credentials" ADD CONSTRAINT "webauthn_credentials_tenant_id_user_id_users_tenant_id_id_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "users_invite_token_idx" ON "users" USING btree ("tenant_id","invite_token_hash") WHERE "users"."invite_token_hash" is not null;--> statement-breakpoint
CREATE INDEX "webauthn_credentials_user_idx" ON "webauthn_credentials" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "user_recovery_codes" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "user_totp" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "users" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "webauthn_credentials" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());