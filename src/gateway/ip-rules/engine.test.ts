import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { backends } from '../../../test/support/kv-backends.ts';
import { createMemoryBus, type EventBus } from '../../platform/events/index.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import {
  createIpRulesEngine,
  type IpRulesEngine,
  IpRulesUnavailableError,
  type RuleSource,
} from './engine.ts';
import { BLOCKS_KEY, GENERATION_KEY, type MirroredBlocks, writeMirror } from './mirror.ts';
import type { BlockRecord, IpDecision, RuleRecord } from './types.ts';

const TENANT_A = '01900000-0000-7000-8000-00000000000a';
const TENANT_B = '01900000-0000-7000-8000-00000000000b';
const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;

/** Rules and blocks held in memory, standing in for the database. */
class FakeSource implements RuleSource {
  rulesList: RuleRecord[] = [];
  blocks: BlockRecord[] = [];
  reads = new Map<string, number>();
  failRules = false;
  /** When set, the next tenant read waits for it (to change rules while a read is in flight). */
  gate: Promise<void> | undefined;
  /** The same for the next platform read. */
  platformGate: Promise<void> | undefined;

  constructor(
    private readonly kv: () => Kv,
    private readonly now: () => number,
  ) {}

  rule(
    action: 'allow' | 'deny',
    cidr: string,
    tenantId: string | null = null,
    clientId: string | null = null,
  ) {
    const record: RuleRecord = { id: uuidv7(), tenantId, clientId, action, cidr };
    this.rulesList.push(record);
    return record.id;
  }

  block(cidr: string, ttlMs: number, tenantId: string | null = null, clientId: string | null = null) {
    const record: BlockRecord = { id: uuidv7(), tenantId, clientId, cidr, expiresAt: this.now() + ttlMs };
    this.blocks.push(record);
    return record.id;
  }

  async rules(tenantId: string | null): Promise<readonly RuleRecord[]> {
    const key = tenantId ?? 'platform';
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    const snapshot = this.rulesList.filter((r) => r.tenantId === tenantId);
    const gate = tenantId === null ? this.platformGate : this.gate;
    if (tenantId === null) this.platformGate = undefined;
    else this.gate = undefined;
    if (gate) await gate;
    if (this.failRules) throw new Error('database down');
    return snapshot;
  }

  rebuildBlocks(): Promise<MirroredBlocks> {
    return writeMirror(
      this.kv(),
      this.blocks.filter((b) => b.expiresAt > this.now()),
    );
  }
}

async function settle<T>(value: T | Promise<T>): Promise<T> {
  return value instanceof Promise ? await value : value;
}

