import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import { refuseUnknownMethods } from '../edges.ts';
import { createIpRulesEngine, type IpRulesEngine, type RuleSource } from './engine.ts';
import { ipRulesHook, principalIpRulesHook } from './hooks.ts';
import { writeMirror } from './mirror.ts';
import { trustProxyOption } from './trust-proxy.ts';
import type { BlockRecord, IpDecision, RuleRecord } from './types.ts';

const TENANT = '01900000-0000-7000-8000-00000000000a';
const OTHER_TENANT = '01900000-0000-7000-8000-00000000000b';

function rule(
  action: 'allow' | 'deny',
  cidr: string,
  tenantId: string | null = null,
  clientId: string | null = null,
) {
  return { id: uuidv7(), tenantId, clientId, action, cidr } satisfies RuleRecord;
}

/**
 * A small app laid out as the gateway is: method check, IP rules, then a stand-in authentication
 * that takes the principal from test headers, then the principal's IP rules.
 */
async function buildTestApp(
  engine: IpRulesEngine,
  trustProxy: readonly string[] = [],
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: trustProxyOption({ trustProxy }) });
  installProblemHandlers(app);
  app.addHook('onRequest', refuseUnknownMethods);
  app.addHook('onRequest', ipRulesHook(engine));
  app.decorateRequest('testPrincipal', undefined);
  app.addHook('preValidation', async (req) => {
    const tenantId = req.headers['x-test-tenant'];
    const clientId = req.headers['x-test-client'];
    if (typeof tenantId === 'string' && typeof clientId === 'string') {
      (req as FastifyRequest & { testPrincipal?: object }).testPrincipal = { tenantId, clientId };
    }
  });
  app.addHook(
    'preValidation',
    principalIpRulesHook(
      engine,
      (req) =>
        (req as FastifyRequest & { testPrincipal?: { tenantId: string; clientId: string } }).testPrincipal,
    ),
  );
  app.get('/ip', async (req) => ({ ip: req.ip }));
  await app.ready();
  return app;
}

