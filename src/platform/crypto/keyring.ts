import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import type { Database, Tx } from '../db/index.ts';
import { KEY_BYTES, open, seal } from './aead.ts';
import { CryptoError } from './errors.ts';

/** Key material wrapped by a master key, and the id of that master key. */
export interface WrappedKey {
  readonly kekId: string;
  /** base64url(nonce || ciphertext || tag) for the local provider; opaque in general. */
  readonly wrapped: string;
}

/**
 * Where the key-encryption keys (KEKs) live. Data and signing keys are only ever stored wrapped by
 * one of them. The local provider keeps them in memory from `BULWARK_MASTER_KEYS`; a KMS or a
 * Vault-transit provider implements the same two calls remotely (hence async), so unwrapping
 * happens once per cache miss, never per field.
 */
export interface KeyEncryptionProvider {
  /** The KEK that wraps new keys (the first master key). */
  readonly currentKekId: string;
  /** Every KEK that can unwrap, current first. */
  readonly kekIds: readonly string[];
  /** `aad` binds the wrapped key to its row, so a wrapped key moved to another row fails to unwrap. */
  wrap(key: Uint8Array, aad: Uint8Array): Promise<WrappedKey>;
  /** Throws `CRYPTO_KEK_UNAVAILABLE` for an unknown KEK, `CRYPTO_UNWRAP_FAILED` when tampered. */
  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer>;
}

/**
 * Short public id of a master key: the first 64 bits of SHA-256 over a domain label and the key.
 * The label keeps this fingerprint distinct from any other hash of the same bytes; a truncated
 * hash of a 256-bit random key reveals nothing usable about it (preimage resistance).
 */
export function kekIdOf(key: Uint8Array): string {
  return createHash('sha256').update('bulwark.kek-id.v1\0').update(key).digest('hex').slice(0, 16);
}

/**
 * The master keys from configuration (`masterKeys`: base64, 256 bits each). The first wraps, all
 * unwrap, so a new key is added in front, `rotateKek` re-wraps, and the old key is removed once
 * nothing is wrapped by it any more (see `kekUsage`).
 */
export function localMasterKeys(masterKeys: readonly string[]): KeyEncryptionProvider {
  const keys = new Map<string, KeyObject>();
  for (const [i, encoded] of masterKeys.entries()) {
    const raw = Buffer.from(encoded, 'base64');
    if (raw.length !== KEY_BYTES) {
      throw new CryptoError('CRYPTO_INVALID_ARGUMENT', `master key ${i + 1} is not 32 bytes of base64`);
    }
    const id = kekIdOf(raw);
    if (!keys.has(id)) keys.set(id, createSecretKey(raw));
    raw.fill(0);
  }
  const kekIds = Object.freeze([...keys.keys()]);
  const currentKekId = kekIds[0];
  if (!currentKekId) throw new CryptoError('CRYPTO_INVALID_ARGUMENT', 'at least one master key is required');
  const current = keys.get(currentKekId)!;

  return {
    currentKekId,
    kekIds,
    async wrap(key, aad) {
      return { kekId: currentKekId, wrapped: seal(current, key, aad).toString('base64url') };
    },
    async unwrap({ kekId, wrapped }, aad) {
      const kek = keys.get(kekId);
      if (!kek) throw new CryptoError('CRYPTO_KEK_UNAVAILABLE', `master key ${kekId} is not configured`);
      const key = open(kek, Buffer.from(wrapped, 'base64url'), aad);
      if (!key) throw new CryptoError('CRYPTO_UNWRAP_FAILED', `a key wrapped by ${kekId} failed to unwrap`);
      return key;
    },
  };
}

/** How one table's wrapped keys are found, read and saved, for `rewrapInBatches`. */
export interface RewrapSource<Row> {
  /** Up to `limit` rows not wrapped by `currentKekId`, after the cursor, in cursor order. */
  find(tx: Tx, currentKekId: string, after: string | undefined, limit: number): Promise<Row[]>;
  cursor(row: Row): string;
  wrapped(row: Row): WrappedKey;
  aad(row: Row): Uint8Array;
  save(tx: Tx, row: Row, wrapped: WrappedKey): Promise<void>;
}

/**
 * Re-wraps every stored key of one kind under the current master key, in batches (one system
 * transaction each). Only the wrapped key material changes; the plaintext key is wiped after use.
 * Keys that fail to unwrap are counted and left as they are.
 */
export async function rewrapInBatches<Row>(
  db: Database,
  kek: KeyEncryptionProvider,
  source: RewrapSource<Row>,
  batchSize: number,
): Promise<{ rewrapped: number; failed: number }> {
  const current = kek.currentKekId;
  let after: string | undefined;
  let rewrapped = 0;
  let failed = 0;
  for (;;) {
    const batch = await db.asSystem(async (tx) => {
      const found = await source.find(tx, current, after, batchSize);
      for (const row of found) {
        try {
          const aad = source.aad(row);
          const raw = await kek.unwrap(source.wrapped(row), aad);
          try {
            await source.save(tx, row, await kek.wrap(raw, aad));
          } finally {
            raw.fill(0);
          }
          rewrapped++;
        } catch (err) {
          if (!(err instanceof CryptoError)) throw err;
          failed++;
        }
      }
      return found;
    });
    const last = batch.at(-1);
    after = last ? source.cursor(last) : after;
    if (batch.length < batchSize) return { rewrapped, failed };
  }
}
