CREATE TABLE "oidc_models" (
	"model" text NOT NULL,
	"id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"grant_id" text,
	"user_code" text,
	"uid" text,
	"expires_at" timestamp with time zone,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "oidc_models_model_id_pk" PRIMARY KEY("model","id")
);
--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "auth_method" text DEFAULT 'private_key_jwt' NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "jwks" jsonb;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "tls_subject_dn" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "redirect_uris" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "grant_types" jsonb DEFAULT '["client_credentials"]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "scope" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "oidc_models_grant_idx" ON "oidc_models" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "oidc_models_uid_idx" ON "oidc_models" USING btree ("model","uid");--> statement-breakpoint
CREATE INDEX "oidc_models_user_code_idx" ON "oidc_models" USING btree ("model","user_code");--> statement-breakpoint
CREATE INDEX "oidc_models_expires_idx" ON "oidc_models" USING btree ("expires_at");--> statement-breakpoint
-- Tokens and sessions are the authorization server's alone: tenant-scoped code (bulwark_app) gets no access.
REVOKE ALL ON "oidc_models" FROM bulwark_app;