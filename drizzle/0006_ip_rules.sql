CREATE TABLE "ip_blocks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"client_id" text,
	"cidr" "cidr" NOT NULL,
	"reason" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	CONSTRAINT "ip_blocks_scope_check" CHECK ("ip_blocks"."client_id" is null or "ip_blocks"."tenant_id" is not null),
	CONSTRAINT "ip_blocks_expiry_check" CHECK ("ip_blocks"."expires_at" > "ip_blocks"."created_at"),
	CONSTRAINT "ip_blocks_revoked_check" CHECK (("ip_blocks"."revoked_at" is null) = ("ip_blocks"."revoked_by" is null))
);
--> statement-breakpoint
ALTER TABLE "ip_blocks" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "ip_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"client_id" text,
	"action" text NOT NULL,
	"cidr" "cidr" NOT NULL,
	"note" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ip_rules_scope_cidr_key" UNIQUE NULLS NOT DISTINCT("tenant_id","client_id","action","cidr"),
	CONSTRAINT "ip_rules_action_check" CHECK ("ip_rules"."action" in ('allow', 'deny')),
	CONSTRAINT "ip_rules_scope_check" CHECK ("ip_rules"."client_id" is null or "ip_rules"."tenant_id" is not null)
);
--> statement-breakpoint
ALTER TABLE "ip_rules" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "ip_blocks" ADD CONSTRAINT "ip_blocks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ip_blocks" ADD CONSTRAINT "ip_blocks_client_id_apps_client_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."apps"("client_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ip_rules" ADD CONSTRAINT "ip_rules_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ip_rules" ADD CONSTRAINT "ip_rules_client_id_apps_client_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."apps"("client_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ip_blocks_active_idx" ON "ip_blocks" USING btree ("expires_at") WHERE "ip_blocks"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "ip_blocks_scope_idx" ON "ip_blocks" USING btree ("tenant_id","client_id");--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "ip_blocks" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "ip_rules" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());