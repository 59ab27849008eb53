import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../../test/support/backends.ts';
import { backends } from '../../../test/support/kv-backends.ts';
import type { Kv } from '../../platform/kv/index.ts';
import {
  decodeReply,
  emissionIntervalUs,
  encodeSpecs,
  gcraStep,
  type LimitSpec,
  quotaStep,
  RATE_LIMIT_SCRIPT,
  UTC_MONTH_LUA,
  utcMonth,
} from './gcra.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0) * 1000;

/** Drives gcraStep like the store would: keeps the TAT it asks to write. */
function bucket(limit: number, periodMs: number, burst: number) {
  const emission = emissionIntervalUs(limit, periodMs);
  let tat: number | undefined;
  return {
    emission,
    hit(nowUs: number) {
      const step = gcraStep(tat, nowUs, emission, burst, 1);
      if (step.write) tat = step.write.tatUs;
      return step.outcome;
    },
  };
}

describe('gcraStep', () => {
  it('admits the burst at once, then refuses with the wait for one emission interval', () => {
    const b = bucket(10, 1_000, 3); // T = 100 ms
    expect([1, 2, 3].map(() => b.hit(NOW))).toEqual([
      { allowed: true, remaining: 2, resetAfterMs: 100, retryAfterMs: 0 },
      { allowed: true, remaining: 1, resetAfterMs: 200, retryAfterMs: 0 },
      { allowed: true, remaining: 0, resetAfterMs: 300, retryAfterMs: 0 },
    ]);
    expect(b.hit(NOW)).toEqual({ allowed: false, remaining: 0, resetAfterMs: 300, retryAfterMs: 100 });
    expect(b.hit(NOW + 40_000)).toEqual({
      allowed: false,
      remaining: 0,
      resetAfterMs: 260,
      retryAfterMs: 60,
    });
  });

  it('admits a steady rate of exactly L per P once the burst is spent', () => {
    const b = bucket(200, 2_000, 20); // T = 10 ms
    let now = NOW;
    for (let i = 0; i < 20; i++) expect(b.hit(now).allowed).toBe(true);
    // Offered 10 requests per interval for 2 s: exactly one per interval gets through.
    let admitted = 0;
    for (let tick = 0; tick < 2_000; tick++) {
      now += 1_000; // 1 ms
      for (let i = 0; i < 10; i++) if (b.hit(now).allowed) admitted++;
    }
    expect(admitted).toBe(200);
  });

  // Regression guard: if refusals were charged, a client hammering while limited would never recover.
  it('does not charge refused requests', () => {
    const b = bucket(10, 1_000, 2);
    b.hit(NOW);
    b.hit(NOW);
    for (let i = 0; i < 1_000; i++) expect(b.hit(NOW + i).allowed).toBe(false);
    expect(b.hit(NOW + 100_000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('gives the full burst back once the client has backed off for burst × T', () => {
    const b = bucket(10, 1_000, 5);
    for (let i = 0; i < 5; i++) b.hit(NOW);
    const limited = b.hit(NOW);
    expect(limited.allowed).toBe(false);
    expect(limited.resetAfterMs).toBe(500);
    const back = NOW + limited.resetAfterMs * 1000;
    expect(b.hit(back)).toMatchObject({ allowed: true, remaining: 4 });
  });

  it('never needs state for a rested key: the TAT expires when it falls behind the clock', () => {
    const step = gcraStep(undefined, NOW, 100_000, 3, 1);
    expect(step.write).toEqual({ tatUs: NOW + 100_000, ttlMs: 100 });
    expect(gcraStep(NOW - 5_000_000, NOW, 100_000, 3, 1).outcome.remaining).toBe(2);
  });

  it('rounds the emission interval to whole microseconds, never to zero', () => {
    expect(emissionIntervalUs(7, 60_000)).toBe(8_571_429);
    expect(emissionIntervalUs(10_000_000, 1_000)).toBe(1);
  });
});

describe('quotaStep and utcMonth', () => {
  const at = (y: number, m: number, d = 1, h = 0) => Date.UTC(y, m, d, h);

  it('finds the UTC calendar month and its end, across year ends and leap days', () => {
    expect(utcMonth(at(2025, 0, 31, 23))).toEqual({ index: 2025 * 12, endMs: at(2025, 1) });
    expect(utcMonth(at(2025, 11, 31, 23))).toEqual({ index: 2025 * 12 + 11, endMs: at(2026, 0) });
    expect(utcMonth(at(2024, 1, 29, 12))).toEqual({ index: 2024 * 12 + 1, endMs: at(2024, 2) });
    expect(utcMonth(at(2024, 2) - 1).index).toBe(2024 * 12 + 1);
  });

  it('counts admitted requests up to the limit, and waits until the month ends after that', () => {
    const now = at(2025, 3, 30, 12);
    let stored: string | undefined;
    for (let i = 0; i < 3; i++) {
      const step = quotaStep(stored, now, 3, 1);
      expect(step.outcome).toMatchObject({ allowed: true, remaining: 2 - i });
      expect(step.write?.ttlMs).toBe(12 * 3_600_000);
      stored = step.write?.value;
    }
    expect(quotaStep(stored, now, 3, 1)).toEqual({
      outcome: { allowed: false, remaining: 0, resetAfterMs: 12 * 3_600_000, retryAfterMs: 12 * 3_600_000 },
    });
  });

  it("starts from zero in a new month even if last month's counter is still there", () => {
    const stored = `${2025 * 12 + 3}:3`;
    expect(quotaStep(stored, at(2025, 4, 1), 3, 1).outcome).toMatchObject({ allowed: true, remaining: 2 });
    expect(quotaStep('garbage', at(2025, 4, 1), 3, 1).outcome).toMatchObject({ allowed: true, remaining: 2 });
  });
});

describe.each(backends())('rate-limit script on $name', (backend) => {
  let kv: Kv;
  const run = async (specs: LimitSpec[]) => {
    kv ??= await backend.connect();
    const { keys, args } = encodeSpecs(specs);
    return decodeReply(await kv.script(RATE_LIMIT_SCRIPT, keys, args), specs.length);
  };
  afterAll(() => backend.close());

  const gcra = (key: string, burst: number): LimitSpec => ({
    kind: 'gcra',
    key,
    emissionUs: emissionIntervalUs(10, 1_000),
    burst,
    cost: 1,
  });

  it('admits the burst, refuses the next with a wait of at most one interval, admits again after it', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await run([gcra('g1', 3)]));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.slice(0, 3).map((r) => r.keys[0]!.remaining)).toEqual([2, 1, 0]);
    const refused = results[3]!.keys[0]!;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    expect(refused.resetAfterMs).toBeGreaterThan(200);
    expect(refused.resetAfterMs).toBeLessThanOrEqual(300);
    await backend.advance(refused.retryAfterMs + 5);
    expect((await run([gcra('g1', 3)])).allowed).toBe(true);
  });

  it('charges no key when one of them refuses, and every key when all admit', async () => {
    expect((await run([gcra('open', 5), gcra('shut', 1)])).allowed).toBe(true);
    const refused = await run([gcra('open', 5), gcra('shut', 1)]);
    expect(refused.allowed).toBe(false);
    expect(refused.keys.map((k) => k.allowed)).toEqual([true, false]);
    // `open` was charged once (by the admitted request), not by the refused one.
    expect((await run([gcra('open', 5)])).keys[0]!.remaining).toBe(3);
  });

  it('counts the monthly quota only for admitted requests', async () => {
    const quota: LimitSpec = { kind: 'quota', key: 'q1', limit: 2, cost: 1 };
    expect((await run([quota, gcra('qg', 1)])).keys[0]).toMatchObject({ allowed: true, remaining: 1 });
    // The rate limit refuses this one: the quota must not count it.
    expect((await run([quota, gcra('qg', 1)])).allowed).toBe(false);
    expect((await run([quota])).keys[0]).toMatchObject({ allowed: true, remaining: 0 });
    const over = (await run([quota])).keys[0]!;
    expect(over.allowed).toBe(false);
    const { endMs } = utcMonth(Date.now());
    if (backend.name === 'redis') {
      expect(Math.abs(over.retryAfterMs - (endMs - Date.now()))).toBeLessThan(5_000);
      expect(over.resetAfterMs).toBe(over.retryAfterMs);
    }
  });
});

describe.runIf(redisUrl)('utc_month in Lua', () => {
  // The Lua calendar cannot use a date library; check it against Date over many instants.
  it('agrees with Date on month index and month end, 1970–2400', async () => {
    const raw = new Redis(redisUrl!);
    try {
      const instants = [
        0,
        Date.UTC(2000, 1, 29, 23, 59, 59, 999),
        Date.UTC(2100, 2, 1) - 1,
        Date.UTC(2400, 1, 29),
      ];
      for (let ms = Date.UTC(1970, 0, 1); ms < Date.UTC(2400, 0, 1); ms += 86_400_000 * 13 + 3_600_001) {
        instants.push(ms);
      }
      const lua = `${UTC_MONTH_LUA}
local out = {}
for i, v in ipairs(ARGV) do
  local index, month_end = utc_month(tonumber(v))
  out[#out + 1] = index
  out[#out + 1] = month_end
end
return out`;
      const reply = (await raw.eval(lua, 0, ...instants)) as number[];
      const expected = instants.flatMap((ms) => {
        const m = utcMonth(ms);
        return [m.index, m.endMs];
      });
      expect(reply).toEqual(expected);
    } finally {
      await raw.quit();
    }
  });
});
