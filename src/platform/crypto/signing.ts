import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Database } from '../db/database.ts';
import type { Tx } from '../db/types.ts';
import { enqueue } from '../events/outbox.ts';
import { context } from './aead.ts';
import { CryptoError } from './errors.ts';
import {
  generateSigningKeyPair,
  isSigningAlg,
  type PublicJwk,
  publicJwkOf,
  type SigningAlg,
  signBytes,
  verifyBytes,
} from './jwk.ts';
import { type KeyEncryptionProvider, rewrapInBatches } from './keyring.ts';
import * as store from './store.ts';

/** What a key signs. One active key per purpose; each purpose rotates on its own. */
export type SigningPurpose = 'oauth' | 'audit' | 'webhook' | (string & {});
export type SigningKeyState = 'pending' | 'active' | 'retired' | 'revoked';

const PURPOSE_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_JWS_HEADER = 4096;

/** A signing key as the ring describes it: never any private material. */
export interface SigningKeyInfo {
  readonly kid: string;
  readonly purpose: string;
  readonly alg: SigningAlg;
  readonly state: SigningKeyState;
  readonly publicJwk: PublicJwk;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
  /** A retired key verifies (and is published) until then. */
  readonly verifyUntil: Date | null;
  readonly revokedAt: Date | null;
}

export interface Signature {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly signature: Buffer;
}

export interface SigningOptions {
  /**
   * Least time between publishing a key (`pending`) and signing with it, in ms. It must exceed how
   * long verifiers cache our JWKS, so that nobody meets a signature whose key they have not
   * fetched yet. At least `cacheTtlMs`. Default 1 hour.
   */
  readonly publicationDelayMs?: number;
  /**
   * How long a retired key still verifies, in ms: longer than anything it signed is checked online
   * (token lifetimes, webhook retries). Audit checkpoints are verified later from `keyHistory`.
   * Default 7 days.
   */
  readonly gracePeriodMs?: number;
  /** `maintain` publishes a successor once the active key is this old, in ms. Default 90 days. */
  readonly rotateAfterMs?: number;
  /**
   * How long this instance reuses the active key and the published set before reading them again,
   * in ms; bounds how long it lags behind a promotion or revocation made elsewhere. Default 60 s.
   */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

interface Published {
  readonly expires: number;
  readonly rows: readonly store.SigningKeyRow[];
  readonly verifiers: ReadonlyMap<string, { alg: SigningAlg; key: KeyObject; verifyUntil: number }>;
}

interface ActiveSigner {
  readonly expires: number;
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly key: KeyObject;
}

const ORDER: Record<string, number> = { active: 0, pending: 1, retired: 2, revoked: 3 };

/**
 * Asymmetric signing keys with rotation that publishes a key before it signs (RFC 7517 JWKS):
 *
 *   rotate   -> a new `pending` key: published in the JWKS, never used to sign;
 *   promote  -> once published for `publicationDelayMs`, it becomes `active` (signs); the previous
 *               active key is `retired` and still verifies for `gracePeriodMs`;
 *   revoke   -> unpublished at once, private key deleted.
 *
 * Private keys are stored wrapped by the master key; platform keys (no tenant) live in the
 * `signing_keys` table and are read as the system. Each change writes a
 * `crypto.signing_key.{published,activated,revoked}` event in its transaction, for the audit log
 * and so other instances can drop their cache (`refresh`).
 */
export class SigningKeyRing {
  private readonly publicationDelayMs: number;
  private readonly gracePeriodMs: number;
  private readonly rotateAfterMs: number;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  private readonly active = new Map<string, ActiveSigner>();
  private readonly published = new Map<string, Published>();

  constructor(
    private readonly db: Database,
    private readonly kek: KeyEncryptionProvider,
    options: SigningOptions = {},
  ) {
    this.publicationDelayMs = options.publicationDelayMs ?? 3_600_000;
    this.gracePeriodMs = options.gracePeriodMs ?? 7 * 86_400_000;
    this.rotateAfterMs = options.rotateAfterMs ?? 90 * 86_400_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
    if (this.publicationDelayMs < this.cacheTtlMs) {
      // Otherwise an instance could sign with a key that another instance does not publish yet.
      throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'publicationDelayMs must be at least cacheTtlMs');
    }
  }

