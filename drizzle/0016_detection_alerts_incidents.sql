CREATE TABLE "detection_actions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"alert_id" uuid NOT NULL,
	"detector" text NOT NULL,
	"kind" text NOT NULL,
	"target" jsonb NOT NULL,
	"status" text NOT NULL,
	"ref" text,
	"note" text,
	"expires_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"reverted_by" text,
	"reverted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "detection_actions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "detection_alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"detector" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"dedup_key" text NOT NULL,
	"severity" text NOT NULL,
	"status" text NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"summary" text NOT NULL,
	"explanation" jsonb NOT NULL,
	"context" jsonb NOT NULL,
	"incident_id" uuid,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp with time zone,
	"resolved_by" text,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "detection_alerts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "detection_incident_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"incident_id" uuid NOT NULL,
	"tenant_id" uuid,
	"at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "detection_incident_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "detection_incidents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"group_key" text NOT NULL,
	"title" text NOT NULL,
	"status" text NOT NULL,
	"severity" text NOT NULL,
	"owner" text,
	"alert_count" integer DEFAULT 0 NOT NULL,
	"detected_at" timestamp with time zone NOT NULL,
	"last_activity_at" timestamp with time zone NOT NULL,
	"personal_data_breach" boolean DEFAULT false NOT NULL,
	"breach_aware_at" timestamp with time zone,
	"major_ict" boolean DEFAULT false NOT NULL,
	"classified_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "detection_incidents" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "detection_response_policies" (
	"detector" text PRIMARY KEY NOT NULL,
	"actions" jsonb NOT NULL,
	"min_severity" text NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"throttle_per_minute" integer NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "detection_suppressions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"detector" text,
	"subject_type" text,
	"subject_id" text,
	"reason" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"lifted_by" text,
	"lifted_at" timestamp with time zone,
	CONSTRAINT "detection_suppressions_subject_check" CHECK (("detection_suppressions"."subject_type" is null) = ("detection_suppressions"."subject_id" is null))
);
--> statement-breakpoint
ALTER TABLE "detection_suppressions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "detection_actions" ADD CONSTRAINT "detection_actions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "detection_alerts" ADD CONSTRAINT "detection_alerts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "detection_incident_events" ADD CONSTRAINT "detection_incident_events_incident_id_detection_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "public"."detection_incidents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "detection_incident_events" ADD CONSTRAINT "detection_incident_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "detection_incidents" ADD CONSTRAINT "detection_incidents_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "detection_suppressions" ADD CONSTRAINT "detection_suppressions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "detection_actions_alert_idx" ON "detection_actions" USING btree ("alert_id");--> statement-breakpoint
CREATE UNIQUE INDEX "detection_alerts_open_key" ON "detection_alerts" USING btree ("dedup_key") WHERE "detection_alerts"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX "detection_alerts_seen_idx" ON "detection_alerts" USING btree ("last_seen_at");--> statement-breakpoint
CREATE INDEX "detection_alerts_incident_idx" ON "detection_alerts" USING btree ("incident_id");--> statement-breakpoint
CREATE INDEX "detection_incident_events_incident_idx" ON "detection_incident_events" USING btree ("incident_id","at");--> statement-breakpoint
CREATE INDEX "detection_incidents_group_idx" ON "detection_incidents" USING btree ("group_key","last_activity_at");--> statement-breakpoint
CREATE INDEX "detection_incidents_activity_idx" ON "detection_incidents" USING btree ("last_activity_at");--> statement-breakpoint
CREATE INDEX "detection_suppressions_active_idx" ON "detection_suppressions" USING btree ("expires_at") WHERE "detection_suppressions"."lifted_at" is null;--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "detection_actions" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "detection_alerts" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "detection_incident_events" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "detection_incidents" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "detection_suppressions" AS PERMISSIVE FOR ALL TO "bulwark_app" USING ("tenant_id" = bulwark_current_tenant()) WITH CHECK ("tenant_id" = bulwark_current_tenant());