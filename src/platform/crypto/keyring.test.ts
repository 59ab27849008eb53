import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CryptoError } from './errors.ts';
import { jwkThumbprint } from './jwk.ts';
import { kekIdOf, localMasterKeys } from './keyring.ts';
import { LruCache } from './lru.ts';

const newKey = () => randomBytes(32).toString('base64');

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof CryptoError ? err.code : `unexpected: ${String(err)}`;
  }
}

describe('master keys', () => {
  it('identify each key by a short stable id, the first one wrapping', async () => {
    const [k1, k2] = [newKey(), newKey()];
    const ring = localMasterKeys([k1, k2]);
    expect(ring.currentKekId).toBe(kekIdOf(Buffer.from(k1, 'base64')));
    expect(ring.currentKekId).toMatch(/^[0-9a-f]{16}$/);
    expect(ring.kekIds).toEqual([kekIdOf(Buffer.from(k1, 'base64')), kekIdOf(Buffer.from(k2, 'base64'))]);
    const wrapped = await ring.wrap(Buffer.alloc(32, 7), Buffer.from('ctx'));
    expect(wrapped.kekId).toBe(ring.currentKekId);
    expect(await ring.unwrap(wrapped, Buffer.from('ctx'))).toEqual(Buffer.alloc(32, 7));
  });

  it('unwraps with any configured key, so rotation keeps old wraps readable', async () => {
    const [k1, k2] = [newKey(), newKey()];
    const wrapped = await localMasterKeys([k1]).wrap(Buffer.alloc(32, 1), Buffer.from('ctx'));
    expect(await localMasterKeys([k2, k1]).unwrap(wrapped, Buffer.from('ctx'))).toEqual(Buffer.alloc(32, 1));
    expect(await codeOf(localMasterKeys([k2]).unwrap(wrapped, Buffer.from('ctx')))).toBe(
      'CRYPTO_KEK_UNAVAILABLE',
    );
  });

  it('refuses a wrapped key moved to another context or altered', async () => {
    const ring = localMasterKeys([newKey()]);
    const wrapped = await ring.wrap(Buffer.alloc(32, 1), Buffer.from('row-1'));
    expect(await codeOf(ring.unwrap(wrapped, Buffer.from('row-2')))).toBe('CRYPTO_UNWRAP_FAILED');
    const bytes = Buffer.from(wrapped.wrapped, 'base64url');
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    const altered = { ...wrapped, wrapped: bytes.toString('base64url') };
    expect(await codeOf(ring.unwrap(altered, Buffer.from('row-1')))).toBe('CRYPTO_UNWRAP_FAILED');
    // A truncated tag must not be accepted (Node accepts short GCM tags unless told the length).
    const truncated = {
      ...wrapped,
      wrapped: Buffer.from(wrapped.wrapped, 'base64url').subarray(0, -12).toString('base64url'),
    };
    expect(await codeOf(ring.unwrap(truncated, Buffer.from('row-1')))).toBe('CRYPTO_UNWRAP_FAILED');
  });

  it('rejects keys that are not 256 bits, and an empty list', () => {
    expect(() => localMasterKeys([randomBytes(16).toString('base64')])).toThrow(CryptoError);
    expect(() => localMasterKeys([])).toThrow(CryptoError);
  });
});

describe('JWK thumbprint', () => {
  // RFC 7638 §3.1 worked example.
  it('matches the RFC 7638 example', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry beyond its bound', () => {
    const lru = new LruCache<string, number>(2, 1_000);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
  });

  it('expires entries after their time to live', () => {
    let now = 0;
    const lru = new LruCache<string, number>(10, 100, () => now);
    lru.set('a', 1);
    now = 99;
    expect(lru.get('a')).toBe(1);
    now = 100;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });
});
