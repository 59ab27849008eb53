/**
 * `verifyAudit`: checks the whole audit trail in the database (DESIGN invariant 4).
 *
 * Records, in seq order and in batches: no gap (a deleted record), each record's hash recomputed
 * from its content (an edited record), each `prev_hash` equal to its predecessor's hash (a
 * rewritten, inserted or reordered record), and — leaf by leaf into a Merkle frontier — the root
 * at every checkpoint's tree size equal to the signed root (a record rewritten together with all
 * the hashes after it). Checkpoints: numbered without gap, each chained to the previous one, body
 * hash recomputed, JWS signature valid under the key that made it (looked up by `kid` whatever its
 * state today, or only among keys the verifier trusts), tree sizes growing, and no checkpoint
 * covering records that are no longer there (deleted newest records).
 *
 * The FIRST bad record is the first seq at which the chain from record 1 stops verifying: the
 * records before it form a valid chain and match every signed checkpoint they are under.
 * Verification is resumable: `fromSeq` starts from the last checkpoint at or before that point
 * (its stored frontier, checked against its signed root) and rereads only hashes up to `fromSeq`.
 */
import type { Database } from '../platform/db/index.ts';
import {
  type AuditRecord,
  checkpointCanonical,
  checkpointHash,
  GENESIS_HASH,
  recordHash,
} from './canonical.ts';
import { MerkleFrontier } from './merkle.ts';
import { type AuditKeyLookup, CHECKPOINT_TYP, checkJws, databaseKeys, KeyCache } from './signature.ts';
import * as store from './store.ts';

export type RecordProblemReason =
  /** A seq is absent: the record was deleted (or never committed — impossible under the chain lock). */
  | 'missing'
  /** The record's content does not give its stored hash: it was edited (or moved to another seq). */
  | 'hash_mismatch'
  /** `prev_hash` is not the previous record's hash: this record, or its predecessor, was rewritten with a fresh hash. */
  | 'chain_broken';

export interface RecordProblem {
  readonly seq: number;
  readonly reason: RecordProblemReason;
  readonly message: string;
}

export type CheckpointProblemReason =
  | 'missing'
  | 'chain_broken'
  | 'hash_mismatch'
  | 'size_not_increasing'
  | 'signature_invalid'
  | 'unknown_key'
  | 'wrong_key'
  | 'key_revoked'
  | 'malformed'
  /** The records it covers do not give its signed root: one of them was rewritten with every later hash. */
  | 'root_mismatch'
  /** It covers more records than exist: the newest records were deleted. */
  | 'records_missing';

export interface CheckpointProblem {
  readonly seq: number;
  readonly reason: CheckpointProblemReason;
  readonly message: string;
  /** For `root_mismatch`: the altered record is in this range (between this checkpoint and the one before). */
  readonly records?: { readonly from: number; readonly to: number };
}

export interface AuditVerifyProgress {
  /** Records verified so far in this run. */
  readonly verified: number;
  /** Records this run will verify. */
  readonly total: number;
  /** Last seq verified. */
  readonly seq: number;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly fromSeq: number;
  /** Last record found good (fromSeq - 1 if none). */
  readonly lastGoodSeq: number;
  /** Records verified in this run. */
  readonly records: number;
  /** Checkpoints whose numbering, links and signatures were checked (all of them). */
  readonly checkpoints: number;
  /** Checkpoints whose signed root was recomputed from the records in this run. */
  readonly checkpointRoots: number;
  /** Seq and hash of the newest record when the run started. */
  readonly head: { readonly seq: number; readonly hash: string | null };
  readonly latestCheckpoint: {
    readonly seq: number;
    readonly treeSize: number;
    readonly time: string;
  } | null;
  /** Records newer than the latest checkpoint: chained, but not yet under a signature. */
  readonly unsigned: number;
  readonly firstBadRecord: RecordProblem | null;
  readonly firstBadCheckpoint: CheckpointProblem | null;
  /** True when stopped by the abort signal: resume with `fromSeq = lastGoodSeq + 1`. */
  readonly interrupted: boolean;
  readonly durationMs: number;
}

export interface VerifyAuditOptions {
  readonly db: Database;
  /** Resume point: records before it are not re-verified. Default 1. */
  readonly fromSeq?: number;
  /** Records per read. Default 5,000. */
  readonly batchSize?: number;
  /** Keys that may have signed checkpoints. Default: the `signing_keys` table (public halves). */
  readonly keys?: AuditKeyLookup;
  /** Called after each batch. */
  readonly onProgress?: (p: AuditVerifyProgress) => void;
  readonly signal?: AbortSignal;
}

