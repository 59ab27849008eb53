/**
 * Tables of the tamper-evident audit trail (DESIGN invariant 4). drizzle-kit generates them into
 * the migration `*_audit.sql`; the parts drizzle cannot express — the append-only triggers, the
 * chain-head function, the insert guard and the privilege REVOKEs — are hand-written SQL at the end
 * of that same migration.
 *
 *   audit_log          one global hash chain (per deployment), ordered by `seq` (1, 2, 3 …): each
 *                      record holds the SHA-256 hash of its predecessor (`prev_hash`) and its own
 *                      (`hash`). Append-only: UPDATE, DELETE and TRUNCATE raise, for every role.
 *   audit_checkpoints  signed Merkle tree heads over the first `tree_size` records (RFC 9162 §2.1.1),
 *                      each chained to the previous one. Append-only too; system-only.
 *   audit_queue        records waiting for the asynchronous writer (`appendAuditAsync`): written in
 *                      the caller's transaction, moved into the chain in batches by one writer.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  jsonb,
  pgPolicy,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { appRole } from '../platform/db/schema.ts';

const currentTenant = sql`bulwark_current_tenant()`;
/** Milliseconds, not microseconds: the time enters the record hash, computed from a JS `Date`. */
const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });
const HEX256 = sql.raw(`'^[0-9a-f]{64}$'`);

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied', 'blocked'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export const AUDIT_ACTOR_TYPES = ['user', 'client', 'operator', 'system', 'anonymous'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/** Details stored with a record: small JSON, no personal data (see `details.ts`). */
export type AuditJson = string | number | boolean | null | AuditJson[] | { [key: string]: AuditJson };

export const auditLog = pgTable(
  'audit_log',
  {
    /** Position in the chain, from 1, without gaps; assigned under the chain lock. Also the leaf index + 1. */
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    occurredAt: instant('occurred_at').notNull(),
    /** Null for platform events (visible to the system only). */
    tenantId: uuid('tenant_id'),
    actorType: text('actor_type', { enum: AUDIT_ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    clientId: text('client_id'),
    action: text('action').notNull(),
    objectType: text('object_type'),
    objectId: text('object_id'),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull(),
    requestId: text('request_id'),
    details: jsonb('details').$type<{ [key: string]: AuditJson }>().notNull(),
    /** Hex SHA-256 of the previous record's canonical bytes (its `hash`); 64 zeros for record 1. */
    prevHash: text('prev_hash').notNull(),
    /** Hex SHA-256 of this record's canonical bytes (`canonical.ts`), `prev_hash` included. */
    hash: text('hash').notNull(),
  },
  (t) => [
    check('audit_log_seq_check', sql`${t.seq} >= 1`),
    check('audit_log_outcome_check', sql`${t.outcome} in ('success', 'failure', 'denied', 'blocked')`),
    check(
      'audit_log_actor_type_check',
      sql`${t.actorType} in ('user', 'client', 'operator', 'system', 'anonymous')`,
    ),
    check('audit_log_hash_check', sql`${t.hash} ~ ${HEX256} and ${t.prevHash} ~ ${HEX256}`),
    check('audit_log_details_check', sql`jsonb_typeof(${t.details}) = 'object'`),
    index('audit_log_tenant_idx').on(t.tenantId, t.seq),
    index('audit_log_time_idx').on(t.occurredAt),
    index('audit_log_actor_idx').on(t.actorId, t.seq),
    index('audit_log_object_idx').on(t.objectType, t.objectId, t.seq),
    // `action LIKE 'auth.%'` (prefix search) can use a btree only with the pattern operator class.
    index('audit_log_action_idx').using('btree', t.action.op('text_pattern_ops'), t.seq),
    // Tenants read their own records and write only their own; platform records (no tenant) match
    // no tenant, so only the system sees them. No UPDATE or DELETE policy: those are refused anyway.
    pgPolicy('audit_tenant_read', {
      as: 'permissive',
      for: 'select',
      to: appRole,
      using: sql`${t.tenantId} = ${currentTenant}`,
    }),
    pgPolicy('audit_tenant_append', {
      as: 'permissive',
      for: 'insert',
      to: appRole,
      withCheck: sql`${t.tenantId} = ${currentTenant}`,
    }),
  ],
).enableRLS();

export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    /** Checkpoint number, from 1, without gaps. */
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    /** Records 1..tree_size are the leaves of the tree (RFC 9162 §2.1.1). */
    treeSize: bigint('tree_size', { mode: 'number' }).notNull(),
    rootHash: text('root_hash').notNull(),
    /** `hash` of the previous checkpoint; 64 zeros for the first. */
    prevHash: text('prev_hash').notNull(),
    /** The signed time of the checkpoint. */
    createdAt: instant('created_at').notNull(),
    /** Hex SHA-256 of the checkpoint's canonical body (what the JWS signs). */
    hash: text('hash').notNull(),
    kid: text('kid').notNull(),
    alg: text('alg').notNull(),
    /** Compact JWS (RFC 7515 §7.1) whose payload is the canonical body. */
    jws: text('jws').notNull(),
    /**
     * The roots of the perfect subtrees that make up the tree (left to right): lets the next
     * checkpoint, and a verification resumed here, continue without rereading older records. Not
     * signed: a wrong frontier only yields a root that fails to match the next signed one.
     */
    frontier: jsonb('frontier').$type<string[]>().notNull(),
  },
  (t) => [
    check('audit_checkpoints_size_check', sql`${t.treeSize} >= 1 and ${t.seq} >= 1`),
    check(
      'audit_checkpoints_hash_check',
      sql`${t.hash} ~ ${HEX256} and ${t.prevHash} ~ ${HEX256} and ${t.rootHash} ~ ${HEX256}`,
    ),
    index('audit_checkpoints_size_idx').on(t.treeSize),
  ],
).enableRLS();

export const auditQueue = pgTable(
  'audit_queue',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id'),
    /** The validated record (`AuditInput` with its time), as the writer will append it. */
    record: jsonb('record').$type<Record<string, AuditJson>>().notNull(),
    enqueuedAt: instant('enqueued_at').notNull().defaultNow(),
  },
  (t) => [
    pgPolicy('audit_queue_tenant_append', {
      as: 'permissive',
      for: 'insert',
      to: appRole,
      withCheck: sql`${t.tenantId} = ${currentTenant}`,
    }),
  ],
).enableRLS();
