import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../src/gateway/rate-limit/index.ts';
import { redisUrl, uniqueName } from './support/backends.ts';
import { freePort, type Running, startBulwark, waitFor } from './support/process.ts';

const RATE_PER_SEC = 50;
const PERIOD_MS = 2_000;
const BURST = 10;

// Two `bulwark serve` processes sharing one Redis: one limit, counted once across both.
describe.skipIf(!redisUrl)('rate limit shared by two instances through Redis', () => {
  const servers: { run: Running; port: number }[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-rl-'));
    const limits = join(dir, 'limits.json');
    writeFileSync(
      limits,
      JSON.stringify({
        ...DEFAULT_POLICIES,
        base: [
          {
            name: 'ip',
            by: ['ip'],
            limit: (RATE_PER_SEC * PERIOD_MS) / 1000,
            periodMs: PERIOD_MS,
            burst: BURST,
          },
        ],
      }),
    );
    const prefix = `${uniqueName('rl')}:`;
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      servers.push({
        port,
        run: startBulwark(['serve', '--port', String(port), '--data-dir', join(dir, `data-${i}`)], {
          NODE_ENV: 'test',
          REDIS_URL: redisUrl,
          BULWARK_KV_PREFIX: prefix,
          BULWARK_RATE_LIMITS_FILE: limits,
          BULWARK_LOG_LEVEL: 'warn',
        }),
      });
    }
    for (const s of servers) {
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status === 200 ? true : undefined),
        // a bound for a loaded machine, not a timing assertion
        120_000,
        `instance ${s.port}: ${s.run.output()}`,
      );
    }
    // Let the allowance spent on the readiness probes refill.
    await new Promise((r) => setTimeout(r, PERIOD_MS));
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) s.run.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.run.exited));
  });

  it('admits what one limit allows, within 2 %, however the load is spread, and lets a client back in', async () => {
    const admitted: number[] = [];
    let refused = 0;
    const start = Date.now();
    const runMs = 4_000;
    await Promise.all(
      Array.from({ length: 16 }, async (_, client) => {
        let i = client;
        while (Date.now() - start < runMs) {
          const res = await fetch(`http://127.0.0.1:${servers[i++ % 2]!.port}/healthz`);
          await res.arrayBuffer();
          if (res.status === 200) admitted.push(Date.now());
          else if (res.status === 429) refused++;
          else throw new Error(`unexpected ${res.status}`);
        }
      }),
    );
    expect(refused).toBeGreaterThan(admitted.length);
    // GCRA: the burst at once, then one every 1/rate seconds, for the time between the first and
    // the last admission (continuous pressure from 16 clients on both instances).
    const span = (admitted.at(-1)! - admitted[0]!) / 1000;
    const ceiling = BURST + Math.floor(span * RATE_PER_SEC) + 1;
    console.log(
      `admitted ${admitted.length} of a GCRA ceiling of ${ceiling} over ${span.toFixed(2)} s; refused ${refused}`,
    );
    expect(admitted.length).toBeLessThanOrEqual(ceiling + 1);
    expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.98));

    // A limited client that waits what Retry-After says gets in again. (At 50/s a slot frees every
    // 20 ms, so first spend the allowance again until a refusal comes.)
    let limited: Response | undefined;
    for (let i = 0; i < 500 && !limited; i++) {
      const res = await fetch(`http://127.0.0.1:${servers[i % 2]!.port}/healthz`);
      await res.arrayBuffer();
      if (res.status === 429) limited = res;
    }
    expect(limited?.status).toBe(429);
    expect(limited!.headers.get('ratelimit-policy')).toContain('"ip"');
    await new Promise((r) => setTimeout(r, Number(limited!.headers.get('retry-after')) * 1000));
    expect((await fetch(`http://127.0.0.1:${servers[1]!.port}/healthz`)).status).toBe(200);
  }, 30_000);
});