export async function verifyAudit(opts: VerifyAuditOptions): Promise<AuditVerifyReport> {
  const started = Date.now();
  const { db } = opts;
  const batchSize = opts.batchSize ?? 5_000;
  const fromSeq = opts.fromSeq ?? 1;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
    throw new RangeError('fromSeq must be a positive integer');
  const keys = new KeyCache(opts.keys ?? databaseKeys(db));

  const { headSeq, checkpoints } = await db.asSystem(async (tx) => ({
    headSeq: await store.headSeq(tx),
    checkpoints: await store.checkpointsAfter(tx, 0),
  }));

  let firstBadRecord: RecordProblem | null = null;
  let firstBadCheckpoint: CheckpointProblem | null = null;
  const badRecord = (p: RecordProblem) => {
    firstBadRecord ??= p;
  };
  const badCheckpoint = (p: CheckpointProblem) => {
    firstBadCheckpoint ??= p;
  };

  // ---- checkpoints on their own: numbering, links, body hashes, signatures -------------------
  let prevCp: store.CheckpointRow | undefined;
  for (const cp of checkpoints) {
    const body = {
      seq: cp.seq,
      treeSize: cp.treeSize,
      rootHash: cp.rootHash,
      prevHash: cp.prevHash,
      time: cp.createdAt.toISOString(),
    };
    const expectedSeq = (prevCp?.seq ?? 0) + 1;
    if (cp.seq !== expectedSeq) {
      badCheckpoint({ seq: expectedSeq, reason: 'missing', message: `checkpoint ${expectedSeq} is missing` });
    } else if (cp.prevHash !== (prevCp?.hash ?? GENESIS_HASH)) {
      badCheckpoint({
        seq: cp.seq,
        reason: 'chain_broken',
        message: `checkpoint ${cp.seq} does not link to checkpoint ${cp.seq - 1}`,
      });
    }
    if (checkpointHash(body) !== cp.hash) {
      badCheckpoint({
        seq: cp.seq,
        reason: 'hash_mismatch',
        message: `checkpoint ${cp.seq} does not match its hash`,
      });
    }
    if (prevCp && cp.treeSize <= prevCp.treeSize) {
      badCheckpoint({
        seq: cp.seq,
        reason: 'size_not_increasing',
        message: `checkpoint ${cp.seq} covers ${cp.treeSize} records, no more than checkpoint ${prevCp.seq}`,
      });
    }
    const sig = await checkJws(cp.jws, {
      keys,
      typ: CHECKPOINT_TYP,
      expectedPayload: checkpointCanonical(body),
      expectedKid: cp.kid,
      signedAt: cp.createdAt,
    });
    if (!sig.ok) {
      const reason = sig.problem === 'payload_mismatch' ? 'signature_invalid' : sig.problem;
      badCheckpoint({
        seq: cp.seq,
        reason,
        message: `checkpoint ${cp.seq}: ${SIGNATURE_MESSAGES[sig.problem]} (key ${cp.kid})`,
      });
    }
    prevCp = cp;
  }

  // ---- the resume anchor ---------------------------------------------------------------------
  /** Set at a gap: leaf positions shift after it, so nothing further can be checked. */
  let stop = false;
  let frontier = MerkleFrontier.empty();
  let prevHash = GENESIS_HASH;
  let after = 0;
  if (fromSeq > 1) {
    const anchorSize = Math.min(fromSeq - 1, headSeq);
    const anchor = [...checkpoints].reverse().find((c) => c.treeSize <= anchorSize);
    if (anchor) {
      try {
        const restored = MerkleFrontier.fromHex(anchor.treeSize, anchor.frontier);
        if (restored.root().toString('hex') === anchor.rootHash) {
          frontier = restored;
          after = anchor.treeSize;
        }
      } catch {
        // A damaged stored frontier: rebuild from record 1 instead.
      }
    }
    // Only the hashes between the anchor and the resume point: their content is not re-verified.
    while (after < anchorSize && !stop) {
      const upTo = Math.min(after + batchSize * 4, anchorSize);
      const hashes = await db.asSystem((tx) => store.hashesBetween(tx, after + 1, upTo));
      for (const h of hashes) {
        if (h.seq !== after + 1) {
          badRecord({ seq: after + 1, reason: 'missing', message: `record ${after + 1} is missing` });
          stop = true;
          break;
        }
        frontier.append(Buffer.from(h.hash, 'hex'));
        prevHash = h.hash;
        after = h.seq;
      }
      if (hashes.length === 0 && after < upTo) {
        badRecord({ seq: after + 1, reason: 'missing', message: `record ${after + 1} is missing` });
        stop = true;
      }
    }
  }

  // ---- records ----------------------------------------------------------------------------------
  let cpIndex = checkpoints.findIndex((c) => c.treeSize >= after);
  if (cpIndex < 0) cpIndex = checkpoints.length;
  let coveredFrom = (checkpoints[cpIndex - 1]?.treeSize ?? 0) + 1;
  let checkpointsChecked = 0;
  const checkRoots = (size: number) => {
    while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.treeSize === size) {
      const cp = checkpoints[cpIndex]!;
      if (frontier.root().toString('hex') !== cp.rootHash) {
        badCheckpoint({
          seq: cp.seq,
          reason: 'root_mismatch',
          message:
            `records ${coveredFrom}..${cp.treeSize} do not give the root signed by checkpoint ${cp.seq}: ` +
            'one of them was rewritten together with every hash after it',
          records: { from: coveredFrom, to: cp.treeSize },
        });
      }
      checkpointsChecked += 1;
      coveredFrom = cp.treeSize + 1;
      cpIndex += 1;
    }
  };
  checkRoots(after);

  const startAt = after;
  const total = Math.max(0, headSeq - startAt);
  let interrupted = false;
  const fetch = (from: number) =>
    from >= headSeq
      ? Promise.resolve([] as AuditRecord[])
      : db.asSystem((tx) => store.recordsAfter(tx, from, Math.min(batchSize, headSeq - from)));
  // A first report once the resume point is reached (rebuilding the frontier up to it may take a while).
  if (!stop) opts.onProgress?.({ verified: 0, total, seq: after });
  let next = stop ? undefined : fetch(after);
  while (next) {
    const batch = await next;
    if (batch.length === 0) {
      if (after < headSeq) {
        badRecord({ seq: after + 1, reason: 'missing', message: `record ${after + 1} is missing` });
        stop = true;
      }
      break;
    }
    // Read the next batch while this one is hashed (PostgreSQL works meanwhile).
    const last = batch[batch.length - 1]!;
    next = last.seq < headSeq ? fetch(last.seq) : undefined;
    for (const r of batch) {
      if (r.seq !== after + 1) {
        badRecord({
          seq: after + 1,
          reason: 'missing',
          message: `record ${after + 1} is missing (the next one present is ${r.seq})`,
        });
        stop = true;
        break;
      }
      // After an altered record the scan goes on, so that the signed roots still say which
      // checkpoint ranges changed; the report keeps the first bad record.
      const linked = r.prevHash === prevHash;
      if (recordHash(r) !== r.hash) {
        badRecord({
          seq: r.seq,
          reason: 'hash_mismatch',
          message:
            `record ${r.seq} was altered or moved: its content does not give its hash` +
            (linked
              ? ''
              : `, nor does it link to record ${r.seq - 1} (a record may have been inserted before it)`),
        });
      } else if (!linked) {
        badRecord({
          seq: r.seq,
          reason: 'chain_broken',
          message:
            `record ${r.seq} does not link to record ${r.seq - 1}: record ${r.seq - 1} was inserted or rewritten ` +
            `with a recomputed hash, or record ${r.seq} was`,
        });
      }
      frontier.append(Buffer.from(r.hash, 'hex'));
      prevHash = r.hash;
      after = r.seq;
      checkRoots(after);
    }
    opts.onProgress?.({ verified: after - startAt, total, seq: after });
    if (stop) break;
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
  }
  // Let a prefetch in flight settle before returning (its result is not needed).
  await next?.catch(() => undefined);

  // Checkpoints beyond the last record: the newest records were deleted.
  if (!stop && !interrupted && cpIndex < checkpoints.length) {
    const cp = checkpoints[checkpoints.length - 1]!;
    badCheckpoint({
      seq: cp.seq,
      reason: 'records_missing',
      message: `checkpoint ${cp.seq} covers ${cp.treeSize} records but the log ends at ${after}`,
    });
    badRecord({
      seq: after + 1,
      reason: 'missing',
      message: `records ${after + 1}..${cp.treeSize}, signed by checkpoint ${cp.seq}, are missing`,
    });
  }

  const latest = checkpoints.at(-1);
  const bad = firstBadRecord as RecordProblem | null;
  const lastGoodSeq = bad ? bad.seq - 1 : after;
  return {
    ok: !firstBadRecord && !firstBadCheckpoint && !interrupted,
    fromSeq,
    lastGoodSeq,
    records: after - startAt,
    checkpoints: checkpoints.length,
    checkpointRoots: checkpointsChecked,
    head: { seq: headSeq, hash: after === headSeq && headSeq > 0 ? prevHash : null },
    latestCheckpoint: latest
      ? { seq: latest.seq, treeSize: latest.treeSize, time: latest.createdAt.toISOString() }
      : null,
    unsigned: Math.max(0, headSeq - (latest?.treeSize ?? 0)),
    firstBadRecord,
    firstBadCheckpoint,
    interrupted,
    durationMs: Date.now() - started,
  };
}

export const SIGNATURE_MESSAGES: Readonly<Record<string, string>> = {
  malformed: 'the signature is not a well-formed audit JWS',
  unknown_key: 'signed by a key that is not known (or not trusted)',
  wrong_key: 'signed by a key that is not an audit key, or with another algorithm',
  key_revoked: 'signed by a key that was revoked before this time',
  payload_mismatch: 'the signed content differs from the stored one',
  signature_invalid: 'the signature does not verify',
};
