/**
 * The outbox relay: moves committed outbox rows to the event bus.
 *
 * Each batch runs in one system transaction that locks its rows with `FOR UPDATE SKIP LOCKED`, so
 * relays in several instances sharing one PostgreSQL never publish the same row at the same time.
 * A row is marked published in the transaction that published it; if the process dies between the
 * publish and the commit, the row is published again later (at least once), and the bus's
 * de-duplication by event id (JetStream `Nats-Msg-Id`) makes that effectively once.
 */
import { asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { outbox } from '../db/schema.ts';
import { describeError, type EventBus, type EventLogger, silentLogger } from './bus.ts';
import { toBusEvent } from './outbox.ts';

export interface RelayOptions {
  readonly db: Database;
  readonly bus: EventBus;
  /** Idle poll interval; `nudge()` shortens the wait after a commit. */
  readonly pollMs: number;
  /** Rows per transaction. Default 100. */
  readonly batchSize?: number;
  /** Ceiling of the back-off after publish or database failures. Default 30 s. */
  readonly maxBackoffMs?: number;
  readonly logger?: EventLogger;
}

export interface Relay {
  /** Stops polling and waits for the batch in progress. */
  stop(): Promise<void>;
  /** Polls now (e.g. right after a commit that enqueued events), unless backing off after a failure. */
  nudge(): void;
  /** Publishes everything pending now; resolves with how many rows it published. */
  drain(): Promise<number>;
}

interface BatchResult {
  readonly published: number;
  readonly failed: boolean;
  /** The batch was full, so more rows are probably waiting. */
  readonly full: boolean;
}

const LAST_ERROR_MAX = 300;

export function startRelay(opts: RelayOptions): Relay {
  const { db, bus, pollMs } = opts;
  const batchSize = opts.batchSize ?? 100;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const logger = opts.logger ?? silentLogger;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  if (!(pollMs > 0)) throw new Error('pollMs must be positive');

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** The background iteration in progress, if any. */
  let current: Promise<void> | undefined;
  let nudged = false;
  let failures = 0;
  // Batches of this relay (background or drain) run one at a time: a drain racing the timer would
  // otherwise skip the rows the timer's batch holds locked and return before they are published.
  let chain: Promise<unknown> = Promise.resolve();

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const runBatch = (): Promise<BatchResult> =>
    db.asSystem(async (tx) => {
      const batch = await tx
        .select()
        .from(outbox)
        .where(isNull(outbox.publishedAt))
        .orderBy(asc(outbox.seq))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      const published: bigint[] = [];
      let failed = false;
      for (const row of batch) {
        try {
          await bus.publish(toBusEvent(row));
          published.push(row.seq);
        } catch (err) {
          // Stop at the first failure so events are not published out of order; the row keeps its
          // place and its failure is visible to operators in `attempts` / `last_error`.
          failed = true;
          const lastError = describeError(err, LAST_ERROR_MAX);
          await tx
            .update(outbox)
            .set({ attempts: sql`${outbox.attempts} + 1`, lastError })
            .where(eq(outbox.seq, row.seq));
          logger.warn(
            { eventId: row.id, topic: row.topic, attempts: row.attempts + 1, err: lastError },
            'outbox publish failed; will retry',
          );
          break;
        }
      }
      if (published.length > 0) {
        await tx.update(outbox).set({ publishedAt: sql`now()` }).where(inArray(outbox.seq, published));
      }
      return { published: published.length, failed, full: batch.length === batchSize };
    });

  const backoff = () => Math.min(maxBackoffMs, pollMs * 2 ** Math.min(failures, 16));

  const iterate = async (): Promise<number> => {
    try {
      const result = await exclusive(runBatch);
      if (result.failed) {
        failures += 1;
        return backoff();
      }
      failures = 0;
      return result.full || nudged ? 0 : pollMs;
    } catch (err) {
      failures += 1;
      logger.error({ err: describeError(err), failures }, 'outbox relay batch failed');
      return backoff();
    }
  };

  const arm = (delayMs: number) => {
    if (stopped || current) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, delayMs);
    // The relay alone never keeps the process alive.
    timer.unref();
  };

  function fire() {
    timer = undefined;
    nudged = false;
    current = iterate().then((delayMs) => {
      current = undefined;
      nudged = false;
      arm(delayMs);
    });
  }

  // The first poll comes after one interval, not at once: callers that want an immediate catch-up
  // (boot) nudge, and a relay started only to `drain()` does not race its own timer.
  arm(pollMs);

  return {
    nudge() {
      // During a back-off, nudges after every commit would hammer a bus that is down.
      if (stopped || failures > 0) return;
      if (current) {
        nudged = true;
        return;
      }
      arm(0);
    },

    async drain() {
      let total = 0;
      for (;;) {
        const result = await exclusive(runBatch);
        total += result.published;
        if (result.failed || !result.full) return total;
      }
    },

    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
      await chain;
    },
  };
}
