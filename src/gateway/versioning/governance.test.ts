import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { installGovernance } from './governance.ts';
import { httpDate, structuredDate } from './headers.ts';
import type { LifecycleDeclaration } from './lifecycle.ts';
import { resolveLifecycle } from './lifecycle.ts';

const documented = (summary = 'A documented route') => ({
  summary,
  response: { 200: Type.Object({ ok: Type.Boolean() }, { additionalProperties: false }) },
});

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function bare(now?: () => number) {
  const app = Fastify();
  open.push(app);
  installProblemHandlers(app);
  const governance = installGovernance(app, {
    publicUrl: 'https://api.example.test',
    ...(now ? { now } : {}),
  });
  return { app, governance };
}

describe('header formats', () => {
  it('Deprecation is an RFC 9651 Date (@ + integer seconds) and Sunset an IMF-fixdate', () => {
    expect(structuredDate(Date.UTC(2026, 0, 1))).toBe('@1767225600');
    expect(structuredDate(1_688_169_599_999)).toBe('@1688169599');
    // RFC 9110 §5.6.7's own example
    expect(httpDate(Date.UTC(1994, 10, 6, 8, 49, 37))).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(httpDate(Date.UTC(2099, 11, 31))).toBe('Thu, 31 Dec 2099 00:00:00 GMT');
  });
});

describe('lifecycle resolution', () => {
  it('fills what a route leaves out from the longest matching prefix', () => {
    const r = resolveLifecycle('POST', '/v1/claims/:claimId/approve', undefined);
    expect(r).toEqual({
      lifecycle: {
        status: 'stable',
        owner: 'insurance',
        dataClassification: 'personal',
        since: '2025-01-01',
      },
    });
    // a parameter segment matches whatever the module named its parameter
    const u = resolveLifecycle('GET', '/admin/tenants/:id/users/:userId', undefined);
    expect(u).toMatchObject({ lifecycle: { owner: 'identity', dataClassification: 'personal' } });
    // the route's own declaration wins over the table
    const own = resolveLifecycle('GET', '/v1/claims', { owner: 'claims-team', status: 'beta' });
    expect(own).toMatchObject({ lifecycle: { owner: 'claims-team', status: 'beta' } });
    // HEAD follows GET's override
    expect(resolveLifecycle('HEAD', '/v1/me', undefined)).toMatchObject({
      lifecycle: { status: 'deprecated', successor: '/v2/me' },
    });
  });

  it.each<[string, LifecycleDeclaration, RegExp]>([
    ['deprecated without dates', { status: 'deprecated' }, /deprecated without deprecatedAt and sunsetAt/],
    [
      'sunset before deprecation',
      { status: 'deprecated', deprecatedAt: '2026-06-01', sunsetAt: '2026-01-01' },
      /sunsetAt before deprecatedAt/,
    ],
    ['stable with a sunset', { sunsetAt: '2030-01-01' }, /is stable but declares/],
    [
      'a bad date',
      { status: 'deprecated', deprecatedAt: 'soon', sunsetAt: '2030-01-01' },
      /invalid deprecatedAt/,
    ],
    [
      'an unknown classification',
      { dataClassification: 'secret' as 'public' },
      /unknown data classification/,
    ],
    ['an unknown status', { status: 'legacy' as 'beta' }, /unknown lifecycle status/],
  ])('refuses %s', (_name, declared, problem) => {
    const r = resolveLifecycle('GET', '/v1/claims', declared);
    expect('problem' in r && r.problem).toMatch(problem);
  });
});

