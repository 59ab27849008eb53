-- The role that tenant-scoped transactions run as (SET LOCAL ROLE bulwark_app). It cannot log in,
-- owns nothing and has no BYPASSRLS, so row-level security always applies to it. Roles are
-- cluster-wide: another database on the same server may have created it already.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bulwark_app') THEN
    CREATE ROLE bulwark_app NOLOGIN NOINHERIT;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
--> statement-breakpoint
-- A non-superuser owner must be a member of the role to switch to it.
DO $$
BEGIN
  EXECUTE format('GRANT bulwark_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION bulwark_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('bulwark.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO bulwark_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bulwark_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO bulwark_app;
