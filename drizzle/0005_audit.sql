CREATE TABLE "audit_checkpoints" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"tree_size" bigint NOT NULL,
	"root_hash" text NOT NULL,
	"prev_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"hash" text NOT NULL,
	"kid" text NOT NULL,
	"alg" text NOT NULL,
	"jws" text NOT NULL,
	"frontier" jsonb NOT NULL,
	CONSTRAINT "audit_checkpoints_size_check" CHECK ("audit_checkpoints"."tree_size" >= 1 and "audit_checkpoints"."seq" >= 1),
	CONSTRAINT "audit_checkpoints_hash_check" CHECK ("audit_checkpoints"."hash" ~ '^[0-9a-f]{64}$' and "audit_checkpoints"."prev_hash" ~ '^[0-9a-f]{64}$' and "audit_checkpoints"."root_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "audit_log" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"tenant_id" uuid,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"client_id" text,
	"action" text NOT NULL,
	"object_type" text,
	"object_id" text,
	"outcome" text NOT NULL,
	"request_id" text,
	"details" jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_seq_check" CHECK ("audit_log"."seq" >= 1),
	CONSTRAINT "audit_log_outcome_check" CHECK ("audit_log"."outcome" in ('success', 'failure', 'denied', 'blocked')),
	CONSTRAINT "audit_log_actor_type_check" CHECK ("audit_log"."actor_type" in ('user', 'client', 'operator', 'system', 'anonymous')),
	CONSTRAINT "audit_log_hash_check" CHECK ("audit_log"."hash" ~ '^[0-9a-f]{64}$' and "audit_log"."prev_hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "audit_log_details_check" CHECK (jsonb_typeof("audit_log"."details") = 'object')
);
--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "audit_queue" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"record" jsonb NOT NULL,
	"enqueued_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_queue" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "audit_checkpoints_size_idx" ON "audit_checkpoints" USING btree ("tree_size");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_idx" ON "audit_log" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE INDEX "audit_log_time_idx" ON "audit_log" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor_id","seq");--> statement-breakpoint
CREATE INDEX "audit_log_object_idx" ON "audit_log" USING btree ("object_type","object_id","seq");--> statement-breakpoint
CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action" text_pattern_ops,"seq");--> statement-breakpoint
CREATE POLICY "audit_tenant_read" ON "audit_log" AS PERMISSIVE FOR SELECT TO "bulwark_app" USING ("audit_log"."tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "audit_tenant_append" ON "audit_log" AS PERMISSIVE FOR INSERT TO "bulwark_app" WITH CHECK ("audit_log"."tenant_id" = bulwark_current_tenant());--> statement-breakpoint
CREATE POLICY "audit_queue_tenant_append" ON "audit_queue" AS PERMISSIVE FOR INSERT TO "bulwark_app" WITH CHECK ("audit_queue"."tenant_id" = bulwark_current_tenant());--> statement-breakpoint
-- ---- Hand-written (src/audit/schema.ts): append-only tables, chain head, append guards. ----
-- Every change other than INSERT is refused by a trigger, for every role including the owner
-- (SQLSTATE BWA01). Only a superuser or the owner disabling the trigger on purpose gets past it,
-- and that is what the hash chain and the signed checkpoints then detect (`bulwark audit verify`).
CREATE OR REPLACE FUNCTION bulwark_audit_refuse_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'BWA01', HINT = 'corrections are new audit records';
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION bulwark_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION bulwark_audit_refuse_change();
--> statement-breakpoint
-- The chain head, read under a transaction-scoped advisory lock held until the caller commits, so
-- that appenders on every instance extend the chain one at a time and it never forks. The SELECT
-- runs after the lock is granted and, the function being VOLATILE, with a fresh snapshot (under
-- READ COMMITTED) that sees the record the previous holder committed. SECURITY DEFINER: a tenant
-- transaction (bulwark_app, row-level security) must see the head whoever owns it; it learns only
-- its position and hash.
CREATE OR REPLACE FUNCTION bulwark_audit_chain_head(OUT head_seq bigint, OUT head_hash text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7264021401);
  SELECT l.seq, l.hash INTO head_seq, head_hash FROM public.audit_log l ORDER BY l.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    head_seq := 0;
    head_hash := repeat('0', 64);
  END IF;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION bulwark_audit_chain_head() FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION bulwark_audit_chain_head() TO bulwark_app;
--> statement-breakpoint
-- Second wall: a record is accepted only if it extends the head (next seq, predecessor's hash);
-- the primary key stops two appenders that skipped the lock. Rows of one multi-row INSERT see the
-- rows before them (PostgreSQL: row-level BEFORE triggers see earlier rows of the same command).
CREATE OR REPLACE FUNCTION bulwark_audit_guard_append() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  SELECT l.seq, l.hash INTO last_seq, last_hash FROM public.audit_log l ORDER BY l.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    last_seq := 0;
    last_hash := repeat('0', 64);
  END IF;
  IF NEW.seq IS DISTINCT FROM last_seq + 1 OR NEW.prev_hash IS DISTINCT FROM last_hash THEN
    RAISE EXCEPTION 'audit record % does not extend the chain head %', NEW.seq, last_seq
      USING ERRCODE = 'BWA02';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION bulwark_audit_guard_append();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION bulwark_audit_guard_checkpoint() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  last record;
BEGIN
  SELECT c.seq, c.hash, c.tree_size INTO last FROM public.audit_checkpoints c ORDER BY c.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    IF NEW.seq <> 1 OR NEW.prev_hash <> repeat('0', 64) THEN
      RAISE EXCEPTION 'the first audit checkpoint must be number 1' USING ERRCODE = 'BWA02';
    END IF;
  ELSIF NEW.seq <> last.seq + 1 OR NEW.prev_hash <> last.hash OR NEW.tree_size <= last.tree_size THEN
    RAISE EXCEPTION 'audit checkpoint % does not extend checkpoint %', NEW.seq, last.seq
      USING ERRCODE = 'BWA02';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_extends_head BEFORE INSERT ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION bulwark_audit_guard_checkpoint();
--> statement-breakpoint
-- Privileges of the tenant role (defaults of migration 0000 grant it SELECT, INSERT, UPDATE, DELETE
-- on new tables): it appends and reads its own records, and enqueues; nothing else.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM bulwark_app;
--> statement-breakpoint
REVOKE ALL ON audit_checkpoints FROM bulwark_app;
--> statement-breakpoint
REVOKE SELECT, UPDATE, DELETE, TRUNCATE ON audit_queue FROM bulwark_app;
