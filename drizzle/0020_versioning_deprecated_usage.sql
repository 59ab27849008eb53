CREATE TABLE "api_deprecated_usage" (
	"tenant_id" uuid NOT NULL,
	"client_id" text NOT NULL,
	"partner_id" uuid,
	"method" text NOT NULL,
	"route" text NOT NULL,
	"calls" bigint NOT NULL,
	"refused" bigint NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	CONSTRAINT "api_deprecated_usage_pkey" PRIMARY KEY("tenant_id","client_id","method","route")
);
--> statement-breakpoint
ALTER TABLE "api_deprecated_usage" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "api_deprecated_usage" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());