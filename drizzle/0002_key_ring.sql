CREATE TABLE "data_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"scope" text NOT NULL,
	"purpose" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"kek_id" text,
	"wrapped_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	"destroyed_at" timestamp with time zone,
	CONSTRAINT "data_keys_status_check" CHECK ("data_keys"."status" in ('active', 'retired', 'destroyed')),
	CONSTRAINT "data_keys_material_check" CHECK (("data_keys"."status" = 'destroyed') = ("data_keys"."wrapped_key" is null) and ("data_keys"."wrapped_key" is null) = ("data_keys"."kek_id" is null))
);
--> statement-breakpoint
ALTER TABLE "data_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"purpose" text NOT NULL,
	"alg" text NOT NULL,
	"state" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"kek_id" text,
	"private_key" text,
	"created_at" timestamp with time zone NOT NULL,
	"activated_at" timestamp with time zone,
	"retired_at" timestamp with time zone,
	"verify_until" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "signing_keys_state_check" CHECK ("signing_keys"."state" in ('pending', 'active', 'retired', 'revoked')),
	CONSTRAINT "signing_keys_material_check" CHECK (("signing_keys"."private_key" is null) = ("signing_keys"."kek_id" is null) and ("signing_keys"."state" <> 'revoked' or "signing_keys"."private_key" is null) and ("signing_keys"."state" not in ('pending', 'active') or "signing_keys"."private_key" is not null))
);
--> statement-breakpoint
ALTER TABLE "signing_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "data_keys" ADD CONSTRAINT "data_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "data_keys_one_active_idx" ON "data_keys" USING btree ("tenant_id","scope","purpose") WHERE "data_keys"."status" = 'active';--> statement-breakpoint
CREATE INDEX "data_keys_tenant_scope_idx" ON "data_keys" USING btree ("tenant_id","scope");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active_platform_idx" ON "signing_keys" USING btree ("purpose") WHERE "signing_keys"."state" = 'active' and "signing_keys"."tenant_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active_tenant_idx" ON "signing_keys" USING btree ("tenant_id","purpose") WHERE "signing_keys"."state" = 'active' and "signing_keys"."tenant_id" is not null;--> statement-breakpoint
CREATE INDEX "signing_keys_purpose_idx" ON "signing_keys" USING btree ("purpose","state");--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "data_keys" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "signing_keys" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());