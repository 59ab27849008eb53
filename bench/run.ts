/**
 * `npm run bench`: throughput and latency of Bulwark routes against bare Fastify serving the same
 * responses, measured in the same run on the same machine, reported as ratios. Not part of the
 * test suite; numbers vary by machine, the ratios much less.
 *
 *   BENCH_SECONDS (default 10)  duration per scenario
 *   BENCH_CONNECTIONS (default 10)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createPrivateKey, type JsonWebKey, randomUUID, sign } from 'node:crypto';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Target {
  child: ChildProcess;
  port: number;
  tenantId: string;
  token: string;
  accessToken?: string;
  dpopPrivateJwk?: JsonWebKey;
}

async function start(kind: 'bare' | 'bulwark', port: number): Promise<Target> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./targets.ts', import.meta.url).pathname, kind, String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const msg = JSON.parse(line) as Omit<Target, 'child' | 'port'> & { ready: boolean };
    if (msg.ready) return { ...msg, child, port };
  }
  throw new Error(`${kind} target did not start`);
}

interface Scenario {
  name: string;
  path: (t: Target) => string;
  headers?: (t: Target) => Record<string, string>;
  /** Per-request headers (a DPoP proof must be fresh for every request). */
  perRequest?: (t: Target) => Promise<(() => Record<string, string>) | undefined>;
}

/**
 * A fresh DPoP proof per request (RFC 9449 §4.2), signed in the load generator as each request is
 * sent: unique jti, the access token hash, method and URL. node:crypto signs ES256 in ~25 µs.
 */
async function dpopProofs(t: Target): Promise<(() => Record<string, string>) | undefined> {
  if (!t.accessToken || !t.dpopPrivateJwk) return undefined;
  const {
    d: _d,
    key_ops: _k,
    ext: _e,
    ...publicJwk
  } = t.dpopPrivateJwk as JsonWebKey & { key_ops?: unknown; ext?: unknown };
  const key = createPrivateKey({ key: t.dpopPrivateJwk, format: 'jwk' });
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const header = b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk });
  const ath = createHash('sha256').update(t.accessToken).digest('base64url');
  const htu = `http://127.0.0.1:${t.port}/v1/me`;
  return () => {
    const input = `${header}.${b64({ htm: 'GET', htu, ath, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString(
      'base64url',
    );
    return { authorization: `DPoP ${t.accessToken}`, dpop: `${input}.${signature}` };
  };
}

const scenarios: Scenario[] = [
  {
    name: 'GET /v1/me (full pipeline: WAF, rate limits, token + DPoP proof verification)',
    path: () => '/v1/me',
    perRequest: dpopProofs,
  },
  { name: 'GET /healthz (public)', path: () => '/healthz' },
  {
    name: 'GET /admin/tenants/:id (auth + DB read)',
    path: (t) => `/admin/tenants/${t.tenantId}`,
    headers: (t) => ({ authorization: `Bearer ${t.token}` }),
  },
];

async function measure(t: Target, s: Scenario) {
  const perRequest = await s.perRequest?.(t);
  const result = await autocannon({
    url: `http://127.0.0.1:${t.port}${s.path(t)}`,
    headers: s.headers?.(t) ?? {},
    connections,
    duration: seconds,
    ...(perRequest
      ? { requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...perRequest() } }) }] }
      : {}),
  });
  if (result.non2xx > 0) {
    throw new Error(`${s.name}: ${result.non2xx} non-2xx answers ${JSON.stringify(result.statusCodeStats)}`);
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill();
});
process.on('uncaughtException', (err) => {
  console.error(err);
  process.exit(1);
});

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
