import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../../test/support/kv-backends.ts';
import { createMemoryKv } from '../../platform/kv/index.ts';
import {
  createRateLimiter,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitResult,
} from './limiter.ts';
import { DEFAULT_POLICIES, type PolicyTable } from './policies.ts';

const MINUTE = 60_000;

/** Small, slow-refilling limits (one request back per 20 s) so real time on Redis cannot blur them. */
const TABLE: PolicyTable = {
  base: [
    { name: 'ip', by: ['ip'], limit: 3, periodMs: MINUTE, burst: 3 },
    { name: 'client', by: ['client'], limit: 30, periodMs: MINUTE, burst: 5 },
    { name: 'user', by: ['user'], limit: 30, periodMs: MINUTE, burst: 2 },
  ],
  classes: {
    default: { limits: [], whenUnavailable: 'local' },
    login: {
      limits: [{ name: 'login-ip', by: ['ip'], limit: 1, periodMs: MINUTE, burst: 1 }],
      whenUnavailable: 'fail-closed',
    },
    token: { limits: [], whenUnavailable: 'fail-closed' },
    payment: { limits: [], whenUnavailable: 'fail-closed' },
  },
  plans: { tiny: 3, free: null },
  defaultPlan: 'tiny',
};

const verdict = (r: RateLimitResult | undefined) => {
  if (r?.kind !== 'verdict') throw new Error(`expected a verdict, got ${JSON.stringify(r)}`);
  return r;
};

describe.each(backends())('rate limiter on $name', (backend) => {
  let a: RateLimiter;
  let b: RateLimiter;
  const decisions: RateLimitDecision[] = [];
  const def = () => a.policies.forRoute('default');

  beforeAll(async () => {
    // Two limiters on one store, as two Bulwark instances sharing Redis would be.
    a = createRateLimiter({
      kv: await backend.connect(),
      policies: TABLE,
      onDecision: (d) => decisions.push(d),
    });
    b = createRateLimiter({ kv: await backend.connect(), policies: TABLE });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await backend.close();
  });

  it('shares one allowance between instances, and reports the limited policy and wait', async () => {
    const ip = '198.51.100.7';
    const results = [];
    for (const limiter of [a, b, a, b]) results.push(verdict(await limiter.check(def(), 'ip', { ip })));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    const limited = results[3]!;
    expect(limited.policy).toEqual({ name: 'ip', policyItem: '"ip";q=3;w=60' });
    expect(limited.violated).toEqual(['ip']);
    expect(limited.quotaExceeded).toBe(false);
    expect(limited.retryAfterMs).toBeGreaterThan(19_000);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(20_000);
  });

  it('counts IPv6 clients per /64', async () => {
    const hits = ['2001:db8:aa:1::1', '2001:db8:aa:1::2', '2001:db8:aa:1:ffff::9'];
    for (const ip of hits) expect(verdict(await a.check(def(), 'ip', { ip })).allowed).toBe(true);
    expect(verdict(await a.check(def(), 'ip', { ip: '2001:db8:aa:1::99' })).allowed).toBe(false);
    expect(verdict(await a.check(def(), 'ip', { ip: '2001:db8:aa:2::1' })).allowed).toBe(true);
  });

  it("adds the class's stricter limits to the base ones", async () => {
    const login = a.policies.forRoute('login');
    const ip = '203.0.113.50';
    expect(verdict(await a.check(login, 'ip', { ip })).allowed).toBe(true);
    const second = verdict(await a.check(login, 'ip', { ip }));
    expect(second).toMatchObject({ allowed: false, violated: ['login-ip'] });
    // The refused login attempt charged neither policy: the base allowance is as the first left it.
    expect(verdict(await a.check(def(), 'ip', { ip })).remaining).toBe(1);
  });

  it('applies only the policies whose dimensions the subject has', async () => {
    expect(await a.check(def(), 'principal', {})).toBeUndefined();
    decisions.length = 0;
    const r = verdict(await a.check(def(), 'principal', { userId: 'user-only', plan: 'free' }));
    expect(r.policy.name).toBe('user');
    expect(decisions).toHaveLength(1);
  });

  it('describes the most restrictive policy when admitted, and the violated one when refused', async () => {
    const subject = { clientId: 'client-mr', userId: 'user-mr', plan: 'free' };
    const first = verdict(await a.check(def(), 'principal', subject));
    expect(first).toMatchObject({ allowed: true, remaining: 1, policy: { name: 'user' } });
    verdict(await b.check(def(), 'principal', subject));
    const refused = verdict(await a.check(def(), 'principal', subject));
    expect(refused).toMatchObject({ allowed: false, violated: ['user'], policy: { name: 'user' } });
    // The client allowance was charged twice (the admitted requests), not by the refused one.
    const other = verdict(await a.check(def(), 'principal', { clientId: 'client-mr', plan: 'free' }));
    expect(other.remaining).toBe(2);
  });

  it('counts the monthly quota per partner, across clients, and reports it as a quota', async () => {
    const tenantId = 'tenant-q';
    for (const clientId of ['app-1', 'app-2', 'app-3']) {
      const r = verdict(await a.check(def(), 'principal', { clientId, tenantId, partnerId: 'partner-q' }));
      expect(r.allowed).toBe(true);
    }
    const over = verdict(
      await b.check(def(), 'principal', { clientId: 'app-4', tenantId, partnerId: 'partner-q' }),
    );
    expect(over).toMatchObject({ allowed: false, quotaExceeded: true, violated: ['quota'] });
    expect(over.policy.policyItem).toBe('"quota";q=3');
    expect(over.retryAfterMs).toBe(over.resetAfterMs);
    // An unlimited plan has no quota at all.
    const free = verdict(
      await a.check(def(), 'principal', { clientId: 'app-5', partnerId: 'partner-q', plan: 'free' }),
    );
    expect(free.violated).toEqual([]);
  });

  it('reports every decision with a digest for a key, never the identity', async () => {
    decisions.length = 0;
    await a.check(def(), 'principal', {
      clientId: 'client-secretive',
      userId: 'alice@example.com',
      plan: 'free',
    });
    await a.check(def(), 'ip', { ip: '192.0.2.99' });
    expect(decisions).toHaveLength(2);
    for (const d of decisions) {
      expect(d.key).toMatch(/^(rl:[a-z-]+|rq):[A-Za-z0-9_-]{22}$/);
      expect(JSON.stringify(d)).not.toMatch(/alice|secretive|192\.0\.2\.99/);
    }
    expect(decisions[1]).toMatchObject({ stage: 'ip', routeClass: 'default', policy: 'ip', allowed: true });
  });
});