  /** At boot: makes sure `purpose` has an active key, creating one with `alg` if none exists. */
  async ensureKeys(purpose: SigningPurpose, alg: SigningAlg): Promise<SigningKeyInfo> {
    assertPurpose(purpose);
    assertAlg(alg);
    const row = await this.db.asSystem(async (tx) => {
      await store.lockPurpose(tx, purpose);
      const existing = await store.activeSigningKey(tx, purpose);
      if (existing) return existing;
      // The very first key has signed nothing and nobody caches it yet: no publication delay.
      const created = await this.createKey(tx, purpose, alg, 'active');
      await this.announce(tx, 'activated', created);
      return created;
    });
    this.refresh(purpose);
    return info(row);
  }

  /**
   * Publishes a successor (`pending`) for `purpose`, with `alg` (default: the active key's). If a
   * pending key exists already, returns it instead: one successor at a time.
   */
  async rotate(purpose: SigningPurpose, options: { alg?: SigningAlg } = {}): Promise<SigningKeyInfo> {
    assertPurpose(purpose);
    if (options.alg !== undefined) assertAlg(options.alg);
    const row = await this.db.asSystem(async (tx) => {
      await store.lockPurpose(tx, purpose);
      const pending = (await store.publishedSigningKeys(tx, purpose, new Date(this.now()))).find(
        (k) => k.state === 'pending',
      );
      if (pending) return pending;
      const alg = options.alg ?? (await store.activeSigningKey(tx, purpose))?.alg;
      if (!alg) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', `no active ${purpose} key: name an alg`);
      const created = await this.createKey(tx, purpose, alg, 'pending');
      await this.announce(tx, 'published', created);
      return created;
    });
    this.refresh(purpose);
    return info(row);
  }

  /**
   * Activates the oldest pending key that has been published for at least `publicationDelayMs`
   * and retires the active one. Returns the new active key, or undefined when none is due yet.
   */
  async promote(purpose: SigningPurpose): Promise<SigningKeyInfo | undefined> {
    assertPurpose(purpose);
    const now = this.now();
    const row = await this.db.asSystem(async (tx) => {
      await store.lockPurpose(tx, purpose);
      const due = await store.oldestPendingBefore(tx, purpose, new Date(now - this.publicationDelayMs));
      if (!due) return undefined;
      // Retire first: the unique index allows one active key per purpose at any instant.
      await store.retireActiveSigningKey(tx, purpose, new Date(now), new Date(now + this.gracePeriodMs));
      const activated = await store.activateSigningKey(tx, due.kid, new Date(now));
      if (activated) await this.announce(tx, 'activated', activated);
      return activated;
    });
    this.refresh(purpose);
    return row && info(row);
  }

  /**
   * Revokes a key at once (compromise): unpublished, verifies nothing, private key deleted. If it
   * was the active key, `purpose` cannot sign until `ensureKeys` creates a new one.
   */
  async revoke(kid: string): Promise<SigningKeyInfo | undefined> {
    const row = await this.db.asSystem(async (tx) => {
      const revoked = await store.revokeSigningKey(tx, kid, new Date(this.now()));
      if (revoked) await this.announce(tx, 'revoked', revoked);
      return revoked;
    });
    if (row) this.refresh(row.purpose);
    return row && info(row);
  }

