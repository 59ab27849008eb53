import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../../test/support/kv-backends.ts';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { createMemoryKv } from '../../platform/kv/index.ts';
import { installRateLimit } from './hooks.ts';
import { createRateLimiter, type RateLimitDecision, type RateLimiter } from './limiter.ts';
import type { PolicyTable, RouteClass } from './policies.ts';

const MINUTE = 60_000;

/** Small limits that real time cannot refill during a test (one request back per 12 s at best). */
const TABLE: PolicyTable = {
  base: [
    { name: 'ip', by: ['ip'], limit: 5, periodMs: MINUTE, burst: 5 },
    { name: 'client', by: ['client'], limit: 60, periodMs: MINUTE, burst: 3 },
  ],
  classes: {
    default: { limits: [], whenUnavailable: 'local' },
    login: {
      limits: [{ name: 'login-ip', by: ['ip'], limit: 2, periodMs: MINUTE, burst: 2 }],
      whenUnavailable: 'fail-closed',
    },
    token: { limits: [], whenUnavailable: 'fail-closed' },
    payment: { limits: [], whenUnavailable: 'fail-closed' },
  },
  plans: { metered: 4, unlimited: null },
  defaultPlan: 'unlimited',
};

const POLICY_ITEM = /^"([a-z][a-z0-9-]*)";q=(\d+)(?:;w=(\d+))?$/;
const LIMIT_ITEM = /^"([a-z][a-z0-9-]*)";r=(\d+);t=(\d+)$/;

/**
 * A minimal app: the problem handlers, both rate-limit stages, and a stand-in authentication that
 * reads the principal from test headers.
 */
async function buildTestApp(limiter: RateLimiter): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  installProblemHandlers(app);
  installRateLimit(app, limiter, {
    getPrincipal: (req) => {
      const clientId = req.headers['x-test-client'];
      if (typeof clientId !== 'string') return undefined;
      const plan = req.headers['x-test-plan'];
      const partnerId = req.headers['x-test-partner'];
      return {
        clientId,
        tenantId: 'tenant-1',
        ...(typeof plan === 'string' ? { plan } : {}),
        ...(typeof partnerId === 'string' ? { partnerId } : {}),
      };
    },
  });
  const ok = async () => ({ ok: true });
  app.get('/things', ok);
  app.post('/login', { config: { rateLimit: { class: 'login' as RouteClass } } }, ok);
  app.get(
    '/reports',
    {
      config: {
        rateLimit: {
          limits: [{ name: 'reports', by: ['client', 'route'], limit: 1, periodMs: MINUTE, burst: 1 }],
        },
      },
    },
    ok,
  );
  await app.ready();
  return app;
}

