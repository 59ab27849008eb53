/**
 * Export bundles: a signed JSON document that lets a third party (an auditor, a regulator) check a
 * slice of the audit trail OFFLINE, with nothing but the bundle and our published audit key.
 *
 *   records       the records of a time range, consecutive in seq (the range is widened to whole
 *                 seqs: instances' clocks may disagree slightly, the chain never does)
 *   checkpoints   the first checkpoint covering the last record, and the latest one
 *   proofs        for every record, its inclusion proof (RFC 9162 §2.1.3) in the first one
 *   consistency   a consistency proof (RFC 9162 §2.1.4) from the first to the latest
 *   jwks          the public keys that signed the checkpoints and the bundle
 *   signature     a JWS over SHA-256 of the JCS (RFC 8785) of everything else
 *
 * `verifyBundle` needs no database: it recomputes every record hash and link, checks every
 * checkpoint signature, every proof against the signed roots, and the bundle signature. Given the
 * published JWKS it trusts only those keys; without one, it checks against the bundle's own keys
 * and says so (`keysTrusted: false`) — that proves integrity, not origin.
 */
import type { PublicJwk, SigningKeyRing } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import {
  type AuditRecord,
  canonicalJson,
  checkpointCanonical,
  checkpointHash,
  HEX256_RE,
  recordHash,
  sha256Hex,
} from './canonical.ts';
import { type Checkpoint, createCheckpoint, toCheckpoint } from './checkpoint.ts';
import { AuditError } from './errors.ts';
import { leafHash, MerkleTree, verifyConsistency, verifyInclusion } from './merkle.ts';
import { AUDIT_ACTOR_TYPES, AUDIT_OUTCOMES } from './schema.ts';
import {
  AUDIT_KEY_PURPOSE,
  type AuditKeyLookup,
  BUNDLE_TYP,
  CHECKPOINT_TYP,
  checkJws,
  databaseKeys,
  KeyCache,
  trustedKeys,
} from './signature.ts';
import * as store from './store.ts';
import {
  type CheckpointProblem,
  type CheckpointProblemReason,
  type RecordProblem,
  SIGNATURE_MESSAGES,
} from './verify.ts';

export const BUNDLE_FORMAT = 'bulwark.audit.bundle.v1';

export interface InclusionProofJson {
  readonly seq: number;
  /** The checkpoint (by number) whose signed root the proof leads to. */
  readonly checkpoint: number;
  /** Leaf index (seq - 1) and tree size, as RFC 9162 §2.1.3.2 takes them. */
  readonly leafIndex: number;
  readonly treeSize: number;
  /** Hex hashes, leaf side first. */
  readonly path: readonly string[];
}

export interface ConsistencyProofJson {
  readonly fromCheckpoint: number;
  readonly toCheckpoint: number;
  readonly path: readonly string[];
}

export interface AuditBundle {
  readonly format: typeof BUNDLE_FORMAT;
  readonly createdAt: string;
  readonly range: {
    readonly from: string;
    readonly to: string;
    readonly firstSeq: number | null;
    readonly lastSeq: number | null;
  };
  readonly records: readonly AuditRecord[];
  readonly checkpoints: readonly Checkpoint[];
  readonly proofs: readonly InclusionProofJson[];
  readonly consistency: readonly ConsistencyProofJson[];
  readonly jwks: { readonly keys: readonly PublicJwk[] };
  /** Compact JWS (`typ` bulwark-audit-bundle+jws) whose payload is `{"format":…,"sha256":…}`. */
  readonly signature: string;
}

export interface ExportAuditOptions {
  readonly db: Database;
  /** The key ring: signs the bundle (and a checkpoint, if none covers the range yet). */
  readonly signing: Pick<SigningKeyRing, 'signJws' | 'publicJwks'>;
  /** Keys to publish for the checkpoints. Default: the `signing_keys` table. */
  readonly keys?: AuditKeyLookup;
  /** Records with from <= time < to. */
  readonly from: Date;
  readonly to: Date;
  /** Refuse larger exports (AUDIT_RANGE_INVALID). Default 100,000 records. */
  readonly maxRecords?: number;
  readonly now?: () => Date;
}

