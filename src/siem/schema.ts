/**
 * The SIEM exporter's one table: where each sink stands in the audit trail. A platform table (no
 * tenant): RLS is enabled with no policy, so only the system (`db.asSystem`) reads or writes it.
 *
 *   siem_cursors   one row per sink: the last audit `seq` the sink acknowledged, and the lease that
 *                  lets exactly one instance export to that sink at a time.
 */
import { sql } from 'drizzle-orm';
import { bigint, check, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });

export const siemCursors = pgTable(
  'siem_cursors',
  {
    /** Sink name: `syslog`, `nats`, `http` (one row each, created when the sink first runs). */
    sink: text('sink').primaryKey(),
    /** Every audit record with seq <= this was acknowledged by the sink (0: none yet). */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    /** The instance exporting to this sink, while `lease_until` is in the future. */
    leaseOwner: text('lease_owner'),
    leaseUntil: instant('lease_until'),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [check('siem_cursors_seq_check', sql`${t.lastSeq} >= 0`)],
).enableRLS();
