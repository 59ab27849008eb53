/**
 * One exporter per sink: reads the audit trail after the sink's cursor, maps records to OCSF,
 * hands them to the sink a batch at a time and moves the cursor once the sink has them.
 *
 *  - At-least-once, never dropped: the audit trail IS the queue. Nothing is buffered beyond the
 *    one batch in flight, the cursor only moves after `send` resolved, and a failing sink is
 *    retried with exponential back-off (capped, with jitter) for as long as it takes.
 *  - Back-pressure: the next batch is read only after the previous one was acknowledged, so a slow
 *    or down sink simply stops the reading; the lag grows in the database, not in memory.
 *  - In order: records go out in chain order (seq); a replay after a failure restarts from the
 *    cursor, so duplicates are possible, reordering of first deliveries is not.
 *  - One exporter per sink across instances: a lease in the cursor row (database clock, renewed
 *    with every batch and poll). The holder exports; the others poll and take over when it lapses
 *    (crash) or is released (shutdown). A lapse while the holder is merely slow can send a batch
 *    twice — at-least-once allows it — but not routinely.
 *  - Restart-safe: the cursor is in the database; a new process resumes from it.
 */
import type { AuditLogger, AuditRecord } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { serialQueue } from '../platform/serial.ts';
import { formatTraceparent, NOOP_TRACER, type Tracer } from '../platform/tracing.ts';
import { toOcsf } from './ocsf.ts';
import { type ExportItem, type SiemSink, SinkReplayError } from './sink.ts';
import * as store from './store.ts';

export interface ExporterOptions {
  readonly db: Database;
  readonly sink: SiemSink;
  readonly productVersion: string;
  /** Records per batch. Default 200. */
  readonly batchSize?: number;
  /** Idle poll interval when caught up, in ms. Default 1,000. */
  readonly pollMs?: number;
  /** Lease length; renewed on every batch and poll. Default 30 s. */
  readonly leaseMs?: number;
  /** First retry delay after a failure; doubles up to `maxBackoffMs`. Default 500 ms / 60 s. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A send taking longer than this counts as failed (and is retried). Default 30 s. */
  readonly sendTimeoutMs?: number;
  /** Identity of this instance in the lease. Default a fresh uuid. */
  readonly owner?: string;
  readonly logger?: AuditLogger;
  /** Spans per delivered batch (CLIENT), with `traceparent` on HTTP deliveries. */
  readonly tracer?: Tracer;
  /** Metrics hooks. */
  readonly onExported?: (sink: string, records: number) => void;
  readonly onFailure?: (sink: string) => void;
}

export interface SiemExporter {
  readonly sink: string;
  /** Exports now until caught up (or until a failure/lease loss); resolves with the records sent. */
  drain(): Promise<number>;
  /** Looks for new records now instead of at the next poll. */
  nudge(): void;
  /** Stops, waits for the batch in flight, releases the lease and closes the sink. */
  stop(): Promise<void>;
}

const silent: AuditLogger = { info: () => {}, warn: () => {}, error: () => {} };

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sink did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function startSiemExporter(opts: ExporterOptions): SiemExporter {
  const { db, sink } = opts;
  const batchSize = opts.batchSize ?? 200;
  const pollMs = opts.pollMs ?? 1_000;
  const leaseMs = opts.leaseMs ?? 30_000;
  const backoffMs = opts.backoffMs ?? 500;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 30_000;
  const owner = opts.owner ?? uuidv7();
  const logger = opts.logger ?? silent;
  const tracer = opts.tracer ?? NOOP_TRACER;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5_000)
    throw new Error('batchSize must be an integer 1-5000');
  if (!(pollMs > 0) || !(leaseMs > pollMs)) throw new Error('pollMs must be positive and below leaseMs');

  /** Cursor while we hold the lease; undefined otherwise. */
  let position: number | undefined;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  const exclusive = serialQueue();

  const lease = async (): Promise<boolean> => {
    const persisted = await db.asSystem(async (tx) => {
      await store.ensureCursor(tx, sink.name);
      return store.acquireLease(tx, sink.name, owner, leaseMs);
    });
    if (persisted === undefined) {
      position = undefined;
      return false;
    }
    // Newly (re)acquired: start from what is persisted (another holder may have moved it).
    position ??= persisted;
    return true;
  };

  const items = (records: AuditRecord[]): ExportItem[] =>
    records.map((record) => ({ record, event: toOcsf(record, { productVersion: opts.productVersion }) }));

  /** One batch; returns how many records went out (0: caught up or not our turn). */
  const batch = async (): Promise<{ sent: number; full: boolean }> => {
    if (position === undefined && !(await lease())) return { sent: 0, full: false };
    const after = position!;
    const records = await db.asSystem((tx) => store.recordsAfter(tx, after, batchSize));
    if (records.length === 0) {
      await lease(); // renew while idle
      return { sent: 0, full: false };
    }
    const span = tracer.startSpan(`siem.export ${sink.name}`, {
      kind: 'client',
      attributes: { 'bulwark.siem.sink': sink.name, 'bulwark.siem.records': records.length },
    });
    try {
      const trace = span ? { traceparent: formatTraceparent(span.context) } : undefined;
      await withTimeout(sink.send(items(records), trace), sendTimeoutMs);
      span?.end();
    } catch (err) {
      span?.fail(err instanceof Error ? err.name : 'error');
      span?.end();
      if (err instanceof SinkReplayError && position !== undefined && err.afterSeq < position) {
        position = Math.max(0, err.afterSeq);
        const kept = await db.asSystem((tx) => store.saveCursor(tx, sink.name, owner, position!, leaseMs));
        if (!kept) position = undefined;
      }
      throw err;
    }
    position = records.at(-1)!.seq;
    const kept = await db.asSystem((tx) => store.saveCursor(tx, sink.name, owner, position!, leaseMs));
    if (!kept) {
      // Another instance took over (our lease lapsed): it resumes from the persisted cursor.
      position = undefined;
      logger.warn({ sink: sink.name }, 'siem export lease lost to another instance');
    }
    opts.onExported?.(sink.name, records.length);
    return { sent: records.length, full: records.length === batchSize };
  };

  const iterate = async (): Promise<number> => {
    try {
      for (;;) {
        const r = await exclusive(batch);
        failures = 0;
        if (!r.full || stopped) return pollMs;
      }
    } catch (err) {
      failures += 1;
      opts.onFailure?.(sink.name);
      const delay = Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(failures - 1, 20));
      (failures === 1 || failures % 10 === 0 ? logger.warn : logger.info).call(
        logger,
        { sink: sink.name, failures, retryInMs: delay, err: describe(err) },
        'siem export failed; will retry',
      );
      return delay * (0.8 + Math.random() * 0.4);
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
  arm(0);

  return {
    sink: sink.name,
    async drain() {
      let total = 0;
      for (;;) {
        const r = await exclusive(batch);
        total += r.sent;
        if (!r.full) return total;
      }
    },
    nudge() {
      if (!stopped && failures === 0 && !current) arm(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
      await exclusive(async () => undefined);
      await db
        .asSystem((tx) => store.releaseLease(tx, sink.name, owner))
        .catch((err: unknown) =>
          logger.warn({ sink: sink.name, err: describe(err) }, 'siem lease release failed'),
        );
      await sink.close().catch(() => {});
    },
  };
}
