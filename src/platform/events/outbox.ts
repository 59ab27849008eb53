/**
 * The transactional outbox: a domain change and the event announcing it are written in the same
 * transaction, so an event exists if and only if its change committed. The relay publishes it
 * afterwards (STYLE 11: events only after commit).
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { rows } from '../db/rows.ts';
import { outbox } from '../db/schema.ts';
import type { Tx } from '../db/types.ts';
import { isUuid, uuidv7 } from '../ids.ts';
import { assertTopic, type BusEvent, isPlainObject } from './bus.ts';

export interface OutboxEvent {
  /** Lowercase dotted words: `tenant.created`, `partner.created`. */
  readonly topic: string;
  /** Must be the transaction's tenant under `withTenant` (RLS refuses anything else); null for platform events. */
  readonly tenantId: string | null;
  /** JSON object. Keep it to ids and facts subscribers need; it is stored and relayed as-is. */
  readonly payload: Record<string, unknown>;
}

/**
 * Writes an event into the caller's transaction (`db.withTenant` or `db.asSystem`) and returns its
 * id. Nothing is published here: if the transaction rolls back, the event never existed.
 */
export async function enqueue(tx: Tx, event: OutboxEvent): Promise<string> {
  assertTopic(event.topic);
  if (event.tenantId !== null && !isUuid(event.tenantId)) throw new Error('event tenantId must be a uuid');
  if (!isPlainObject(event.payload)) throw new Error('event payload must be a plain object');
  const id = uuidv7();
  await tx.insert(outbox).values({
    id,
    topic: event.topic,
    tenantId: event.tenantId,
    // Round-trip through JSON now, so a payload that cannot be serialised fails in the caller's
    // transaction (rolling its change back) instead of later in the relay.
    payload: JSON.parse(JSON.stringify(event.payload)) as Record<string, unknown>,
  });
  return id;
}

/** An outbox row as the relay reads it. */
export type OutboxRow = typeof outbox.$inferSelect;

export function toBusEvent(row: OutboxRow): BusEvent {
  if (!isPlainObject(row.payload)) throw new Error(`outbox row ${row.id} has a non-object payload`);
  return {
    id: row.id,
    topic: row.topic,
    tenantId: row.tenantId,
    payload: row.payload,
    occurredAt: row.occurredAt.toISOString(),
  };
}

export interface PruneOptions {
  /** Published rows older than this many days are deleted. */
  readonly olderThanDays: number;
  /** Rows deleted per transaction, to keep locks short. Default 5,000. */
  readonly batchSize?: number;
}

/**
 * Deletes published outbox rows older than `olderThanDays`; unpublished rows are never touched.
 * Returns how many were deleted. A system job: it runs across tenants.
 */
export async function pruneOutbox(db: Database, opts: PruneOptions): Promise<number> {
  if (!Number.isInteger(opts.olderThanDays) || opts.olderThanDays < 0) {
    throw new Error('olderThanDays must be a non-negative integer');
  }
  const batchSize = opts.batchSize ?? 5_000;
  const cutoff = new Date(Date.now() - opts.olderThanDays * 86_400_000).toISOString();
  let total = 0;
  for (;;) {
    const [result] = await db.asSystem((tx) =>
      rows<{ n: number }>(
        tx,
        sql`WITH gone AS (
              DELETE FROM outbox WHERE seq IN (
                SELECT seq FROM outbox
                WHERE published_at IS NOT NULL AND published_at < ${cutoff}::timestamptz
                ORDER BY seq LIMIT ${batchSize}
              ) RETURNING 1
            ) SELECT count(*)::int AS n FROM gone`,
      ),
    );
    const n = result?.n ?? 0;
    total += n;
    if (n < batchSize) return total;
  }
}
