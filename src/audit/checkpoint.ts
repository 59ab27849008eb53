/**
 * Signed checkpoints: every N records or T seconds, the Merkle Tree Hash (RFC 9162 §2.1.1) of ALL
 * records so far is signed with the key ring's `audit` key (Ed25519) together with the tree size,
 * the time and the hash of the previous checkpoint — a signed tree head in the sense of RFC 9162
 * §4.10, chained. A checkpoint commits to every record before it: a record changed afterwards,
 * even with every later hash recomputed, no longer matches a signed root, and any one record can
 * be proven against it (inclusion proof, RFC 9162 §2.1.3).
 *
 * Before signing, the checkpointer re-verifies the records added since the previous checkpoint
 * (hashes, links, no gaps): it never signs a broken chain. Each checkpoint also goes out as an
 * outbox event (`audit.checkpoint.created`), so SIEM and other subscribers hold copies of the
 * signed heads outside this database — what makes deleting the newest records detectable.
 *
 * Several instances may run a checkpointer: the one that inserts first wins (advisory lock +
 * re-check), the others drop their work.
 */
import type { SigningKeyRing } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { serialQueue } from '../platform/serial.ts';
import { checkpointCanonical, checkpointHash, GENESIS_HASH, recordHash } from './canonical.ts';
import { AuditError } from './errors.ts';
import { MerkleFrontier } from './merkle.ts';
import { AUDIT_KEY_PURPOSE, CHECKPOINT_TYP, parseJws } from './signature.ts';
import * as store from './store.ts';

export interface Checkpoint {
  readonly seq: number;
  readonly treeSize: number;
  /** Hex MTH of records 1..treeSize. */
  readonly rootHash: string;
  readonly prevHash: string;
  /** RFC 3339 UTC, milliseconds. */
  readonly time: string;
  /** Hex SHA-256 of the canonical body. */
  readonly hash: string;
  readonly kid: string;
  readonly alg: string;
  /** Compact JWS over the canonical body (`typ` bulwark-audit-checkpoint+jws). */
  readonly jws: string;
}

/** The slice of the key ring a checkpointer needs. */
export type CheckpointSigner = Pick<SigningKeyRing, 'signJws' | 'ensureKeys'>;

export function toCheckpoint(row: store.CheckpointRow): Checkpoint {
  return {
    seq: row.seq,
    treeSize: row.treeSize,
    rootHash: row.rootHash,
    prevHash: row.prevHash,
    time: row.createdAt.toISOString(),
    hash: row.hash,
    kid: row.kid,
    alg: row.alg,
    jws: row.jws,
  };
}

export interface CreateCheckpointOptions {
  readonly db: Database;
  readonly signing: Pick<SigningKeyRing, 'signJws'>;
  readonly now?: () => Date;
  /** Records read per transaction while re-verifying the new segment. Default 5,000. */
  readonly batchSize?: number;
}

function broken(message: string): AuditError {
  return new AuditError('AUDIT_CHAIN_BROKEN', message);
}

/**
 * Signs a checkpoint over every record now in the log. Returns it, or undefined when there is no
 * new record since the last checkpoint or another instance checkpointed first. Throws
 * AUDIT_CHAIN_BROKEN (and signs nothing) if the new records do not verify.
 */
export async function createCheckpoint(opts: CreateCheckpointOptions): Promise<Checkpoint | undefined> {
  const { db } = opts;
  const batchSize = opts.batchSize ?? 5_000;
  const { last, head } = await db.asSystem(async (tx) => ({
    last: await store.latestCheckpoint(tx),
    head: await store.headSeq(tx),
  }));
  const size = last?.treeSize ?? 0;
  if (head <= size) return undefined;

  let frontier = MerkleFrontier.empty();
  let prev = GENESIS_HASH;
  if (last) {
    frontier = MerkleFrontier.fromHex(last.treeSize, last.frontier);
    if (frontier.root().toString('hex') !== last.rootHash)
      throw broken(`checkpoint ${last.seq}: its stored frontier does not give its signed root`);
    const lastRecord = await db.asSystem((tx) => store.recordAt(tx, last.treeSize));
    if (!lastRecord) throw broken(`record ${last.treeSize}, covered by checkpoint ${last.seq}, is missing`);
    prev = lastRecord.hash;
  }
  for (let after = size; after < head; ) {
    const batch = await db.asSystem((tx) => store.recordsAfter(tx, after, Math.min(batchSize, head - after)));
    if (batch.length === 0) throw broken(`record ${after + 1} is missing`);
    for (const r of batch) {
      if (r.seq !== after + 1) throw broken(`record ${after + 1} is missing`);
      if (recordHash(r) !== r.hash) throw broken(`record ${r.seq} does not match its hash`);
      if (r.prevHash !== prev) throw broken(`record ${r.seq} does not link to record ${r.seq - 1}`);
      frontier.append(Buffer.from(r.hash, 'hex'));
      prev = r.hash;
      after = r.seq;
    }
  }

  const body = {
    seq: (last?.seq ?? 0) + 1,
    treeSize: head,
    rootHash: frontier.root().toString('hex'),
    prevHash: last?.hash ?? GENESIS_HASH,
    time: (opts.now?.() ?? new Date()).toISOString(),
  };
  const jws = await opts.signing.signJws(AUDIT_KEY_PURPOSE, checkpointCanonical(body), {
    typ: CHECKPOINT_TYP,
  });
  const header = parseJws(jws)?.header;
  if (typeof header?.kid !== 'string' || typeof header.alg !== 'string')
    throw new Error('key ring made a bad JWS');
  const row: store.CheckpointRow = {
    seq: body.seq,
    treeSize: body.treeSize,
    rootHash: body.rootHash,
    prevHash: body.prevHash,
    createdAt: new Date(body.time),
    hash: checkpointHash(body),
    kid: header.kid,
    alg: header.alg,
    jws,
    frontier: frontier.toHex(),
  };
  const checkpoint = toCheckpoint(row);
  const inserted = await db.asSystem(async (tx) => {
    await store.lockCheckpoints(tx);
    const current = await store.latestCheckpoint(tx);
    if ((current?.seq ?? 0) !== (last?.seq ?? 0)) return false;
    await store.insertCheckpoint(tx, row);
    await enqueue(tx, {
      topic: 'audit.checkpoint.created',
      tenantId: null,
      payload: { ...checkpoint },
    });
    return true;
  });
  return inserted ? checkpoint : undefined;
}

