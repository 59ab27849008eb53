import { createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.ts';
import type { Tx } from '../db/types.ts';
import { enqueue } from '../events/outbox.ts';
import { isUuid, uuidv7 } from '../ids.ts';
import { context, KEY_BYTES, NONCE_BYTES, open, seal, TAG_BYTES } from './aead.ts';
import { CryptoError } from './errors.ts';
import { type KeyEncryptionProvider, rewrapInBatches } from './keyring.ts';
import { LruCache } from './lru.ts';
import * as store from './store.ts';

/**
 * Whose data a key encrypts. `tenant` for data of the insurer itself; `subject:<id>` for one data
 * subject (a policyholder), so that erasing that person destroys one key and nothing else.
 */
export type KeyScope = 'tenant' | `subject:${string}`;

const SCOPE_RE = /^(?:tenant|subject:[A-Za-z0-9][A-Za-z0-9._:-]{0,199})$/;
const INDEX_NAME_RE = /^[a-z][a-z0-9_.:-]{0,99}$/;
const MAX_AAD_LENGTH = 1024;

export function subjectScope(subjectId: string): KeyScope {
  const scope = `subject:${subjectId}` as const;
  assertScope(scope);
  return scope;
}

/**
 * The associated data for a field stored in `table.column` of row `rowId`. Encrypting with it binds
 * the ciphertext to that place: copied into another row or column, it no longer decrypts.
 */
export function fieldAad(table: string, column: string, rowId: string): string {
  return JSON.stringify([table, column, rowId]);
}

/** Format version 1: `v1.<data key id>.<nonce || ciphertext || tag>`, both parts base64url. */
const VERSION = 'v1';
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Whether a stored value looks like an encrypted field (it may still fail to decrypt). */
export function isEncryptedField(value: string): boolean {
  return parseField(value) !== undefined;
}

export interface EnvelopeOptions {
  /** Unwrapped keys kept in memory. Default 10,000. */
  readonly cacheSize?: number;
  /**
   * How long an unwrapped key stays cached, in ms. It bounds how long another instance may keep
   * using a key this one destroyed (unless it evicts on the `crypto.data_key.destroyed` event).
   * Default 5 minutes.
   */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

interface InTx {
  /**
   * The caller's transaction from `db.withTenant(tenantId, …)`, when called inside one. Required
   * there on PGlite: it has one connection, and a second transaction would wait for the first
   * forever. Keys a transaction creates are used only inside it until it commits.
   */
  readonly tx?: Tx | undefined;
}

export interface EncryptOptions extends InTx {
  /** Where the value is stored: `fieldAad(table, column, rowId)`. */
  readonly aad: string;
  /** Default `tenant`. */
  readonly scope?: KeyScope;
}

export interface DecryptOptions extends InTx {
  /** The same associated data the value was encrypted with. */
  readonly aad: string;
}

interface CachedKey {
  readonly id: string;
  readonly tenantId: string;
  readonly scope: string;
  readonly purpose: store.DataKeyPurpose;
  readonly key: KeyObject;
}

const activeSlot = (tenantId: string, scope: string, purpose: store.DataKeyPurpose) =>
  `active:${tenantId}:${purpose}:${scope}`;
const idSlot = (id: string) => `id:${id}`;
const indexSlot = (tenantId: string, index: string) => `index:${tenantId}:${index}`;

/**
 * Envelope encryption of personal data (DESIGN invariant 6). Each tenant scope has data keys
 * (AES-256-GCM, created on first use) stored only wrapped by the current master key; fields carry
 * the id of the key that sealed them, so rotating a data key or a master key never re-encrypts
 * data. Destroying a scope's keys (crypto-shredding) makes every field sealed under them
 * unreadable for good: `CRYPTO_KEY_DESTROYED`.
 */
export class Envelope {
  private readonly cache: LruCache<string, CachedKey>;
  /** Keys read or created by a transaction that has written: private to it until it commits. */
  private readonly pending = new WeakMap<Tx, Map<string, CachedKey>>();
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly db: Database,
    private readonly kek: KeyEncryptionProvider,
    options: EnvelopeOptions = {},
  ) {
    this.cache = new LruCache(options.cacheSize ?? 10_000, options.cacheTtlMs ?? 300_000, options.now);
  }

  /** Encrypts a field of `tenantId` under the active key of `scope` (created if there is none). */
  async encryptField(
    tenantId: string,
    plaintext: string | Uint8Array,
    options: EncryptOptions,
  ): Promise<string> {
    assertTenant(tenantId);
    assertAad(options.aad);
    const scope = options.scope ?? 'tenant';
    assertScope(scope);
    const { entry } = await this.activeKey(tenantId, scope, 'encryption', options.tx);
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    const sealed = seal(entry.key, data, fieldContext(tenantId, entry.id, options.aad));
    return `${VERSION}.${uuidToBytes(entry.id).toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** Decrypts a field encrypted as text. */
  async decryptField(tenantId: string, value: string, options: DecryptOptions): Promise<string> {
    const bytes = await this.decryptFieldBytes(tenantId, value, options);
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw new CryptoError(
        'CRYPTO_INVALID_ARGUMENT',
        'the field holds bytes, not text: use decryptFieldBytes',
      );
    }
  }

  async decryptFieldBytes(tenantId: string, value: string, options: DecryptOptions): Promise<Buffer> {
    assertTenant(tenantId);
    assertAad(options.aad);
    const parsed = parseField(value);
    if (!parsed) throw new CryptoError('CRYPTO_MALFORMED_CIPHERTEXT');
    const entry = await this.keyById(tenantId, parsed.keyId, options.tx);
    const plaintext = open(entry.key, parsed.sealed, fieldContext(tenantId, entry.id, options.aad));
    if (!plaintext) throw new CryptoError('CRYPTO_DECRYPT_FAILED');
    return plaintext;
  }

  /**
   * A blind index: HMAC-SHA-256 of `value` under a key for (`tenantId`, `index`), so an encrypted
   * column can still be searched by equality (`WHERE email_idx = $1`). The key is derived with HKDF
   * (RFC 5869) from the tenant's blind-index key, one subkey per index, so indexes of different
   * columns never match each other and tenants never share one. Normalise first (trim, lower-case
   * an e-mail): equal means byte-equal. The tenant's index key is never rotated (every stored
   * index would have to be recomputed); it is destroyed with the tenant scope.
   */
  async blindIndex(
    tenantId: string,
    value: string | Uint8Array,
    index: string,
    options: InTx = {},
  ): Promise<string> {
    assertTenant(tenantId);
    if (!INDEX_NAME_RE.test(index))
      throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'invalid blind index name');
    const slot = indexSlot(tenantId, index);
    let subkey = this.cache.get(slot) ?? (options.tx && this.pending.get(options.tx)?.get(slot));
    if (!subkey) {
      const { entry, shared } = await this.activeKey(tenantId, 'tenant', 'blind-index', options.tx);
      // RFC 5869 §3.1: the input key is already uniformly random, so no salt is needed; `info`
      // separates the subkeys of different tenants and indexes (§3.2).
      const okm = Buffer.from(
        hkdfSync(
          'sha256',
          entry.key,
          Buffer.alloc(0),
          context('bulwark.blind-index.v1', tenantId, index),
          32,
        ),
      );
      subkey = { ...entry, key: createSecretKey(okm) };
      okm.fill(0);
      this.remember(slot, subkey, shared, options.tx);
    }
    return createHmac('sha256', subkey.key).update(value).digest('base64url');
  }

  /**
   * Starts a new data key for `scope`: new fields use it, fields sealed under older keys still
   * decrypt (the old key is kept, retired). Returns the new key's id.
   */
  async rotateDataKey(tenantId: string, scope: KeyScope = 'tenant', options: InTx = {}): Promise<string> {
    assertTenant(tenantId);
    assertScope(scope);
    const entry = await this.inTenant(tenantId, options.tx, async (tx) => {
      if (await store.scopeDestroyed(tx, tenantId, scope)) throw new CryptoError('CRYPTO_KEY_DESTROYED');
      await store.retireActiveDataKey(tx, tenantId, scope, 'encryption');
      const created = await this.create(tx, tenantId, scope, 'encryption');
      // Lost a race with a concurrent rotation: the winner's key is just as new.
      return created ?? (await this.readActive(tx, tenantId, scope, 'encryption'))?.entry;
    });
    if (!entry) throw new CryptoError('CRYPTO_KEY_NOT_FOUND', 'the new data key vanished');
    const slot = activeSlot(tenantId, scope, 'encryption');
    this.cache.delete(slot);
    this.remember(slot, entry, options.tx === undefined, options.tx);
    return entry.id;
  }

  /**
   * Crypto-shredding (GDPR Art. 17 erasure): deletes the key material of every key of `scope`.
   * Everything sealed under them, in the database and in every backup, can no longer be decrypted
   * once no copy of the wrapped keys remains readable: backups still hold the wrapped keys, so
   * rotate the master key (`rotateKek`) and retire the old one after the backup retention period.
   * Writes a `crypto.data_key.destroyed` event in the same transaction, on which every instance
   * should call `evict`. Returns how many keys were destroyed.
   */
  async destroyDataKey(tenantId: string, scope: KeyScope, options: InTx = {}): Promise<number> {
    assertTenant(tenantId);
    assertScope(scope);
    const destroyed = await this.inTenant(tenantId, options.tx, async (tx) => {
      const n = await store.destroyScope(tx, tenantId, scope);
      if (n > 0)
        await enqueue(tx, { topic: 'crypto.data_key.destroyed', tenantId, payload: { scope, keys: n } });
      return n;
    });
    this.evict(tenantId, scope);
    if (options.tx) {
      const mine = this.pending.get(options.tx);
      for (const [slot, k] of mine ?? [])
        if (k.tenantId === tenantId && k.scope === scope) mine?.delete(slot);
    }
    return destroyed;
  }

  /** Forgets cached keys of a tenant (or of one scope of it), e.g. when another instance destroyed them. */
  evict(tenantId: string, scope?: KeyScope): void {
    this.cache.deleteWhere((k) => k.tenantId === tenantId && (scope === undefined || k.scope === scope));
  }

  /**
   * Re-wraps every live data key under the current master key, in batches of `batchSize` (one
   * transaction each). The data is not touched: only the 32-byte keys are. A system job, across
   * tenants. Keys that fail to unwrap are counted and left as they are.
   */
  rewrapAll(batchSize = 500): Promise<{ rewrapped: number; failed: number }> {
    return rewrapInBatches<Awaited<ReturnType<typeof store.dataKeysToRewrap>>[number]>(
      this.db,
      this.kek,
      {
        find: (tx, current, after, limit) => store.dataKeysToRewrap(tx, current, after, limit),
        cursor: (row) => row.id,
        wrapped: (row) => ({ kekId: row.kekId!, wrapped: row.wrappedKey! }),
        aad: wrapContext,
        save: (tx, row, w) => store.rewrapDataKey(tx, row.id, w.kekId, w.wrapped),
      },
      batchSize,
    );
  }

  // ---- keys -----------------------------------------------------------------------------------

  private inTenant<T>(tenantId: string, tx: Tx | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? fn(tx) : this.db.withTenant(tenantId, fn);
  }

  /**
   * Caches a key for every transaction when it is known to be committed; otherwise only for the
   * transaction that saw it (it could still roll back, and a key that never existed must not
   * seal data).
   */
  private remember(slot: string, entry: CachedKey, shared: boolean, tx: Tx | undefined): void {
    if (shared) {
      this.cache.set(slot, entry);
      if (slot.startsWith('active:')) this.cache.set(idSlot(entry.id), entry);
      return;
    }
    if (!tx) return;
    let mine = this.pending.get(tx);
    if (!mine) {
      mine = new Map();
      this.pending.set(tx, mine);
    }
    mine.set(slot, entry);
    if (slot.startsWith('active:')) mine.set(idSlot(entry.id), entry);
  }

  private async activeKey(
    tenantId: string,
    scope: string,
    purpose: store.DataKeyPurpose,
    tx: Tx | undefined,
  ): Promise<{ entry: CachedKey; shared: boolean }> {
    const slot = activeSlot(tenantId, scope, purpose);
    const cached = this.cache.get(slot);
    if (cached) return { entry: cached, shared: true };
    const mine = tx && this.pending.get(tx)?.get(slot);
    if (mine) return { entry: mine, shared: false };

    const found = await this.inTenant(tenantId, tx, async (t) => {
      const existing = await this.readActive(t, tenantId, scope, purpose);
      if (existing) return existing;
      // An erased scope stays erased: new data for it is refused rather than sealed under a new key.
      if (await store.scopeDestroyed(t, tenantId, scope)) throw new CryptoError('CRYPTO_KEY_DESTROYED');
      const created = await this.create(t, tenantId, scope, purpose);
      if (created) return { entry: created, committed: false };
      // Another transaction created it first; ON CONFLICT waited for it to commit.
      return this.readActive(t, tenantId, scope, purpose);
    });
    if (!found) throw new CryptoError('CRYPTO_KEY_NOT_FOUND', 'the active data key vanished');
    // Our own transaction has committed by now; the caller's may still roll back.
    const shared = tx === undefined || found.committed;
    this.remember(slot, found.entry, shared, tx);
    return { entry: found.entry, shared };
  }

  private async readActive(tx: Tx, tenantId: string, scope: string, purpose: store.DataKeyPurpose) {
    const found = await store.findActiveDataKey(tx, tenantId, scope, purpose);
    if (!found) return undefined;
    return { entry: await this.unwrap(found.row), committed: found.committed };
  }

  private async keyById(tenantId: string, id: string, tx: Tx | undefined): Promise<CachedKey> {
    const slot = idSlot(id);
    const cached = this.cache.get(slot) ?? (tx && this.pending.get(tx)?.get(slot));
    if (cached) {
      // The cache is shared by all tenants; it must not become a way around row-level security.
      if (cached.tenantId !== tenantId || cached.purpose !== 'encryption') {
        throw new CryptoError('CRYPTO_KEY_NOT_FOUND');
      }
      return cached;
    }
    const found = await this.inTenant(tenantId, tx, async (t) => {
      const found = await store.findDataKey(t, tenantId, id);
      if (found?.row.purpose !== 'encryption') throw new CryptoError('CRYPTO_KEY_NOT_FOUND');
      if (found.row.status === 'destroyed') throw new CryptoError('CRYPTO_KEY_DESTROYED');
      return { entry: await this.unwrap(found.row), committed: found.committed };
    });
    this.remember(slot, found.entry, tx === undefined || found.committed, tx);
    return found.entry;
  }

  private async create(
    tx: Tx,
    tenantId: string,
    scope: string,
    purpose: store.DataKeyPurpose,
  ): Promise<CachedKey | undefined> {
    const id = uuidv7();
    const raw = randomBytes(KEY_BYTES);
    try {
      const wrapped = await this.kek.wrap(raw, wrapContext({ id, tenantId, scope, purpose }));
      const inserted = await store.insertDataKey(tx, {
        id,
        tenantId,
        scope,
        purpose,
        kekId: wrapped.kekId,
        wrappedKey: wrapped.wrapped,
      });
      return inserted ? { id, tenantId, scope, purpose, key: createSecretKey(raw) } : undefined;
    } finally {
      raw.fill(0);
    }
  }

  private async unwrap(row: store.DataKeyRow): Promise<CachedKey> {
    if (row.status === 'destroyed' || !row.kekId || !row.wrappedKey) {
      throw new CryptoError('CRYPTO_KEY_DESTROYED');
    }
    const raw = await this.kek.unwrap({ kekId: row.kekId, wrapped: row.wrappedKey }, wrapContext(row));
    try {
      if (raw.length !== KEY_BYTES) throw new CryptoError('CRYPTO_UNWRAP_FAILED');
      return {
        id: row.id,
        tenantId: row.tenantId,
        scope: row.scope,
        purpose: row.purpose,
        key: createSecretKey(raw),
      };
    } finally {
      raw.fill(0);
    }
  }
}

/** A wrapped data key is bound to its row: moved to another tenant, scope or id it fails to unwrap. */
function wrapContext(k: { id: string; tenantId: string; scope: string; purpose: string }): Buffer {
  return context('bulwark.data-key.v1', k.tenantId, k.id, k.scope, k.purpose);
}

/** A field is bound to its tenant, its key id (the header) and the caller's place (table/column/row). */
function fieldContext(tenantId: string, keyId: string, aad: string): Buffer {
  return context('bulwark.field.v1', tenantId, keyId, aad);
}

function parseField(value: string): { keyId: string; sealed: Buffer } | undefined {
  const parts = value.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  const [, id, body] = parts as [string, string, string];
  // 16 bytes are 22 base64url characters; the body holds at least a nonce and a tag.
  if (id.length !== 22 || !B64URL_RE.test(id) || !B64URL_RE.test(body)) return undefined;
  const sealed = Buffer.from(body, 'base64url');
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  return { keyId: bytesToUuid(Buffer.from(id, 'base64url')), sealed };
}

function uuidToBytes(id: string): Buffer {
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

function bytesToUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function assertTenant(tenantId: string): void {
  if (!isUuid(tenantId)) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'tenantId must be a uuid');
}

function assertScope(scope: string): asserts scope is KeyScope {
  if (!SCOPE_RE.test(scope)) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'invalid key scope');
}

function assertAad(aad: string): void {
  // Empty associated data would bind the value to nothing but its tenant: refuse it.
  if (typeof aad !== 'string' || aad.length === 0 || aad.length > MAX_AAD_LENGTH) {
    throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'aad must be a non-empty string (fieldAad)');
  }
}