describe('boot', () => {
  it('fails naming a route without a summary', async () => {
    const { app } = bare();
    app.get('/v1/ok', { schema: documented() }, async () => ({ ok: true }));
    app.get('/v1/forgotten', { schema: { response: documented().response } }, async () => ({ ok: true }));
    await expect(app.ready()).rejects.toThrow(/GET \/v1\/forgotten has no schema.summary/);
  });

  it('fails naming a route without a response schema, or hidden from the description', async () => {
    const { app } = bare();
    app.post('/v1/things', { schema: { summary: 'Make a thing' } }, async () => ({ ok: true }));
    app.get('/v1/secret', { schema: { ...documented(), hide: true } }, async () => ({ ok: true }));
    const failure = app.ready();
    await expect(failure).rejects.toThrow(/POST \/v1\/things has no response schema/);
    await expect(failure).rejects.toThrow(/GET \/v1\/secret is hidden/);
  });

  it('fails naming a route outside every face with no lifecycle, or an unsound one', async () => {
    const { app } = bare();
    app.get('/stray', { schema: documented() }, async () => ({ ok: true }));
    app.get(
      '/v1/old',
      { schema: documented(), config: { lifecycle: { status: 'deprecated' } } },
      async () => ({ ok: true }),
    );
    app.get(
      '/v1/older',
      {
        schema: documented(),
        config: {
          lifecycle: {
            status: 'deprecated',
            deprecatedAt: '2026-01-01',
            sunsetAt: '2027-01-01',
            successor: '/v9/x',
          },
        },
      },
      async () => ({ ok: true }),
    );
    const failure = app.ready();
    await expect(failure).rejects.toThrow(/GET \/stray has no lifecycle/);
    await expect(failure).rejects.toThrow(/GET \/v1\/old is deprecated without/);
    await expect(failure).rejects.toThrow(/GET \/v1\/older names successor \/v9\/x, no route/);
  });

  it('boots when every route is documented and has a lifecycle', async () => {
    const { app, governance } = bare();
    app.get('/v1/ok', { schema: documented() }, async () => ({ ok: true }));
    await app.ready();
    expect(governance.routes().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/ok', 'HEAD /v1/ok']);
  });
});

describe('deprecation and sunset', () => {
  const deprecatedAt = '2026-03-01T00:00:00Z';
  const sunsetAt = '2026-09-01T00:00:00Z';

  async function withDeprecatedRoute(now: () => number) {
    const { app } = bare(now);
    let handled = 0;
    app.get('/v2/things', { schema: documented('New things') }, async () => ({ ok: true }));
    app.get(
      '/v1/things',
      {
        schema: documented('Old things'),
        config: { lifecycle: { status: 'deprecated', deprecatedAt, sunsetAt, successor: '/v2/things' } },
      },
      async () => {
        handled += 1;
        return { ok: true };
      },
    );
    app.get(
      '/v1/gone',
      { schema: documented('Gone'), config: { lifecycle: { status: 'retired' } } },
      async () => {
        handled += 1;
        return { ok: true };
      },
    );
    await app.ready();
    return { app, handled: () => handled };
  }

  it('answers with the RFC 9745 / RFC 8594 headers and links before the sunset', async () => {
    let t = Date.parse('2026-05-01T00:00:00Z');
    const { app } = await withDeprecatedRoute(() => t);
    const res = await app.inject({ method: 'GET', url: '/v1/things' });
    expect(res.statusCode).toBe(200);
    expect(res.headers.deprecation).toBe('@1772323200');
    expect(res.headers.sunset).toBe('Tue, 01 Sep 2026 00:00:00 GMT');
    expect(res.headers.link).toBe(
      '<https://api.example.test/docs/api-changelog>; rel="deprecation"; type="text/markdown", ' +
        '<https://api.example.test/docs/api-changelog>; rel="sunset"; type="text/markdown", ' +
        '<https://api.example.test/v2/things>; rel="successor-version"',
    );
    // the successor itself is not deprecated
    const next = await app.inject({ method: 'GET', url: '/v2/things' });
    expect(next.headers.deprecation).toBeUndefined();
    expect(next.headers.sunset).toBeUndefined();
    t = Date.parse(sunsetAt) - 1;
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).statusCode).toBe(200);
  });

  it('answers 410 API_ROUTE_RETIRED from the sunset on, without running the handler', async () => {
    let t = Date.parse('2026-05-01T00:00:00Z');
    const { app, handled } = await withDeprecatedRoute(() => t);
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).statusCode).toBe(200);
    t = Date.parse(sunsetAt);
    const res = await app.inject({ method: 'GET', url: '/v1/things' });
    expect(res.statusCode).toBe(410);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      status: 410,
      code: 'API_ROUTE_RETIRED',
      successor: 'https://api.example.test/v2/things',
      changelog: 'https://api.example.test/docs/api-changelog',
    });
    expect(res.headers.sunset).toBe('Tue, 01 Sep 2026 00:00:00 GMT');
    expect(handled()).toBe(1);
    // a retired route is gone whatever the date
    const gone = await app.inject({ method: 'GET', url: '/v1/gone' });
    expect(gone.statusCode).toBe(410);
    expect(gone.json().code).toBe('API_ROUTE_RETIRED');
    expect(handled()).toBe(1);
  });
});