/** The slice of a pino logger the checkpointer uses. */
export interface AuditLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const silent: AuditLogger = { info: () => {}, warn: () => {}, error: () => {} };

export interface CheckpointerOptions {
  readonly db: Database;
  /** `services.crypto` (its key ring signs with the `audit` key). */
  readonly crypto: { readonly signing: CheckpointSigner };
  /** Checkpoint once this many records are not yet covered. Default 1,000. */
  readonly everyRecords?: number;
  /** …or once the oldest uncovered record waited this long, in ms. Default 60 s. */
  readonly everyMs?: number;
  /** How often to look, in ms. Default min(everyMs, 5 s), with ±10 % jitter between instances. */
  readonly pollMs?: number;
  readonly logger?: AuditLogger;
  readonly now?: () => Date;
}

export interface AuditCheckpointer {
  /** Checkpoints now if any record is uncovered; resolves with the new checkpoint, if one was made. */
  checkpointNow(): Promise<Checkpoint | undefined>;
  /** Stops the timer and waits for a checkpoint in progress. */
  stop(): Promise<void>;
}

/**
 * The scheduler: makes sure the `audit` signing key exists (Ed25519), then checkpoints whenever
 * `everyRecords` records or `everyMs` milliseconds have accumulated. Its timer never keeps the
 * process alive. Failures are logged and retried with back-off; a broken chain is logged as an
 * error on every attempt (it needs an operator: `bulwark audit verify`).
 */
export async function startAuditCheckpointer(opts: CheckpointerOptions): Promise<AuditCheckpointer> {
  const { db } = opts;
  const everyRecords = opts.everyRecords ?? 1_000;
  const everyMs = opts.everyMs ?? 60_000;
  const pollMs = opts.pollMs ?? Math.min(everyMs, 5_000);
  const logger = opts.logger ?? silent;
  const now = opts.now ?? (() => new Date());
  if (!Number.isInteger(everyRecords) || everyRecords < 1)
    throw new Error('everyRecords must be a positive integer');
  if (!(everyMs > 0) || !(pollMs > 0)) throw new Error('everyMs and pollMs must be positive');
  await opts.crypto.signing.ensureKeys(AUDIT_KEY_PURPOSE, 'EdDSA');

  const startedAt = now().getTime();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let failures = 0;
  const exclusive = serialQueue();
  const make = () => createCheckpoint({ db, signing: opts.crypto.signing, now });

  const due = async (): Promise<boolean> => {
    const { last, head } = await db.asSystem(async (tx) => ({
      last: await store.latestCheckpoint(tx),
      head: await store.headSeq(tx),
    }));
    const covered = last?.treeSize ?? 0;
    if (head <= covered) return false;
    if (head - covered >= everyRecords) return true;
    const since = last?.createdAt.getTime() ?? startedAt;
    return now().getTime() - since >= everyMs;
  };

  const tick = async () => {
    try {
      if (await exclusive(due)) {
        const made = await exclusive(make);
        if (made) logger.info({ checkpoint: made.seq, treeSize: made.treeSize }, 'audit checkpoint signed');
      }
      failures = 0;
    } catch (err) {
      failures += 1;
      const chainBroken = err instanceof AuditError && err.code === 'AUDIT_CHAIN_BROKEN';
      logger.error(
        { err: err instanceof Error ? err.message : String(err), failures },
        chainBroken
          ? 'audit chain broken: checkpoint refused; run bulwark audit verify'
          : 'audit checkpoint failed',
      );
    }
  };

  const arm = () => {
    if (stopped) return;
    const backoff = Math.min(pollMs * 2 ** Math.min(failures, 6), Math.max(pollMs, 300_000));
    const jitter = 0.9 + Math.random() * 0.2;
    timer = setTimeout(() => {
      timer = undefined;
      current = tick().then(() => {
        current = undefined;
        arm();
      });
    }, backoff * jitter);
    timer.unref();
  };
  arm();

  return {
    checkpointNow: () => exclusive(make),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
      await exclusive(async () => undefined); // drain what was queued before stop
    },
  };
}
