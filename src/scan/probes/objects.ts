/**
 * Object-, property- and function-level authorization (API1, API3, API5): other tenants, partners
 * and people try partner A's objects; callers try to set or see fields beyond their role; partner
 * and person tokens try the admin face.
 */
import { type Actor, type Probe, type ScanContext, Skip, type Trace, verdictOf } from '../context.ts';
import type { HttpResponse } from '../http.ts';

const person = (family: string, extra: Record<string, unknown> = {}) => ({
  kind: 'person',
  name: { given: 'Scan', family },
  dateOfBirth: '1985-04-12',
  email: `${family.toLowerCase()}@scan.bulwark.invalid`,
  address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
  ...extra,
});

/** A customer partner A onboarded: the object the other actors try to reach. */
export function customerOfA(ctx: ScanContext, trace: Trace): Promise<string> {
  return ctx.fixture('customerA', async () => {
    const a = await trace.need('partnerA');
    const res = await trace.call(a, 'POST', '/v1/customers', { body: person('Target') });
    if (res.status !== 201) throw new Skip(`partner A could not create a customer (${res.status})`);
    return (res.json as { id: string }).id;
  });
}

const foreignRead = async (
  trace: Trace,
  actor: Actor,
  id: string,
  problems: string[],
  also: { patch?: boolean; list?: boolean } = {},
) => {
  const s = await trace.need(actor);
  const expect404 = (res: HttpResponse, what: string) => {
    if (res.status === 404) return;
    if (res.status === 403) problems.push(`${what} answered 403: the object's existence leaks`);
    else problems.push(`${what} answered ${res.status}, not 404`);
  };
  expect404(await trace.call(s, 'GET', `/v1/customers/${id}`), `${s.label} reading it`);
  if (also.patch)
    expect404(
      await trace.call(s, 'PATCH', `/v1/customers/${id}`, { body: { phone: '+31612345678' } }),
      `${s.label} changing it`,
    );
  if (also.list) {
    const list = await trace.call(s, 'GET', '/v1/customers?limit=100');
    const ids = ((list.json as { items?: { id: string }[] } | undefined)?.items ?? []).map((c) => c.id);
    if (ids.includes(id)) problems.push(`${s.label} sees it in its list`);
  }
};

const FIX_BOLA =
  'Check every object access against the caller (tenant, partner, owner) in the handler or policy, and answer a foreign object exactly like a missing one (404).';

