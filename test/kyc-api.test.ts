import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kycServiceFor } from '../src/kyc/index.ts';
import type { KycService } from '../src/kyc/service.ts';
import { rows } from '../src/platform/db/rows.ts';
import { apps } from '../src/platform/db/schema.ts';
import {
  type ApiCaller,
  createPerson,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';
import { adminHeaders } from './support/app.ts';

// Customers and identity verification through the real HTTP stack: DPoP-bound tokens of partner
// apps and of people signed in with two factors. The in-process worker is off
// (BULWARK_KYC_WORKER_POLL_MS=0); the test runs the checks itself, so every outcome is deterministic.
describe('partner API: customers and KYC', () => {
  let listening: Listening;
  let kyc: KycService;
  let tenantId: string;
  let partnerId: string;
  let partner: ApiCaller;
  let otherPartner: ApiCaller;
  let foreign: ApiCaller;

  const person = (family: string, extra: Record<string, unknown> = {}) => ({
    kind: 'person',
    name: { given: 'Anna', family },
    dateOfBirth: '1985-04-12',
    email: `${family.toLowerCase()}@example.test`,
    address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
    ...extra,
  });
  const passport = [{ type: 'passport', number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2035-01-01' }];
  const count = async (table: string) =>
    (
      await listening.app.services.db.asSystem((tx) =>
        rows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM ${sql.raw(table)} WHERE tenant_id = ${tenantId}`,
        ),
      )
    )[0]!.n;

  async function onboardAndVerify(caller: ApiCaller, body: object) {
    const created = await caller.call('POST', '/v1/customers', { body });
    expect(created.status).toBe(201);
    const submitted = await caller.call('POST', '/v1/kyc/cases', {
      body: { customerId: created.body.id, documents: passport },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body.status).toBe('submitted');
    await kyc.runPendingChecks();
    const decided = await caller.call('GET', `/v1/kyc/cases/${submitted.body.id}`);
    expect(decided.status).toBe(200);
    return { customer: created.body, kase: decided.body };
  }

  beforeAll(async () => {
    listening = await listeningApp({ BULWARK_KYC_WORKER_POLL_MS: '0' });
    kyc = kycServiceFor(listening.app.services, listening.app.config);
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Onboarding'));
    const scope = 'parties:read parties:write kyc:read kyc:write';
    partner = await partnerApi(listening, { tenantId, partnerId, scope });
    const second = await listening.app.inject({
      method: 'POST',
      url: `/admin/tenants/${tenantId}/partners`,
      headers: adminHeaders,
      payload: { name: 'Second broker' },
    });
    otherPartner = await partnerApi(listening, { tenantId, partnerId: second.json().id, scope });
    const other = await tenantWithPartner(listening.app, 'Elsewhere');
    foreign = await partnerApi(listening, { ...other, scope });
  });
  afterAll(() => listening.app.close());

  it('a sandbox partner onboards customers whose test identities reach each outcome', async () => {
    const outcomes: Record<string, unknown> = {};
    for (const family of ['Approved', 'Review', 'Sanctioned']) {
      const { customer, kase } = await onboardAndVerify(partner, person(family));
      expect(customer).toMatchObject({
        kind: 'person',
        partnerId,
        environment: 'sandbox',
        kycStatus: 'unverified',
      });
      // A partner sees the status, never the compliance findings (AMLD Art. 39: no tipping off).
      expect(kase.riskScore).toBeUndefined();
      expect(kase.checks).toBeUndefined();
      expect(kase.sanctionsHits).toBeUndefined();
      outcomes[family] = kase.status;
      const fresh = await partner.call('GET', `/v1/customers/${customer.id}`);
      expect(fresh.body.kycStatus).toBe(kase.status);
      expect(fresh.body.riskScore).toBeUndefined();
    }
    expect(outcomes).toEqual({ Approved: 'approved', Review: 'needs_review', Sanctioned: 'rejected' });

    const list = await partner.call('GET', '/v1/customers?limit=2');
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    const rest = await partner.call('GET', `/v1/customers?limit=2&after=${list.body.nextCursor}`);
    expect(rest.body.items.length).toBeGreaterThanOrEqual(1);
    const found = await partner.call('POST', '/v1/customers/search', {
      body: { email: 'APPROVED@example.test' },
    });
    expect(found.body.items.map((c: { name: { family: string } }) => c.name.family)).toEqual(['Approved']);
  });

  it('a case that needs review is decided by an underwriter, with findings visible to them only', async () => {
    const { kase } = await onboardAndVerify(partner, person('Review', { email: 'review2@example.test' }));
    expect(kase.status).toBe('needs_review');
    // The partner may not decide.
    const refused = await partner.call('POST', `/v1/kyc/cases/${kase.id}/decision`, {
      body: { decision: 'approved' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('ACCESS_DENIED');

    const person1 = await createPerson(listening, tenantId, ['underwriter']);
    const underwriter = await userApi(listening, {
      tenantId,
      partnerId,
      person: person1,
      scope: 'kyc:read kyc:write',
    });
    const seen = await underwriter.call('GET', `/v1/kyc/cases/${kase.id}`);
    expect(seen.body.riskScore).toBe(50);
    expect(seen.body.checks.map((c: { code: string }) => c.code)).toEqual(['sandbox.review']);
    const decided = await underwriter.call('POST', `/v1/kyc/cases/${kase.id}/decision`, {
      body: { decision: 'approved', reviewerNotes: 'Documents checked by hand.' },
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', reviewerNotes: 'Documents checked by hand.' });
    const audit = await listening.app.services.db.asSystem((tx) =>
      rows<{ action: string; actor_id: string }>(
        tx,
        sql`SELECT action, actor_id FROM audit_log
            WHERE object_id = ${kase.id} AND action IN ('kyc.case.decided', 'kyc.case.reviewed') ORDER BY seq`,
      ),
    );
    expect(audit).toEqual([
      { action: 'kyc.case.decided', actor_id: 'kyc-worker' },
      { action: 'kyc.case.reviewed', actor_id: person1.userId },
    ]);
    const again = await underwriter.call('POST', `/v1/kyc/cases/${kase.id}/decision`, {
      body: { decision: 'rejected' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('KYC_CASE_NOT_REVIEWABLE');
    const events = await listening.app.services.db.asSystem((tx) =>
      rows<{ payload: Record<string, unknown> }>(
        tx,
        sql`SELECT payload FROM outbox WHERE topic = 'kyc.case.decided' AND payload->>'caseId' = ${kase.id} ORDER BY seq`,
      ),
    );
    expect(events.map((e) => e.payload.status)).toEqual(['needs_review', 'approved']);
    expect(Object.keys(events[0]!.payload).sort()).toEqual([
      'caseId',
      'customerId',
      'partnerId',
      'riskScore',
      'status',
    ]);
  });

  it('a live app is screened against the lists: a sanctioned name in Cyrillic is rejected', async () => {
    const live = await partnerApi(listening, {
      tenantId,
      partnerId,
      scope: 'parties:write kyc:write kyc:read',
      name: 'live',
    });
    await listening.app.services.db.asSystem((tx) =>
      tx.update(apps).set({ environment: 'live' }).where(eq(apps.clientId, live.clientId)),
    );
    const { customer, kase } = await onboardAndVerify(
      live,
      person('Санкционов', {
        name: { given: 'Иван', family: 'Санкционов' },
        dateOfBirth: '1970-03-14',
        email: 'ivan@example.test',
      }),
    );
    expect(customer.environment).toBe('live');
    expect(kase.status).toBe('rejected');
  });

  it("hides another partner's and another tenant's customers as not found", async () => {
    const mine = await partner.call('POST', '/v1/customers', {
      body: person('Mine', { email: 'mine@example.test' }),
    });
    for (const [caller, path] of [
      [otherPartner, `/v1/customers/${mine.body.id}`],
      [foreign, `/v1/customers/${mine.body.id}`],
    ] as const) {
      const res = await caller.call('GET', path);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('CUSTOMER_NOT_FOUND');
    }
    const patch = await otherPartner.call('PATCH', `/v1/customers/${mine.body.id}`, {
      body: { phone: '+31612345678' },
    });
    expect(patch.status).toBe(404);
    const kase = await foreign.call('POST', '/v1/kyc/cases', { body: { customerId: mine.body.id } });
    expect(kase.status).toBe(404);
    expect(kase.body.code).toBe('CUSTOMER_NOT_FOUND');
    const list = await otherPartner.call('GET', '/v1/customers');
    expect(list.body.items.map((c: { id: string }) => c.id)).not.toContain(mine.body.id);
  });

  it('a policyholder sees only their own customer record', async () => {
    const holder = await createPerson(listening, tenantId, ['policyholder']);
    const own = await partner.call('POST', '/v1/customers', {
      body: person('Holder', { email: 'holder@example.test', ownerUserId: holder.userId }),
    });
    expect(own.status).toBe(201);
    const api = await userApi(listening, { tenantId, partnerId, person: holder, scope: 'parties:read' });
    const list = await api.call('GET', '/v1/customers');
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([own.body.id]);
    expect((await api.call('GET', `/v1/customers/${own.body.id}`)).status).toBe(200);
    const others = await partner.call('GET', '/v1/customers?limit=1');
    const other = await api.call('GET', `/v1/customers/${others.body.items[0].id}`);
    expect(other.status).toBe(404);
  });

  it('refuses bad input, each with its own code, and writes nothing', async () => {
    const before = [await count('customers'), await count('kyc_cases'), await count('outbox')];
    const cases: [object, number, string][] = [
      [person('Bad', { iban: 'GB82WEST12345698765431' }), 422, 'CUSTOMER_IBAN_INVALID'],
      [
        person('Bad', { nationalId: { country: 'NL', value: '123456789' } }),
        422,
        'CUSTOMER_NATIONAL_ID_INVALID',
      ],
      [person('Bad', { dateOfBirth: '2999-01-01' }), 422, 'CUSTOMER_DATE_OF_BIRTH_INVALID'],
      [person('Bad', { legalName: 'Bad BV' }), 422, 'CUSTOMER_KIND_FIELDS'],
      [person('Bad', { shoeSize: 44 }), 400, 'REQUEST_VALIDATION_FAILED'],
      [person('x'.repeat(101)), 400, 'REQUEST_VALIDATION_FAILED'],
      [person('Bad', { riskScore: 0 }), 400, 'REQUEST_VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await partner.call('POST', '/v1/customers', { body });
      expect([res.status, res.body.code]).toEqual([status, code]);
    }
    // Unknown and oversized fields are named in the problem.
    const unknown = await partner.call('POST', '/v1/customers', { body: person('Bad', { shoeSize: 44 }) });
    expect(unknown.body.errors[0].path).toBe('body/shoeSize');
    // A field the schema knows but this caller may not set (Cedar's field table).
    const mine = await partner.call('POST', '/v1/customers', {
      body: person('Fields', { email: 'fields@example.test' }),
    });
    const forbidden = await partner.call('PATCH', `/v1/customers/${mine.body.id}`, {
      body: { dateOfBirth: '1980-01-01' },
    });
    expect([forbidden.status, forbidden.body.code]).toEqual([403, 'ACCESS_FIELD_NOT_WRITABLE']);
    const badCase = await partner.call('POST', '/v1/kyc/cases', {
      body: { customerId: mine.body.id, documents: [{ ...passport[0], expiresOn: '2001-01-01' }] },
    });
    expect([badCase.status, badCase.body.code]).toEqual([422, 'KYC_DOCUMENT_INVALID']);
    expect([await count('customers'), await count('kyc_cases'), await count('outbox')]).toEqual([
      before[0]! + 1,
      before[1],
      before[2]! + 1,
    ]);
  });
});