  /**
   * The scheduled job: promotes a pending key that is due, publishes a successor when the active
   * key is older than `rotateAfterMs`, and deletes the private half of retired keys past their
   * grace period. Safe to run on every instance.
   */
  async maintain(
    purpose: SigningPurpose,
  ): Promise<{ promoted?: string; published?: string; pruned: number }> {
    assertPurpose(purpose);
    const promoted = await this.promote(purpose);
    const now = this.now();
    const { published, pruned } = await this.db.asSystem(async (tx) => {
      await store.lockPurpose(tx, purpose);
      const keys = await store.publishedSigningKeys(tx, purpose, new Date(now));
      const active = keys.find((k) => k.state === 'active');
      let created: store.SigningKeyRow | undefined;
      const since = active?.activatedAt ?? active?.createdAt;
      if (
        active &&
        since &&
        since.getTime() <= now - this.rotateAfterMs &&
        !keys.some((k) => k.state === 'pending')
      ) {
        created = await this.createKey(tx, purpose, active.alg, 'pending');
        await this.announce(tx, 'published', created);
      }
      return { published: created, pruned: await store.pruneRetiredSigningKeys(tx, purpose, new Date(now)) };
    });
    if (published || pruned) this.refresh(purpose);
    return {
      ...(promoted ? { promoted: promoted.kid } : {}),
      ...(published ? { published: published.kid } : {}),
      pruned,
    };
  }

  /** The JWKS of `purpose`: active, pending, and retired keys inside their grace period. */
  async publicJwks(purpose: SigningPurpose): Promise<{ keys: PublicJwk[] }> {
    assertPurpose(purpose);
    const set = await this.publishedSet(purpose);
    const now = this.now();
    return {
      keys: set.rows
        .filter((r) => r.state !== 'retired' || (r.verifyUntil?.getTime() ?? 0) > now)
        .map((r) => r.publicJwk as PublicJwk),
    };
  }

  /** Signs `payload` with the active key of `purpose`. */
  async sign(purpose: SigningPurpose, payload: Uint8Array | string): Promise<Signature> {
    assertPurpose(purpose);
    const signer = await this.activeSigner(purpose);
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    return { kid: signer.kid, alg: signer.alg, signature: signBytes(signer.alg, signer.key, data) };
  }

  /**
   * Verifies a signature by a published key of `purpose`. The algorithm is the key's own, never
   * one the signer claims; an unknown, revoked or expired `kid` does not verify.
   */
  async verify(
    purpose: SigningPurpose,
    payload: Uint8Array | string,
    signature: Uint8Array,
    kid: string,
  ): Promise<boolean> {
    assertPurpose(purpose);
    const set = await this.publishedSet(purpose);
    const key = set.verifiers.get(kid);
    if (!key || key.verifyUntil <= this.now()) return false;
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    return verifyBytes(key.alg, key.key, data, signature);
  }