/** The signed payload of a bundle: SHA-256 of the JCS of the bundle without `signature`. */
function bundleDigestPayload(unsigned: Record<string, unknown>): string {
  return canonicalJson({ format: BUNDLE_FORMAT, sha256: sha256Hex(canonicalJson(unsigned)) });
}

export async function exportAudit(opts: ExportAuditOptions): Promise<AuditBundle> {
  const { db, from, to } = opts;
  const now = opts.now ?? (() => new Date());
  const maxRecords = opts.maxRecords ?? 100_000;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from.getTime() >= to.getTime())
    throw new AuditError('AUDIT_RANGE_INVALID', 'the time range is empty or reversed');

  const range = await db.asSystem((tx) => store.seqRangeForTime(tx, from, to));
  if (range && range.last - range.first + 1 > maxRecords)
    throw new AuditError(
      'AUDIT_RANGE_INVALID',
      `the range holds ${range.last - range.first + 1} records; export at most ${maxRecords} at a time`,
    );
  const records = range ? await db.asSystem((tx) => store.recordsBetween(tx, range.first, range.last)) : [];
  if (range && records.length !== range.last - range.first + 1)
    throw new AuditError('AUDIT_CHAIN_BROKEN', 'records are missing in the range: run bulwark audit verify');

  // The checkpoint that covers the last record; sign one now if none does yet.
  let covering: store.CheckpointRow | undefined;
  for (let attempt = 0; range && !covering && attempt < 5; attempt++) {
    covering = await db.asSystem((tx) => store.checkpointCovering(tx, range.last));
    if (!covering) await createCheckpoint({ db, signing: opts.signing, now });
  }
  if (range && !covering) throw new Error('could not obtain a checkpoint covering the export');
  const latest = await db.asSystem((tx) => store.latestCheckpoint(tx));

  const checkpoints: store.CheckpointRow[] = [];
  const proofs: InclusionProofJson[] = [];
  const consistency: ConsistencyProofJson[] = [];
  if (covering && latest) {
    checkpoints.push(covering);
    if (latest.seq !== covering.seq) checkpoints.push(latest);
    const hashes = await db.asSystem((tx) => store.hashesBetween(tx, 1, latest.treeSize));
    if (hashes.length !== latest.treeSize)
      throw new AuditError('AUDIT_CHAIN_BROKEN', 'records under the latest checkpoint are missing');
    const tree = new MerkleTree(hashes.map((h) => Buffer.from(h.hash, 'hex')));
    for (const cp of checkpoints) {
      if (tree.root(cp.treeSize).toString('hex') !== cp.rootHash)
        throw new AuditError(
          'AUDIT_CHAIN_BROKEN',
          `records do not match checkpoint ${cp.seq}: run bulwark audit verify`,
        );
    }
    for (const r of records) {
      proofs.push({
        seq: r.seq,
        checkpoint: covering.seq,
        leafIndex: r.seq - 1,
        treeSize: covering.treeSize,
        path: tree.inclusionProof(r.seq - 1, covering.treeSize).map((b) => b.toString('hex')),
      });
    }
    if (latest.seq !== covering.seq) {
      consistency.push({
        fromCheckpoint: covering.seq,
        toCheckpoint: latest.seq,
        path: tree.consistencyProof(covering.treeSize, latest.treeSize).map((b) => b.toString('hex')),
      });
    }
  }

  // The keys: those that signed the checkpoints (whatever their state now) and the published ones
  // (the active key signs the bundle).
  const lookup = opts.keys ?? databaseKeys(db);
  const keys = new Map<string, PublicJwk>();
  for (const cp of checkpoints) {
    const k = await lookup.keyInfo(cp.kid);
    if (k) keys.set(k.kid, k.publicJwk);
  }
  for (const k of (await opts.signing.publicJwks(AUDIT_KEY_PURPOSE)).keys) keys.set(k.kid, k);

  const unsigned: Omit<AuditBundle, 'signature'> = {
    format: BUNDLE_FORMAT,
    createdAt: now().toISOString(),
    range: {
      from: from.toISOString(),
      to: to.toISOString(),
      firstSeq: range?.first ?? null,
      lastSeq: range?.last ?? null,
    },
    records,
    checkpoints: checkpoints.map(toCheckpoint),
    proofs,
    consistency,
    jwks: { keys: [...keys.values()] },
  };
  const signature = await opts.signing.signJws(
    AUDIT_KEY_PURPOSE,
    bundleDigestPayload(unsigned as unknown as Record<string, unknown>),
    { typ: BUNDLE_TYP },
  );
  return { ...unsigned, signature };
}