describe.each(backends())('rate-limit hooks on $name', (backend) => {
  let app: FastifyInstance;
  let limiter: RateLimiter;
  const decisions: RateLimitDecision[] = [];

  beforeAll(async () => {
    limiter = createRateLimiter({
      kv: await backend.connect(),
      policies: TABLE,
      onDecision: (d) => decisions.push(d),
    });
    app = await buildTestApp(limiter);
  });
  afterAll(async () => {
    await app.close();
    await limiter.close();
    await backend.close();
  });

  const get = (url: string, remoteAddress: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, remoteAddress, headers });

  it('advertises the policy and what is left on admitted responses', async () => {
    const res = await get('/things', '192.0.2.10');
    expect(res.statusCode).toBe(200);
    expect(res.headers['ratelimit-policy']).toBe('"ip";q=5;w=60');
    expect(res.headers.ratelimit).toBe('"ip";r=4;t=12');
    expect(res.headers['retry-after']).toBeUndefined();
  });

  it('answers 429 problem+json with Retry-After and the RateLimit fields once the limit is reached', async () => {
    for (let i = 0; i < 5; i++) expect((await get('/things', '192.0.2.11')).statusCode).toBe(200);
    const res = await get('/things', '192.0.2.11');
    expect(res.statusCode).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      type: 'urn:bulwark:error:RATE_LIMITED',
      violatedPolicies: ['ip'],
    });
    const retryAfter = res.headers['retry-after'];
    expect(String(retryAfter)).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(12);
    expect(res.headers['ratelimit-policy']).toMatch(POLICY_ITEM);
    const [, name, r, t] = LIMIT_ITEM.exec(String(res.headers.ratelimit))!;
    expect([name, r]).toEqual(['ip', '0']);
    // draft -11 §6: Retry-After does not point earlier than the end of the effective window.
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(Number(t));
  });

  it('describes the more restrictive of the IP and principal policies', async () => {
    const res = await get('/things', '192.0.2.12', { 'x-test-client': 'client-h1' });
    expect(res.statusCode).toBe(200);
    // ip: 4 left of 5; client: 2 left of its burst of 3 — the client policy is the tighter one.
    expect(res.headers['ratelimit-policy']).toBe('"client";q=60;w=60');
    // 60 per minute is one request back per second: the burst is whole again 1 s after one request.
    expect(res.headers.ratelimit).toBe('"client";r=2;t=1');
  });

  it('limits per principal after authentication, whatever address the calls come from', async () => {
    const codes = [];
    for (let i = 0; i < 4; i++)
      codes.push((await get('/things', `192.0.2.${20 + i}`, { 'x-test-client': 'client-h2' })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
  });

  it('applies the stricter login limits to a route of class login', async () => {
    const post = () => app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.30' });
    expect((await post()).statusCode).toBe(200);
    expect((await post()).statusCode).toBe(200);
    const res = await post();
    expect(res.statusCode).toBe(429);
    expect(res.json().violatedPolicies).toEqual(['login-ip']);
    expect(res.headers['ratelimit-policy']).toBe('"login-ip";q=2;w=60');
    // Ordinary routes still have the base allowance the refused attempt did not touch.
    expect((await get('/things', '198.51.100.30')).headers.ratelimit).toBe('"ip";r=2;t=36');
  });

  // Regression guard: a scan of unknown paths is traffic too, and must be limited like any other.
  it('limits requests for routes that do not exist', async () => {
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await get(`/no-such-route-${i}`, '192.0.2.90')).statusCode);
    expect(codes).toEqual([404, 404, 404, 404, 404, 429]);
  });

  it('counts IPv6 clients per /64 over HTTP', async () => {
    for (let i = 0; i < 5; i++)
      expect((await get('/things', `2001:db8:77:1::${i + 1}`)).statusCode).toBe(200);
    expect((await get('/things', '2001:db8:77:1:dead:beef:0:1')).statusCode).toBe(429);
    expect((await get('/things', '2001:db8:77:2::1')).statusCode).toBe(200);
  });

  it("enforces a route's own limits", async () => {
    const headers = { 'x-test-client': 'client-h3' };
    expect((await get('/reports', '192.0.2.40', headers)).statusCode).toBe(200);
    const res = await get('/reports', '192.0.2.41', headers);
    expect(res.statusCode).toBe(429);
    expect(res.json().violatedPolicies).toEqual(['reports']);
    expect((await get('/things', '192.0.2.42', headers)).statusCode).toBe(200);
  });

  it('answers QUOTA_EXCEEDED when the monthly quota of the plan is used up', async () => {
    // Four apps of one partner share its quota of 4; each app stays well inside its own rate limit.
    const partner = { 'x-test-plan': 'metered', 'x-test-partner': 'partner-h' };
    for (let i = 0; i < 4; i++) {
      const res = await get('/things', `192.0.2.${50 + i}`, { ...partner, 'x-test-client': `client-q${i}` });
      expect(res.statusCode).toBe(200);
    }
    const res = await get('/things', '192.0.2.60', { ...partner, 'x-test-client': 'client-q9' });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', violatedPolicies: ['quota'] });
    expect(res.headers['ratelimit-policy']).toBe('"quota";q=4');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.headers.ratelimit).toBe(`"quota";r=0;t=${res.headers['retry-after']}`);
  });

  it('reports each decision', async () => {
    decisions.length = 0;
    await get('/things', '192.0.2.70', { 'x-test-client': 'client-h4' });
    expect(decisions.map((d) => [d.stage, d.allowed])).toEqual([
      ['ip', true],
      ['principal', true],
    ]);
  });
});

describe('route declarations', () => {
  it('refuses at boot a route with an unknown rate-limit class', async () => {
    const kv = createMemoryKv({ prefix: 'h:' });
    const limiter = createRateLimiter({ kv, policies: TABLE });
    const app = Fastify({ logger: false });
    installRateLimit(app, limiter, { getPrincipal: () => undefined });
    await expect(
      (async () => {
        app.get('/x', { config: { rateLimit: { class: 'logon' as RouteClass } } }, async () => ({}));
        await app.ready();
      })(),
    ).rejects.toThrow(/unknown rate-limit class logon/);
    await app.close().catch(() => {});
    await limiter.close();
    await kv.close();
  });
});
