/**
 * IP rules per-request cost, in-process (no sockets, no Fastify, no database): what the `onRequest`
 * and principal hooks add once rules are compiled.
 *
 *   npx tsx bench/ip-rules-micro.ts [--n 200000] [--rules 500] [--blocks 1000]
 *
 * Cases: no rules at all; a full platform deny list of subnets (miss, the common case); many
 * single-address temporary blocks (hash lookups); an IPv6 client; a tenant allow list judged for
 * a principal; the trusted-proxy check; and one whole `sync` + check as the hook runs it on the
 * memory KV. Reports mean µs of CPU per lookup.
 */

import {
  type BlockRecord,
  createIpRulesEngine,
  type IpRulesEngine,
  type RuleRecord,
  trustProxyOption,
} from '../src/gateway/ip-rules/index.ts';
import { writeMirror } from '../src/gateway/ip-rules/mirror.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import { createMemoryKv } from '../src/platform/kv/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const n = Number(arg('n', '200000'));
const ruleCount = Number(arg('rules', '500'));
const blockCount = Number(arg('blocks', '1000'));
const TENANT = '01900000-0000-7000-8000-00000000000a';

const clients4 = Array.from({ length: 1024 }, (_, i) => `198.51.${(i >> 8) & 3}.${i & 255}`);
const clients6 = Array.from({ length: 1024 }, (_, i) => `2001:db9:77::${i.toString(16)}`);

function bench(name: string, run: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(20_000, n); i++) run(i);
  const start = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < n; i++) if (run(i)) hits++;
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  process.stdout.write(`${name.padEnd(56)} ${us.toFixed(3).padStart(8)} µs/lookup  (${hits} refused)\n`);
}

async function benchAsync(name: string, run: (i: number) => Promise<unknown>): Promise<void> {
  const rounds = Math.min(n, 100_000);
  for (let i = 0; i < 10_000; i++) await run(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await run(i);
  const us = Number(process.hrtime.bigint() - start) / rounds / 1000;
  process.stdout.write(`${name.padEnd(56)} ${us.toFixed(3).padStart(8)} µs/request\n`);
}

async function engineWith(rules: RuleRecord[], blocks: BlockRecord[]): Promise<IpRulesEngine> {
  const kv = createMemoryKv({ prefix: `bench-${uuidv7()}:` });
  return createIpRulesEngine({
    kv,
    source: {
      rules: async (tenantId) => rules.filter((r) => r.tenantId === tenantId),
      rebuildBlocks: () => writeMirror(kv, blocks),
    },
  });
}

const rule = (action: 'allow' | 'deny', cidr: string, tenantId: string | null = null): RuleRecord => ({
  id: uuidv7(),
  tenantId,
  clientId: null,
  action,
  cidr,
});

const empty = await engineWith([], []);
bench('no rules, IPv4 client', (i) => empty.checkPlatform(clients4[i & 1023]!));
bench('no rules, IPv6 client', (i) => empty.checkPlatform(clients6[i & 1023]!));

const typical = await engineWith(
  Array.from({ length: 20 }, (_, i) => rule('deny', `10.${i}.0.0/16`)),
  [],
);
bench('20 deny subnets, IPv4 miss', (i) => typical.checkPlatform(clients4[i & 1023]!));

const denySubnets = Array.from({ length: ruleCount }, (_, i) =>
  rule('deny', `10.${(i >> 8) & 255}.${i & 255}.0/24`),
);
const denyV6 = Array.from({ length: Math.min(ruleCount, 200) }, (_, i) =>
  rule('deny', `2001:db8:${i.toString(16)}::/48`),
);
const hostBlocks: BlockRecord[] = Array.from({ length: blockCount }, (_, i) => ({
  id: uuidv7(),
  tenantId: null,
  clientId: null,
  cidr: `203.0.${(i >> 8) & 255}.${i & 255}/32`,
  expiresAt: Date.now() + 3_600_000,
}));
const full = await engineWith([...denySubnets, ...denyV6], hostBlocks);
bench(`${ruleCount} deny subnets + ${blockCount} host blocks, IPv4 miss`, (i) =>
  full.checkPlatform(clients4[i & 1023]!),
);
bench(`${ruleCount} deny subnets + ${blockCount} host blocks, IPv4 blocked`, (i) =>
  full.checkPlatform(`203.0.${(i >> 8) & 3}.${i & 255}`),
);
bench(`${denyV6.length} IPv6 deny subnets, IPv6 miss`, (i) => full.checkPlatform(clients6[i & 1023]!));
bench('IPv4-mapped client (dual-stack listener), miss', (i) =>
  full.checkPlatform(`::ffff:${clients4[i & 1023]}`),
);

const tenantAllow = Array.from({ length: 200 }, (_, i) => rule('allow', `198.51.${i}.0/24`, TENANT));
const tenant = await engineWith(tenantAllow, []);
await tenant.checkPrincipal('198.51.0.1', TENANT, 'app');
bench('principal: tenant allow list of 200 subnets, admitted', (i) =>
  tenant.checkPrincipal(clients4[i & 1023]!, TENANT, 'app'),
);

const trust = trustProxyOption({ trustProxy: ['10.0.0.0/8', '172.16.0.0/12', '2001:db8:1::/48'] });
if (trust) bench('trustProxy check of one hop', (i) => trust(clients4[i & 1023]!, 1));

await benchAsync('hook path: sync (memory KV) + check, no rules', async (i) => {
  if (empty.needsSync()) await empty.sync();
  return empty.checkPlatform(clients4[i & 1023]!);
});

await Promise.all([empty.close(), typical.close(), full.close(), tenant.close()]);
