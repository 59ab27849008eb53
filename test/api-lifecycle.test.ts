import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { main } from '../src/cli/main.ts';
import type { GovernedRoute } from '../src/gateway/versioning/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { admin, type Listening, partnerApi, tenantWithPartner } from './support/api.ts';
import { adminHeaders, testConfig } from './support/app.ts';
import { freePort } from './support/process.ts';

// GET /v1/me is deprecated in favour of /v2/me (src/gateway/versioning/lifecycle.ts overrides):
// deprecated 2026-01-01T00:00:00Z, sunset 2099-12-31T00:00:00Z.
const DEPRECATED_AT_S = 1_767_225_600;
const SUNSET_MS = Date.UTC(2099, 11, 31);

describe('API lifecycle through the real stack', () => {
  let listening: Listening;
  let now = Date.UTC(2026, 5, 1);
  beforeAll(async () => {
    const port = await freePort();
    const app = await buildApp(testConfig({ BULWARK_PORT: String(port) }), {
      logger: createLogger('silent'),
      apiClock: () => now,
    });
    await app.listen({ port, host: '127.0.0.1' });
    listening = { app, issuer: `http://127.0.0.1:${port}` };
  });
  afterAll(() => listening.app.close());

  it('the inventory lists exactly the routes the router holds', async () => {
    const { app } = listening;
    const inventory = (await admin(app, 'GET', '/admin/api/inventory')) as {
      count: number;
      routes: GovernedRoute[];
    };
    const listed = new Set(inventory.routes.map((r) => `${r.method} ${r.path}`));
    expect(listed.size).toBe(inventory.routes.length);
    expect(inventory.count).toBe(inventory.routes.length);
    // every route of the route table (src/platform/http/route-guard.ts) is listed ...
    const table = new Set(app.routeTable().map((r) => `${r.method} ${r.url}`));
    expect([...table].filter((k) => !listed.has(k))).toEqual([]);
    // ... and so are the routes the router holds that the table misses: a route at a prefixed
    // plugin's root is added both as `/prefix/` and `/prefix` (onRoute runs once, for the first)
    const twins = [...listed].filter((k) => !table.has(k));
    expect(twins.filter((k) => !table.has(`${k}/`))).toEqual([]);
    expect(listed.has('POST /admin/tenants/:tenantId/users')).toBe(true);
    // the router itself: every listed route is found, and its printed tree has exactly as many
    // (method, path) pairs as the inventory
    for (const r of inventory.routes) {
      expect(app.hasRoute({ method: r.method as 'GET', url: r.path }), `${r.method} ${r.path}`).toBe(true);
    }
    const printed = app
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .flatMap((line) => /\(([A-Z, ]+)\)\s*$/.exec(line)?.[1]?.split(', ') ?? []);
    expect(printed.length).toBe(inventory.routes.length);

    const find = (method: string, path: string) =>
      inventory.routes.find((r) => r.method === method && r.path === path);
    expect(find('POST', '/v1/transfers')).toMatchObject({
      version: 'v1',
      status: 'stable',
      owner: 'ledger',
      dataClassification: 'financial',
      auth: { kind: 'access-token', scopes: ['accounts:write'] },
      idempotencyKey: true,
      rateLimit: { class: 'default' },
      documented: true,
    });
    expect(find('GET', '/v1/me')).toMatchObject({
      status: 'deprecated',
      sunsetAt: '2099-12-31T00:00:00Z',
      successor: '/v2/me',
      auth: { kind: 'access-token', scopes: [] },
    });
    expect(find('GET', '/v2/me')).toMatchObject({ version: 'v2', status: 'stable', owner: 'identity' });
    expect(find('GET', '/admin/tenants')).toMatchObject({ version: null, auth: { kind: 'operator' } });
    expect(find('GET', '/healthz')).toMatchObject({ auth: { kind: 'public', scopes: [] } });
    expect(find('POST', '/oauth/*')).toMatchObject({ documented: false, rateLimit: { class: 'token' } });

    const v2 = await admin(app, 'GET', '/admin/api/inventory?version=v2');
    expect(v2.routes.map((r: GovernedRoute) => `${r.method} ${r.path}`).sort()).toEqual([
      'GET /v2/me',
      'HEAD /v2/me',
    ]);
    const bad = await app.inject({
      method: 'GET',
      url: '/admin/api/inventory?status=legacy',
      headers: adminHeaders,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('REQUEST_VALIDATION_FAILED');
  });

  it('a deprecated route carries the headers, answers 410 after its sunset, and its callers are listed', async () => {
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'Lifecycle');
    const caller = await partnerApi(listening, { tenantId, partnerId, scope: 'claims:read' });
    now = Date.UTC(2026, 5, 1);

    const first = await caller.call('GET', '/v1/me');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ kind: 'client', tenantId, partnerId });
    expect(first.headers.get('deprecation')).toBe(`@${DEPRECATED_AT_S}`);
    expect(first.headers.get('sunset')).toBe('Thu, 31 Dec 2099 00:00:00 GMT');
    const base = listening.issuer;
    expect(first.headers.get('link')).toBe(
      `<${base}/docs/api-changelog>; rel="deprecation"; type="text/markdown", ` +
        `<${base}/docs/api-changelog>; rel="sunset"; type="text/markdown", ` +
        `<${base}/v2/me>; rel="successor-version"`,
    );
    expect((await caller.call('GET', '/v1/me')).status).toBe(200);

    // the successor, through the same pipeline: token, rate limits — and no deprecation
    const v2 = await caller.call('GET', '/v2/me');
    expect(v2.status).toBe(200);
    expect(v2.headers.get('deprecation')).toBeNull();
    expect(v2.headers.get('ratelimit-policy')).toBeTruthy();

    now = SUNSET_MS;
    const gone = await caller.call('GET', '/v1/me');
    expect(gone.status).toBe(410);
    expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(gone.body).toMatchObject({
      status: 410,
      code: 'API_ROUTE_RETIRED',
      successor: `${base}/v2/me`,
      changelog: `${base}/docs/api-changelog`,
    });
    expect(gone.headers.get('sunset')).toBe('Thu, 31 Dec 2099 00:00:00 GMT');
    // the successor lives on past the predecessor's sunset
    expect((await caller.call('GET', '/v2/me')).status).toBe(200);

    const usage = await admin(
      listening.app,
      'GET',
      `/admin/api/deprecated-usage?clientId=${caller.clientId}`,
    );
    expect(usage.items).toEqual([
      {
        tenantId,
        partnerId,
        clientId: caller.clientId,
        method: 'GET',
        route: '/v1/me',
        calls: 2,
        refused: 1,
        firstSeen: new Date(Date.UTC(2026, 5, 1)).toISOString(),
        lastSeen: new Date(SUNSET_MS).toISOString(),
        sunsetAt: '2099-12-31T00:00:00Z',
        successor: '/v2/me',
        owner: 'identity',
      },
    ]);
    const byTenant = await admin(listening.app, 'GET', `/admin/api/deprecated-usage?tenantId=${tenantId}`);
    expect(byTenant.items).toHaveLength(1);
    // operators only
    const anonymous = await listening.app.inject({ method: 'GET', url: '/admin/api/deprecated-usage' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('/v2/me answers the reshaped caller through the full pipeline with a real token', async () => {
    now = Date.UTC(2026, 5, 1);
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'Version two');
    const caller = await partnerApi(listening, { tenantId, partnerId, scope: 'claims:read policies:read' });
    const res = await caller.call('GET', '/v2/me');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      principal: { kind: 'client', subject: caller.clientId, clientId: caller.clientId },
      tenant: { id: tenantId },
      partner: { id: partnerId },
      authorization: { roles: ['partner_app'], scopes: ['claims:read', 'policies:read'] },
      token: { binding: 'dpop', expiresAt: expect.any(String), acr: null },
    });
    // the same authenticator as /v1: no token, or a plain bearer use of a DPoP-bound token, is refused
    const none = await fetch(`${listening.issuer}/v2/me`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { code: string }).code).toBe('AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toMatch(/^DPoP algs=/);
    const bearer = await fetch(`${listening.issuer}/v2/me`, {
      headers: { authorization: `Bearer ${await caller.accessToken()}` },
    });
    expect(bearer.status).toBe(401);
    // the WAF and per-IP limits in front of every face apply too
    const attack = await fetch(`${listening.issuer}/v2/me?q=${encodeURIComponent("1' OR '1'='1")}`);
    expect(attack.status).toBe(403);
  });

  it('publishes an OpenAPI document per version and the changelog the links point to', async () => {
    const { app } = listening;
    const v1 = (await app.inject({ method: 'GET', url: '/openapi/v1.json' })).json();
    const v2 = (await app.inject({ method: 'GET', url: '/openapi/v2.json' })).json();
    const full = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const doc of [v1, v2]) {
      const result = await new Validator().validate(doc);
      expect(result.errors ?? []).toEqual([]);
    }
    expect(Object.keys(v1.paths).every((p) => p.startsWith('/v1/'))).toBe(true);
    expect(Object.keys(v2.paths)).toEqual(['/v2/me']);
    expect(Object.keys(v1.paths).sort()).toEqual(
      Object.keys(full.paths)
        .filter((p) => p.startsWith('/v1/'))
        .sort(),
    );
    expect(v1.paths['/v1/me'].get).toMatchObject({
      deprecated: true,
      'x-bulwark-lifecycle': { status: 'deprecated', successor: '/v2/me', sunsetAt: '2099-12-31T00:00:00Z' },
    });
    expect(v1.paths['/v1/transfers'].post.deprecated).toBeUndefined();
    expect(v2.info['x-api-version']).toBe('v2');
    expect((await app.inject({ method: 'GET', url: '/openapi/v3.json' })).statusCode).toBe(404);

    const changelog = await app.inject({ method: 'GET', url: '/docs/api-changelog' });
    expect(changelog.statusCode).toBe(200);
    expect(changelog.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(changelog.body).toContain('# API changelog');
    expect(changelog.body).toContain(
      '| `GET /v1/me` | deprecated | 2026-01-01T00:00:00Z | 2099-12-31T00:00:00Z | `/v2/me` | identity |',
    );
  });

  it('`bulwark api inventory` prints the same table (JSON and Markdown)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(
      await main(
        ['api', 'inventory'],
        (s) => out.push(s),
        (s) => err.push(s),
      ),
    ).toBe(0);
    const printed = JSON.parse(out.join('\n')) as { routes: GovernedRoute[] };
    const mine = listening.app.apiInventory();
    expect(new Set(printed.routes.map((r) => `${r.method} ${r.path}`))).toEqual(
      new Set(mine.map((r) => `${r.method} ${r.path}`)),
    );

    out.length = 0;
    expect(
      await main(
        ['api', 'inventory', '--format', 'markdown', '--version', 'v1', '--status', 'deprecated'],
        (s) => out.push(s),
      ),
    ).toBe(0);
    const md = out.join('\n');
    expect(md).toContain(
      '| GET | `/v1/me` | v1 | deprecated | identity | internal | access token (any scope) |',
    );
    expect(md).not.toContain('/v1/transfers');

    expect(await main(['api', 'inventory', '--format', 'yaml'], undefined, (s) => err.push(s))).toBe(2);
    expect(await main(['api', 'list'], undefined, (s) => err.push(s))).toBe(2);
  }, 120_000);
});
