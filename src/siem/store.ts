/**
 * Persistence of the SIEM exporter: one cursor row per sink, and the lease on it. Every function
 * runs in a system transaction (`db.asSystem`): the table is platform-wide. Lease times are the
 * database's clock (`now()`), the one clock all instances share.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../platform/db/index.ts';
import { rows } from '../platform/db/rows.ts';
import type { Tx } from '../platform/db/types.ts';

export { recordsAfter } from '../audit/store.ts';

/** Creates the sink's cursor at 0 if it has none. */
export async function ensureCursor(tx: Tx, sink: string): Promise<void> {
  await tx.execute(sql`INSERT INTO siem_cursors (sink) VALUES (${sink}) ON CONFLICT (sink) DO NOTHING`);
}

/**
 * Takes or renews the lease on the sink for `ttlMs`: granted when free, expired, or already ours.
 * Returns the persisted cursor when granted, undefined when another instance holds it.
 */
export async function acquireLease(
  tx: Tx,
  sink: string,
  owner: string,
  ttlMs: number,
): Promise<number | undefined> {
  const [r] = await rows<{ last_seq: string | number }>(
    tx,
    sql`UPDATE siem_cursors
          SET lease_owner = ${owner}, lease_until = now() + ${ttlMs} * interval '1 millisecond'
        WHERE sink = ${sink}
          AND (lease_owner = ${owner} OR lease_until IS NULL OR lease_until < now())
        RETURNING last_seq`,
  );
  return r === undefined ? undefined : Number(r.last_seq);
}

/**
 * Stores the cursor (forwards after a delivered batch, or backwards when a sink asks for a replay)
 * and renews the lease. False when the lease was lost to another instance: nothing is written.
 */
export async function saveCursor(
  tx: Tx,
  sink: string,
  owner: string,
  lastSeq: number,
  ttlMs: number,
): Promise<boolean> {
  const found = await rows<{ sink: string }>(
    tx,
    sql`UPDATE siem_cursors
          SET last_seq = ${lastSeq}, updated_at = now(),
              lease_until = now() + ${ttlMs} * interval '1 millisecond'
        WHERE sink = ${sink} AND lease_owner = ${owner}
        RETURNING sink`,
  );
  return found.length === 1;
}

export async function releaseLease(tx: Tx, sink: string, owner: string): Promise<void> {
  await tx.execute(
    sql`UPDATE siem_cursors SET lease_owner = NULL, lease_until = NULL
        WHERE sink = ${sink} AND lease_owner = ${owner}`,
  );
}

export interface CursorState {
  readonly sink: string;
  readonly lastSeq: number;
  /** Audit records not yet acknowledged by the sink. */
  readonly lagRecords: number;
  /** Age of the oldest record not yet acknowledged, in seconds (0 when caught up). */
  readonly lagSeconds: number;
}

/** Every sink's cursor and lag (system read). */
export async function cursorStates(db: Database): Promise<CursorState[]> {
  const found = await db.asSystem((tx) =>
    rows<{ sink: string; last_seq: string | number; head: string | number; age: string | number | null }>(
      tx,
      sql`SELECT c.sink, c.last_seq,
               coalesce((SELECT max(seq) FROM audit_log), 0) AS head,
               (SELECT extract(epoch FROM now() - a.occurred_at) FROM audit_log a WHERE a.seq = c.last_seq + 1) AS age
          FROM siem_cursors c ORDER BY c.sink`,
    ),
  );
  return found.map((r) => ({
    sink: r.sink,
    lastSeq: Number(r.last_seq),
    lagRecords: Math.max(0, Number(r.head) - Number(r.last_seq)),
    lagSeconds: Math.max(0, Number(r.age ?? 0)),
  }));
}