export const objectProbes: readonly Probe[] = [
  {
    id: 'api1-cross-tenant-object',
    category: 'API1',
    severity: 'critical',
    title: "Another tenant's partner cannot read, change or list a customer",
    fix: FIX_BOLA,
    async run(ctx, trace) {
      const id = await customerOfA(ctx, trace);
      const problems: string[] = [];
      await foreignRead(trace, 'partnerB', id, problems, { patch: true, list: true });
      return verdictOf(problems);
    },
  },
  {
    id: 'api1-cross-partner-object',
    category: 'API1',
    severity: 'high',
    title: "Another partner of the same tenant cannot read, change or list a partner's customer",
    fix: FIX_BOLA,
    async run(ctx, trace) {
      const id = await customerOfA(ctx, trace);
      const problems: string[] = [];
      await foreignRead(trace, 'partnerA2', id, problems, { patch: true, list: true });
      return verdictOf(problems);
    },
  },
  {
    id: 'api1-cross-user-object',
    category: 'API1',
    severity: 'high',
    title: "A policyholder reads their own customer record and not someone else's",
    fix: FIX_BOLA,
    async run(ctx, trace) {
      const holder = await trace.need('policyholder');
      const a = await trace.need('partnerA');
      const other = await customerOfA(ctx, trace);
      const me = await trace.call(holder, 'GET', '/v1/me');
      const userId = (me.json as { subject?: string } | undefined)?.subject;
      if (me.status !== 200 || !userId) throw new Skip(`the policyholder cannot call /v1/me (${me.status})`);
      const own = await trace.call(a, 'POST', '/v1/customers', {
        body: person('Holder', { ownerUserId: userId }),
      });
      if (own.status !== 201)
        throw new Skip(`partner A could not create the policyholder's record (${own.status})`);
      const problems: string[] = [];
      const ownId = (own.json as { id: string }).id;
      const mine = await trace.call(holder, 'GET', `/v1/customers/${ownId}`);
      if (mine.status !== 200)
        throw new Skip(`the policyholder cannot read their own record (${mine.status}); nothing to compare`);
      const theirs = await trace.call(holder, 'GET', `/v1/customers/${other}`);
      if (theirs.status !== 404) problems.push(`another person's record answered ${theirs.status}, not 404`);
      const list = await trace.call(holder, 'GET', '/v1/customers?limit=100');
      const ids = ((list.json as { items?: { id: string }[] } | undefined)?.items ?? []).map((c) => c.id);
      if (ids.some((i) => i !== ownId)) problems.push('the policyholder lists records that are not theirs');
      return verdictOf(problems);
    },
  },
  {
    id: 'api3-write-beyond-role',
    category: 'API3',
    severity: 'high',
    title: 'A partner cannot set server-set or insurer-only fields (mass assignment)',
    fix: 'Declare closed request schemas (additionalProperties: false) and check each written field against the role (a field-level allow-list).',
    async run(ctx, trace) {
      const a = await trace.need('partnerA');
      const problems: string[] = [];
      for (const extra of [
        { kycStatus: 'approved' },
        { riskScore: 0 },
        { partnerId: a.ids.partnerId },
        { id: crypto.randomUUID() },
      ]) {
        const res = await trace.call(a, 'POST', '/v1/customers', {
          body: person('Assign', extra),
          what: `POST /v1/customers with ${Object.keys(extra)[0]} as ${a.label}`,
        });
        if (res.status < 400)
          problems.push(`creating a customer with ${Object.keys(extra)[0]} was accepted (${res.status})`);
      }
      const id = await customerOfA(ctx, trace);
      const dob = await trace.call(a, 'PATCH', `/v1/customers/${id}`, {
        body: { dateOfBirth: '1970-01-01' },
        what: `PATCH /v1/customers/{id} dateOfBirth (insurer-only once created) as ${a.label}`,
      });
      if (dob.status < 400) problems.push(`a partner changed the verified date of birth (${dob.status})`);
      return verdictOf(problems);
    },
  },
  {
    id: 'api3-read-beyond-role',
    category: 'API3',
    severity: 'medium',
    title: 'Responses carry no fields beyond the role and no secrets',
    fix: 'Serialize through a per-role response schema (allow-list); never return whole records, key material or hashes.',
    async run(ctx, trace) {
      const a = await trace.need('partnerA');
      const id = await customerOfA(ctx, trace);
      const res = await trace.call(a, 'GET', `/v1/customers/${id}`);
      if (res.status !== 200) throw new Skip(`partner A cannot read its own customer (${res.status})`);
      const problems: string[] = [];
      const body = res.json as Record<string, unknown>;
      // Compliance findings are for the insurer's compliance staff only (no tipping-off, AMLD Art. 39).
      for (const f of ['riskScore', 'pep', 'sanctionsHits'])
        if (f in body) problems.push(`a partner sees the compliance field ${f}`);
      const secretish = secretKeys(body);
      if (secretish.length) problems.push(`secret-like fields in the response: ${secretish.join(', ')}`);
      const me = await trace.call(a, 'GET', '/v1/me');
      const meKeys = secretKeys(me.json);
      if (meKeys.length) problems.push(`secret-like fields in /v1/me: ${meKeys.join(', ')}`);
      return verdictOf(problems);
    },
  },
  {
    id: 'api5-admin-unauthenticated',
    category: 'API5',
    severity: 'critical',
    title: 'The admin API refuses requests without credentials',
    fix: 'Authenticate every admin route (bind the admin face to operators with MFA); no route may be reachable anonymously.',
    async run(_ctx, trace) {
      const problems: string[] = [];
      for (const [method, path] of [
        ['GET', '/admin/tenants'],
        ['POST', '/admin/tenants'],
        ['GET', '/admin/audit'],
        ['GET', '/admin/metrics'],
      ] as const) {
        const res = await trace.raw(path, {
          method,
          ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
        });
        if (res.status !== 401 && res.status !== 403)
          problems.push(`${method} ${path} answered ${res.status}`);
      }
      return verdictOf(problems);
    },
  },
  {
    id: 'api5-admin-with-partner-token',
    category: 'API5',
    severity: 'critical',
    title: "A partner app's or a policyholder's token does not open the admin API",
    fix: 'Issue admin tokens for the admin resource only (audience), and check the caller is an operator with the function-level permission.',
    async run(ctx, trace) {
      const problems: string[] = [];
      for (const actor of ['partnerA', 'policyholder'] as const) {
        const s = await ctx.session(actor);
        if (!s) continue;
        for (const [method, path] of [
          ['GET', '/admin/tenants'],
          ['GET', `/admin/tenants/${s.ids.tenantId}/users`],
        ] as const) {
          const res = await trace.call(s, method, path);
          if (res.status !== 401 && res.status !== 403)
            problems.push(`${method} ${path} with ${s.label}'s token answered ${res.status}`);
        }
      }
      if (trace.evidence.length === 0)
        throw new Skip('the credentials file names no partner app or policyholder');
      return verdictOf(problems);
    },
  },
];

const SECRET_KEY = /(secret|password|passwd|private|hash|ciphertext|blind|salt|totp|api[-_]?key|^d$)/i;
/** Keys anywhere in `v` whose name suggests key material or credentials. */
export function secretKeys(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => secretKeys(x, `${path}[${i}]`));
  if (typeof v !== 'object' || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => [
    ...(SECRET_KEY.test(k) ? [`${path}${path ? '.' : ''}${k}`] : []),
    ...secretKeys(x, `${path}${path ? '.' : ''}${k}`),
  ]);
}