describe.each(backends())('ip rules engine on $name', (backend) => {
  let clock = T0;
  const now = () => clock;
  let kv: Kv;
  const engines: IpRulesEngine[] = [];

  beforeAll(async () => {
    kv = await backend.connect();
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
    await kv.del(BLOCKS_KEY);
    await kv.del(GENERATION_KEY);
  });
  afterAll(() => backend.close());

  async function engineOn(
    source: FakeSource,
    extra: Partial<Parameters<typeof createIpRulesEngine>[0]> = {},
  ): Promise<IpRulesEngine> {
    const engine = await createIpRulesEngine({ source, kv, now, ...extra });
    engines.push(engine);
    return engine;
  }

  const fresh = () => new FakeSource(() => kv, now);

  /** What a request would meet: the block view brought up to date, then the platform rules. */
  async function platform(engine: IpRulesEngine, ip: string): Promise<IpDecision | undefined> {
    if (engine.needsSync()) await engine.sync();
    return engine.checkPlatform(ip);
  }

  async function principal(engine: IpRulesEngine, ip: string, tenantId: string, clientId = 'app-1') {
    if (engine.needsSync()) await engine.sync();
    return settle(engine.checkPrincipal(ip, tenantId, clientId));
  }

  describe('platform rules', () => {
    it('admits everyone when there are no rules', async () => {
      const engine = await engineOn(fresh());
      expect(await platform(engine, '192.0.2.1')).toBeUndefined();
      expect(await platform(engine, '2001:db8::1')).toBeUndefined();
    });

    it('refuses a denied address and names the rule', async () => {
      const source = fresh();
      const ruleId = source.rule('deny', '203.0.113.0/24');
      const engine = await engineOn(source);
      expect(await platform(engine, '203.0.113.9')).toEqual({
        action: 'block',
        ip: '203.0.113.9',
        scope: { kind: 'platform' },
        rule: 'deny',
        ruleId,
      });
      expect(await platform(engine, '203.0.114.9')).toBeUndefined();
    });

    it('admits only the allow list once there is one', async () => {
      const source = fresh();
      source.rule('allow', '192.0.2.0/24');
      source.rule('allow', '2001:db8::/32');
      const engine = await engineOn(source);
      expect(await platform(engine, '192.0.2.44')).toBeUndefined();
      expect(await platform(engine, '2001:db8:5::1')).toBeUndefined();
      expect(await platform(engine, '198.51.100.1')).toMatchObject({ rule: 'allow-list', ruleId: null });
      expect(await platform(engine, '2001:db9::1')).toMatchObject({ rule: 'allow-list', ruleId: null });
      // an IPv4-only allow list admits no IPv6 client, and an address that is no address is refused
      expect(await platform(engine, 'unknown')).toMatchObject({ rule: 'allow-list' });
    });

    it('lets deny win over allow', async () => {
      const source = fresh();
      source.rule('allow', '192.0.2.0/24');
      const denyId = source.rule('deny', '192.0.2.66');
      const engine = await engineOn(source);
      expect(await platform(engine, '192.0.2.65')).toBeUndefined();
      expect(await platform(engine, '192.0.2.66')).toMatchObject({ rule: 'deny', ruleId: denyId });
    });

    it('judges IPv6 and IPv4-mapped clients', async () => {
      const source = fresh();
      source.rule('deny', '2001:db8:bad::/48');
      source.rule('deny', '192.0.2.0/24');
      const engine = await engineOn(source);
      expect(await platform(engine, '2001:db8:bad:1::1')).toMatchObject({ rule: 'deny' });
      expect(await platform(engine, '2001:db8:bad0::1')).toBeUndefined();
      expect(await platform(engine, '::ffff:192.0.2.7')).toMatchObject({ rule: 'deny', ip: '192.0.2.7' });
    });

    it('reloads when a platform rule event arrives, and keeps the old rules if the reload fails', async () => {
      const bus = createMemoryBus();
      try {
        const source = fresh();
        const engine = await engineOn(source, { bus });
        source.rule('deny', '203.0.113.0/24');
        expect(await platform(engine, '203.0.113.1')).toBeUndefined();
        await publish(bus, null);
        expect(await platform(engine, '203.0.113.1')).toMatchObject({ rule: 'deny' });
        source.failRules = true;
        source.rulesList = [];
        await publish(bus, null);
        expect(await platform(engine, '203.0.113.1')).toMatchObject({ rule: 'deny' });
      } finally {
        await bus.close();
      }
    });

    // Regression guard: the service awaits rulesChanged to apply a change here before it answers.
    it('reads again when a platform change lands while a reload is reading', async () => {
      const source = fresh();
      const engine = await engineOn(source);
      let open: () => void = () => {};
      source.platformGate = new Promise((resolve) => {
        open = resolve;
      });
      const earlier = engine.rulesChanged({ kind: 'platform' });
      await vi.waitFor(() => expect(source.reads.get('platform')).toBe(2));
      const ruleId = source.rule('deny', '203.0.113.0/24');
      const mine = engine.rulesChanged({ kind: 'platform' });
      open();
      await mine;
      expect(engine.checkPlatform('203.0.113.1')).toMatchObject({ rule: 'deny', ruleId });
      await earlier;
    });

    it('refreshes stale rules in the background, serving the old ones meanwhile', async () => {
      const source = fresh();
      const engine = await engineOn(source, { refreshMs: MINUTE });
      source.rule('deny', '203.0.113.0/24');
      expect(await platform(engine, '203.0.113.1')).toBeUndefined();
      clock += MINUTE;
      expect(await platform(engine, '203.0.113.1')).toBeUndefined();
      await tick();
      expect(await platform(engine, '203.0.113.1')).toMatchObject({ rule: 'deny' });
      clock = T0;
    });
  });

  describe('temporary blocks', () => {
    it('refuses a blocked address until the block expires', async () => {
      clock = T0;
      const source = fresh();
      const blockId = source.block('198.51.100.7', 10 * MINUTE);
      const engine = await engineOn(source);
      expect(await platform(engine, '198.51.100.7')).toMatchObject({
        rule: 'temporary-block',
        ruleId: blockId,
      });
      expect(await platform(engine, '198.51.100.8')).toBeUndefined();
      clock += 10 * MINUTE - 1;
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      clock += 1;
      expect(await platform(engine, '198.51.100.7')).toBeUndefined();
      clock = T0;
    });

    it('applies a block written by another instance to the next request', async () => {
      const sourceA = fresh();
      const a = await engineOn(sourceA);
      // another instance: its own KV connection on Redis, the one map in memory
      const kvB = await backend.connect();
      const b = await engineOn(new FakeSource(() => kvB, now), { kv: kvB });
      expect(await platform(b, '198.51.100.9')).toBeUndefined();
      sourceA.block('198.51.100.0/24', MINUTE);
      a.blocksChanged(await sourceA.rebuildBlocks());
      expect(await platform(a, '198.51.100.9')).toMatchObject({ rule: 'temporary-block' });
      expect(await platform(b, '198.51.100.9')).toMatchObject({ rule: 'temporary-block' });
      // and its end too
      sourceA.blocks = [];
      a.blocksChanged(await sourceA.rebuildBlocks());
      expect(await platform(b, '198.51.100.9')).toBeUndefined();
    });

    // Regression guard: a sync that read the set before this instance wrote a newer one must not
    // put the older set back.
    it('keeps a set it wrote itself over one an earlier sync read', async () => {
      const source = fresh();
      let hold: Promise<void> | undefined;
      let held = 0;
      const slow: Kv = Object.create(kv) as Kv;
      slow.get = async (key) => {
        const value = await kv.get(key);
        if (key === BLOCKS_KEY && hold) {
          held++;
          await hold;
        }
        return value;
      };
      const engine = await engineOn(source, { kv: slow });
      // another instance writes a set (without the block to come)
      await writeMirror(kv, []);
      let open: () => void = () => {};
      hold = new Promise((resolve) => {
        open = resolve;
      });
      const syncing = engine.sync();
      await vi.waitFor(() => expect(held).toBe(1));
      // meanwhile this instance blocks an address and adopts its own, newer set
      source.block('198.51.100.7', MINUTE);
      engine.blocksChanged(await source.rebuildBlocks());
      open();
      await syncing;
      expect(engine.checkPlatform('198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      hold = undefined;
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
    });

    it('rebuilds a mirror the store lost from the source of truth', async () => {
      const source = fresh();
      source.block('198.51.100.7', MINUTE);
      const engine = await engineOn(source);
      await kv.del(BLOCKS_KEY);
      await kv.del(GENERATION_KEY);
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      expect(await kv.get(GENERATION_KEY)).toBeDefined();
      // a generation whose document is gone, or a document that is not ours, is rebuilt too
      await kv.set(GENERATION_KEY, 'other');
      await kv.del(BLOCKS_KEY);
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      await kv.set(GENERATION_KEY, 'other-again');
      await kv.set(BLOCKS_KEY, JSON.stringify({ v: 1, generation: 'x', blocks: [{ id: 'nope' }] }));
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
    });

    it('keeps the last known blocks while the store is unreachable, and says so once', async () => {
      const source = fresh();
      source.block('198.51.100.7', MINUTE);
      const broken: Kv = Object.create(kv) as Kv;
      let down = false;
      broken.get = (key) => (down ? Promise.reject(new Error('connection refused')) : kv.get(key));
      const logger = { warn: vi.fn(), error: vi.fn() };
      const engine = await engineOn(source, { kv: broken, logger });
      down = true;
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      expect(await platform(engine, '198.51.100.7')).toMatchObject({ rule: 'temporary-block' });
      expect(logger.error).toHaveBeenCalledTimes(1);
      down = false;
      await platform(engine, '198.51.100.7');
      expect(logger.warn).toHaveBeenCalledTimes(1);
    });

    it('shares one KV read among requests in flight, and skips it within maxStalenessMs', async () => {
      const source = fresh();
      const counting: Kv = Object.create(kv) as Kv;
      let reads = 0;
      counting.get = (key) => {
        reads++;
        return kv.get(key);
      };
      const strict = await engineOn(source, { kv: counting });
      reads = 0;
      await Promise.all(Array.from({ length: 20 }, () => strict.sync()));
      expect(reads).toBe(1);
      const relaxed = await engineOn(source, { kv: counting, maxStalenessMs: 1_000 });
      reads = 0;
      expect(relaxed.needsSync()).toBe(false);
      clock += 1_000;
      expect(relaxed.needsSync()).toBe(true);
      clock = T0;
    });
  });

  describe('tenant and app rules', () => {
    it('apply only to the principals of their tenant, and app rules only to that app', async () => {
      const source = fresh();
      const tenantDeny = source.rule('deny', '203.0.113.0/24', TENANT_A);
      const appDeny = source.rule('deny', '198.51.100.0/24', TENANT_A, 'app-1');
      const engine = await engineOn(source);
      expect(await principal(engine, '203.0.113.5', TENANT_A)).toEqual({
        action: 'block',
        ip: '203.0.113.5',
        scope: { kind: 'tenant', tenantId: TENANT_A },
        rule: 'deny',
        ruleId: tenantDeny,
      });
      expect(await principal(engine, '198.51.100.5', TENANT_A, 'app-1')).toEqual({
        action: 'block',
        ip: '198.51.100.5',
        scope: { kind: 'app', tenantId: TENANT_A, clientId: 'app-1' },
        rule: 'deny',
        ruleId: appDeny,
      });
      expect(await principal(engine, '198.51.100.5', TENANT_A, 'app-2')).toBeUndefined();
      expect(await principal(engine, '203.0.113.5', TENANT_B)).toBeUndefined();
      // and never to requests judged by the platform rules alone
      expect(await platform(engine, '203.0.113.5')).toBeUndefined();
    });

    it('requires both the tenant and the app allow list, and deny wins at every level', async () => {
      const source = fresh();
      source.rule('allow', '10.0.0.0/8', TENANT_A);
      source.rule('allow', '10.1.0.0/16', TENANT_A, 'app-1');
      source.rule('deny', '10.1.2.3', TENANT_A, 'app-1');
      source.rule('deny', '10.9.9.9', TENANT_A);
      source.rule('allow', '10.9.9.9', TENANT_A, 'app-2');
      const engine = await engineOn(source);
      expect(await principal(engine, '10.1.2.2', TENANT_A, 'app-1')).toBeUndefined();
      expect(await principal(engine, '10.2.0.1', TENANT_A, 'app-1')).toMatchObject({
        rule: 'allow-list',
        scope: { kind: 'app' },
      });
      expect(await principal(engine, '192.0.2.1', TENANT_A, 'app-1')).toMatchObject({
        rule: 'allow-list',
        scope: { kind: 'tenant' },
      });
      expect(await principal(engine, '10.1.2.3', TENANT_A, 'app-1')).toMatchObject({ rule: 'deny' });
      // the app's allow list cannot lift the tenant's deny
      expect(await principal(engine, '10.9.9.9', TENANT_A, 'app-2')).toMatchObject({
        rule: 'deny',
        scope: { kind: 'tenant' },
      });
      // an app without rules of its own has the tenant's
      expect(await principal(engine, '10.2.0.1', TENANT_A, 'app-3')).toBeUndefined();
    });

    it('apply tenant and app blocks to that tenant and app only', async () => {
      const source = fresh();
      const tenantBlock = source.block('192.0.2.10', MINUTE, TENANT_A);
      const appBlock = source.block('192.0.2.20', MINUTE, TENANT_A, 'app-1');
      const engine = await engineOn(source);
      expect(await principal(engine, '192.0.2.10', TENANT_A, 'app-2')).toMatchObject({
        rule: 'temporary-block',
        ruleId: tenantBlock,
        scope: { kind: 'tenant' },
      });
      expect(await principal(engine, '192.0.2.20', TENANT_A, 'app-1')).toMatchObject({
        rule: 'temporary-block',
        ruleId: appBlock,
        scope: { kind: 'app' },
      });
      expect(await principal(engine, '192.0.2.20', TENANT_A, 'app-2')).toBeUndefined();
      expect(await principal(engine, '192.0.2.10', TENANT_B)).toBeUndefined();
      expect(await platform(engine, '192.0.2.10')).toBeUndefined();
    });

    it('loads a tenant once, answers synchronously after that, and reloads on its event', async () => {
      const bus = createMemoryBus();
      try {
        const source = fresh();
        const engine = await engineOn(source, { bus });
        await Promise.all([
          principal(engine, '192.0.2.1', TENANT_A),
          principal(engine, '192.0.2.2', TENANT_A),
        ]);
        expect(source.reads.get(TENANT_A)).toBe(1);
        expect(engine.checkPrincipal('192.0.2.1', TENANT_A, 'app-1')).toBeUndefined();
        source.rule('deny', '192.0.2.1', TENANT_A);
        await publish(bus, TENANT_B);
        expect(engine.checkPrincipal('192.0.2.1', TENANT_A, 'app-1')).toBeUndefined();
        await publish(bus, TENANT_A);
        expect(await principal(engine, '192.0.2.1', TENANT_A)).toMatchObject({ rule: 'deny' });
        expect(source.reads.get(TENANT_A)).toBe(2);
      } finally {
        await bus.close();
      }
    });

    // Regression guard: a change committed while a load was reading must not be lost to the cache.
    it('reads again when the rules change while a load is in flight', async () => {
      const source = fresh();
      const engine = await engineOn(source);
      let open: () => void = () => {};
      source.gate = new Promise((resolve) => {
        open = resolve;
      });
      const pending = principal(engine, '192.0.2.1', TENANT_A);
      await vi.waitFor(() => expect(source.reads.get(TENANT_A)).toBe(1));
      source.rule('deny', '192.0.2.1', TENANT_A);
      await engine.rulesChanged({ kind: 'tenant', tenantId: TENANT_A });
      open();
      expect(await pending).toMatchObject({ rule: 'deny' });
      expect(engine.checkPrincipal('192.0.2.1', TENANT_A, 'app-1')).toMatchObject({ rule: 'deny' });
    });

    it('refuses to judge (unavailable) when a tenant’s rules cannot be loaded', async () => {
      const source = fresh();
      const engine = await engineOn(source, { logger: { warn: vi.fn(), error: vi.fn() } });
      source.failRules = true;
      await expect(principal(engine, '192.0.2.1', TENANT_A)).rejects.toBeInstanceOf(IpRulesUnavailableError);
      source.failRules = false;
      expect(await principal(engine, '192.0.2.1', TENANT_A)).toBeUndefined();
    });

    it('keeps a bounded number of tenants', async () => {
      const source = fresh();
      const engine = await engineOn(source, { maxCachedTenants: 1 });
      await principal(engine, '192.0.2.1', TENANT_A);
      await principal(engine, '192.0.2.1', TENANT_B);
      expect(engine.checkPrincipal('192.0.2.1', TENANT_B, 'app-1')).toBeUndefined();
      expect(engine.checkPrincipal('192.0.2.1', TENANT_A, 'app-1')).toBeInstanceOf(Promise);
    });
  });
});

async function publish(bus: EventBus, tenantId: string | null): Promise<void> {
  await bus.publish({
    id: uuidv7(),
    topic: 'ip_rule.created',
    tenantId,
    payload: {},
    occurredAt: new Date().toISOString(),
  });
  // The memory bus delivers after the publisher returns (never inside its transaction); let it run.
  for (let i = 0; i < 5; i++) await tick();
}

describe('ip rules engine options', () => {
  it('refuses nonsense settings', async () => {
    const kv = createMemoryKv({ prefix: 'opts:' });
    const source: RuleSource = { rules: async () => [], rebuildBlocks: () => writeMirror(kv, []) };
    await expect(createIpRulesEngine({ source, kv, refreshMs: 0 })).rejects.toThrow(/refreshMs/);
    await expect(createIpRulesEngine({ source, kv, maxStalenessMs: -1 })).rejects.toThrow(/maxStalenessMs/);
    await kv.close();
  });
});
