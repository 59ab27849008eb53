/**
 * The audit trail as the admin API and the CLI use it: search, proofs, verification, keys,
 * export. No Fastify here (STYLE 4); routes.ts maps AuditError to problems.
 */
import type { PublicJwk, SigningKeyRing } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { appendAudit } from './append.ts';
import { type AuditBundle, exportAudit } from './bundle.ts';
import type { AuditRecord } from './canonical.ts';
import { type Checkpoint, toCheckpoint } from './checkpoint.ts';
import { AuditError } from './errors.ts';
import { MerkleTree } from './merkle.ts';
import { AUDIT_KEY_PURPOSE, type AuditKeyLookup, databaseKeys } from './signature.ts';
import * as store from './store.ts';
import { type AuditVerifyProgress, type AuditVerifyReport, verifyAudit } from './verify.ts';

export interface AuditServiceOptions {
  readonly db: Database;
  /** The key ring (`services.crypto.signing`). */
  readonly signing: Pick<SigningKeyRing, 'signJws' | 'publicJwks' | 'keyHistory'>;
  /** Keys that verify checkpoints. Default: the `signing_keys` table. */
  readonly keys?: AuditKeyLookup;
  /** Largest tree (in records) kept in memory between proof requests; ~64 bytes each. Default 2,000,000. */
  readonly maxCachedTree?: number;
}

export interface AuditSearch extends Omit<store.SearchFilter, 'beforeSeq'> {
  readonly limit: number;
  /** The seq of the last record of the previous page. */
  readonly cursor?: number | undefined;
}

export interface AuditProof {
  readonly record: AuditRecord;
  readonly checkpoint: Checkpoint;
  /** RFC 9162 §2.1.3.2 inputs: leaf index (seq - 1), tree size, and the path (hex, leaf side first). */
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly path: string[];
}

/** Who asked, for the audit record of a verification run. */
export interface AuditCaller {
  readonly type: 'operator' | 'user' | 'system';
  readonly id: string | null;
  readonly requestId?: string | null;
}

export class AuditService {
  private readonly db: Database;
  private readonly keys: AuditKeyLookup;
  private readonly maxCachedTree: number;
  private cachedTree: { checkpoint: number; tree: MerkleTree } | undefined;
  private running: Promise<AuditVerifyReport> | undefined;

  constructor(private readonly opts: AuditServiceOptions) {
    this.db = opts.db;
    this.keys = opts.keys ?? databaseKeys(opts.db);
    this.maxCachedTree = opts.maxCachedTree ?? 2_000_000;
  }

  /** Newest first; `nextCursor` is null on the last page. */
  async search(q: AuditSearch): Promise<{ items: AuditRecord[]; nextCursor: number | null }> {
    if (q.from && q.to && q.from.getTime() >= q.to.getTime())
      throw new AuditError('AUDIT_RANGE_INVALID', '`from` must be before `to`');
    const { limit, cursor, ...filter } = q;
    const items = await this.db.asSystem((tx) => store.search(tx, { ...filter, beforeSeq: cursor }, limit));
    return { items, nextCursor: items.length === limit ? (items.at(-1)?.seq ?? null) : null };
  }

  /** The inclusion proof of record `seq` in the tree signed by the latest checkpoint. */
  async proof(seq: number): Promise<AuditProof> {
    const { record, latest } = await this.db.asSystem(async (tx) => ({
      record: await store.recordAt(tx, seq),
      latest: await store.latestCheckpoint(tx),
    }));
    if (!record) throw new AuditError('AUDIT_RECORD_NOT_FOUND');
    if (!latest || latest.treeSize < seq) throw new AuditError('AUDIT_NOT_CHECKPOINTED');
    const tree = await this.treeFor(latest);
    return {
      record,
      checkpoint: toCheckpoint(latest),
      leafIndex: seq - 1,
      treeSize: latest.treeSize,
      path: tree.inclusionProof(seq - 1, latest.treeSize).map((b) => b.toString('hex')),
    };
  }

  /**
   * Verifies the whole trail (or from `fromSeq`), one run at a time per instance, and appends an
   * `audit.verification.completed` record saying who ran it and what it found.
   */
  async verify(
    opts: {
      fromSeq?: number | undefined;
      caller?: AuditCaller;
      onProgress?: (p: AuditVerifyProgress) => void;
    } = {},
  ): Promise<AuditVerifyReport> {
    if (this.running) throw new AuditError('AUDIT_VERIFICATION_RUNNING');
    const run = verifyAudit({
      db: this.db,
      keys: this.keys,
      ...(opts.fromSeq !== undefined ? { fromSeq: opts.fromSeq } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    this.running = run;
    try {
      const report = await run;
      const caller = opts.caller ?? { type: 'system', id: null };
      await this.db.asSystem((tx) =>
        appendAudit(tx, {
          actor: { type: caller.type, id: caller.id },
          action: 'audit.verification.completed',
          object: { type: 'audit_log', id: null },
          tenantId: null,
          outcome: report.ok ? 'success' : 'failure',
          requestId: caller.requestId ?? null,
          details: {
            fromSeq: report.fromSeq,
            records: report.records,
            lastGoodSeq: report.lastGoodSeq,
            firstBadRecord: report.firstBadRecord?.seq ?? null,
            firstBadCheckpoint: report.firstBadCheckpoint?.seq ?? null,
          },
        }),
      );
      return report;
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Every audit key the ring ever made, public halves only, for offline verification: retired
   * keys still verify what they signed; a revoked key carries `revoked_at` (an extra JWK member,
   * RFC 7517 §4) and verifies nothing signed from then on.
   */
  async publicKeys(): Promise<{ keys: (PublicJwk & { revoked_at?: string })[] }> {
    const history = await this.opts.signing.keyHistory(AUDIT_KEY_PURPOSE);
    return {
      keys: history.map((k) => ({
        ...k.publicJwk,
        ...(k.revokedAt ? { revoked_at: k.revokedAt.toISOString() } : {}),
      })),
    };
  }

  export(from: Date, to: Date): Promise<AuditBundle> {
    return exportAudit({ db: this.db, signing: this.opts.signing, keys: this.keys, from, to });
  }

  private async treeFor(cp: store.CheckpointRow): Promise<MerkleTree> {
    if (this.cachedTree?.checkpoint === cp.seq) return this.cachedTree.tree;
    const hashes = await this.db.asSystem((tx) => store.hashesBetween(tx, 1, cp.treeSize));
    if (hashes.length !== cp.treeSize)
      throw new AuditError('AUDIT_CHAIN_BROKEN', `records under checkpoint ${cp.seq} are missing`);
    const tree = new MerkleTree(hashes.map((h) => Buffer.from(h.hash, 'hex')));
    if (tree.root().toString('hex') !== cp.rootHash)
      throw new AuditError('AUDIT_CHAIN_BROKEN', `records do not match checkpoint ${cp.seq}`);
    if (cp.treeSize <= this.maxCachedTree) this.cachedTree = { checkpoint: cp.seq, tree };
    return tree;
  }
}