describe('ip rules hooks', () => {
  let kv: Kv;
  let engine: IpRulesEngine;
  let app: FastifyInstance;
  const decisions: IpDecision[] = [];
  const rules: RuleRecord[] = [];
  let blocks: BlockRecord[] = [];
  let failTenantRules = false;

  const source: RuleSource = {
    rules: async (tenantId) => {
      if (tenantId !== null && failTenantRules) throw new Error('database down');
      return rules.filter((r) => r.tenantId === tenantId);
    },
    rebuildBlocks: () => writeMirror(kv, blocks),
  };

  beforeAll(async () => {
    kv = createMemoryKv({ prefix: 'hooks:' });
    rules.push(
      rule('deny', '203.0.113.0/24'),
      rule('deny', '2001:db8:bad::/48'),
      rule('allow', '10.0.0.0/8', TENANT),
      rule('deny', '10.6.6.6', TENANT, 'app-1'),
    );
    engine = await createIpRulesEngine({ source, kv, onDecision: (d) => decisions.push(d) });
    app = await buildTestApp(engine);
  });
  beforeEach(() => {
    decisions.length = 0;
  });
  afterAll(async () => {
    await app.close();
    await engine.close();
    await kv.close();
  });

  const get = (remoteAddress: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: '/ip', remoteAddress, headers });

  it('admits an address no rule refuses', async () => {
    const res = await get('192.0.2.1');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ip: '192.0.2.1' });
    expect(decisions).toEqual([]);
  });

  it('answers a denied address 403 problem+json IP_BLOCKED, naming no rule, and reports the decision', async () => {
    const res = await get('203.0.113.9');
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ status: 403, code: 'IP_BLOCKED', type: 'urn:bulwark:error:IP_BLOCKED' });
    expect(JSON.stringify(body)).not.toContain(rules[0]!.id);
    expect(JSON.stringify(body)).not.toContain('203.0.113');
    expect(decisions).toEqual([
      { action: 'block', ip: '203.0.113.9', scope: { kind: 'platform' }, rule: 'deny', ruleId: rules[0]!.id },
    ]);
  });

  it('judges IPv6 and IPv4-mapped peers', async () => {
    expect((await get('2001:db8:bad:1::5')).statusCode).toBe(403);
    expect((await get('2001:db8:beef::5')).statusCode).toBe(200);
    expect((await get('::ffff:203.0.113.9')).statusCode).toBe(403);
    expect(decisions.map((d) => d.ip)).toEqual(['2001:db8:bad:1::5', '203.0.113.9']);
  });

  it('refuses before anything else but the method check', async () => {
    const bad = await app.inject({ method: 'TRACE' as 'GET', url: '/ip', remoteAddress: '203.0.113.9' });
    expect(bad.json().code).toBe('METHOD_NOT_ALLOWED');
    const unknownRoute = await app.inject({ method: 'GET', url: '/nowhere', remoteAddress: '203.0.113.9' });
    expect(unknownRoute.json().code).toBe('IP_BLOCKED');
  });

  it('applies a temporary block at once, until it is lifted', async () => {
    blocks = [
      {
        id: uuidv7(),
        tenantId: null,
        clientId: null,
        cidr: '198.51.100.7/32',
        expiresAt: Date.now() + 60_000,
      },
    ];
    expect((await get('198.51.100.7')).statusCode).toBe(200);
    engine.blocksChanged(await source.rebuildBlocks());
    expect((await get('198.51.100.7')).statusCode).toBe(403);
    expect(decisions.at(-1)).toMatchObject({ rule: 'temporary-block', ruleId: blocks[0]!.id });
    blocks = [];
    await source.rebuildBlocks();
    expect((await get('198.51.100.7')).statusCode).toBe(200);
  });

  describe('for an authenticated principal', () => {
    const as = (ip: string, tenantId: string, clientId: string) =>
      get(ip, { 'x-test-tenant': tenantId, 'x-test-client': clientId });

    it('applies the tenant’s and the app’s rules, to that tenant’s principals only', async () => {
      expect((await as('10.1.1.1', TENANT, 'app-1')).statusCode).toBe(200);
      const outside = await as('192.0.2.1', TENANT, 'app-1');
      expect(outside.statusCode).toBe(403);
      expect(outside.json().code).toBe('IP_BLOCKED');
      expect((await as('10.6.6.6', TENANT, 'app-1')).statusCode).toBe(403);
      expect((await as('10.6.6.6', TENANT, 'app-2')).statusCode).toBe(200);
      expect((await as('192.0.2.1', OTHER_TENANT, 'app-9')).statusCode).toBe(200);
      // the same address, anonymous, meets the platform rules alone
      expect((await get('192.0.2.1')).statusCode).toBe(200);
      expect(decisions).toEqual([
        {
          action: 'block',
          ip: '192.0.2.1',
          scope: { kind: 'tenant', tenantId: TENANT },
          rule: 'allow-list',
          ruleId: null,
        },
        {
          action: 'block',
          ip: '10.6.6.6',
          scope: { kind: 'app', tenantId: TENANT, clientId: 'app-1' },
          rule: 'deny',
          ruleId: rules[3]!.id,
        },
      ]);
    });

    it('answers 503 IP_RULES_UNAVAILABLE rather than let a request pass unjudged', async () => {
      failTenantRules = true;
      try {
        const res = await as('10.1.1.1', OTHER_TENANT.replace('b', 'c'), 'app-1');
        expect(res.statusCode).toBe(503);
        expect(res.json().code).toBe('IP_RULES_UNAVAILABLE');
      } finally {
        failTenantRules = false;
      }
    });
  });

  it('still refuses when the decision consumer throws', async () => {
    const throwing = await createIpRulesEngine({
      source,
      kv,
      onDecision: () => {
        throw new Error('audit down');
      },
    });
    const other = await buildTestApp(throwing);
    try {
      const res = await other.inject({ method: 'GET', url: '/ip', remoteAddress: '203.0.113.9' });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('IP_BLOCKED');
    } finally {
      await other.close();
      await throwing.close();
    }
  });

  describe('client address behind proxies', () => {
    let proxied: FastifyInstance;
    beforeAll(async () => {
      proxied = await buildTestApp(engine, ['10.0.0.0/8', '2001:db8:1::/48', '192.0.2.10']);
    });
    afterAll(() => proxied.close());

    const via = (remoteAddress: string, xff?: string) =>
      proxied.inject({
        method: 'GET',
        url: '/ip',
        remoteAddress,
        headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
      });

    // Regression guard: a client must not choose its own address by writing the header itself.
    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      expect((await via('198.51.100.20', '10.1.1.1')).json()).toEqual({ ip: '198.51.100.20' });
      // so a denied client cannot pose as an admitted one...
      expect((await via('203.0.113.9', '192.0.2.1')).statusCode).toBe(403);
      // ...and nobody can frame another address
      expect((await via('198.51.100.20', '203.0.113.9')).statusCode).toBe(200);
      // and with no proxies configured at all, the header is never read
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/ip',
            remoteAddress: '198.51.100.20',
            headers: { 'x-forwarded-for': '203.0.113.9' },
          })
        ).json(),
      ).toEqual({ ip: '198.51.100.20' });
    });

    it('takes the right-most untrusted address behind trusted proxies', async () => {
      expect((await via('10.0.0.1', '198.51.100.30')).json()).toEqual({ ip: '198.51.100.30' });
      // what the client wrote itself sits left of what our proxy appended
      expect((await via('10.0.0.1', '1.2.3.4, 198.51.100.30')).json()).toEqual({ ip: '198.51.100.30' });
      // through two trusted proxies (a CDN edge, then the load balancer)
      expect((await via('10.0.0.1', '198.51.100.30, 192.0.2.10')).json()).toEqual({ ip: '198.51.100.30' });
      expect((await via('::ffff:10.0.0.1', '198.51.100.30')).json()).toEqual({ ip: '198.51.100.30' });
      expect((await via('2001:db8:1::5', '2001:db8:9::1')).json()).toEqual({ ip: '2001:db8:9::1' });
      // a trusted proxy with no header: the proxy itself is the peer
      expect((await via('10.0.0.1')).json()).toEqual({ ip: '10.0.0.1' });
    });

    it('judges the forwarded client, not the proxy', async () => {
      const blocked = await via('10.0.0.1', '203.0.113.9');
      expect(blocked.statusCode).toBe(403);
      expect(decisions.at(-1)).toMatchObject({ ip: '203.0.113.9', rule: 'deny' });
      expect((await via('10.0.0.1', '203.0.113.9, 198.51.100.30')).statusCode).toBe(200);
    });
  });
});

