import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import type { Database } from '../../platform/db/index.ts';
import { apps, partners, tenants } from '../../platform/db/schema.ts';
import { installJsonBodyParser } from '../../platform/http/json-body.ts';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { setContextAccess } from '../../platform/http/route-guard.ts';
import { validatorCompiler } from '../../platform/http/validation.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import { bootstrapAdminAuthenticator } from '../bootstrap-admin.ts';
import { createIpRulesEngine, databaseRuleSource, type IpRulesEngine } from './engine.ts';
import { ipRulesHook } from './hooks.ts';
import { ipRulesAdminRoutes } from './routes.ts';
import { IpRulesService } from './service.ts';

const TOKEN = 'ip-rules-admin-token-0123456789abcdefghijkl';
const OPERATOR_IP = '198.51.100.10';

/** Laid out as app.ts mounts it: platform IP rules on every request, the routes under the admin face. */
async function buildAdminApp(engine: IpRulesEngine, service: IpRulesService): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  installJsonBodyParser(app);
  installProblemHandlers(app);
  app.addHook('onRequest', ipRulesHook(engine));
  await app.register(
    async (admin) => {
      setContextAccess(admin, 'bootstrap-admin');
      admin.addHook('preValidation', bootstrapAdminAuthenticator([TOKEN]));
      await admin.register(ipRulesAdminRoutes, { service });
    },
    { prefix: '/admin' },
  );
  await app.ready();
  return app;
}

