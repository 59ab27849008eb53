import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import type { Database } from '../db/database.ts';
import { rows } from '../db/rows.ts';
import { dataKeys, outbox, tenants } from '../db/schema.ts';
import { uuidv7 } from '../ids.ts';
import {
  CryptoError,
  createCrypto,
  fieldAad,
  isEncryptedField,
  isKeyDestroyed,
  kekIdOf,
  subjectScope,
} from './index.ts';

const newKey = () => randomBytes(32).toString('base64');

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof CryptoError ? err.code : `unexpected: ${String(err)}`;
  }
}

describe.each(dbBackends)('envelope encryption on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  const k1 = newKey();
  const k2 = newKey();
  const aad = fieldAad('policyholders', 'name', '0193a5c4-0000-7000-8000-000000000001');
  const otherRow = fieldAad('policyholders', 'name', '0193a5c4-0000-7000-8000-000000000002');

  async function newTenant(): Promise<string> {
    const id = uuidv7();
    await db.asSystem((tx) => tx.insert(tenants).values({ id, slug: `t-${id}`, name: 'T' }));
    return id;
  }
  /** A crypto kernel with an empty cache: what another instance, or this one after a restart, sees. */
  const fresh = (keys: readonly string[] = [k1]) => createCrypto({ db, masterKeys: keys });

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
  });
  afterAll(() => dispose?.());

  it('round-trips text and bytes in a compact self-describing form', async () => {
    const t = await newTenant();
    const { envelope } = fresh();
    const sealed = await envelope.encryptField(t, 'Ada Lovelace', { aad });
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(isEncryptedField(sealed)).toBe(true);
    expect(isEncryptedField('Ada Lovelace')).toBe(false);
    expect(await envelope.decryptField(t, sealed, { aad })).toBe('Ada Lovelace');
    // A random nonce per value: equal plaintexts do not give equal ciphertexts.
    expect(await envelope.encryptField(t, 'Ada Lovelace', { aad })).not.toBe(sealed);

    const bytes = randomBytes(100);
    const sealedBytes = await envelope.encryptField(t, bytes, { aad });
    expect(await fresh().envelope.decryptFieldBytes(t, sealedBytes, { aad })).toEqual(bytes);
    expect(await envelope.decryptField(t, await envelope.encryptField(t, '', { aad }), { aad })).toBe('');
  });

  it('refuses a value copied to another row (AAD mismatch)', async () => {
    const t = await newTenant();
    const { envelope } = fresh();
    const sealed = await envelope.encryptField(t, 'FR7630006000011234567890189', { aad });
    expect(await codeOf(envelope.decryptField(t, sealed, { aad: otherRow }))).toBe('CRYPTO_DECRYPT_FAILED');
  });

  it('refuses tampered and malformed ciphertexts', async () => {
    const t = await newTenant();
    const { envelope } = fresh();
    const sealed = await envelope.encryptField(t, 'secret', { aad });
    const [v, id, body] = sealed.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    for (const at of [0, 13, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      const tampered = `${v}.${id}.${flipped.toString('base64url')}`;
      expect(await codeOf(envelope.decryptField(t, tampered, { aad }))).toBe('CRYPTO_DECRYPT_FAILED');
    }
    const truncated = `${v}.${id}.${bytes.subarray(0, -4).toString('base64url')}`;
    expect(await codeOf(envelope.decryptField(t, truncated, { aad }))).toBe('CRYPTO_DECRYPT_FAILED');
    const otherKey = `${v}.${Buffer.from(uuidv7().replaceAll('-', ''), 'hex').toString('base64url')}.${body}`;
    expect(await codeOf(envelope.decryptField(t, otherKey, { aad }))).toBe('CRYPTO_KEY_NOT_FOUND');
    for (const bad of [
      '',
      'v1',
      `v2.${id}.${body}`,
      `v1.${id}`,
      `v1.${id}.${body}.x`,
      `v1.!!.${body}`,
      `v1.${id}.AAAA`,
    ]) {
      expect(await codeOf(envelope.decryptField(t, bad, { aad }))).toBe('CRYPTO_MALFORMED_CIPHERTEXT');
    }
    expect(await codeOf(envelope.encryptField(t, 'x', { aad: '' }))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await codeOf(envelope.encryptField('not-a-uuid', 'x', { aad }))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await codeOf(envelope.encryptField(t, 'x', { aad, scope: 'everyone' as 'tenant' }))).toBe(
      'CRYPTO_INVALID_ARGUMENT',
    );
  });

  it("never lets tenant A decrypt tenant B's data, cached key or not", async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    const crypto = fresh();
    const ofB = await crypto.envelope.encryptField(b, 'B private', { aad });
    // Same instance: B's key is in the shared cache, which must not serve tenant A.
    expect(await codeOf(crypto.envelope.decryptField(a, ofB, { aad }))).toBe('CRYPTO_KEY_NOT_FOUND');
    // Another instance: the lookup runs in A's transaction, where B's key does not exist.
    expect(await codeOf(fresh().envelope.decryptField(a, ofB, { aad }))).toBe('CRYPTO_KEY_NOT_FOUND');
    expect(await crypto.envelope.decryptField(b, ofB, { aad })).toBe('B private');
  });

  it("hides B's data keys from A's transaction (row-level security)", async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    const { envelope } = fresh();
    await envelope.encryptField(a, 'A', { aad });
    await envelope.encryptField(b, 'B', { aad });
    const [keyOfB] = await db.asSystem((tx) => tx.select().from(dataKeys).where(eq(dataKeys.tenantId, b)));
    expect(keyOfB).toBeDefined();
    const seen = await db.withTenant(a, (tx) =>
      tx.select().from(dataKeys).where(eq(dataKeys.id, keyOfB!.id)),
    );
    expect(seen).toEqual([]);
    const all = await db.withTenant(a, (tx) =>
      rows<{ tenant_id: string }>(tx, sql`SELECT tenant_id FROM data_keys`),
    );
    expect(new Set(all.map((r) => r.tenant_id))).toEqual(new Set([a]));
    // Nor can A plant a key in B's name.
    await expect(
      db.withTenant(a, (tx) =>
        tx.insert(dataKeys).values({
          id: uuidv7(),
          tenantId: b,
          scope: 'tenant',
          purpose: 'encryption',
          kekId: 'x',
          wrappedKey: 'y',
        }),
      ),
    ).rejects.toThrow();
  });

  it('stores data keys only wrapped, and never the plaintext', async () => {
    const t = await newTenant();
    const { envelope } = fresh();
    await envelope.encryptField(t, 'Grace Hopper', { aad });
    const raw = await db.asSystem((tx) =>
      rows<Record<string, unknown>>(tx, sql`SELECT * FROM data_keys WHERE tenant_id = ${t}`),
    );
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatchObject({
      status: 'active',
      kek_id: kekIdOf(Buffer.from(k1, 'base64')),
      scope: 'tenant',
    });
    // nonce (12) + wrapped 32-byte key + tag (16)
    expect(Buffer.from(String(raw[0]!.wrapped_key), 'base64url')).toHaveLength(60);
    expect(JSON.stringify(raw)).not.toContain('Grace Hopper');
  });

  it('rotates the data key: new values use the new key, old ones still decrypt', async () => {
    const t = await newTenant();
    const { envelope } = fresh();
    const before = await envelope.encryptField(t, 'old', { aad });
    const newId = await envelope.rotateDataKey(t);
    const after = await envelope.encryptField(t, 'new', { aad });
    expect(after.split('.')[1]).toBe(Buffer.from(newId.replaceAll('-', ''), 'hex').toString('base64url'));
    expect(after.split('.')[1]).not.toBe(before.split('.')[1]);
    const other = fresh().envelope;
    expect(await other.decryptField(t, before, { aad })).toBe('old');
    expect(await other.decryptField(t, after, { aad })).toBe('new');
    const keys = await db.asSystem((tx) => tx.select().from(dataKeys).where(eq(dataKeys.tenantId, t)));
    expect(keys.map((k) => k.status).sort()).toEqual(['active', 'retired']);
  });

  it('crypto-shreds one subject: its data is gone, other scopes still work', async () => {
    const t = await newTenant();
    const crypto = fresh();
    const alice = subjectScope(uuidv7());
    const bob = subjectScope(uuidv7());
    const ofAlice = await crypto.envelope.encryptField(t, 'Alice', { aad, scope: alice });
    await crypto.envelope.rotateDataKey(t, alice);
    const ofAlice2 = await crypto.envelope.encryptField(t, 'Alice again', { aad, scope: alice });
    const ofBob = await crypto.envelope.encryptField(t, 'Bob', { aad, scope: bob });
    const ofTenant = await crypto.envelope.encryptField(t, 'Insurer', { aad });
    const other = fresh(); // another instance that has Alice's key cached
    expect(await other.envelope.decryptField(t, ofAlice, { aad })).toBe('Alice');

    expect(await crypto.envelope.destroyDataKey(t, alice)).toBe(2);

    for (const value of [ofAlice, ofAlice2]) {
      expect(await codeOf(crypto.envelope.decryptField(t, value, { aad }))).toBe('CRYPTO_KEY_DESTROYED');
      expect(await codeOf(fresh().envelope.decryptField(t, value, { aad }))).toBe('CRYPTO_KEY_DESTROYED');
    }
    // The other instance forgets the key when it hears of the destruction.
    other.envelope.evict(t, alice);
    expect(await codeOf(other.envelope.decryptField(t, ofAlice, { aad }))).toBe('CRYPTO_KEY_DESTROYED');
    const err = await crypto.envelope.decryptField(t, ofAlice, { aad }).catch((e: unknown) => e);
    expect(isKeyDestroyed(err)).toBe(true);
    expect((err as CryptoError).public).toBe(true);

    expect(await crypto.envelope.decryptField(t, ofBob, { aad })).toBe('Bob');
    expect(await fresh().envelope.decryptField(t, ofTenant, { aad })).toBe('Insurer');
    // An erased scope stays erased: no new key is silently created for it.
    expect(await codeOf(crypto.envelope.encryptField(t, 'Alice returns', { aad, scope: alice }))).toBe(
      'CRYPTO_KEY_DESTROYED',
    );
    const raw = await db.asSystem((tx) =>
      rows<{ status: string; wrapped_key: string | null; kek_id: string | null; destroyed_at: Date | null }>(
        tx,
        sql`SELECT status, wrapped_key, kek_id, destroyed_at FROM data_keys WHERE tenant_id = ${t} AND scope = ${alice}`,
      ),
    );
    expect(raw).toHaveLength(2);
    for (const r of raw) {
      expect(r).toMatchObject({ status: 'destroyed', wrapped_key: null, kek_id: null });
      expect(r.destroyed_at).not.toBeNull();
    }
    const events = await db.asSystem((tx) =>
      tx.select().from(outbox).where(eq(outbox.topic, 'crypto.data_key.destroyed')),
    );
    expect(events.filter((e) => e.tenantId === t).map((e) => e.payload)).toEqual([{ scope: alice, keys: 2 }]);
    // The database itself refuses a destroyed key that still holds material.
    await expect(
      db.asSystem((tx) =>
        tx.execute(sql`UPDATE data_keys SET wrapped_key = 'x', kek_id = 'y' WHERE scope = ${alice}`),
      ),
    ).rejects.toThrow();
  });

  it('gives a blind index that is stable per tenant and differs across tenants and indexes', async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    const { envelope } = fresh();
    const email = 'ada@example.org';
    const ia = await envelope.blindIndex(a, email, 'policyholders.email');
    expect(ia).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await envelope.blindIndex(a, email, 'policyholders.email')).toBe(ia);
    expect(await fresh().envelope.blindIndex(a, Buffer.from(email), 'policyholders.email')).toBe(ia);
    expect(await envelope.blindIndex(b, email, 'policyholders.email')).not.toBe(ia);
    expect(await envelope.blindIndex(a, email, 'partners.email')).not.toBe(ia);
    expect(await envelope.blindIndex(a, 'grace@example.org', 'policyholders.email')).not.toBe(ia);
    // Rotating the tenant's data key must not change existing indexes.
    await envelope.rotateDataKey(a);
    expect(await fresh().envelope.blindIndex(a, email, 'policyholders.email')).toBe(ia);
    expect(await codeOf(envelope.blindIndex(a, email, 'Bad Name'))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it("works inside the caller's transaction, and forgets keys of a transaction that rolled back", async () => {
    const t = await newTenant();
    const crypto = fresh();
    const scope = subjectScope(uuidv7());
    let lost = '';
    await expect(
      db.withTenant(t, async (tx) => {
        lost = await crypto.envelope.encryptField(t, 'never stored', { aad, scope, tx });
        expect(await crypto.envelope.decryptField(t, lost, { aad, tx })).toBe('never stored');
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    // The key died with the transaction; it must not have been cached for anyone else.
    expect(await codeOf(crypto.envelope.decryptField(t, lost, { aad }))).toBe('CRYPTO_KEY_NOT_FOUND');
    const kept = await db.withTenant(t, async (tx) => {
      const v = await crypto.envelope.encryptField(t, 'stored', { aad, scope, tx });
      await tx.execute(sql`SELECT 1`);
      return v;
    });
    expect(await fresh().envelope.decryptField(t, kept, { aad })).toBe('stored');
    expect(await crypto.envelope.decryptField(t, kept, { aad })).toBe('stored');
  });

  it('creates exactly one key when many requests race for the first one', async () => {
    const t = await newTenant();
    const instances = [fresh(), fresh(), fresh()];
    const sealed = await Promise.all(
      Array.from({ length: 12 }, (_, i) => instances[i % 3]!.envelope.encryptField(t, `v${i}`, { aad })),
    );
    const keys = await db.asSystem((tx) => tx.select().from(dataKeys).where(eq(dataKeys.tenantId, t)));
    expect(keys).toHaveLength(1);
    const reader = fresh().envelope;
    for (const [i, v] of sealed.entries()) expect(await reader.decryptField(t, v, { aad })).toBe(`v${i}`);
  });

  it('rotates the master key: old data stays readable, new wraps use the new key', async () => {
    const t = await newTenant();
    const id1 = kekIdOf(Buffer.from(k1, 'base64'));
    const id2 = kekIdOf(Buffer.from(k2, 'base64'));
    const before = await fresh([k1]).envelope.encryptField(t, 'before rotation', { aad });

    const rotated = fresh([k2, k1]);
    expect(await rotated.envelope.decryptField(t, before, { aad })).toBe('before rotation');
    const newScope = subjectScope(uuidv7());
    await rotated.envelope.encryptField(t, 'new key', { aad, scope: newScope });
    const [newKeyRow] = await db.asSystem((tx) =>
      tx.select().from(dataKeys).where(sql`${dataKeys.tenantId} = ${t} AND ${dataKeys.scope} = ${newScope}`),
    );
    expect(newKeyRow?.kekId).toBe(id2);

    const result = await rotated.rotateKek();
    expect(result.dataKeys.failed).toBe(0);
    expect(result.dataKeys.rewrapped).toBeGreaterThan(0);
    const kekIds = await db.asSystem((tx) =>
      rows<{ kek_id: string }>(tx, sql`SELECT DISTINCT kek_id FROM data_keys WHERE status <> 'destroyed'`),
    );
    expect(kekIds.map((r) => r.kek_id)).toEqual([id2]);
    const usage = await rotated.kekUsage();
    expect(usage.removable).toEqual([id1]);
    expect(usage.missing).toEqual([]);

    // With the old master key gone, everything still decrypts: the data keys were re-wrapped.
    expect(await fresh([k2]).envelope.decryptField(t, before, { aad })).toBe('before rotation');
    expect(await codeOf(fresh([k1]).envelope.decryptField(t, before, { aad }))).toBe(
      'CRYPTO_KEK_UNAVAILABLE',
    );
    expect((await fresh([k1]).kekUsage()).missing).toEqual([id2]);

    // Put the first master key back for the other tests of this file.
    await fresh([k1, k2]).rotateKek();
  });
});
