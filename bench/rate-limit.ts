/**
 * Micro-benchmark of the rate limiter: µs per check through the hooks' path (policy lookup, key
 * digests, one atomic script), on the memory store, and on Redis when REDIS_URL is set — sequential
 * (latency) and with 32 checks in flight (throughput). Not part of the test suite.
 *
 *   npx tsx bench/rate-limit.ts [iterations]
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/rate-limit.ts
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRateLimiter, DEFAULT_POLICIES, type RateLimiter } from '../src/gateway/rate-limit/index.ts';
import { createMemoryKv, createRedisKv, type Kv } from '../src/platform/kv/index.ts';

const iterations = Number(process.argv[2] ?? 20_000);

async function measure(name: string, n: number, inFlight: number, op: (i: number) => Promise<unknown>) {
  for (let i = 0; i < Math.min(n, 1_000); i++) await op(i); // warm-up (JIT, script cache)
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) await op(next++);
    }),
  );
  const ms = performance.now() - start;
  const us = (ms * 1000) / n;
  console.log(
    `${name.padEnd(52)} ${us.toFixed(2).padStart(8)} µs/check  ${Math.round((n / ms) * 1000)
      .toString()
      .padStart(7)} checks/s`,
  );
}

async function run(kind: string, kv: Kv): Promise<void> {
  const limiter: RateLimiter = createRateLimiter({ kv, policies: DEFAULT_POLICIES });
  const route = limiter.policies.forRoute('default');
  // Distinct clients and addresses, as real traffic has: every check creates or updates its own keys.
  const ip = (i: number) => `2001:db8:${(i % 5_000).toString(16)}::1`;
  const principal = (i: number) => ({
    clientId: `client-${i % 1_000}`,
    userId: `user-${i % 5_000}`,
    tenantId: `tenant-${i % 50}`,
    route: 'POST /v1/payments',
    plan: 'growth',
  });
  for (const inFlight of [1, 32]) {
    await measure(`${kind}: per-IP stage (1 policy), ${inFlight} in flight`, iterations, inFlight, (i) =>
      limiter.check(route, 'ip', { ip: ip(i) }),
    );
    await measure(
      `${kind}: per-principal stage (4 policies + quota), ${inFlight} in flight`,
      iterations,
      inFlight,
      (i) => limiter.check(route, 'principal', { ip: ip(i), ...principal(i) }),
    );
  }
  await limiter.close();
}

console.log(`node ${process.version}, ${iterations} checks per line\n`);
const memory = createMemoryKv({ prefix: 'bench-rl:' });
await run('memory', memory);
await memory.close();
if (process.env.REDIS_URL) {
  const prefix = `bench-rl-${Date.now()}:`;
  const redis = await createRedisKv({ url: process.env.REDIS_URL, prefix });
  await run('redis', redis);
  await redis.close();
  // The quota counters would otherwise stay until the end of the month.
  const raw = new Redis(process.env.REDIS_URL);
  for await (const keys of raw.scanStream({ match: `${prefix}*`, count: 1_000 })) {
    if ((keys as string[]).length > 0) await raw.unlink(...(keys as string[]));
  }
  await raw.quit();
}
