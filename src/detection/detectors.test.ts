import { afterAll, describe, expect, it } from 'vitest';
import { backends } from '../../test/support/kv-backends.ts';
import { createMemoryKv } from '../platform/kv/index.ts';
import { Ewma, SeasonalBaseline } from './baseline.ts';
import {
  bolaEnumeration,
  claimBurst,
  clientVolume,
  credentialStuffing,
  payoutIban,
  tokenNetwork,
  wafNearMiss,
} from './detectors/index.ts';
import type { Detector } from './detectors/types.ts';
import { DetectionFeed } from './feed.ts';
import { accountDigest, networkOf, sourceOf } from './network.ts';
import type { FeedEvent, Finding, ResponseEvent, SignInEvent } from './types.ts';
import { kvWindows } from './windows.ts';

const T = '0195f6b0-0000-7000-8000-000000000001';
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

async function run(detector: Detector, events: FeedEvent[]): Promise<Finding[]> {
  let now = T0;
  const kv = createMemoryKv({ prefix: 'det-test:', now: () => now });
  const feed = new DetectionFeed({ kv, detectors: [detector] });
  const out: Finding[] = [];
  for (const e of events) {
    now = e.at;
    out.push(...(await feed.process(e)));
  }
  await kv.close();
  return out;
}

const signin = (i: number, ip: string, account: string, outcome: SignInEvent['outcome']): SignInEvent => ({
  kind: 'signin',
  at: T0 + i * 10_000,
  tenantId: T,
  ip,
  account,
  outcome,
});

const response = (at: number, extra: Partial<ResponseEvent>): ResponseEvent => ({
  kind: 'response',
  at,
  tenantId: T,
  clientId: 'app_a',
  ip: '198.51.100.7',
  route: '/v1/claims/:claimId',
  method: 'GET',
  status: 200,
  durationMs: 3,
  ...extra,
});

describe('shared windows (KV script)', () => {
  for (const backend of backends()) {
    describe(backend.name, () => {
      afterAll(() => backend.close());
      it('counts entries, distinct members and weights within the window, on every handle alike', async () => {
        const a = kvWindows(await backend.connect());
        const b = kvWindows(await backend.connect());
        const key = `t:${Math.random()}`;
        const add = (w: typeof a, at: number, member: string, weight: number) =>
          w.add({ key, at, windowMs: 60_000, member, weight });
        await add(a, T0, 'x', 1);
        await add(b, T0 + 1_000, 'y', 0);
        await add(a, T0 + 2_000, 'x', 1);
        expect(await add(b, T0 + 3_000, 'z', 2)).toEqual({
          count: 4,
          distinct: 3,
          weight: 4,
          distinctWeighted: 2,
        });
        // Entries older than the window are dropped by the next add.
        expect(await add(a, T0 + 61_500, 'w', 0)).toEqual({
          count: 3,
          distinct: 3,
          weight: 3,
          distinctWeighted: 2,
        });
      });
      it('keeps at most `cap` newest entries', async () => {
        const w = kvWindows(await backend.connect());
        const key = `cap:${Math.random()}`;
        let last = { count: 0, distinct: 0, weight: 0, distinctWeighted: 0 };
        for (let i = 0; i < 10; i++)
          last = await w.add({ key, at: T0 + i, windowMs: 60_000, member: `m${i}`, weight: 1, cap: 4 });
        expect(last).toEqual({ count: 4, distinct: 4, weight: 4, distinctWeighted: 4 });
      });
    });
  }
});

describe('network helpers', () => {
  it('groups IPv4 by /24, IPv6 by /48, sources by address and /64', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2:3::4')).toBe(networkOf('2001:db8:1:ffff::1'));
    expect(networkOf('2001:db8:1::1')).not.toBe(networkOf('2001:db8:2::1'));
    expect(sourceOf('2001:db8:1:2::1')).toBe(sourceOf('2001:db8:1:2::ffff'));
    expect(sourceOf('203.0.113.7')).toBe('203.0.113.7');
  });
  it('names unknown accounts by a tenant-bound digest, never the name', () => {
    const d = accountDigest(T, 'alice');
    expect(d).toMatch(/^acct:[A-Za-z0-9_-]{22}$/);
    expect(d).not.toContain('alice');
    expect(accountDigest('other', 'alice')).not.toBe(d);
  });
});

