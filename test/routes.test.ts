import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';

describe('every route', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(() => app.close());

  // DESIGN invariant 1: everything but an explicit public allow-list needs authentication.
  const PUBLIC = [
    /^\/healthz$/,
    /^\/readyz$/,
    /^\/openapi\.json$/,
    // the per-version API descriptions (src/gateway/versioning)
    /^\/openapi\/v\d+\.json$/,
    /^\/docs(\/|$)/,
    /^\/assets\/people\//,
    // the authorization server authenticates its clients itself (private_key_jwt / mTLS)
    /^\/oauth\/\*$/,
    /^\/\.well-known\/openid-configuration$/,
    // public keys that verify webhook signatures (RFC 9421): receivers fetch them unauthenticated
    /^\/\.well-known\/webhook-keys\.json$/,
    // payload keys: encrypt request bodies to them (JWE) and verify response signatures (RFC 9421)
    /^\/\.well-known\/payload-keys\.json$/,
    // sign-in pages: the person is not authenticated yet; the login session and CSRF token guard them
    /^\/interaction\/:uid(\/(login|second-factor|consent))?$/,
  ];

  it('declares its access, and only the allow-list is public', () => {
    const routes = app.routeTable();
    expect(routes.length).toBeGreaterThan(5);
    for (const r of routes) {
      expect(r.access, `${r.method} ${r.url}`).toBeDefined();
      if (r.access === 'public')
        expect(
          PUBLIC.some((p) => p.test(r.url)),
          `${r.method} ${r.url} is public`,
        ).toBe(true);
    }
  });

  it('answers 401 to a caller without credentials unless public', async () => {
    const sample = '01900000-0000-7000-8000-000000000000';
    let n = 0;
    for (const r of app.routeTable()) {
      if (r.access === 'public' || r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      const url = r.url.replace(/:[A-Za-z]+/g, sample);
      n += 1;
      const res = await app.inject({
        method: r.method as 'GET',
        url,
        payload: r.method === 'GET' ? undefined : {},
        // one source address per route, so the per-IP limit (which comes first) never answers
        remoteAddress: `198.18.${n >> 8}.${n & 255}`,
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(res.json().code).toBe('AUTH_REQUIRED');
    }
  });

  it('refuses to boot with a route that declares no access', async () => {
    const Fastify = (await import('fastify')).default;
    const { guardRoutes } = await import('../src/platform/http/route-guard.ts');
    const bare = Fastify();
    guardRoutes(bare);
    bare.get('/forgotten', async () => 'open');
    await expect(bare.ready()).rejects.toThrow(/GET \/forgotten/);
  });
});

describe('the API description', () => {
  it('is a valid OpenAPI 3.1 document describing the routes', async () => {
    const app = await testApp();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/admin/tenants', '/admin/tenants/{tenantId}/partners']),
    );
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    // plain-HTTP test server: no upgrade-insecure-requests, which would break the page's own assets
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    expect(docs.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    await app.close();
  });
});
