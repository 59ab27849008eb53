/**
 * Micro-benchmark of authorization decisions (not part of the test suite):
 *
 *   npx tsx bench/access-micro.ts          (BENCH_ITERATIONS, default 20000)
 *
 * Reports the boot cost of compiling the policies, then the per-decision cost of our authorizer
 * (entities + context built from typed input, preparsed schema and policies, request validation)
 * against, in the same run: Cedar's stateful call with a prebuilt request (the floor), and the
 * stateless `isAuthorized` that parses schema and policies on every call (what compiling at boot
 * saves). Numbers vary by machine; the ratios much less.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  type AuthorizationCall,
  isAuthorized,
  preparsePolicySet,
  preparseSchema,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs';
import { type AccessRequest, compileAuthorizer, decideAccess } from '../src/access/index.ts';

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);

function measure(name: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(2_000, n); i++) fn();
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  samples.sort();
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  const at = (q: number) => samples[Math.min(n - 1, Math.floor(q * n))]!.toFixed(1);
  console.log(
    `${name.padEnd(58)} mean ${mean.toFixed(1).padStart(7)} µs   p50 ${at(0.5).padStart(7)}   p99 ${at(0.99).padStart(7)}`,
  );
}

let t = performance.now();
compileAuthorizer();
console.log(`compile base policies (first, cold):   ${(performance.now() - t).toFixed(1)} ms`);
t = performance.now();
const tenants = Object.fromEntries(
  Array.from({ length: 50 }, (_, i) => [
    `t-${i}`,
    `@id("no-night-payouts") forbid (principal, action == Bulwark::Action::"pay", resource is Bulwark::Claim)
     when { context.time.toTime() >= duration("22h") || context.time.toTime() < duration("6h") };
     @id("office-${i}") forbid (principal, action in Bulwark::Action::"admin", resource)
     unless { context has ip && context.ip.isInRange(ip("10.${i}.0.0/16")) };`,
  ]),
);
const authz = compileAuthorizer({ extraPolicies: tenants });
console.log(`compile base + 50 tenants' policies:    ${(performance.now() - t).toFixed(1)} ms`);
console.log(`policies loaded: ${authz.policies.length}\n`);

const adjuster = {
  type: 'User',
  id: 'u-adj',
  tenant: 't-1',
  roles: ['claims_adjuster'],
  approvalLimits: { EUR: { single: 100_000, multi: 500_000 } },
} as const;
const claim = { type: 'Claim', id: 'c-1', tenant: 't-1', owner: 'u-ph', partner: 'p-1' } as const;
const within: AccessRequest = {
  principal: adjuster,
  action: 'approve',
  resource: claim,
  context: { mfa: 'single', channel: 'console', ip: '10.1.2.3', amount: 50_000, currency: 'EUR' },
};
const crossTenant: AccessRequest = { ...within, resource: { ...claim, tenant: 't-2' } };
const aboveLimit: AccessRequest = { ...within, context: { ...within.context, amount: 200_000 } };
const partnerRead: AccessRequest = {
  principal: { type: 'App', id: 'app-1', tenant: 't-99', partner: 'p-1' },
  action: 'read',
  resource: { type: 'Customer', id: 'cu-1', tenant: 't-99', partner: 'p-1' },
  context: { mfa: 'none', channel: 'api' },
};

measure('isAuthorized: adjuster approves within limit (allow)', iterations, () => authz.isAuthorized(within));
measure('isAuthorized: partner reads own customer (no tenant extras)', iterations, () =>
  authz.isAuthorized(partnerRead),
);
measure('decideAccess: allow (one decision)', iterations, () => decideAccess(authz, within));
measure('decideAccess: other tenant -> not_found (one decision)', iterations, () =>
  decideAccess(authz, crossTenant),
);
measure('decideAccess: above limit -> mfa_required (two decisions)', iterations, () =>
  decideAccess(authz, aboveLimit),
);

// The floor: Cedar's stateful call with the request already in Cedar's JSON form. Built by
// hand here, so it measures Cedar alone.
const schema = readFileSync(new URL('../src/access/schema.cedarschema', import.meta.url), 'utf8');
const policiesDir = new URL('../src/access/policies/', import.meta.url);
const policyText = readdirSync(policiesDir)
  .filter((f) => f.endsWith('.cedar'))
  .map((f) => readFileSync(new URL(f, policiesDir), 'utf8'))
  .join('\n');
const entities: AuthorizationCall['entities'] = [
  {
    uid: { type: 'Bulwark::User', id: 'u-adj' },
    attrs: { tenant: { __entity: { type: 'Bulwark::Tenant', id: 't-1' } }, mfaLevel: 'single' },
    parents: [{ type: 'Bulwark::Role', id: 'claims_adjuster' }],
    tags: { EUR: { single: 100_000, multi: 500_000 } },
  },
  {
    uid: { type: 'Bulwark::Claim', id: 'c-1' },
    attrs: { tenant: { __entity: { type: 'Bulwark::Tenant', id: 't-1' } } },
    parents: [],
  },
];
const context: AuthorizationCall['context'] = {
  mfa: 'single',
  channel: 'console',
  time: { __extn: { fn: 'datetime', arg: new Date().toISOString() } },
  amount: 50_000,
  currency: 'EUR',
};
const call = {
  principal: { type: 'Bulwark::User', id: 'u-adj' },
  action: { type: 'Bulwark::Action', id: 'approve' },
  resource: { type: 'Bulwark::Claim', id: 'c-1' },
  context,
  entities,
};
preparseSchema('bench-schema', schema);
preparsePolicySet('bench-policies', { staticPolicies: policyText });
const floor = { ...call, preparsedSchemaName: 'bench-schema', preparsedPolicySetId: 'bench-policies' };
const stateful = statefulIsAuthorized({ ...floor, validateRequest: true });
if (stateful.type !== 'success' || stateful.response.decision !== 'allow')
  throw new Error('floor not allowed');
measure('floor: Cedar stateful call, prebuilt request, validated', iterations, () =>
  statefulIsAuthorized({ ...floor, validateRequest: true }),
);
measure('floor: Cedar stateful call, prebuilt request, unvalidated', iterations, () =>
  statefulIsAuthorized({ ...floor, validateRequest: false }),
);

const stateless = isAuthorized({
  ...call,
  schema,
  validateRequest: true,
  policies: { staticPolicies: policyText },
});
if (stateless.type !== 'success' || stateless.response.decision !== 'allow')
  throw new Error('baseline not allowed');
measure('baseline: Cedar isAuthorized, parsing per call', Math.max(200, Math.floor(iterations / 50)), () =>
  isAuthorized({ ...call, schema, validateRequest: true, policies: { staticPolicies: policyText } }),
);
