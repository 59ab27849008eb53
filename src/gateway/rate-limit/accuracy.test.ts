/**
 * The accuracy the gateway issue asks for: two limiter instances, as two Bulwark instances would
 * have them (each its own store connection on Redis), and many concurrent clients hammering one
 * limit — admitted requests within ±2 % of the limit per window — and a limited client recovering
 * once it backs off. Real time, since a limit is a rate: about 6 s per backend.
 *
 * Windows are counted on the store's clock (Redis TIME), from the decision time each check returns,
 * and every decision is compared with an ideal single GCRA replayed over the same arrivals: the two
 * instances must decide exactly as one would. A window in which the clients could not keep the
 * limit busy (the test process or Redis starved of CPU for longer than the burst covers) admits less
 * by design — GCRA forfeits idle allowance beyond the burst — so such a window is reported, not
 * held to ±2 %; the exact replay still holds for it.
 *
 * The clients call the limiter directly: HTTP (429, headers) is covered by hooks.test.ts, and an
 * `inject` per request makes enough garbage for GC pauses that measure the load generator instead.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../../test/support/kv-backends.ts';
import type { Kv, KvReply, KvScript, KvScriptArg } from '../../platform/kv/index.ts';
import { decodeReply, emissionIntervalUs, gcraStep, RATE_LIMIT_SCRIPT } from './gcra.ts';
import { createRateLimiter, type RateLimiter, type RateLimitVerdict } from './limiter.ts';
import type { PolicyTable } from './policies.ts';

const LIMIT = 200;
const PERIOD_MS = 2_000;
/** 10 % of the limit: what a rested client may send at once before the steady rate applies. */
const BURST = 20;
const CLIENTS = 20;
/** Each client waits this long between requests: still ~50× the limit offered in all. */
const PAUSE_MS = 1;
/** The burst goes in the first instant; measured windows start after it, in the steady state. */
const WARM_UP_MS = 500;
const WINDOWS = 2;
const TOLERANCE = 0.02;
/** The clients keep going this long after the last window, so its closing edge is hammered too. */
const TAIL_MS = 200;
/** A pause at a window's edge moves at most this many µs' worth of admissions (2 %) across it. */
const EDGE_GAP_US = TOLERANCE * PERIOD_MS * 1000;
/** A pause inside a window forfeits allowance only beyond what the burst stores. */
const INNER_GAP_US = (BURST * PERIOD_MS * 1000) / LIMIT;

const TABLE: PolicyTable = {
  base: [{ name: 'hammered', by: ['client'], limit: LIMIT, periodMs: PERIOD_MS, burst: BURST }],
  classes: {
    default: { limits: [], whenUnavailable: 'local' },
    login: { limits: [], whenUnavailable: 'fail-closed' },
    token: { limits: [], whenUnavailable: 'fail-closed' },
    payment: { limits: [], whenUnavailable: 'fail-closed' },
  },
  plans: { unlimited: null },
  defaultPlan: 'unlimited',
};

interface Decision {
  readonly atUs: number;
  readonly allowed: boolean;
}

/** The store as an instance holds it, noting each rate-limit decision and the store's time of it. */
function recording(kv: Kv, decisions: Decision[]): Kv {
  return {
    kind: kv.kind,
    get: (key) => kv.get(key),
    set: (key, value, options) => kv.set(key, value, options),
    setIfAbsent: (key, value, ttlMs) => kv.setIfAbsent(key, value, ttlMs),
    incr: (key, options) => kv.incr(key, options),
    del: (key) => kv.del(key),
    ttl: (key) => kv.ttl(key),
    compareAndDelete: (key, expected) => kv.compareAndDelete(key, expected),
    ping: () => kv.ping(),
    close: () => kv.close(),
    async script<R extends KvReply>(
      script: KvScript<R>,
      keys: readonly string[],
      args: readonly KvScriptArg[],
    ) {
      const reply = await kv.script(script, keys, args);
      if (script.name === RATE_LIMIT_SCRIPT.name) {
        const outcome = decodeReply(reply as unknown as number[], keys.length);
        decisions.push({ atUs: outcome.atUs, allowed: outcome.allowed });
      }
      return reply;
    },
  };
}

/** The pause in arrivals that spans the instant `t` (sorted arrivals). */
function gapAcross(arrivals: readonly number[], t: number): number {
  const after = arrivals.findIndex((a) => a >= t);
  if (after <= 0) return Number.POSITIVE_INFINITY;
  return arrivals[after]! - arrivals[after - 1]!;
}

function maxGap(arrivals: readonly number[]): number {
  let gap = 0;
  for (let i = 1; i < arrivals.length; i++) gap = Math.max(gap, arrivals[i]! - arrivals[i - 1]!);
  return gap;
}