describe('monthly quota across a month boundary (memory, injected clock)', () => {
  it('starts counting afresh on the first of the month, UTC', async () => {
    let clock = Date.UTC(2025, 0, 31, 23, 59, 59);
    const kv = createMemoryKv({ prefix: 'q:', now: () => clock });
    const limiter = createRateLimiter({ kv, policies: TABLE });
    const route = limiter.policies.forRoute('default');
    const subject = { tenantId: 't', partnerId: 'p', plan: 'tiny' };
    for (let i = 0; i < 3; i++)
      expect(verdict(await limiter.check(route, 'principal', subject)).allowed).toBe(true);
    const over = verdict(await limiter.check(route, 'principal', subject));
    expect(over).toMatchObject({ allowed: false, quotaExceeded: true, retryAfterMs: 1_000 });
    clock += 1_000;
    expect(verdict(await limiter.check(route, 'principal', subject))).toMatchObject({
      allowed: true,
      remaining: 2,
    });
    await limiter.close();
    await kv.close();
  });
});

describe('createRateLimiter', () => {
  it('uses DEFAULT_POLICIES unless given a table, and refuses bad options', async () => {
    const kv = createMemoryKv({ prefix: 'd:' });
    const limiter = createRateLimiter({ kv });
    expect(limiter.policies.forRoute('login').ip.map((p) => p.name)).toEqual(['ip', 'login-ip']);
    expect(() => createRateLimiter({ kv, probeIntervalMs: 0 })).toThrow();
    expect(() => createRateLimiter({ kv, ipv6PrefixLength: 129 })).toThrow();
    expect(() => createRateLimiter({ kv, policies: { ...DEFAULT_POLICIES, defaultPlan: 'x' } })).toThrow();
    await kv.close();
  });
});
