/**
 * Appending to the audit trail.
 *
 * `appendAudit(tx, input)` writes the record in the CALLER's transaction, so a change and its
 * audit record commit together or not at all (DESIGN: the request path). It locks the chain head
 * (`pg_advisory_xact_lock`, inside `bulwark_audit_chain_head`), reads it and inserts seq + 1 with
 * the head's hash as `prev_hash`. The lock is held until the caller commits: audited transactions
 * on every instance pass that point one at a time, which is what keeps one unforked chain without
 * retries. The price is throughput — at most one audited commit per (append → commit) interval,
 * about 1/(two round trips + commit); bench/audit-micro.ts measured ~1,450 appends/s with 16
 * concurrent writers on a local PostgreSQL, and ~340/s when 1 ms of work followed the append — so:
 *
 *   - append LAST in the transaction, just before it commits, to hold the lock for the least time;
 *   - keep the transaction READ COMMITTED (the default): the head is read with a fresh snapshot
 *     after the lock is granted. Under REPEATABLE READ a stale head fails safely on the primary key;
 *   - for high-volume events that change nothing else (WAF and rate-limit blocks, failed sign-ins
 *     under attack, reads of personal data) use `appendAuditAsync`.
 *
 * `appendAuditAsync(tx, input)` validates the record and stores it in `audit_queue`, in the same
 * transaction (no lock: concurrent callers do not wait for each other). The writer
 * (`startAuditWriter`, writer.ts) moves queued records into the chain in batches: one lock and one
 * multi-row insert per batch. Why a queue table rather than the outbox and the bus: moving a record
 * from the queue to the chain is ONE database transaction, so it happens exactly once — no
 * redelivery to de-duplicate, no dependence on NATS being up, and the outbox keeps its meaning
 * (events for subscribers, pruned once published). The record keeps the time it was enqueued;
 * its position in the chain comes when the writer appends it (usually within a poll interval).
 */
import type { Tx } from '../platform/db/types.ts';
import { isUuid } from '../platform/ids.ts';
import { type AuditRecord, type AuditRecordBody, recordHash } from './canonical.ts';
import { checkDetails, forbiddenValue, unprintable } from './details.ts';
import { AuditError } from './errors.ts';
import {
  AUDIT_ACTOR_TYPES,
  AUDIT_OUTCOMES,
  type AuditActorType,
  type AuditJson,
  type AuditOutcome,
} from './schema.ts';
import * as store from './store.ts';

/** What happened, as a caller describes it. */
export interface AuditInput {
  /** Who: `user` (a person, by user id), `client` (an OAuth client), `operator` (admin API), `system`, `anonymous`. */
  readonly actor: {
    readonly type: AuditActorType;
    /** User id, client id, operator id… An id, never a name or e-mail. */
    readonly id?: string | null | undefined;
    /** The OAuth client the request came through, if any. */
    readonly clientId?: string | null | undefined;
  };
  /** Lowercase dotted words, at least two: `auth.signin.failed`, `admin.tenant.created`, `waf.blocked`. */
  readonly action: string;
  /** Which object it was done to. */
  readonly object?: { readonly type: string; readonly id?: string | null | undefined } | null | undefined;
  /** The tenant it belongs to; null for platform events (readable by the system only). */
  readonly tenantId: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId?: string | null | undefined;
  /** Small JSON object of ids and facts; no personal data or secrets (`checkDetails`, `redactDetails`). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  /** When it happened; default now. Milliseconds are kept. */
  readonly at?: Date | undefined;
}

/** A validated input: the record body without its place in the chain. */
export type AuditEntry = Omit<AuditRecordBody, 'seq' | 'prevHash'>;

const ACTION_RE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*){1,5}$/;
const OBJECT_TYPE_RE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
function invalid(message: string): AuditError {
  return new AuditError('AUDIT_RECORD_INVALID', message);
}

function optionalId(value: string | null | undefined, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || unprintable(value))
    throw invalid(`${field}: 1-${max} printable characters`);
  const why = forbiddenValue(value);
  if (why)
    throw new AuditError('AUDIT_DETAILS_PII', `${field} looks like ${why}; record ids, not personal data`);
  return value;
}

