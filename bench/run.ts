/**
 * `npm run bench`: throughput and latency of Bulwark routes against bare Fastify serving the same
 * responses, measured in the same run on the same machine, reported as ratios. Not part of the
 * test suite; numbers vary by machine, the ratios much less.
 *
 *   BENCH_SECONDS (default 10)  duration per scenario
 *   BENCH_CONNECTIONS (default 10)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Target {
  child: ChildProcess;
  port: number;
  tenantId: string;
  token: string;
}

async function start(kind: 'bare' | 'bulwark', port: number): Promise<Target> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./targets.ts', import.meta.url).pathname, kind, String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const msg = JSON.parse(line) as { ready: boolean; tenantId: string; token: string };
    if (msg.ready) return { child, port, tenantId: msg.tenantId, token: msg.token };
  }
  throw new Error(`${kind} target did not start`);
}

interface Scenario {
  name: string;
  path: (t: Target) => string;
  headers?: (t: Target) => Record<string, string>;
}

const scenarios: Scenario[] = [
  { name: 'GET /healthz (public)', path: () => '/healthz' },
  {
    name: 'GET /admin/tenants/:id (auth + DB read)',
    path: (t) => `/admin/tenants/${t.tenantId}`,
    headers: (t) => ({ authorization: `Bearer ${t.token}` }),
  },
];

async function measure(t: Target, s: Scenario) {
  const result = await autocannon({
    url: `http://127.0.0.1:${t.port}${s.path(t)}`,
    headers: s.headers?.(t) ?? {},
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0) throw new Error(`${s.name}: ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const rows: string[] = [];
for (const s of scenarios) {
  const bare = await start('bare', 18701);
  const b = await measure(bare, s);
  bare.child.kill();
  const bulwark = await start('bulwark', 18702);
  const w = await measure(bulwark, s);
  bulwark.child.kill();
  rows.push(
    `| ${s.name} | ${b.rps.toFixed(0)} | ${w.rps.toFixed(0)} | ${(w.rps / b.rps).toFixed(2)}× | ${b.p50}/${b.p99} | ${w.p50}/${w.p99} |`,
  );
}
console.log(`\n${seconds}s per scenario, ${connections} connections\n`);
console.log('| scenario | bare req/s | bulwark req/s | ratio | bare p50/p99 ms | bulwark p50/p99 ms |');
console.log('|---|--:|--:|--:|--:|--:|');
for (const r of rows) console.log(r);
process.exit(0);
