import { createPrivateKey, randomBytes } from 'node:crypto';
import { eq, like, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import type { Database } from '../db/database.ts';
import { rows } from '../db/rows.ts';
import { outbox, signingKeys } from '../db/schema.ts';
import { type Crypto, CryptoError, createCrypto, jwkThumbprint, kekIdOf, type SigningAlg } from './index.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof CryptoError ? err.code : `unexpected: ${String(err)}`;
  }
}

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');

describe.each(dbBackends)('signing key ring on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  // An injected clock: publication delays and grace periods are days long.
  let clock = Date.UTC(2031, 0, 1);
  const advance = (ms: number) => {
    clock += ms;
  };
  const ring = (keys: readonly string[] = [k1]): Crypto =>
    createCrypto({
      db,
      masterKeys: keys,
      signing: {
        publicationDelayMs: HOUR,
        gracePeriodMs: 7 * DAY,
        rotateAfterMs: 90 * DAY,
        now: () => clock,
      },
    });

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
  });
  afterAll(() => dispose?.());

  it.each<[SigningAlg, string]>([
    ['ES256', 'sign-es'],
    ['EdDSA', 'sign-ed'],
    ['PS256', 'sign-ps'],
  ])('signs and verifies with %s', async (alg, purpose) => {
    const { signing } = ring();
    const key = await signing.ensureKeys(purpose, alg);
    expect(key).toMatchObject({ purpose, alg, state: 'active' });
    expect(key.kid).toBe(jwkThumbprint(key.publicJwk));
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
    expect(key.publicJwk).not.toHaveProperty('d');
    // ensureKeys is idempotent: a second boot finds the key.
    expect((await ring().signing.ensureKeys(purpose, alg)).kid).toBe(key.kid);

    const sig = await signing.sign(purpose, 'checkpoint 42');
    expect(sig).toMatchObject({ kid: key.kid, alg });
    if (alg === 'ES256') expect(sig.signature).toHaveLength(64); // R || S, RFC 7518 §3.4
    if (alg === 'EdDSA') expect(sig.signature).toHaveLength(64);
    const verifier = ring().signing; // another instance, from the published keys only
    expect(await verifier.verify(purpose, 'checkpoint 42', sig.signature, key.kid)).toBe(true);
    expect(await verifier.verify(purpose, 'checkpoint 43', sig.signature, key.kid)).toBe(false);
    expect(await verifier.verify(purpose, 'checkpoint 42', sig.signature, 'unknown-kid')).toBe(false);
    expect(await verifier.verify('other', 'checkpoint 42', sig.signature, key.kid)).toBe(false);

    const jws = await signing.signJws(purpose, JSON.stringify({ n: 42 }), {
      typ: 'JWT',
      alg: 'none',
      kid: 'x',
    });
    const [h] = jws.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg, kid: key.kid, typ: 'JWT' });
    const verified = await verifier.verifyJws(purpose, jws);
    expect(JSON.parse(verified.payload.toString())).toEqual({ n: 42 });
    expect(verified.kid).toBe(key.kid);
  });

  it('refuses forged, altered and algorithm-confused JWS', async () => {
    const { signing } = ring();
    const key = await signing.ensureKeys('jws', 'ES256');
    const jws = await signing.signJws('jws', 'payload');
    const [h, p, s] = jws.split('.') as [string, string, string];
    const bad = [
      `${h}.${b64('payl0ad')}.${s}`,
      `${b64(JSON.stringify({ alg: 'EdDSA', kid: key.kid }))}.${p}.${s}`,
      `${b64(JSON.stringify({ alg: 'HS256', kid: key.kid }))}.${p}.${s}`,
      `${b64(JSON.stringify({ alg: 'none', kid: key.kid }))}.${p}.`,
      `${b64(JSON.stringify({ alg: 'ES256', kid: key.kid, crit: ['b64'], b64: false }))}.${p}.${s}`,
      `${b64(JSON.stringify({ alg: 'ES256' }))}.${p}.${s}`,
      `${h}.${p}`,
      'not a jws',
    ];
    for (const forged of bad)
      expect(await codeOf(signing.verifyJws('jws', forged))).toBe('CRYPTO_SIGNATURE_INVALID');
    expect(await codeOf(signing.verifyJws('other', jws))).toBe('CRYPTO_SIGNATURE_INVALID');
  });

  it('publishes a new key before it signs, keeps the old one verifying through its grace period', async () => {
    const { signing } = ring();
    const first = await signing.ensureKeys('oauth', 'ES256');
    const signedByFirst = await signing.sign('oauth', 'token-1');

    advance(30 * DAY);
    const next = await signing.rotate('oauth');
    expect(next.state).toBe('pending');
    expect((await signing.rotate('oauth')).kid).toBe(next.kid); // one successor at a time
    // Published at once (active first), but not used to sign yet.
    expect((await ring().signing.publicJwks('oauth')).keys.map((k) => k.kid)).toEqual([first.kid, next.kid]);
    expect((await signing.sign('oauth', 'token-2')).kid).toBe(first.kid);
    // Not promoted before verifiers had time to fetch it.
    expect(await signing.promote('oauth')).toBeUndefined();
    advance(HOUR - 1);
    expect(await signing.promote('oauth')).toBeUndefined();

    advance(1);
    const promoted = await signing.promote('oauth');
    expect(promoted).toMatchObject({ kid: next.kid, state: 'active' });
    expect((await signing.sign('oauth', 'token-3')).kid).toBe(next.kid);
    const history = await signing.keyHistory('oauth');
    expect(history.map((k) => [k.kid, k.state])).toEqual([
      [first.kid, 'retired'],
      [next.kid, 'active'],
    ]);
    expect(history[0]!.verifyUntil?.getTime()).toBe(clock + 7 * DAY);

    // During the grace period the old key is still published and still verifies.
    advance(7 * DAY - 1);
    const other = ring().signing;
    expect((await other.publicJwks('oauth')).keys.map((k) => k.kid)).toEqual([next.kid, first.kid]);
    expect(await other.verify('oauth', 'token-1', signedByFirst.signature, first.kid)).toBe(true);
    // After it, the old key is gone from the JWKS and verifies nothing, even on a warm cache.
    advance(1);
    expect((await other.publicJwks('oauth')).keys.map((k) => k.kid)).toEqual([next.kid]);
    expect(await other.verify('oauth', 'token-1', signedByFirst.signature, first.kid)).toBe(false);
    // maintain() then deletes its private half; its public half stays on record.
    expect((await signing.maintain('oauth')).pruned).toBe(1);
    const [old] = await db.asSystem((tx) =>
      tx.select().from(signingKeys).where(eq(signingKeys.kid, first.kid)),
    );
    expect(old).toMatchObject({ state: 'retired', privateKey: null, kekId: null });
    expect((await signing.keyInfo(first.kid))?.publicJwk.kid).toBe(first.kid);

    const topics = await db.asSystem((tx) =>
      tx.select({ topic: outbox.topic }).from(outbox).where(like(outbox.topic, 'crypto.signing_key.%')),
    );
    expect(topics.map((t) => t.topic)).toEqual(
      expect.arrayContaining(['crypto.signing_key.published', 'crypto.signing_key.activated']),
    );
  });

  it('revokes a key at once: unpublished, verifies nothing, cannot sign', async () => {
    const { signing } = ring();
    const key = await signing.ensureKeys('webhook', 'EdDSA');
    const pending = await signing.rotate('webhook');
    const sig = await signing.sign('webhook', 'delivery');
    expect((await signing.revoke(pending.kid))?.state).toBe('revoked');
    expect((await signing.publicJwks('webhook')).keys.map((k) => k.kid)).toEqual([key.kid]);

    expect((await signing.revoke(key.kid))?.state).toBe('revoked');
    expect((await signing.publicJwks('webhook')).keys).toEqual([]);
    expect(await signing.verify('webhook', 'delivery', sig.signature, key.kid)).toBe(false);
    expect(await codeOf(signing.sign('webhook', 'delivery'))).toBe('CRYPTO_NO_SIGNING_KEY');
    expect(await signing.revoke(key.kid)).toBeUndefined();
    const raw = await db.asSystem((tx) =>
      tx.select().from(signingKeys).where(eq(signingKeys.purpose, 'webhook')),
    );
    for (const r of raw) expect(r).toMatchObject({ state: 'revoked', privateKey: null, kekId: null });

    // Recovery after a compromise: a fresh key at once.
    const replacement = await signing.ensureKeys('webhook', 'EdDSA');
    expect(replacement.kid).not.toBe(key.kid);
    expect((await signing.sign('webhook', 'delivery')).kid).toBe(replacement.kid);
  });

  it('maintain() publishes a successor when the active key is old, then promotes it when due', async () => {
    const { signing } = ring();
    const key = await signing.ensureKeys('maint', 'ES256');
    expect(await signing.maintain('maint')).toEqual({ pruned: 0 });
    advance(90 * DAY);
    const round1 = await signing.maintain('maint');
    expect(round1.published).toBeDefined();
    expect(round1.promoted).toBeUndefined();
    expect((await signing.sign('maint', 'x')).kid).toBe(key.kid);
    advance(HOUR);
    const round2 = await signing.maintain('maint');
    expect(round2.promoted).toBe(round1.published);
    expect((await signing.sign('maint', 'x')).kid).toBe(round1.published);
  });

  it('never stores a private key in plaintext', async () => {
    const { signing } = ring();
    for (const alg of ['ES256', 'EdDSA', 'PS256'] as const)
      await signing.ensureKeys(`raw-${alg.toLowerCase()}`, alg);
    await signing.rotate('raw-es256');
    const dump = await db.asSystem((tx) =>
      rows<Record<string, unknown>>(tx, sql`SELECT * FROM signing_keys`),
    );
    const text = JSON.stringify(dump);
    expect(text).not.toMatch(/PRIVATE KEY/);
    let checked = 0;
    for (const purpose of ['raw-es256', 'raw-eddsa', 'raw-ps256']) {
      for (const jwk of (await signing.exportPrivateJwks(purpose)).keys) {
        const der = createPrivateKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' });
        for (const secret of [
          jwk.d!,
          jwk.p,
          jwk.q,
          der.toString('base64'),
          der.toString('base64url'),
          der.toString('hex'),
        ]) {
          if (secret) expect(text).not.toContain(secret);
        }
        checked++;
      }
    }
    expect(checked).toBe(4); // three active keys and one pending key
    for (const row of dump) expect(row.public_jwk).not.toHaveProperty('d');
  });

  it('exports private JWKs (for oidc-provider) active key first', async () => {
    const { signing } = ring();
    const active = await signing.ensureKeys('export', 'ES256');
    const pending = await signing.rotate('export');
    const { keys } = await signing.exportPrivateJwks('export');
    expect(keys.map((k) => k.kid)).toEqual([active.kid, pending.kid]);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof keys[0]!.d).toBe('string');
  });

  it('keeps signing after the master key is rotated and the old one removed', async () => {
    await ring().signing.ensureKeys('kek', 'EdDSA');
    const result = await ring([k2, k1]).rotateKek();
    expect(result.signingKeys.failed).toBe(0);
    expect(result.signingKeys.rewrapped).toBeGreaterThan(0);
    const kekIds = await db.asSystem((tx) =>
      rows<{ kek_id: string }>(tx, sql`SELECT DISTINCT kek_id FROM signing_keys WHERE kek_id IS NOT NULL`),
    );
    expect(kekIds.map((r) => r.kek_id)).toEqual([kekIdOf(Buffer.from(k2, 'base64'))]);
    const { signing } = ring([k2]);
    const sig = await signing.sign('kek', 'after rotation');
    expect(await signing.verify('kek', 'after rotation', sig.signature, sig.kid)).toBe(true);
    expect(await codeOf(ring([k1]).signing.sign('kek', 'x'))).toBe('CRYPTO_KEK_UNAVAILABLE');
    await ring([k1, k2]).rotateKek();
  });

  it('refuses a publication delay shorter than its own cache lifetime, and unknown algorithms', async () => {
    expect(() =>
      createCrypto({ db, masterKeys: [k1], signing: { publicationDelayMs: 1_000, cacheTtlMs: 60_000 } }),
    ).toThrow(CryptoError);
    expect(await codeOf(ring().signing.ensureKeys('x', 'HS256' as SigningAlg))).toBe(
      'CRYPTO_INVALID_ARGUMENT',
    );
    expect(await codeOf(ring().signing.ensureKeys('Bad Purpose', 'ES256'))).toBe('CRYPTO_INVALID_ARGUMENT');
  });
});