  /**
   * A JWS in compact serialisation (RFC 7515 §7.1) signed by the active key; `alg` and `kid` are
   * set by the ring and cannot be overridden by `header`.
   */
  async signJws(
    purpose: SigningPurpose,
    payload: Uint8Array | string,
    header: Readonly<Record<string, unknown>> = {},
  ): Promise<string> {
    assertPurpose(purpose);
    const signer = await this.activeSigner(purpose);
    const { alg: _alg, kid: _kid, ...rest } = header;
    const protectedHeader = b64(JSON.stringify({ alg: signer.alg, kid: signer.kid, ...rest }));
    const body = b64(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
    const input = Buffer.from(`${protectedHeader}.${body}`, 'ascii');
    return `${protectedHeader}.${body}.${b64(signBytes(signer.alg, signer.key, input))}`;
  }

  /**
   * Verifies a compact JWS against the published keys of `purpose` and returns its header and
   * payload. Refuses a header whose `alg` differs from the key's (algorithm confusion), and any
   * `crit` header (RFC 7515 §4.1.11: we understand no extension, e.g. unencoded payloads).
   */
  async verifyJws(
    purpose: SigningPurpose,
    jws: string,
  ): Promise<{ header: Record<string, unknown>; payload: Buffer; kid: string }> {
    assertPurpose(purpose);
    const invalid = () => new CryptoError('CRYPTO_SIGNATURE_INVALID');
    const parts = jws.split('.');
    if (parts.length !== 3) throw invalid();
    const [h, p, s] = parts as [string, string, string];
    if (
      h.length > MAX_JWS_HEADER ||
      !B64URL_RE.test(h) ||
      !B64URL_OR_EMPTY_RE.test(p) ||
      !B64URL_RE.test(s)
    ) {
      throw invalid();
    }
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid();
    const fields = header as Record<string, unknown>;
    if (typeof fields.kid !== 'string' || !isSigningAlg(fields.alg) || 'crit' in fields) throw invalid();
    const set = await this.publishedSet(purpose);
    const key = set.verifiers.get(fields.kid);
    if (!key || key.alg !== fields.alg || key.verifyUntil <= this.now()) throw invalid();
    const ok = verifyBytes(key.alg, key.key, Buffer.from(`${h}.${p}`, 'ascii'), Buffer.from(s, 'base64url'));
    if (!ok) throw invalid();
    return { header: fields, payload: Buffer.from(p, 'base64url'), kid: fields.kid };
  }

  /** Every key of `purpose`, in creation order, revoked and expired ones included (no private parts). */
  async keyHistory(purpose: SigningPurpose): Promise<SigningKeyInfo[]> {
    assertPurpose(purpose);
    const rows = await this.db.asSystem((tx) => store.listSigningKeys(tx, purpose));
    return rows.map(info);
  }

  /** One key by id, whatever its state (to check an old audit checkpoint, say). */
  async keyInfo(kid: string): Promise<SigningKeyInfo | undefined> {
    const row = await this.db.asSystem((tx) => store.findSigningKey(tx, kid));
    return row && info(row);
  }

  /**
   * PRIVILEGED. The published keys of `purpose` WITH their private parts, as a JWKS, for a
   * component that must sign by itself (oidc-provider's `jwks`). Active key first: oidc-provider
   * signs with the first key of the requested algorithm, so a pending key is only ever used if its
   * algorithm differs from the active one's — rotate within one algorithm.
   */
  async exportPrivateJwks(purpose: SigningPurpose): Promise<{ keys: JsonWebKey[] }> {
    assertPurpose(purpose);
    const now = this.now();
    const rows = await this.db.asSystem((tx) => store.publishedSigningKeys(tx, purpose, new Date(now)));
    const keys: JsonWebKey[] = [];
    for (const row of sortPublished(rows)) {
      if (!row.privateKey) continue;
      const key = await this.unwrapPrivate(row);
      keys.push({ ...key.export({ format: 'jwk' }), kid: row.kid, alg: row.alg, use: 'sig' });
    }
    return { keys };
  }

  /** Drops what this instance cached for `purpose` (or every purpose): on another instance's change. */
  refresh(purpose?: string): void {
    if (purpose === undefined) {
      this.active.clear();
      this.published.clear();
      return;
    }
    this.active.delete(purpose);
    this.published.delete(purpose);
  }

  /** Re-wraps every stored private key under the current master key (see `rotateKek`). */
  rewrapAll(batchSize = 200): Promise<{ rewrapped: number; failed: number }> {
    return rewrapInBatches<Awaited<ReturnType<typeof store.signingKeysToRewrap>>[number]>(
      this.db,
      this.kek,
      {
        find: (tx, current, after, limit) => store.signingKeysToRewrap(tx, current, after, limit),
        cursor: (row) => row.kid,
        wrapped: (row) => ({ kekId: row.kekId!, wrapped: row.privateKey! }),
        aad: privateKeyContext,
        save: (tx, row, w) => store.rewrapSigningKey(tx, row.kid, w.kekId, w.wrapped),
      },
      batchSize,
    );
  }

  // ---- internals ------------------------------------------------------------------------------

  private async createKey(
    tx: Tx,
    purpose: string,
    alg: SigningAlg,
    state: 'pending' | 'active',
  ): Promise<store.SigningKeyRow> {
    const { publicKey, privateKey } = await generateSigningKeyPair(alg);
    const publicJwk = publicJwkOf(alg, publicKey);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      const wrapped = await this.kek.wrap(der, privateKeyContext({ kid: publicJwk.kid, purpose, alg }));
      const now = new Date(this.now());
      return await store.insertSigningKey(tx, {
        kid: publicJwk.kid,
        tenantId: null,
        purpose,
        alg,
        state,
        publicJwk,
        kekId: wrapped.kekId,
        privateKey: wrapped.wrapped,
        createdAt: now,
        activatedAt: state === 'active' ? now : null,
      });
    } finally {
      der.fill(0);
    }
  }

