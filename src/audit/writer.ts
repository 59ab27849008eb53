/**
 * The writer of asynchronous audit records (`appendAuditAsync`): moves queued records into the
 * chain in batches, each batch ONE system transaction — take the writer lock (one writer across
 * all instances at a time; the others skip their turn), read the oldest queued records, lock the
 * chain head, insert them chained in one statement, delete them from the queue, commit. A record
 * therefore enters the chain exactly once, in queue order, and the chain lock is taken once per
 * batch instead of once per record.
 */
import type { Database } from '../platform/db/index.ts';
import { serialQueue } from '../platform/serial.ts';
import { type AuditEntry, chainEntries, entryFromQueue } from './append.ts';
import type { AuditLogger } from './checkpoint.ts';
import { AuditError } from './errors.ts';
import * as store from './store.ts';

export interface AuditWriterOptions {
  readonly db: Database;
  /** Idle poll interval in ms; `nudge()` after a commit shortens it. Default 1,000. */
  readonly pollMs?: number;
  /** Records per transaction. Default 500. */
  readonly batchSize?: number;
  readonly logger?: AuditLogger;
}

export interface AuditWriter {
  /** Writes now (e.g. right after a commit that queued records), unless a batch is running. */
  nudge(): void;
  /** Moves everything queued now into the chain; resolves with how many records it appended. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

const silent: AuditLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** One batch; `busy` when another writer holds the lock. */
export async function writeQueuedBatch(
  db: Database,
  batchSize: number,
  logger: AuditLogger = silent,
): Promise<{ appended: number; full: boolean; busy: boolean }> {
  return db.asSystem(async (tx) => {
    if (!(await store.tryWriterLock(tx))) return { appended: 0, full: false, busy: true };
    const queued = await store.queued(tx, batchSize);
    if (queued.length === 0) return { appended: 0, full: false, busy: false };
    const entries: AuditEntry[] = queued.map((q) => {
      try {
        return entryFromQueue(q.record);
      } catch (err) {
        // Validated when queued, so only a row changed in the table gets here. It must not block
        // the queue forever, and must not vanish silently: it becomes a record saying so.
        const code = err instanceof AuditError ? err.code : 'UNKNOWN';
        logger.error({ queueSeq: q.seq, code }, 'invalid queued audit record replaced');
        return {
          occurredAt: new Date().toISOString(),
          tenantId: null,
          actorType: 'system',
          actorId: null,
          clientId: null,
          action: 'audit.queue.rejected',
          objectType: 'audit_queue',
          objectId: String(q.seq),
          outcome: 'failure',
          requestId: null,
          details: { code },
        };
      }
    });
    const head = await store.lockChainHead(tx);
    await store.insertRecords(tx, chainEntries(head, entries));
    await store.dequeue(
      tx,
      queued.map((q) => q.seq),
    );
    return { appended: queued.length, full: queued.length === batchSize, busy: false };
  });
}

export function startAuditWriter(opts: AuditWriterOptions): AuditWriter {
  const { db } = opts;
  const pollMs = opts.pollMs ?? 1_000;
  const batchSize = opts.batchSize ?? 500;
  const logger = opts.logger ?? silent;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2_000)
    throw new Error('batchSize must be an integer 1-2000');
  if (!(pollMs > 0)) throw new Error('pollMs must be positive');

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let failures = 0;
  const exclusive = serialQueue();
  const batch = () => exclusive(() => writeQueuedBatch(db, batchSize, logger));

  const iterate = async (): Promise<number> => {
    try {
      const r = await batch();
      failures = 0;
      return r.full ? 0 : pollMs;
    } catch (err) {
      failures += 1;
      logger.error(
        { err: err instanceof Error ? err.message : String(err), failures },
        'audit writer batch failed',
      );
      return Math.min(30_000, pollMs * 2 ** Math.min(failures, 10));
    }
  };

  const arm = (delayMs: number) => {
    if (stopped || current) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      current = iterate().then((next) => {
        current = undefined;
        arm(next);
      });
    }, delayMs);
    timer.unref();
  };
  arm(pollMs);

  return {
    nudge() {
      if (!stopped && failures === 0 && !current) arm(0);
    },
    async drain() {
      let total = 0;
      for (;;) {
        const r = await batch();
        total += r.appended;
        if (r.busy || !r.full) return total;
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
      await exclusive(async () => undefined); // drain what was queued before stop
    },
  };
}