describe.each(dbBackends)('ip rules admin API on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let kv: Kv;
  let engine: IpRulesEngine;
  let app: FastifyInstance;
  const tenantId = uuidv7();
  const clientId = `bwk_test_${uuidv7().slice(-12)}`;

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
    remoteAddress = OPERATOR_IP,
  ) =>
    app.inject({
      method,
      url,
      remoteAddress,
      headers: { authorization: `Bearer ${TOKEN}` },
      ...(payload === undefined ? {} : { payload }),
    });
  const codeOf = async (res: Promise<{ statusCode: number; json: () => { code?: string } }>) => {
    const r = await res;
    return `${r.statusCode} ${r.json().code ?? ''}`.trim();
  };

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem(async (tx) => {
      const partnerId = uuidv7();
      await tx.insert(tenants).values({ id: tenantId, slug: `t-${tenantId.slice(-8)}`, name: 'T' });
      await tx.insert(partners).values({ id: partnerId, tenantId, name: 'P' });
      await tx.insert(apps).values({ id: uuidv7(), tenantId, partnerId, name: 'app', clientId });
    });
    kv = createMemoryKv({ prefix: 'ip-rules-routes:' });
    engine = await createIpRulesEngine({ source: databaseRuleSource(db, kv), kv });
    const service = new IpRulesService({
      db,
      kv,
      engine,
      limits: { rulesPerList: { platform: 3, tenant: 3, app: 3 } },
    });
    app = await buildAdminApp(engine, service);
  });
  afterAll(async () => {
    await app.close();
    await engine.close();
    await kv.close();
    await dispose();
  });

  it('is the mounting context’s to guard', async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/ip-rules', remoteAddress: OPERATOR_IP });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_REQUIRED');
  });

  it('adds, lists and deletes platform rules, showing the normalised block', async () => {
    const created = await call('POST', '/admin/ip-rules', {
      action: 'deny',
      cidr: '203.0.113.99/24',
      note: 'botnet',
    });
    expect(created.statusCode).toBe(201);
    const rule = created.json();
    expect(rule).toMatchObject({ scope: 'platform', action: 'deny', cidr: '203.0.113.0/24', note: 'botnet' });
    expect(rule.createdBy).toBe('operator:bootstrap-admin');
    expect((await call('GET', '/admin/ip-rules')).json()).toEqual({ items: [rule] });
    // in force for the very next request
    expect(await codeOf(call('GET', '/admin/ip-rules', undefined, '203.0.113.1'))).toBe('403 IP_BLOCKED');
    expect(await codeOf(call('POST', '/admin/ip-rules', { action: 'deny', cidr: '203.0.113.0/24' }))).toBe(
      '409 IP_RULE_DUPLICATE',
    );
    const deleted = await call('DELETE', `/admin/ip-rules/${rule.id}`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(await codeOf(call('DELETE', `/admin/ip-rules/${rule.id}`))).toBe('404 IP_RULE_NOT_FOUND');
    expect((await call('GET', '/admin/ip-rules', undefined, '203.0.113.1')).statusCode).toBe(200);
  });

  it.each([
    [{ action: 'deny' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'block', cidr: '192.0.2.0/24' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: '192.0.2.0/24', extra: 1 }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: ' 192.0.2.0/24' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: '192.0.2.0/24', note: 'two\nlines' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: '192.0.2.0/24', note: '' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: 192 }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: 'fe80::1%eth0' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ action: 'deny', cidr: '192.0.2.0/33' }, '400 IP_CIDR_INVALID'],
    [{ action: 'deny', cidr: '192.0.2.256' }, '400 IP_CIDR_INVALID'],
    [{ action: 'deny', cidr: '010.0.0.1' }, '400 IP_CIDR_INVALID'],
    [{ action: 'deny', cidr: '2001:db8:::1/64' }, '400 IP_CIDR_INVALID'],
    [{ action: 'deny', cidr: '2001:db8::/129' }, '400 IP_CIDR_INVALID'],
  ])('refuses the rule %j: %s', async (body, expected) => {
    expect(await codeOf(call('POST', '/admin/ip-rules', body))).toBe(expected);
  });

  it('refuses a platform change that would lock out the operator making it', async () => {
    expect(await codeOf(call('POST', '/admin/ip-rules', { action: 'allow', cidr: '192.0.2.0/24' }))).toBe(
      '409 IP_RULE_LOCKOUT',
    );
    expect(
      await codeOf(
        call('POST', '/admin/ip-blocks', { cidr: '198.51.100.0/24', ttlSeconds: 60, reason: 'x' }),
      ),
    ).toBe('409 IP_RULE_LOCKOUT');
    expect((await call('GET', '/admin/ip-rules')).json()).toEqual({ items: [] });
  });

  it('manages a tenant’s rules and its apps’', async () => {
    const base = `/admin/tenants/${tenantId}/ip-rules`;
    const tenantRule = await call('POST', base, { action: 'allow', cidr: '10.0.0.0/8' });
    expect(tenantRule.statusCode).toBe(201);
    expect(tenantRule.json()).toMatchObject({ scope: 'tenant', tenantId });
    const appRule = await call('POST', base, { action: 'deny', cidr: '10.6.6.6', clientId });
    expect(appRule.json()).toMatchObject({ scope: 'app', tenantId, clientId, cidr: '10.6.6.6/32' });
    expect((await call('GET', base)).json().items).toHaveLength(2);
    expect((await call('GET', `${base}?clientId=${clientId}`)).json().items).toEqual([appRule.json()]);
    // tenant rules never judge the admin face (no tenant principal there)
    expect((await call('GET', base, undefined, '192.0.2.1')).statusCode).toBe(200);
    expect(
      await codeOf(call('POST', base, { action: 'deny', cidr: '10.0.0.1', clientId: 'bwk_test_nobody' })),
    ).toBe('404 APP_NOT_FOUND');
    expect(await codeOf(call('GET', `${base}?clientId=bwk_test_nobody`))).toBe('404 APP_NOT_FOUND');
    expect(
      await codeOf(call('POST', `/admin/tenants/${uuidv7()}/ip-rules`, { action: 'deny', cidr: '10.0.0.1' })),
    ).toBe('404 TENANT_NOT_FOUND');
    expect(await codeOf(call('GET', `/admin/tenants/${uuidv7()}/ip-rules`))).toBe('404 TENANT_NOT_FOUND');
    expect(await codeOf(call('GET', '/admin/tenants/not-a-uuid/ip-rules'))).toBe(
      '400 REQUEST_VALIDATION_FAILED',
    );
    expect(await codeOf(call('GET', `${base}?clientId=a%20b`))).toBe('400 REQUEST_VALIDATION_FAILED');
    // a rule is deleted through its own tenant only
    expect(await codeOf(call('DELETE', `/admin/ip-rules/${appRule.json().id}`))).toBe(
      '404 IP_RULE_NOT_FOUND',
    );
    expect((await call('DELETE', `${base}/${appRule.json().id}`)).statusCode).toBe(204);
    expect((await call('DELETE', `${base}/${tenantRule.json().id}`)).statusCode).toBe(204);
  });

  it('caps each list', async () => {
    const base = `/admin/tenants/${tenantId}/ip-rules`;
    for (let i = 1; i <= 3; i++) {
      expect((await call('POST', base, { action: 'deny', cidr: `10.${i}.0.0/16` })).statusCode).toBe(201);
    }
    expect(await codeOf(call('POST', base, { action: 'deny', cidr: '10.4.0.0/16' }))).toBe(
      '409 IP_LIST_FULL',
    );
    // the other list of the scope has its own room
    expect((await call('POST', base, { action: 'allow', cidr: '10.0.0.0/8' })).statusCode).toBe(201);
    for (const rule of (await call('GET', base)).json().items as { id: string }[]) {
      await call('DELETE', `${base}/${rule.id}`);
    }
  });

  it('blocks an address for a while, in force at once, and lifts the block', async () => {
    const created = await call('POST', '/admin/ip-blocks', {
      cidr: '203.0.113.5',
      ttlSeconds: 3600,
      reason: 'scanning /admin',
    });
    expect(created.statusCode).toBe(201);
    const block = created.json();
    expect(block).toMatchObject({ scope: 'platform', cidr: '203.0.113.5/32', reason: 'scanning /admin' });
    expect(Date.parse(block.expiresAt) - Date.parse(block.createdAt)).toBe(3_600_000);
    expect(await codeOf(call('GET', '/admin/ip-rules', undefined, '203.0.113.5'))).toBe('403 IP_BLOCKED');
    expect((await call('GET', '/admin/ip-blocks')).json()).toEqual({ items: [block], nextCursor: null });

    const scoped = await call('POST', '/admin/ip-blocks', {
      cidr: '2001:db8::/64',
      ttlSeconds: 60,
      reason: 'tenant asked',
      tenantId,
      clientId,
    });
    expect(scoped.json()).toMatchObject({ scope: 'app', tenantId, clientId, cidr: '2001:db8::/64' });

    const lifted = await call('DELETE', `/admin/ip-blocks/${block.id}`);
    expect(lifted.statusCode).toBe(200);
    expect(lifted.json()).toMatchObject({ id: block.id, revokedBy: 'operator:bootstrap-admin' });
    expect((await call('GET', '/admin/ip-rules', undefined, '203.0.113.5')).statusCode).toBe(200);
    expect(await codeOf(call('DELETE', `/admin/ip-blocks/${block.id}`))).toBe('404 IP_BLOCK_NOT_FOUND');
    expect((await call('GET', '/admin/ip-blocks?state=all&limit=1')).json().items).toHaveLength(1);
    expect((await call('GET', '/admin/ip-blocks?state=all')).json().items).toHaveLength(2);
    await call('DELETE', `/admin/ip-blocks/${scoped.json().id}`);
  });

  it.each([
    [{ cidr: '192.0.2.1', reason: 'x' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: '60', reason: 'x' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: 0, reason: 'x' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: 1.5, reason: 'x' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: 30 * 86_400 + 1, reason: 'x' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: 60 }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '192.0.2.1', ttlSeconds: 60, reason: ' padded' }, '400 REQUEST_VALIDATION_FAILED'],
    [
      { cidr: '192.0.2.1', ttlSeconds: 60, reason: 'x', clientId: 'bwk_test_x' },
      '400 REQUEST_VALIDATION_FAILED',
    ],
    [{ cidr: '192.0.2.1', ttlSeconds: 60, reason: 'x', tenantId: 'nope' }, '400 REQUEST_VALIDATION_FAILED'],
    [{ cidr: '1.2.3.4/40', ttlSeconds: 60, reason: 'x' }, '400 IP_CIDR_INVALID'],
    [{ cidr: '192.0.2.1', ttlSeconds: 60, reason: 'x', tenantId: uuidv7() }, '404 TENANT_NOT_FOUND'],
  ])('refuses the block %j: %s', async (body, expected) => {
    expect(await codeOf(call('POST', '/admin/ip-blocks', body))).toBe(expected);
  });

  it('validates the block list query and ids', async () => {
    expect(await codeOf(call('GET', '/admin/ip-blocks?state=expired'))).toBe('400 REQUEST_VALIDATION_FAILED');
    expect(await codeOf(call('GET', '/admin/ip-blocks?limit=0'))).toBe('400 REQUEST_VALIDATION_FAILED');
    expect(await codeOf(call('GET', '/admin/ip-blocks?after=x'))).toBe('400 REQUEST_VALIDATION_FAILED');
    expect(await codeOf(call('DELETE', '/admin/ip-blocks/not-a-uuid'))).toBe('400 REQUEST_VALIDATION_FAILED');
    expect(await codeOf(call('DELETE', `/admin/ip-blocks/${uuidv7()}`))).toBe('404 IP_BLOCK_NOT_FOUND');
  });
});