describe('trustProxyOption', () => {
  it('trusts nobody without a list', () => {
    expect(trustProxyOption({ trustProxy: [] })).toBe(false);
  });

  it('trusts the listed addresses and blocks, in both families', () => {
    const trust = trustProxyOption({ trustProxy: ['10.0.0.0/8', '192.0.2.10', '2001:db8::/32'] });
    expect(trust).not.toBe(false);
    if (trust === false) return;
    expect(trust('10.9.8.7', 0)).toBe(true);
    expect(trust('::ffff:10.9.8.7', 0)).toBe(true);
    expect(trust('192.0.2.10', 1)).toBe(true);
    expect(trust('192.0.2.11', 1)).toBe(false);
    expect(trust('2001:db8::1', 0)).toBe(true);
    expect(trust('2001:db9::1', 0)).toBe(false);
    expect(trust('garbage', 1)).toBe(false);
    expect(trust(undefined as unknown as string, 0)).toBe(false);
  });

  it('stops the boot on an entry that is not an address, or that trusts everyone', () => {
    expect(() => trustProxyOption({ trustProxy: ['10.0.0.0/8', 'loopback'] })).toThrow(/entry 2/);
    expect(() => trustProxyOption({ trustProxy: ['10.0.0.0/33'] })).toThrow(/entry 1/);
    expect(() => trustProxyOption({ trustProxy: ['0.0.0.0/0'] })).toThrow(/every address/);
    expect(() => trustProxyOption({ trustProxy: ['::/0'] })).toThrow(/every address/);
  });
});
