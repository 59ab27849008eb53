/**
 * WAF per-request cost, in-process (no sockets, no Fastify): what `onRequest` + `preParsing` add.
 *
 *   npx tsx bench/waf-micro.ts [--paranoia 1] [--n 50000]
 *
 * Cases: a small clean JSON POST (the common case), the same request with a fresh User-Agent
 * every time (no header cache), a clean GET with a query, and an attack (every rule family runs
 * over a suspicious value). Reports mean µs of CPU per request.
 */
import { compileWaf } from '../src/gateway/waf/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const paranoia = Number(arg('paranoia', '1')) as 1 | 2 | 3 | 4;
const n = Number(arg('n', '50000'));
const t0 = process.hrtime.bigint();
const waf = compileWaf({ paranoia, mode: 'block' });
const bootMs = Number(process.hrtime.bigint() - t0) / 1e6;

const ua =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
const body = JSON.stringify({
  policyId: '0193a5c4-7d2e-7a11-b3f0-5e1c2d3a4b5c',
  amount: { value: 125000, currency: 'EUR' },
  payee: { name: 'Jane Doe', iban: 'DE89370400440532013000' },
  description: 'Water damage in the kitchen, reported 2024-05-03',
});
const post = (agent: string) => ({
  method: 'POST',
  httpVersion: '1.1',
  url: '/v1/claims',
  rawHeaders: [
    'Host',
    'api.bulwark.example',
    'User-Agent',
    agent,
    'Accept',
    'application/json',
    'Content-Type',
    'application/json',
    'Content-Length',
    String(body.length),
    'Authorization',
    'DPoP eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig',
    'DPoP',
    'eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJodG0iOiJQT1NUIn0.sig',
    'Idempotency-Key',
    '0193a5c4-7d2e-7a11-b3f0-5e1c2d3a4b5d',
  ],
});

function bench(name: string, run: (i: number) => void): void {
  for (let i = 0; i < Math.min(5000, n); i++) run(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) run(i);
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  process.stdout.write(`${name.padEnd(48)} ${us.toFixed(2).padStart(8)} µs/request\n`);
}

process.stdout.write(
  `paranoia ${paranoia}: ${waf.rules.length} libddwaf rules, compiled in ${bootMs.toFixed(1)} ms\n`,
);
const json = { contentType: 'application/json', text: body };
bench('clean JSON POST (repeat client)', () => waf.evaluate(post(ua), json, '/v1/claims'));
bench('clean JSON POST (new User-Agent each time)', (i) =>
  waf.evaluate(post(`${ua} r/${i}`), json, '/v1/claims'),
);
bench('clean GET with query', () =>
  waf.evaluate(
    {
      method: 'GET',
      httpVersion: '1.1',
      url: '/v1/claims?status=open&limit=20&cursor=eyJpZCI6NDJ9&sort=-createdAt',
      rawHeaders: ['Host', 'api.bulwark.example', 'User-Agent', ua, 'Accept', 'application/json'],
    },
    undefined,
    '/v1/claims',
  ),
);
const attack = JSON.stringify({
  description: "x' UNION SELECT card_number FROM cards-- <script>alert(1)</script>",
});
bench('attack in JSON body (all families evaluate)', () =>
  waf.evaluate(post(ua), { contentType: 'application/json', text: attack }, '/v1/claims'),
);
waf.dispose();
