/**
 * Persistence of the audit trail: the only SQL of the module. Appends run in the caller's
 * transaction (tenant-scoped or system); reads for verification, checkpoints and export run as
 * the system (platform records have no tenant).
 */
import { and, asc, desc, eq, gt, gte, inArray, like, lt, lte, max, type SQL, sql } from 'drizzle-orm';
import { rows } from '../platform/db/rows.ts';
import type { Queryable, Tx } from '../platform/db/types.ts';
import type { AuditRecord } from './canonical.ts';
import { type AuditJson, auditCheckpoints, auditLog, auditQueue } from './schema.ts';

/** Advisory lock keys (the chain lock itself, 7264021401, is taken inside `bulwark_audit_chain_head`). */
const CHECKPOINT_LOCK = 7_264_021_402;
const WRITER_LOCK = 7_264_021_403;

export type AuditRow = typeof auditLog.$inferSelect;
export type CheckpointRow = typeof auditCheckpoints.$inferSelect;

export function toRecord(r: AuditRow): AuditRecord {
  return {
    seq: r.seq,
    occurredAt: r.occurredAt.toISOString(),
    tenantId: r.tenantId,
    actorType: r.actorType,
    actorId: r.actorId,
    clientId: r.clientId,
    action: r.action,
    objectType: r.objectType,
    objectId: r.objectId,
    outcome: r.outcome,
    requestId: r.requestId,
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

function toRow(r: AuditRecord): typeof auditLog.$inferInsert {
  return { ...r, occurredAt: new Date(r.occurredAt) };
}

/**
 * Locks the chain for the rest of the transaction and returns its head: the last record's seq
 * and hash (0 and 64 zeros when empty). See `bulwark_audit_chain_head` in the migration.
 */
export async function lockChainHead(tx: Tx): Promise<{ seq: number; hash: string }> {
  const [head] = await rows<{ head_seq: string | number | bigint; head_hash: string }>(
    tx,
    sql`SELECT head_seq, head_hash FROM bulwark_audit_chain_head()`,
  );
  if (!head) throw new Error('bulwark_audit_chain_head returned nothing');
  return { seq: Number(head.head_seq), hash: head.head_hash };
}

export async function insertRecords(tx: Tx, records: readonly AuditRecord[]): Promise<void> {
  if (records.length) await tx.insert(auditLog).values(records.map(toRow));
}

/** The last seq, without locking (a committed prefix: seqs are assigned under the chain lock). */
export async function headSeq(db: Queryable): Promise<number> {
  const [r] = await db.select({ seq: max(auditLog.seq) }).from(auditLog);
  return r?.seq == null ? 0 : Number(r.seq);
}

export async function recordAt(db: Queryable, seq: number): Promise<AuditRecord | undefined> {
  const [r] = await db.select().from(auditLog).where(eq(auditLog.seq, seq));
  return r && toRecord(r);
}

interface VerifyRow {
  seq: number | string;
  ms: number | string;
  tenant_id: string | null;
  actor_type: AuditRecord['actorType'];
  actor_id: string | null;
  client_id: string | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  outcome: AuditRecord['outcome'];
  request_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/**
 * Up to `limit` records after `afterSeq`, in chain order: the hot path of verification and
 * checkpoints. Plain SQL with the time as epoch milliseconds and `details` as text, which both
 * drivers hand over two to three times faster than drizzle's mapped rows (timestamps, jsonb);
 * the records are the same as `recordsBetween` gives (a test holds them together).
 */
export async function recordsAfter(db: Queryable, afterSeq: number, limit: number): Promise<AuditRecord[]> {
  const found = await rows<VerifyRow>(
    db,
    sql`SELECT seq, (extract(epoch FROM occurred_at) * 1000)::float8 AS ms, tenant_id, actor_type, actor_id,
               client_id, action, object_type, object_id, outcome, request_id, details::text AS details,
               prev_hash, hash
        FROM audit_log WHERE seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`,
  );
  return found.map((r) => ({
    seq: Number(r.seq),
    occurredAt: new Date(Number(r.ms)).toISOString(),
    tenantId: r.tenant_id,
    actorType: r.actor_type,
    actorId: r.actor_id,
    clientId: r.client_id,
    action: r.action,
    objectType: r.object_type,
    objectId: r.object_id,
    outcome: r.outcome,
    requestId: r.request_id,
    details: JSON.parse(r.details) as AuditRecord['details'],
    prevHash: r.prev_hash,
    hash: r.hash,
  }));
}

/** Records `fromSeq..toSeq` in chain order (whatever exists of them). */
export async function recordsBetween(db: Queryable, fromSeq: number, toSeq: number): Promise<AuditRecord[]> {
  const found = await db
    .select()
    .from(auditLog)
    .where(and(gte(auditLog.seq, fromSeq), lte(auditLog.seq, toSeq)))
    .orderBy(asc(auditLog.seq));
  return found.map(toRecord);
}

/** seq and stored hash of records `fromSeq..toSeq`, in chain order. */
export async function hashesBetween(
  db: Queryable,
  fromSeq: number,
  toSeq: number,
): Promise<{ seq: number; hash: string }[]> {
  if (toSeq < fromSeq) return [];
  return db
    .select({ seq: auditLog.seq, hash: auditLog.hash })
    .from(auditLog)
    .where(and(gte(auditLog.seq, fromSeq), lte(auditLog.seq, toSeq)))
    .orderBy(asc(auditLog.seq));
}

/** The first and last seq of the records whose time lies in [from, to). */
export async function seqRangeForTime(
  db: Queryable,
  from: Date,
  to: Date,
): Promise<{ first: number; last: number } | undefined> {
  const [r] = await db
    .select({
      first: sql<string | null>`min(${auditLog.seq})`,
      last: sql<string | null>`max(${auditLog.seq})`,
    })
    .from(auditLog)
    .where(and(gte(auditLog.occurredAt, from), lt(auditLog.occurredAt, to)));
  if (r?.first == null || r.last == null) return undefined;
  return { first: Number(r.first), last: Number(r.last) };
}

export interface SearchFilter {
  readonly tenantId?: string | undefined;
  readonly actorId?: string | undefined;
  readonly actorType?: string | undefined;
  readonly actionPrefix?: string | undefined;
  readonly objectType?: string | undefined;
  readonly objectId?: string | undefined;
  readonly outcome?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  /** Cursor: only records before this seq (pages go from newest to oldest). */
  readonly beforeSeq?: number | undefined;
}

/** `LIKE` with the pattern's own wildcards escaped: the prefix is matched literally. */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function search(db: Queryable, f: SearchFilter, limit: number): Promise<AuditRecord[]> {
  const where: SQL[] = [];
  if (f.tenantId !== undefined) where.push(eq(auditLog.tenantId, f.tenantId));
  if (f.actorId !== undefined) where.push(eq(auditLog.actorId, f.actorId));
  if (f.actorType !== undefined) where.push(sql`${auditLog.actorType} = ${f.actorType}`);
  if (f.actionPrefix !== undefined) where.push(like(auditLog.action, `${escapeLike(f.actionPrefix)}%`));
  if (f.objectType !== undefined) where.push(eq(auditLog.objectType, f.objectType));
  if (f.objectId !== undefined) where.push(eq(auditLog.objectId, f.objectId));
  if (f.outcome !== undefined) where.push(sql`${auditLog.outcome} = ${f.outcome}`);
  if (f.from !== undefined) where.push(gte(auditLog.occurredAt, f.from));
  if (f.to !== undefined) where.push(lt(auditLog.occurredAt, f.to));
  if (f.beforeSeq !== undefined) where.push(lt(auditLog.seq, f.beforeSeq));
  const found = await db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(limit);
  return found.map(toRecord);
}

// ---- asynchronous appends -------------------------------------------------------------------

export async function enqueue(
  tx: Tx,
  tenantId: string | null,
  record: Record<string, AuditJson>,
): Promise<void> {
  await tx.insert(auditQueue).values({ tenantId, record });
}

/**
 * Makes this transaction the only writer draining the queue until it ends; false when another
 * writer (on any instance) holds it, in which case this one skips its turn.
 */
export async function tryWriterLock(tx: Tx): Promise<boolean> {
  const [r] = await rows<{ ok: boolean }>(tx, sql`SELECT pg_try_advisory_xact_lock(${WRITER_LOCK}) AS ok`);
  return r?.ok === true;
}

export function queued(tx: Tx, limit: number): Promise<{ seq: number; record: Record<string, AuditJson> }[]> {
  return tx
    .select({ seq: auditQueue.seq, record: auditQueue.record })
    .from(auditQueue)
    .orderBy(asc(auditQueue.seq))
    .limit(limit);
}

export async function dequeue(tx: Tx, seqs: readonly number[]): Promise<void> {
  if (seqs.length) await tx.delete(auditQueue).where(inArray(auditQueue.seq, [...seqs]));
}

export async function queueLength(db: Queryable): Promise<number> {
  const [r] = await rows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_queue`);
  return r?.n ?? 0;
}

// ---- checkpoints -----------------------------------------------------------------------------

export async function lockCheckpoints(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${CHECKPOINT_LOCK})`);
}

export async function latestCheckpoint(db: Queryable): Promise<CheckpointRow | undefined> {
  const [r] = await db.select().from(auditCheckpoints).orderBy(desc(auditCheckpoints.seq)).limit(1);
  return r;
}

/** The first checkpoint whose tree holds record `seq` (tree size >= seq). */
export async function checkpointCovering(db: Queryable, seq: number): Promise<CheckpointRow | undefined> {
  const [r] = await db
    .select()
    .from(auditCheckpoints)
    .where(gte(auditCheckpoints.treeSize, seq))
    .orderBy(asc(auditCheckpoints.treeSize))
    .limit(1);
  return r;
}

/** Checkpoints numbered after `afterSeq`, in order. */
export function checkpointsAfter(db: Queryable, afterSeq: number): Promise<CheckpointRow[]> {
  return db
    .select()
    .from(auditCheckpoints)
    .where(gt(auditCheckpoints.seq, afterSeq))
    .orderBy(asc(auditCheckpoints.seq));
}

export async function insertCheckpoint(tx: Tx, row: CheckpointRow): Promise<void> {
  await tx.insert(auditCheckpoints).values(row);
}