describe('baselines', () => {
  it('EWMA converges to the mean and variance of a steady stream', () => {
    const e = new Ewma(0.05);
    for (let i = 0; i < 2000; i++) e.update(i % 2 === 0 ? 8 : 12);
    expect(e.mean).toBeGreaterThan(9.5);
    expect(e.mean).toBeLessThan(10.5);
    expect(Math.sqrt(e.variance)).toBeGreaterThan(1.5);
    expect(Math.sqrt(e.variance)).toBeLessThan(2.5);
  });
  it('uses the hour-of-day slot once it has learnt, the overall baseline before', () => {
    const b = new SeasonalBaseline(300_000);
    for (let d = 0; d < 3; d++)
      for (let h = 0; h < 24; h++)
        b.learn(T0 - ((T0 / 3_600_000) % 24) * 3_600_000 + d * 86_400_000 + h * 3_600_000, h < 12 ? 2 : 40);
    const night = b.expect(Date.UTC(2026, 0, 9, 3), 3);
    const day = b.expect(Date.UTC(2026, 0, 9, 15), 3);
    expect(night.basis).toBe('seasonal');
    expect(night.mean).toBeLessThan(5);
    expect(day.mean).toBeGreaterThan(30);
    expect(b.expect(Date.UTC(2026, 0, 9, 15), 10).basis).toBe('overall');
  });
});

describe('credential_stuffing', () => {
  it('raises on many accounts failing from one source, explaining the numbers', async () => {
    const events = Array.from({ length: 6 }, (_, i) => signin(i, '203.0.113.9', `acct:x${i}`, 'failure'));
    const found = await run(credentialStuffing(), events);
    expect(found).toHaveLength(2);
    const f = found[0]!;
    expect(f.subject).toEqual({ type: 'ip', id: '203.0.113.9' });
    expect(f.severity).toBe('high');
    expect(f.explanation.numbers.distinctAccounts).toBe(5);
    expect(f.explanation.why).toContain('5 distinct accounts failed');
    expect(f.context.ip).toBe('203.0.113.9');
  });
  it('raises on one account failing from many networks', async () => {
    const events = ['198.51.100.1', '203.0.113.1', '192.0.2.1', '100.64.0.1'].map((ip, i) =>
      signin(i, ip, 'user:u1', 'failure'),
    );
    const found = await run(
      credentialStuffing(),
      events.map((e) => ({ ...e, userId: 'u1' })),
    );
    expect(found.map((f) => f.subject)).toEqual([{ type: 'user', id: 'u1' }]);
    expect(found[0]!.explanation.numbers.distinctNetworks).toBe(4);
  });
  it('stays quiet for an office NAT where a few people mistype and then sign in', async () => {
    const events: SignInEvent[] = [];
    for (let u = 0; u < 4; u++) {
      events.push(signin(u * 3, '192.0.2.50', `user:u${u}`, 'failure'));
      events.push(signin(u * 3 + 1, '192.0.2.50', `user:u${u}`, 'success'));
    }
    expect(await run(credentialStuffing(), events)).toEqual([]);
  });
});

describe('bola_enumeration', () => {
  it('raises on sequential ids answered 404/403, naming the pattern', async () => {
    const events = Array.from({ length: 16 }, (_, i) =>
      response(T0 + i * 5_000, { objectId: `CLM-${1000 + i}`, status: i % 2 ? 403 : 404 }),
    );
    const found = await run(bolaEnumeration(), events);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.subject).toEqual({ type: 'client', id: 'app_a' });
    expect(found[0]!.explanation.numbers.pattern).toBe('sequential');
    expect(found[0]!.explanation.numbers.missedObjects).toBe(15);
  });
  it('stays quiet for a busy client with a few stale ids', async () => {
    const events = Array.from({ length: 300 }, (_, i) =>
      response(T0 + i * 1_000, { objectId: `id-${i % 50}`, status: i % 40 === 0 ? 404 : 200 }),
    );
    expect(await run(bolaEnumeration(), events)).toEqual([]);
  });
});

describe('client_volume', () => {
  const steady = (from: number, minutes: number, perMinute: number) =>
    Array.from({ length: minutes * perMinute }, (_, i) =>
      response(from + Math.floor((i * 60_000) / perMinute), { objectId: `o${i % 20}` }),
    );
  it('learns a client and raises on a sudden multiple of its volume (scraping)', async () => {
    const learn = steady(T0, 6 * 60, 2);
    const burst = Array.from({ length: 200 }, (_, i) =>
      response(T0 + 6 * 3_600_000 + i * 1_000, { objectId: `new-${i}` }),
    );
    const found = await run(clientVolume(), [...learn, ...burst]);
    expect(found.length).toBeGreaterThan(0);
    const f = found[0]!;
    expect(f.subject).toEqual({ type: 'client', id: 'app_a' });
    expect(f.explanation.what).toContain('Scraping');
    expect(Number(f.explanation.numbers.z)).toBeGreaterThanOrEqual(10);
    expect(Number(f.explanation.numbers.expectedMean)).toBeGreaterThan(8);
  });
  it('never judges a client before its warm-up', async () => {
    const burst = Array.from({ length: 500 }, (_, i) => response(T0 + i * 100, { objectId: `n${i}` }));
    expect(await run(clientVolume(), burst)).toEqual([]);
  });
});