describe.each(backends({ realTime: true }))('rate-limit accuracy, two instances on $name', (backend) => {
  const limiters: RateLimiter[] = [];
  const decisions: Decision[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      limiters.push(
        createRateLimiter({ kv: recording(await backend.connect(), decisions), policies: TABLE }),
      );
    }
  });
  afterAll(async () => {
    for (const limiter of limiters) await limiter.close();
    await backend.close();
  });

  /** The n-th request, alternating between the two instances. */
  const check = async (n: number, clientId: string): Promise<RateLimitVerdict> => {
    const limiter = limiters[n % limiters.length]!;
    const result = await limiter.check(limiter.policies.forRoute('default'), 'principal', { clientId });
    if (result?.kind !== 'verdict') throw new Error('expected a verdict');
    return result;
  };

  it(`admits ${LIMIT} ± ${TOLERANCE * 100} % per ${PERIOD_MS} ms to ${CLIENTS} concurrent clients, and lets a backed-off client back in`, async () => {
    const clientId = `hammered-${backend.name}-${Date.now()}`;
    await check(0, `${clientId}-warm-up`); // script loaded, code warm: the storm starts at once
    decisions.length = 0;
    const end = performance.now() + WARM_UP_MS + WINDOWS * PERIOD_MS + TAIL_MS;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let n = client; performance.now() < end; n += CLIENTS) {
          await check(n, clientId);
          await sleep(PAUSE_MS);
        }
      }),
    );

    // The store serialises the checks; its clock orders them (a refusal never precedes an admission
    // at the same instant, as the bucket only fills with time).
    const timeline = [...decisions].sort((a, b) => a.atUs - b.atUs || Number(b.allowed) - Number(a.allowed));
    const admitted = timeline.filter((d) => d.allowed);

    // Exactness: one ideal GCRA, fed the same arrivals, admits exactly the same requests.
    const emissionUs = emissionIntervalUs(LIMIT, PERIOD_MS);
    let tat: number | undefined;
    const ideal = timeline.map((d) => {
      const step = gcraStep(tat, d.atUs, emissionUs, BURST, 1);
      if (step.write) tat = step.write.tatUs;
      return step.outcome.allowed;
    });
    expect(timeline.map((d) => d.allowed)).toEqual(ideal);

    const first = timeline[0]!.atUs;
    const arrivals = timeline.map((d) => d.atUs);
    const report: string[] = [];
    for (let w = 0; w < WINDOWS; w++) {
      const from = first + (WARM_UP_MS + w * PERIOD_MS) * 1000;
      const to = from + PERIOD_MS * 1000;
      const count = admitted.filter((d) => d.atUs >= from && d.atUs < to).length;
      const edge = Math.max(gapAcross(arrivals, from), gapAcross(arrivals, to));
      const inner = maxGap(arrivals.filter((t) => t >= from && t < to));
      if (edge <= EDGE_GAP_US && inner <= INNER_GAP_US) {
        expect(Math.abs(count - LIMIT) / LIMIT).toBeLessThanOrEqual(TOLERANCE);
        report.push(`${count}`);
      } else {
        // Not hammered throughout (the test process or Redis went without CPU): GCRA's bound for any
        // window still holds, and so does the exact replay above.
        expect(count).toBeLessThanOrEqual(LIMIT + BURST);
        const gap = Math.round(Math.max(edge, inner) / 1000);
        report.push(`${count} (clients starved of CPU for ${gap} ms: not held to ±2 %)`);
      }
    }
    const refused = timeline.length - admitted.length;
    console.info(
      `[rate-limit accuracy, ${backend.name}] admitted per ${PERIOD_MS} ms window: ${report.join(', ')} ` +
        `(limit ${LIMIT}); ${admitted.length} admitted, ${refused} refused; decisions identical to one ideal GCRA`,
    );
    // The clients were really hammering: refusals outnumber admissions many times over.
    expect(refused).toBeGreaterThan(10 * admitted.length);

    // Right after the storm the client is limited; it backs off for the wait it was given and gets in.
    let limited = await check(0, clientId);
    for (let n = 1; limited.allowed && n < 50; n++) limited = await check(n, clientId);
    expect(limited.allowed).toBe(false);
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(PERIOD_MS / LIMIT);
    // (+2 ms: Node's timers run off a loop clock cached in whole ms, so they can fire up to 1 ms
    // early by Date.now(), the clock of the memory store. HTTP clients wait whole seconds anyway.)
    await sleep(limited.retryAfterMs + 2);
    const back = await check(1, clientId);
    expect(back.allowed).toBe(true);

    // Backing off until the advertised reset gives the whole burst back.
    await sleep(back.resetAfterMs + 2);
    const rested = await check(0, clientId);
    expect(rested).toMatchObject({ allowed: true, remaining: BURST - 1 });
  });
});