/** Validates an input and fixes its time; throws AuditError. */
export function auditEntry(input: AuditInput, now: () => Date = () => new Date()): AuditEntry {
  if (typeof input !== 'object' || input === null) throw invalid('record must be an object');
  const { actor, action, object, tenantId, outcome } = input;
  if (typeof action !== 'string' || action.length > 100 || !ACTION_RE.test(action))
    throw invalid('action: lowercase dotted words, e.g. auth.signin.failed');
  if (!actor || !(AUDIT_ACTOR_TYPES as readonly string[]).includes(actor.type))
    throw invalid(`actor.type: one of ${AUDIT_ACTOR_TYPES.join(', ')}`);
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(outcome))
    throw invalid(`outcome: one of ${AUDIT_OUTCOMES.join(', ')}`);
  if (tenantId !== null && (typeof tenantId !== 'string' || !isUuid(tenantId)))
    throw invalid('tenantId: a UUID or null');
  if (
    object != null &&
    (typeof object.type !== 'string' || object.type.length > 64 || !OBJECT_TYPE_RE.test(object.type))
  )
    throw invalid('object.type: lowercase words, e.g. tenant or payment');
  const at = input.at ?? now();
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw invalid('at: a valid Date');
  return {
    occurredAt: at.toISOString(),
    tenantId: tenantId === null ? null : tenantId.toLowerCase(),
    actorType: actor.type,
    actorId: optionalId(actor.id, 'actor.id', 200),
    clientId: optionalId(actor.clientId, 'actor.clientId', 200),
    action,
    objectType: object?.type ?? null,
    objectId: object ? optionalId(object.id, 'object.id', 200) : null,
    outcome,
    requestId: optionalId(input.requestId, 'requestId', 128),
    details: checkDetails(input.details ?? {}),
  };
}

/** Chains validated entries after `head`: seq, prev_hash and hash for each. */
export function chainEntries(
  head: { seq: number; hash: string },
  entries: readonly AuditEntry[],
): AuditRecord[] {
  let prev = head;
  return entries.map((e) => {
    const body: AuditRecordBody = { ...e, seq: prev.seq + 1, prevHash: prev.hash };
    const record: AuditRecord = { ...body, hash: recordHash(body) };
    prev = record;
    return record;
  });
}

/**
 * Appends one record to the chain in the caller's transaction (`db.withTenant` — then `tenantId`
 * must be that tenant — or `db.asSystem`) and returns it with its seq and hash. Holds the chain
 * lock until that transaction ends: call it last.
 */
export async function appendAudit(tx: Tx, input: AuditInput): Promise<AuditRecord> {
  const entry = auditEntry(input);
  const head = await store.lockChainHead(tx);
  const [record] = chainEntries(head, [entry]);
  await store.insertRecords(tx, [record!]);
  return record!;
}

/**
 * Queues one record in the caller's transaction, for the writer to chain shortly after commit.
 * Validation happens now, so a bad record fails the caller's transaction, not the writer.
 */
export async function appendAuditAsync(tx: Tx, input: AuditInput): Promise<void> {
  const entry = auditEntry(input);
  await store.enqueue(tx, entry.tenantId, { ...entry } as Record<string, AuditJson>);
}

/** Re-validates a queued entry (it was validated when queued; the queue is a table like any other). */
export function entryFromQueue(record: Record<string, AuditJson>): AuditEntry {
  const r = record as Partial<Record<keyof AuditEntry, unknown>>;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  const at = new Date(typeof r.occurredAt === 'string' ? r.occurredAt : Number.NaN);
  return auditEntry({
    actor: { type: r.actorType as AuditActorType, id: text(r.actorId), clientId: text(r.clientId) },
    action: r.action as string,
    object: typeof r.objectType === 'string' ? { type: r.objectType, id: text(r.objectId) } : null,
    tenantId: r.tenantId as string | null,
    outcome: r.outcome as AuditOutcome,
    requestId: text(r.requestId),
    details: r.details as Record<string, unknown> | undefined,
    at,
  });
}