  private async unwrapPrivate(row: store.SigningKeyRow): Promise<KeyObject> {
    if (!row.kekId || !row.privateKey)
      throw new CryptoError('CRYPTO_NO_SIGNING_KEY', `key ${row.kid} has no private part`);
    const der = await this.kek.unwrap({ kekId: row.kekId, wrapped: row.privateKey }, privateKeyContext(row));
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }

  private async activeSigner(purpose: string): Promise<ActiveSigner> {
    const now = this.now();
    const cached = this.active.get(purpose);
    if (cached && cached.expires > now) return cached;
    const row = await this.db.asSystem((tx) => store.activeSigningKey(tx, purpose));
    if (!row) throw new CryptoError('CRYPTO_NO_SIGNING_KEY', `no active ${purpose} signing key`);
    const signer = {
      expires: now + this.cacheTtlMs,
      kid: row.kid,
      alg: row.alg,
      key: await this.unwrapPrivate(row),
    };
    this.active.set(purpose, signer);
    return signer;
  }

  private async publishedSet(purpose: string): Promise<Published> {
    const now = this.now();
    const cached = this.published.get(purpose);
    if (cached && cached.expires > now) return cached;
    const rows = sortPublished(
      await this.db.asSystem((tx) => store.publishedSigningKeys(tx, purpose, new Date(now))),
    );
    const verifiers = new Map<string, { alg: SigningAlg; key: KeyObject; verifyUntil: number }>();
    for (const r of rows) {
      const key = createPublicKey({ key: r.publicJwk as JsonWebKey, format: 'jwk' });
      verifiers.set(r.kid, {
        alg: r.alg,
        key,
        verifyUntil: r.state === 'retired' ? (r.verifyUntil?.getTime() ?? 0) : Number.POSITIVE_INFINITY,
      });
    }
    const set = { expires: now + this.cacheTtlMs, rows, verifiers };
    this.published.set(purpose, set);
    return set;
  }

  private async announce(
    tx: Tx,
    what: 'published' | 'activated' | 'revoked',
    row: store.SigningKeyRow,
  ): Promise<void> {
    await enqueue(tx, {
      topic: `crypto.signing_key.${what}`,
      tenantId: null,
      payload: { kid: row.kid, purpose: row.purpose, alg: row.alg },
    });
  }
}

const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const B64URL_OR_EMPTY_RE = /^[A-Za-z0-9_-]*$/;

function b64(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A wrapped private key is bound to its key id, purpose and algorithm. */
function privateKeyContext(k: { kid: string; purpose: string; alg: string }): Buffer {
  return context('bulwark.signing-key.v1', k.kid, k.purpose, k.alg);
}

function sortPublished(rows: readonly store.SigningKeyRow[]): store.SigningKeyRow[] {
  return [...rows].sort(
    (a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || b.createdAt.getTime() - a.createdAt.getTime(),
  );
}

function info(row: store.SigningKeyRow): SigningKeyInfo {
  return {
    kid: row.kid,
    purpose: row.purpose,
    alg: row.alg,
    state: row.state,
    publicJwk: row.publicJwk as PublicJwk,
    createdAt: row.createdAt,
    activatedAt: row.activatedAt,
    retiredAt: row.retiredAt,
    verifyUntil: row.verifyUntil,
    revokedAt: row.revokedAt,
  };
}

function assertPurpose(purpose: string): void {
  if (!PURPOSE_RE.test(purpose)) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'invalid signing purpose');
}

function assertAlg(alg: string): asserts alg is SigningAlg {
  if (!isSigningAlg(alg)) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', `unsupported signing alg ${alg}`);
}
