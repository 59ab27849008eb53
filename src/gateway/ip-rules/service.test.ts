import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import { backends } from '../../../test/support/kv-backends.ts';
import type { Database } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/rows.ts';
import { apps, partners, tenants } from '../../platform/db/schema.ts';
import { createMemoryBus, startRelay } from '../../platform/events/index.ts';
import { uuidv7 } from '../../platform/ids.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { clientCidr } from './cidr.ts';
import { createIpRulesEngine, databaseRuleSource, type IpRulesEngine } from './engine.ts';
import { IpRulesError } from './errors.ts';
import { BLOCKS_KEY, GENERATION_KEY } from './mirror.ts';
import { ipBlocks, ipRules } from './schema.ts';
import { IpRulesService, type IpRulesServiceOptions } from './service.ts';
import type { IpDecision, IpScope } from './types.ts';

const OPERATOR = 'operator:test';
const MINUTE = 60;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof IpRulesError) return err.code;
    return `unexpected: ${String(err)}`;
  }
}

describe.each(dbBackends)('ip rules service on $name', (dbBackend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  const tenantA = uuidv7();
  const tenantB = uuidv7();
  const clientA = `bwk_test_${uuidv7().slice(-12)}`;
  const clientB = `bwk_test_${uuidv7().slice(-12)}`;
  const platform: IpScope = { kind: 'platform' };
  const ofTenantA: IpScope = { kind: 'tenant', tenantId: tenantA };
  const ofAppA: IpScope = { kind: 'app', tenantId: tenantA, clientId: clientA };

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(dbBackend));
    await db.asSystem(async (tx) => {
      await tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA.slice(-8)}`, name: 'A' },
        { id: tenantB, slug: `b-${tenantB.slice(-8)}`, name: 'B' },
      ]);
      const [partnerA, partnerB] = [uuidv7(), uuidv7()];
      await tx.insert(partners).values([
        { id: partnerA, tenantId: tenantA, name: 'PA' },
        { id: partnerB, tenantId: tenantB, name: 'PB' },
      ]);
      await tx.insert(apps).values([
        { id: uuidv7(), tenantId: tenantA, partnerId: partnerA, name: 'a', clientId: clientA },
        { id: uuidv7(), tenantId: tenantB, partnerId: partnerB, name: 'b', clientId: clientB },
      ]);
    });
  });
  afterAll(() => dispose());

  describe.each(backends({ realTime: true }))('with KV on $name', (kvBackend) => {
    let kv: Kv;
    let engine: IpRulesEngine;
    let service: IpRulesService;
    const engines: IpRulesEngine[] = [];

    const newEngine = async (options: { kv?: Kv; now?: () => number } = {}) => {
      const k = options.kv ?? kv;
      const e = await createIpRulesEngine({
        source: databaseRuleSource(db, k),
        kv: k,
        ...(options.now ? { now: options.now } : {}),
      });
      engines.push(e);
      return e;
    };
    const newService = (extra: Partial<IpRulesServiceOptions> = {}) =>
      new IpRulesService({ db, kv, engine, ...extra });

    async function platformCheck(e: IpRulesEngine, ip: string): Promise<IpDecision | undefined> {
      if (e.needsSync()) await e.sync();
      return e.checkPlatform(ip);
    }
    async function principalCheck(e: IpRulesEngine, ip: string, tenantId: string, clientId: string) {
      if (e.needsSync()) await e.sync();
      const d = e.checkPrincipal(ip, tenantId, clientId);
      return d instanceof Promise ? await d : d;
    }

    beforeAll(async () => {
      kv = await kvBackend.connect();
      engine = await newEngine();
      service = newService();
    });
    afterEach(async () => {
      await db.asSystem(async (tx) => {
        await tx.delete(ipRules);
        await tx.delete(ipBlocks);
      });
      await kv.del(BLOCKS_KEY);
      await kv.del(GENERATION_KEY);
      // start every test from empty caches
      await engine.rulesChanged(platform);
      await engine.rulesChanged(ofTenantA);
      await engine.sync();
    });
    afterAll(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await kvBackend.close();
    });

    describe('rules', () => {
      it('adds, lists and deletes platform rules, normalising the block, with outbox events', async () => {
        const rule = await service.addRule(
          platform,
          { action: 'deny', cidr: '203.0.113.77/24', note: 'abuse' },
          OPERATOR,
        );
        expect(rule).toMatchObject({
          scope: 'platform',
          action: 'deny',
          cidr: '203.0.113.0/24',
          note: 'abuse',
          createdBy: OPERATOR,
        });
        expect(rule).not.toHaveProperty('tenantId');
        const v6 = await service.addRule(platform, { action: 'deny', cidr: '2001:DB8:0:0::1/48' }, OPERATOR);
        expect(v6.cidr).toBe('2001:db8::/48');
        const mapped = await service.addRule(
          platform,
          { action: 'deny', cidr: '::ffff:198.51.100.0/120' },
          OPERATOR,
        );
        expect(mapped.cidr).toBe('198.51.100.0/24');
        expect((await service.listRules(null)).map((r) => r.id)).toEqual([rule.id, v6.id, mapped.id]);
        // this instance applies it before the call returns
        expect(engine.checkPlatform('203.0.113.5')).toMatchObject({ rule: 'deny', ruleId: rule.id });
        expect(await service.deleteRule(null, rule.id, OPERATOR)).toEqual(rule);
        expect(engine.checkPlatform('203.0.113.5')).toBeUndefined();
        const events = await db.asSystem((tx) =>
          rows<{ topic: string }>(
            tx,
            sql`SELECT topic FROM outbox WHERE payload->'rule'->>'id' = ${rule.id} ORDER BY seq`,
          ),
        );
        expect(events.map((e) => e.topic)).toEqual(['ip_rule.created', 'ip_rule.deleted']);
      });

      it('refuses an invalid block, a duplicate, and a list over its cap', async () => {
        expect(
          await codeOf(service.addRule(platform, { action: 'deny', cidr: '10.0.0.0/33' }, OPERATOR)),
        ).toBe('IP_CIDR_INVALID');
        expect(
          await codeOf(service.addRule(platform, { action: 'deny', cidr: 'fe80::1%eth0' }, OPERATOR)),
        ).toBe('IP_CIDR_INVALID');
        await service.addRule(platform, { action: 'deny', cidr: '10.0.0.0/8' }, OPERATOR);
        // the same block however written
        expect(
          await codeOf(service.addRule(platform, { action: 'deny', cidr: '10.9.9.9/8' }, OPERATOR)),
        ).toBe('IP_RULE_DUPLICATE');
        // the same block in the other list is another rule
        await service.addRule(platform, { action: 'allow', cidr: '10.0.0.0/8' }, OPERATOR);
        const capped = newService({ limits: { rulesPerList: { platform: 2, tenant: 1, app: 1 } } });
        await capped.addRule(platform, { action: 'deny', cidr: '10.1.0.0/16' }, OPERATOR);
        expect(
          await codeOf(capped.addRule(platform, { action: 'deny', cidr: '10.2.0.0/16' }, OPERATOR)),
        ).toBe('IP_LIST_FULL');
        await capped.addRule(ofTenantA, { action: 'deny', cidr: '10.2.0.0/16' }, OPERATOR);
        expect(
          await codeOf(capped.addRule(ofTenantA, { action: 'deny', cidr: '10.3.0.0/16' }, OPERATOR)),
        ).toBe('IP_LIST_FULL');
        // a tenant's cap and its apps' are separate lists
        await capped.addRule(ofAppA, { action: 'deny', cidr: '10.3.0.0/16' }, OPERATOR);
      });

      // Regression guard: lists are capped by counting; two writers must not both pass the count.
      it('holds the cap under concurrent writers', async () => {
        const capped = newService({ limits: { rulesPerList: { platform: 3, tenant: 3, app: 3 } } });
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            codeOf(capped.addRule(ofTenantA, { action: 'deny', cidr: `10.${i}.0.0/16` }, OPERATOR)),
          ),
        );
        expect(results.filter((r) => r === undefined)).toHaveLength(3);
        expect(results.filter((r) => r === 'IP_LIST_FULL')).toHaveLength(5);
      });

      it('scopes tenant rules to an existing tenant, and app rules to an app of that tenant', async () => {
        const tenantRule = await service.addRule(
          ofTenantA,
          { action: 'allow', cidr: '192.0.2.0/24' },
          OPERATOR,
        );
        expect(tenantRule).toMatchObject({ scope: 'tenant', tenantId: tenantA });
        const appRule = await service.addRule(ofAppA, { action: 'deny', cidr: '192.0.2.9' }, OPERATOR);
        expect(appRule).toMatchObject({
          scope: 'app',
          tenantId: tenantA,
          clientId: clientA,
          cidr: '192.0.2.9/32',
        });
        expect((await service.listRules(tenantA)).map((r) => r.id)).toEqual([tenantRule.id, appRule.id]);
        expect((await service.listRules(tenantA, clientA)).map((r) => r.id)).toEqual([appRule.id]);
        expect(await service.listRules(tenantB)).toEqual([]);
        expect(await service.listRules(null)).toEqual([]);
        // another tenant's app is no app of this tenant
        expect(
          await codeOf(
            service.addRule(
              { kind: 'app', tenantId: tenantA, clientId: clientB },
              { action: 'deny', cidr: '192.0.2.1' },
              OPERATOR,
            ),
          ),
        ).toBe('APP_NOT_FOUND');
        expect(await codeOf(service.listRules(tenantA, clientB))).toBe('APP_NOT_FOUND');
        expect(
          await codeOf(
            service.addRule(
              { kind: 'tenant', tenantId: uuidv7() },
              { action: 'deny', cidr: '192.0.2.1' },
              OPERATOR,
            ),
          ),
        ).toBe('TENANT_NOT_FOUND');
        // a tenant deletes only its own rules
        expect(await codeOf(service.deleteRule(tenantB, appRule.id, OPERATOR))).toBe('IP_RULE_NOT_FOUND');
        expect(await codeOf(service.deleteRule(null, appRule.id, OPERATOR))).toBe('IP_RULE_NOT_FOUND');
        await service.deleteRule(tenantA, appRule.id, OPERATOR);
        expect(await codeOf(service.deleteRule(tenantA, appRule.id, OPERATOR))).toBe('IP_RULE_NOT_FOUND');
      });

      // DESIGN invariant 2, second wall: row-level security, whatever the query forgets.
      it('shows a tenant transaction its own rows only, never platform rows, and refuses it others', async () => {
        await service.addRule(platform, { action: 'deny', cidr: '198.51.100.0/24' }, OPERATOR);
        await service.addRule(ofTenantA, { action: 'deny', cidr: '198.51.100.0/24' }, OPERATOR);
        await service.addRule(
          { kind: 'tenant', tenantId: tenantB },
          { action: 'deny', cidr: '198.51.100.0/24' },
          OPERATOR,
        );
        await service.blockIp(platform, '203.0.113.1', MINUTE, 'test', OPERATOR);
        await service.blockIp(ofTenantA, '203.0.113.1', MINUTE, 'test', OPERATOR);
        const seen = await db.withTenant(tenantA, async (tx) => ({
          rules: await rows<{ tenant_id: string | null }>(tx, sql`SELECT tenant_id FROM ip_rules`),
          blocks: await rows<{ tenant_id: string | null }>(tx, sql`SELECT tenant_id FROM ip_blocks`),
        }));
        expect(seen.rules).toEqual([{ tenant_id: tenantA }]);
        expect(seen.blocks).toEqual([{ tenant_id: tenantA }]);
        const insertAs = (tenantId: string | null) =>
          db.withTenant(tenantA, (tx) =>
            tx
              .insert(ipRules)
              .values({ id: uuidv7(), tenantId, action: 'deny', cidr: '192.0.2.0/24', createdBy: 'x' }),
          );
        await expect(insertAs(null)).rejects.toThrow();
        await expect(insertAs(tenantB)).rejects.toThrow();
        const all = await db.asSystem((tx) =>
          rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ip_rules`),
        );
        expect(all).toEqual([{ n: 3 }]);
      });

      it('refuses a platform change that would lock out the address it came from', async () => {
        const from = '198.51.100.10';
        const guard = { guardIp: from };
        expect(
          await codeOf(service.addRule(platform, { action: 'allow', cidr: '192.0.2.0/24' }, OPERATOR, guard)),
        ).toBe('IP_RULE_LOCKOUT');
        expect(
          await codeOf(
            service.addRule(platform, { action: 'deny', cidr: '198.51.100.0/24' }, OPERATOR, guard),
          ),
        ).toBe('IP_RULE_LOCKOUT');
        expect(await codeOf(service.blockIp(platform, from, MINUTE, 'oops', OPERATOR, guard))).toBe(
          'IP_RULE_LOCKOUT',
        );
        // nothing of the refused changes was written
        expect(await service.listRules(null)).toEqual([]);
        expect((await service.listBlocks({ state: 'all', limit: 10 })).items).toEqual([]);
        const mine = await service.addRule(
          platform,
          { action: 'allow', cidr: '198.51.100.0/24' },
          OPERATOR,
          guard,
        );
        await service.addRule(platform, { action: 'allow', cidr: '192.0.2.0/24' }, OPERATOR, guard);
        expect(await codeOf(service.deleteRule(null, mine.id, OPERATOR, guard))).toBe('IP_RULE_LOCKOUT');
        // an IPv4-mapped spelling of the caller is the same caller
        expect(
          await codeOf(
            service.addRule(platform, { action: 'deny', cidr: from }, OPERATOR, {
              guardIp: `::ffff:${from}`,
            }),
          ),
        ).toBe('IP_RULE_LOCKOUT');
        // tenant rules do not guard the admin API, so they are not checked against the operator
        await service.addRule(ofTenantA, { action: 'deny', cidr: from }, OPERATOR);
      });
    });

    describe('temporary blocks', () => {
      it('records a block, mirrors it, and every instance refuses it from the next request on', async () => {
        // another instance: its own KV connection (on Redis), the same database
        const other = await newEngine({ kv: await kvBackend.connect() });
        expect(await platformCheck(other, '203.0.113.50')).toBeUndefined();
        const block = await service.blockIp(
          platform,
          '203.0.113.0/24',
          10 * MINUTE,
          'credential stuffing',
          'detection:login',
        );
        expect(block).toMatchObject({
          scope: 'platform',
          cidr: '203.0.113.0/24',
          reason: 'credential stuffing',
          createdBy: 'detection:login',
        });
        expect(Date.parse(block.expiresAt) - Date.parse(block.createdAt)).toBe(10 * MINUTE * 1000);
        expect(engine.checkPlatform('203.0.113.50')).toMatchObject({
          rule: 'temporary-block',
          ruleId: block.id,
        });
        expect(await platformCheck(other, '203.0.113.50')).toMatchObject({
          rule: 'temporary-block',
          ruleId: block.id,
        });
        expect(await platformCheck(other, '203.0.114.50')).toBeUndefined();

        const revoked = await service.unblock(block.id, OPERATOR);
        expect(revoked).toMatchObject({ id: block.id, revokedBy: OPERATOR });
        expect(engine.checkPlatform('203.0.113.50')).toBeUndefined();
        expect(await platformCheck(other, '203.0.113.50')).toBeUndefined();
        expect(await codeOf(service.unblock(block.id, OPERATOR))).toBe('IP_BLOCK_NOT_FOUND');
        // the history stays
        expect((await service.listBlocks({ state: 'active', limit: 10 })).items).toEqual([]);
        expect((await service.listBlocks({ state: 'all', limit: 10 })).items).toEqual([revoked]);
        const events = await db.asSystem((tx) =>
          rows<{ topic: string }>(
            tx,
            sql`SELECT topic FROM outbox WHERE payload->'block'->>'id' = ${block.id} ORDER BY seq`,
          ),
        );
        expect(events.map((e) => e.topic)).toEqual(['ip_block.created', 'ip_block.revoked']);
      });

      it('stops applying a block at its expiry', async () => {
        let offset = 0;
        const later = await newEngine({ now: () => Date.now() + offset });
        const block = await service.blockIp(
          platform,
          clientCidr('2001:db8:1:2:3:4:5:6')!,
          MINUTE,
          'probe',
          OPERATOR,
        );
        expect(block.cidr).toBe('2001:db8:1:2::/64');
        expect(await platformCheck(later, '2001:db8:1:2::99')).toMatchObject({ rule: 'temporary-block' });
        offset = MINUTE * 1000 + 1;
        expect(await platformCheck(later, '2001:db8:1:2::99')).toBeUndefined();
        // and an expired block is no longer active, nor mirrored after the next write
        const at = Date.parse(block.expiresAt) + 1;
        const future = newService({ now: () => at });
        expect((await future.listBlocks({ state: 'active', limit: 10 })).items).toEqual([]);
        expect(await codeOf(future.unblock(block.id, OPERATOR))).toBe('IP_BLOCK_NOT_FOUND');
      });

      it('applies tenant and app blocks to that tenant’s and app’s principals only', async () => {
        await service.blockIp(ofTenantA, '192.0.2.10', MINUTE, 'tenant asked', OPERATOR);
        const appBlock = await service.blockIp(ofAppA, '192.0.2.20', MINUTE, 'app asked', OPERATOR);
        expect(appBlock).toMatchObject({ scope: 'app', tenantId: tenantA, clientId: clientA });
        expect(await principalCheck(engine, '192.0.2.10', tenantA, clientA)).toMatchObject({
          scope: { kind: 'tenant' },
        });
        expect(await principalCheck(engine, '192.0.2.20', tenantA, clientA)).toMatchObject({
          scope: { kind: 'app' },
        });
        expect(await principalCheck(engine, '192.0.2.20', tenantA, 'bwk_test_other')).toBeUndefined();
        expect(await principalCheck(engine, '192.0.2.10', tenantB, clientB)).toBeUndefined();
        expect(await platformCheck(engine, '192.0.2.10')).toBeUndefined();
        expect(
          await codeOf(
            service.blockIp(
              { kind: 'app', tenantId: tenantB, clientId: clientA },
              '192.0.2.1',
              MINUTE,
              'x',
              OPERATOR,
            ),
          ),
        ).toBe('APP_NOT_FOUND');
      });

      it('refuses a bad block and caps the active set', async () => {
        expect(await codeOf(service.blockIp(platform, '300.1.1.1', MINUTE, 'x', OPERATOR))).toBe(
          'IP_CIDR_INVALID',
        );
        await expect(service.blockIp(platform, '192.0.2.1', 0, 'x', OPERATOR)).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(service.blockIp(platform, '192.0.2.1', 1.5, 'x', OPERATOR)).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(
          service.blockIp(platform, '192.0.2.1', 31 * 86_400, 'x', OPERATOR),
        ).rejects.toBeInstanceOf(RangeError);
        await expect(service.blockIp(platform, '192.0.2.1', MINUTE, ' ', OPERATOR)).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(service.blockIp(platform, '192.0.2.1', MINUTE, 'a\nb', OPERATOR)).rejects.toBeInstanceOf(
          RangeError,
        );
        const capped = newService({
          limits: { blocksPerScope: { platform: 2, tenant: 1, app: 1 }, blocksTotal: 3 },
        });
        await capped.blockIp(platform, '192.0.2.1', MINUTE, 'x', OPERATOR);
        const second = await capped.blockIp(platform, '192.0.2.2', MINUTE, 'x', OPERATOR);
        expect(await codeOf(capped.blockIp(platform, '192.0.2.3', MINUTE, 'x', OPERATOR))).toBe(
          'IP_LIST_FULL',
        );
        await capped.unblock(second.id, OPERATOR);
        await capped.blockIp(platform, '192.0.2.3', MINUTE, 'x', OPERATOR);
        await capped.blockIp(ofTenantA, '192.0.2.4', MINUTE, 'x', OPERATOR);
        expect(await codeOf(capped.blockIp(ofAppA, '192.0.2.5', MINUTE, 'x', OPERATOR))).toBe('IP_LIST_FULL');
      });

      it('rebuilds a lost mirror from the database', async () => {
        await service.blockIp(platform, '203.0.113.9', MINUTE, 'x', OPERATOR);
        await kv.del(BLOCKS_KEY);
        await kv.del(GENERATION_KEY);
        const other = await newEngine({ kv: await kvBackend.connect() });
        expect(await platformCheck(other, '203.0.113.9')).toMatchObject({ rule: 'temporary-block' });
        await kv.del(GENERATION_KEY);
        expect(await platformCheck(engine, '203.0.113.9')).toMatchObject({ rule: 'temporary-block' });
      });

      it('pages through the history, newest first', async () => {
        const made = [];
        for (let i = 1; i <= 5; i++)
          made.push(await service.blockIp(platform, `192.0.2.${i}`, MINUTE, 'x', OPERATOR));
        const first = await service.listBlocks({ state: 'all', limit: 2 });
        expect(first.items.map((b) => b.cidr)).toEqual(['192.0.2.5/32', '192.0.2.4/32']);
        const second = await service.listBlocks({ state: 'all', limit: 2, after: first.nextCursor! });
        expect(second.items.map((b) => b.cidr)).toEqual(['192.0.2.3/32', '192.0.2.2/32']);
        const last = await service.listBlocks({ state: 'all', limit: 2, after: second.nextCursor! });
        expect(last).toEqual({ items: [made[0]], nextCursor: null });
      });
    });

    describe('engine over the database', () => {
      it('applies a tenant’s rules to its principals only, read under its row-level security', async () => {
        await service.addRule(ofTenantA, { action: 'allow', cidr: '10.0.0.0/8' }, OPERATOR);
        await service.addRule(ofAppA, { action: 'deny', cidr: '10.6.6.6' }, OPERATOR);
        expect(await principalCheck(engine, '10.1.1.1', tenantA, clientA)).toBeUndefined();
        expect(await principalCheck(engine, '10.6.6.6', tenantA, clientA)).toMatchObject({ rule: 'deny' });
        expect(await principalCheck(engine, '192.0.2.1', tenantA, clientA)).toMatchObject({
          rule: 'allow-list',
        });
        expect(await principalCheck(engine, '192.0.2.1', tenantB, clientB)).toBeUndefined();
        expect(await principalCheck(engine, '10.6.6.6', tenantB, clientB)).toBeUndefined();
        expect(await platformCheck(engine, '192.0.2.1')).toBeUndefined();
      });

      it('hears rule changes made on another instance through the outbox and the bus', async () => {
        const bus = createMemoryBus();
        const relay = startRelay({ db, bus, pollMs: 60_000 });
        try {
          // The earlier tests' events go out before anyone listens: delivered later, they would
          // drop the listener's cache at a moment of their choosing.
          await relay.drain();
          const listener = await createIpRulesEngine({ source: databaseRuleSource(db, kv), kv, bus });
          engines.push(listener);
          expect(await principalCheck(listener, '192.0.2.1', tenantA, clientA)).toBeUndefined();
          // written by an instance whose engine is not `listener`
          const elsewhere = new IpRulesService({ db, kv });
          await elsewhere.addRule(ofTenantA, { action: 'deny', cidr: '192.0.2.1' }, OPERATOR);
          await elsewhere.addRule(platform, { action: 'deny', cidr: '203.0.113.0/24' }, OPERATOR);
          expect(await principalCheck(listener, '192.0.2.1', tenantA, clientA)).toBeUndefined();
          await relay.drain();
          // The memory bus delivers after publishing returns; a platform event reloads from the database.
          await vi.waitFor(async () => {
            expect(await principalCheck(listener, '192.0.2.1', tenantA, clientA)).toMatchObject({
              rule: 'deny',
            });
            expect(await platformCheck(listener, '203.0.113.1')).toMatchObject({ rule: 'deny' });
          });
        } finally {
          await relay.stop();
          await bus.close();
        }
      });
    });
  });
});