// ---- offline verification -----------------------------------------------------------------------

export interface BundleReport {
  readonly ok: boolean;
  /** Signatures were checked against keys the verifier supplied (not the bundle's own). */
  readonly keysTrusted: boolean;
  /** Set when the document is not a well-formed bundle at all. */
  readonly malformed: string | null;
  readonly records: number;
  readonly range: { readonly firstSeq: number | null; readonly lastSeq: number | null } | null;
  readonly checkpoints: number;
  readonly signatureValid: boolean;
  readonly firstBadRecord: RecordProblem | null;
  readonly firstBadCheckpoint: CheckpointProblem | null;
  /** Other failures: proofs, consistency, the bundle signature. */
  readonly problems: readonly string[];
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isHex = (v: unknown): v is string => typeof v === 'string' && HEX256_RE.test(v);
const isText = (v: unknown): v is string | null => v === null || typeof v === 'string';
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isIso = (v: unknown): v is string => typeof v === 'string' && ISO_RE.test(v);

function recordShape(r: unknown): string | undefined {
  if (!isObj(r)) return 'not an object';
  const keys = Object.keys(r).sort().join(',');
  if (
    keys !==
    'action,actorId,actorType,clientId,details,hash,objectId,objectType,occurredAt,outcome,prevHash,requestId,seq,tenantId'
  )
    return 'unexpected members';
  if (!isSeq(r.seq) || !isIso(r.occurredAt) || !isHex(r.hash) || !isHex(r.prevHash))
    return 'bad seq, time or hash';
  if (typeof r.action !== 'string' || !(AUDIT_ACTOR_TYPES as readonly unknown[]).includes(r.actorType))
    return 'bad action or actor';
  if (!(AUDIT_OUTCOMES as readonly unknown[]).includes(r.outcome) || !isObj(r.details))
    return 'bad outcome or details';
  for (const k of ['tenantId', 'actorId', 'clientId', 'objectType', 'objectId', 'requestId'] as const)
    if (!isText(r[k])) return `bad ${k}`;
  return undefined;
}

function checkpointShape(c: unknown): string | undefined {
  if (!isObj(c)) return 'not an object';
  if (!isSeq(c.seq) || !isSeq(c.treeSize) || !isIso(c.time)) return 'bad seq, size or time';
  if (!isHex(c.rootHash) || !isHex(c.prevHash) || !isHex(c.hash)) return 'bad hash';
  if (typeof c.kid !== 'string' || typeof c.alg !== 'string' || typeof c.jws !== 'string')
    return 'bad signature';
  return undefined;
}

function pathShape(p: unknown): p is string[] {
  return Array.isArray(p) && p.length <= 64 && p.every(isHex);
}

/**
 * Verifies a bundle (the parsed JSON) with no database. `publicJwks`, when given, is the set of
 * audit keys the verifier trusts (the published JWKS); otherwise the bundle's own `jwks` is used.
 */
export async function verifyBundle(bundle: unknown, publicJwks?: unknown): Promise<BundleReport> {
  const fail = (malformed: string): BundleReport => ({
    ok: false,
    keysTrusted: publicJwks !== undefined,
    malformed,
    records: 0,
    range: null,
    checkpoints: 0,
    signatureValid: false,
    firstBadRecord: null,
    firstBadCheckpoint: null,
    problems: [],
  });
  if (!isObj(bundle) || bundle.format !== BUNDLE_FORMAT) return fail(`not an ${BUNDLE_FORMAT} document`);
  const { records, checkpoints, proofs, consistency, jwks, signature, range } = bundle;
  if (
    !Array.isArray(records) ||
    !Array.isArray(checkpoints) ||
    !Array.isArray(proofs) ||
    !Array.isArray(consistency)
  )
    return fail('records, checkpoints, proofs and consistency must be arrays');
  if (!isObj(range) || !isIso(bundle.createdAt)) return fail('range and createdAt are required');
  for (const [i, r] of records.entries()) {
    const why = recordShape(r);
    if (why) return fail(`records[${i}]: ${why}`);
  }
  for (const [i, c] of checkpoints.entries()) {
    const why = checkpointShape(c);
    if (why) return fail(`checkpoints[${i}]: ${why}`);
  }
  let keyLookup: AuditKeyLookup;
  try {
    keyLookup = trustedKeys(publicJwks ?? jwks);
  } catch (err) {
    return fail(`keys: ${(err as Error).message}`);
  }
  const keys = new KeyCache(keyLookup);
  const problems: string[] = [];
  let firstBadRecord: RecordProblem | null = null;
  let firstBadCheckpoint: CheckpointProblem | null = null;
  const badRecord = (p: RecordProblem) => {
    firstBadRecord ??= p;
  };
  const badCheckpoint = (p: CheckpointProblem) => {
    firstBadCheckpoint ??= p;
  };

  // Records: content hash, consecutive seqs, links inside the bundle.
  const recs = records as AuditRecord[];
  for (const [i, r] of recs.entries()) {
    const prev = recs[i - 1];
    if (prev && r.seq !== prev.seq + 1) {
      badRecord({
        seq: prev.seq + 1,
        reason: 'missing',
        message: `record ${prev.seq + 1} is missing from the bundle`,
      });
      break;
    }
    const { hash, ...body } = r;
    if (recordHash(body) !== hash) {
      badRecord({
        seq: r.seq,
        reason: 'hash_mismatch',
        message: `record ${r.seq} was altered: its content does not give its hash`,
      });
      break;
    }
    if (prev && r.prevHash !== prev.hash) {
      badRecord({
        seq: r.seq,
        reason: 'chain_broken',
        message: `record ${r.seq} does not link to record ${prev.seq}`,
      });
      break;
    }
  }

  // Checkpoints: body hash, signature, links between consecutive numbers.
  const cps = checkpoints as Checkpoint[];
  const bySeq = new Map<number, Checkpoint>();
  for (const cp of cps) {
    const body = {
      seq: cp.seq,
      treeSize: cp.treeSize,
      rootHash: cp.rootHash,
      prevHash: cp.prevHash,
      time: cp.time,
    };
    const prev = bySeq.get(cp.seq - 1);
    bySeq.set(cp.seq, cp);
    if (checkpointHash(body) !== cp.hash) {
      badCheckpoint({
        seq: cp.seq,
        reason: 'hash_mismatch',
        message: `checkpoint ${cp.seq} does not match its hash`,
      });
      continue;
    }
    if (prev && cp.prevHash !== prev.hash) {
      badCheckpoint({
        seq: cp.seq,
        reason: 'chain_broken',
        message: `checkpoint ${cp.seq} does not link to ${prev.seq}`,
      });
    }
    const sig = await checkJws(cp.jws, {
      keys,
      typ: CHECKPOINT_TYP,
      expectedPayload: checkpointCanonical(body),
      expectedKid: cp.kid,
      signedAt: new Date(cp.time),
    });
    if (!sig.ok) {
      const reason: CheckpointProblemReason =
        sig.problem === 'payload_mismatch' ? 'signature_invalid' : sig.problem;
      badCheckpoint({
        seq: cp.seq,
        reason,
        message: `checkpoint ${cp.seq}: ${SIGNATURE_MESSAGES[sig.problem]} (key ${cp.kid})`,
      });
    }
  }

  // Inclusion proofs: every record, against a checkpoint of the bundle.
  const proofBySeq = new Map<number, Json>();
  for (const p of proofs) if (isObj(p) && isSeq(p.seq)) proofBySeq.set(p.seq, p);
  for (const r of recs) {
    const p = proofBySeq.get(r.seq);
    const cp = p && isSeq(p.checkpoint) ? bySeq.get(p.checkpoint) : undefined;
    if (!p || !cp || !pathShape(p.path) || p.leafIndex !== r.seq - 1 || p.treeSize !== cp.treeSize) {
      badRecord({
        seq: r.seq,
        reason: 'chain_broken',
        message: `record ${r.seq} has no usable inclusion proof`,
      });
      break;
    }
    const ok = verifyInclusion(
      r.seq - 1,
      cp.treeSize,
      leafHash(Buffer.from(r.hash, 'hex')),
      p.path.map((h) => Buffer.from(h, 'hex')),
      Buffer.from(cp.rootHash, 'hex'),
    );
    if (!ok) {
      badRecord({
        seq: r.seq,
        reason: 'hash_mismatch',
        message: `record ${r.seq} is not in the tree signed by checkpoint ${cp.seq}`,
      });
      break;
    }
  }

  // Consistency between the checkpoints: the later tree extends the earlier one.
  for (const c of consistency) {
    const from = isObj(c) && isSeq(c.fromCheckpoint) ? bySeq.get(c.fromCheckpoint) : undefined;
    const to = isObj(c) && isSeq(c.toCheckpoint) ? bySeq.get(c.toCheckpoint) : undefined;
    if (!from || !to || !isObj(c) || !pathShape(c.path)) {
      problems.push('a consistency proof names checkpoints the bundle does not hold');
      continue;
    }
    const ok = verifyConsistency(
      from.treeSize,
      to.treeSize,
      Buffer.from(from.rootHash, 'hex'),
      Buffer.from(to.rootHash, 'hex'),
      c.path.map((h) => Buffer.from(h, 'hex')),
    );
    if (!ok) problems.push(`checkpoint ${to.seq} is not consistent with checkpoint ${from.seq}`);
  }
  const sorted = [...cps].sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (
      b.seq !== a.seq + 1 &&
      !consistency.some((c) => isObj(c) && c.fromCheckpoint === a.seq && c.toCheckpoint === b.seq)
    )
      problems.push(`no consistency proof links checkpoint ${a.seq} to checkpoint ${b.seq}`);
  }
  if (recs.length > 0 && cps.length === 0) problems.push('no checkpoint covers the records');

  // The bundle signature, over everything else.
  const { signature: _s, ...unsigned } = bundle;
  let signatureValid = false;
  try {
    const sig = await checkJws(signature, {
      keys,
      typ: BUNDLE_TYP,
      expectedPayload: bundleDigestPayload(unsigned),
      signedAt: new Date(bundle.createdAt as string),
    });
    signatureValid = sig.ok;
    if (!sig.ok) problems.push(`bundle signature: ${SIGNATURE_MESSAGES[sig.problem]}`);
  } catch (err) {
    problems.push(`bundle signature: ${(err as Error).message}`);
  }

  return {
    ok: !firstBadRecord && !firstBadCheckpoint && problems.length === 0 && signatureValid,
    keysTrusted: publicJwks !== undefined,
    malformed: null,
    records: recs.length,
    range: {
      firstSeq: isSeq(range.firstSeq) ? range.firstSeq : null,
      lastSeq: isSeq(range.lastSeq) ? range.lastSeq : null,
    },
    checkpoints: cps.length,
    signatureValid,
    firstBadRecord,
    firstBadCheckpoint,
    problems,
  };
}