describe('token_network', () => {
  it('raises when one token is used from a second network', async () => {
    const exp = Math.floor(T0 / 1000) + 300;
    const found = await run(tokenNetwork(), [
      response(T0, { tokenId: 'jti-1', tokenExp: exp, userId: 'u1', ip: '198.51.100.7' }),
      response(T0 + 5_000, { tokenId: 'jti-1', tokenExp: exp, userId: 'u1', ip: '198.51.100.99' }),
      response(T0 + 9_000, { tokenId: 'jti-1', tokenExp: exp, userId: 'u1', ip: '203.0.113.5' }),
    ]);
    expect(found).toHaveLength(1);
    expect(found[0]!.subject).toEqual({ type: 'token', id: 'jti-1' });
    expect(found[0]!.context).toMatchObject({ tokenId: 'jti-1', tokenExp: exp, userId: 'u1' });
    expect(found[0]!.explanation.numbers).toMatchObject({
      firstNetwork: '198.51.100.0/24',
      newNetwork: '203.0.113.0/24',
      secondsBetween: 9,
    });
  });
});

describe('business flows', () => {
  const biz = (at: number, topic: string, payload: Record<string, unknown>): FeedEvent => ({
    kind: 'business',
    at,
    tenantId: T,
    topic,
    payload,
  });
  it('payout_iban: unrelated claims paid to one IBAN (blind index), not one claim paid twice', async () => {
    const pay = (i: number, policyId: string) =>
      biz(T0 + i * 60_000, 'payment.created', {
        paymentId: `p${i}`,
        claimId: `c${i}`,
        policyId,
        partnerId: null,
        ibanIndex: 'bi_shared',
      });
    expect(await run(payoutIban(), [pay(1, 'pol1'), pay(2, 'pol1'), pay(3, 'pol2')])).toEqual([]);
    const found = await run(payoutIban(), [pay(1, 'pol1'), pay(2, 'pol2'), pay(3, 'pol3')]);
    expect(found.map((f) => f.subject)).toEqual([{ type: 'iban', id: 'bi_shared' }]);
    expect(found[0]!.explanation.numbers.unrelatedClaims).toBe(3);
  });
  it('claim_burst: claims right after binding, per partner; late claims do not count', async () => {
    const events: FeedEvent[] = [];
    for (let i = 0; i < 3; i++) {
      events.push(
        biz(T0 + i, 'policy.status_changed', { policyId: `pol${i}`, partnerId: 'par1', status: 'bound' }),
      );
      events.push(
        biz(T0 + 3_600_000 + i, 'claim.status_changed', {
          claimId: `c${i}`,
          policyId: `pol${i}`,
          partnerId: 'par1',
          status: 'filed',
        }),
      );
    }
    const found = await run(claimBurst(), events);
    expect(found.map((f) => f.subject)).toEqual([{ type: 'partner', id: 'par1' }]);
    const late = events.map((e) =>
      e.kind === 'business' && e.topic === 'claim.status_changed' ? { ...e, at: e.at + 4 * 86_400_000 } : e,
    );
    expect(await run(claimBurst(), late as FeedEvent[])).toEqual([]);
  });
});

describe('waf_near_miss', () => {
  const waf = (i: number, score: number, ip = '203.0.113.66'): FeedEvent => ({
    kind: 'waf',
    at: T0 + i * 30_000,
    tenantId: null,
    ip,
    route: '/v1/parties',
    action: score >= 5 ? 'block' : 'allow',
    score,
    threshold: 5,
    ruleIds: ['sqli-160'],
  });
  it('adds up sub-threshold scores from one source', async () => {
    const found = await run(
      wafNearMiss(),
      Array.from({ length: 7 }, (_, i) => waf(i, 3)),
    );
    expect(found.map((f) => f.subject)).toEqual([{ type: 'ip', id: '203.0.113.66' }]);
    expect(found[0]!.explanation.numbers).toMatchObject({ nearMisses: 7, scoreSum: 21, blockThreshold: 5 });
  });
  it('ignores blocks (already refused), scattered single near-misses and Host-is-an-IP alone', async () => {
    const events = [
      ...Array.from({ length: 10 }, (_, i) => ({ ...waf(i, 3, '192.0.2.200'), ruleIds: ['protocol-231'] })),
      ...Array.from({ length: 10 }, (_, i) => waf(i, 10)),
      ...Array.from({ length: 10 }, (_, i) => waf(i, 3, `198.51.100.${i}`)),
    ];
    expect(await run(wafNearMiss(), events)).toEqual([]);
  });
});
