/**
 * A rate-limit policy file for benchmarks: the shipped policies with limits the load cannot reach,
 * so the whole pipeline runs — rate-limit checks included — without refusing the benchmark.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICIES, type RateLimitPolicy } from '../src/gateway/rate-limit/index.ts';

export function benchRateLimitsFile(): string {
  const file = join(tmpdir(), `bulwark-bench-limits-${process.pid}.json`);
  const scale = (p: RateLimitPolicy) => ({ ...p, limit: p.limit * 100_000, burst: p.burst * 100_000 });
  writeFileSync(
    file,
    JSON.stringify({
      ...DEFAULT_POLICIES,
      base: DEFAULT_POLICIES.base.map(scale),
      plans: Object.fromEntries(Object.keys(DEFAULT_POLICIES.plans).map((plan) => [plan, null])),
      classes: Object.fromEntries(
        Object.entries(DEFAULT_POLICIES.classes).map(([k, c]) => [k, { ...c, limits: c.limits.map(scale) }]),
      ),
    }),
  );
  return file;
}
