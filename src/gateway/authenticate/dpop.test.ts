import { describe, expect, it } from 'vitest';
import { ExpiringLru } from './cache.ts';
import { dpopReplayKey, normaliseUri, sameHtu } from './dpop.ts';

describe('htu comparison (RFC 9449 §4.3 with RFC 3986 §6.2.2-6.2.3 normalisation)', () => {
  const expected = 'https://api.bulwark.test/v1/claims';

  it.each([
    'https://api.bulwark.test/v1/claims',
    'HTTPS://API.Bulwark.Test/v1/claims',
    'https://api.bulwark.test:443/v1/claims',
    'https://api.bulwark.test/v1/./claims',
    'https://api.bulwark.test/v1/x/../claims',
    'https://api.bulwark.test/v1/%63laims',
    'https://api.bulwark.test/v1/claims?page=2',
    'https://api.bulwark.test/v1/claims#top',
  ])('accepts %s', (htu) => {
    expect(sameHtu(htu, expected)).toBe(true);
  });

  it.each([
    'http://api.bulwark.test/v1/claims',
    'https://api.bulwark.test:8443/v1/claims',
    'https://evil.example/v1/claims',
    'https://api.bulwark.test/v1/claims/',
    'https://api.bulwark.test/V1/claims',
    'https://user@api.bulwark.test/v1/claims',
    '/v1/claims',
    'ftp://api.bulwark.test/v1/claims',
    'not a uri',
    `https://api.bulwark.test/${'a'.repeat(5000)}`,
  ])('refuses %s', (htu) => {
    expect(sameHtu(htu, expected)).toBe(false);
  });

  it('keeps encoded reserved characters encoded, upper-casing their hex', () => {
    expect(normaliseUri('https://a.test/x%2fy')).toBe('https://a.test/x%2Fy');
    expect(sameHtu('https://a.test/x%2fy', 'https://a.test/x/y')).toBe(false);
  });
});

describe('replay key', () => {
  it('depends on key and jti, and has a fixed shape whatever the jti', () => {
    const a = dpopReplayKey('jkt-1', 'jti');
    expect(a).toMatch(/^authn:dpop-jti:[A-Za-z0-9_-]{43}$/);
    expect(dpopReplayKey('jkt-2', 'jti')).not.toBe(a);
    expect(dpopReplayKey('jkt-1', `x\n${'y'.repeat(300)}`)).toMatch(/^authn:dpop-jti:[A-Za-z0-9_-]{43}$/);
  });
});

describe('ExpiringLru', () => {
  it('serves an entry until its expiry only', () => {
    const lru = new ExpiringLru<string, number>(10);
    lru.set('a', 1, 1000);
    expect(lru.get('a', 999)).toBe(1);
    expect(lru.get('a', 1000)).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('evicts the least recently used entry at its bound', () => {
    const lru = new ExpiringLru<string, number>(2);
    lru.set('a', 1, Number.POSITIVE_INFINITY);
    lru.set('b', 2, Number.POSITIVE_INFINITY);
    expect(lru.get('a', 0)).toBe(1);
    lru.set('c', 3, Number.POSITIVE_INFINITY);
    expect(lru.get('b', 0)).toBeUndefined();
    expect(lru.get('a', 0)).toBe(1);
    expect(lru.get('c', 0)).toBe(3);
    expect(lru.deleteWhere((v) => v === 3)).toBe(1);
    expect(lru.size).toBe(1);
  });
});
