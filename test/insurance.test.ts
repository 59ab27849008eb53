import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers } from '../src/kyc/schema.ts';
import { rows } from '../src/platform/db/rows.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import {
  type ApiCaller,
  admin,
  createPerson,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';

// Products, policies and claims through the real HTTP stack: DPoP-bound tokens of a partner app,
// and people signed in with password + TOTP (a multi-factor session) through the partner's web app.
const SCOPES = 'policies:read policies:write claims:read claims:write';
const IBAN = 'DE89370400440532013000';
const today = () => new Date().toISOString().slice(0, 10);
const key = () => ({ 'idempotency-key': randomUUID() });

describe('insurance over /v1', () => {
  let listening: Listening;
  let tenantId: string;
  let partnerId: string;
  let partner: ApiCaller;
  let productId: string;
  let holder: ApiCaller;
  let otherHolder: ApiCaller;
  let adjuster: ApiCaller;
  let adjusterId: string;
  let customerId: string;
  let policyId: string;
  let claimId: string;

  /** A customer row as KYC keeps it (the fixture the CustomerLookup reads). */
  async function customer(ownerUserId: string | null, partner = partnerId, tenant = tenantId) {
    const id = uuidv7();
    await listening.app.services.db.withTenant(tenant, (tx) =>
      tx.insert(customers).values({
        id,
        tenantId: tenant,
        partnerId: partner,
        ownerUserId,
        kind: 'person',
        environment: 'sandbox',
        dataEnc: 'fixture',
      }),
    );
    return id;
  }

  const countClaims = async () =>
    (
      await listening.app.services.db.asSystem((tx) =>
        rows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM insurance_claims WHERE tenant_id = ${tenantId}`,
        ),
      )
    )[0]!.n;

  const claimBody = (extra: Record<string, unknown> = {}) => ({
    policyId,
    incidentDate: today(),
    amountClaimed: 40_000,
    currency: 'EUR',
    description: 'Water damage in the kitchen',
    payeeName: 'Robin Holder',
    payeeIban: IBAN,
    ...extra,
  });

  beforeAll(async () => {
    listening = await listeningApp();
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Insure'));
    partner = await partnerApi(listening, { tenantId, partnerId, scope: SCOPES });
    productId = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
        name: 'Home contents',
        lineOfBusiness: 'home',
        currency: 'EUR',
        premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
        coverLimit: 500_000,
      })
    ).id;
    const holderPerson = await createPerson(listening, tenantId, ['policyholder']);
    const otherPerson = await createPerson(listening, tenantId, ['policyholder']);
    const adjusterPerson = await createPerson(listening, tenantId, ['claims_adjuster']);
    adjusterId = adjusterPerson.userId;
    holder = await userApi(listening, { tenantId, partnerId, person: holderPerson, scope: SCOPES });
    otherHolder = await userApi(listening, { tenantId, partnerId, person: otherPerson, scope: SCOPES });
    adjuster = await userApi(listening, { tenantId, partnerId, person: adjusterPerson, scope: SCOPES });
    customerId = await customer(holderPerson.userId);
  }, 120_000);
  afterAll(() => listening?.app.close());

  it('a partner quotes and binds a policy; the schedule comes with it', async () => {
    const quoted = await partner.call('POST', '/v1/policies', {
      body: { customerId, productId, startDate: today(), coverAmount: 300_000 },
    });
    expect(quoted.status).toBe(201);
    expect(quoted.body).toMatchObject({
      status: 'quoted',
      premiumAmount: 12_600,
      partnerId,
      premiumSchedule: [],
    });
    policyId = quoted.body.id;

    expect((await partner.call('POST', `/v1/policies/${policyId}/bind`)).body.code).toBe(
      'IDEMPOTENCY_KEY_MISSING',
    );
    const headers = key();
    const bound = await partner.call('POST', `/v1/policies/${policyId}/bind`, { headers });
    expect(bound.status).toBe(200);
    expect(bound.body.status).toBe('active');
    expect(bound.body.premiumSchedule).toHaveLength(12);
    expect(bound.body.premiumSchedule.reduce((s: number, i: { amount: number }) => s + i.amount, 0)).toBe(
      12_600,
    );
    // A retry with the same key replays; binding again with a new key is a conflict.
    const replay = await partner.call('POST', `/v1/policies/${policyId}/bind`, { headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await partner.call('POST', `/v1/policies/${policyId}/bind`, { headers: key() })).body.code).toBe(
      'POLICY_INVALID_TRANSITION',
    );
    // The policyholder sees their policy.
    expect((await holder.call('GET', `/v1/policies/${policyId}`)).body.status).toBe('active');
  });

  it('a partner cannot set read-only fields: ACCESS_FIELD_NOT_WRITABLE, nothing written', async () => {
    const before = await countClaims();
    const res = await partner.call('POST', '/v1/claims', {
      body: claimBody({ status: 'approved', approvedAmount: 40_000 }),
      headers: key(),
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ACCESS_FIELD_NOT_WRITABLE');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body/approvedAmount',
      'body/status',
    ]);
    const quote = await partner.call('POST', '/v1/policies', {
      body: { customerId, productId, startDate: today(), premiumAmount: 1 },
    });
    expect(quote.body.code).toBe('ACCESS_FIELD_NOT_WRITABLE');
    expect(await countClaims()).toBe(before);
  });

  it('bad input: each its own 4xx code, nothing written', async () => {
    const before = await countClaims();
    const cases: [Record<string, unknown>, number, string][] = [
      [claimBody({ payeeIban: 'DE89370400440532013001' }), 400, 'CLAIM_PAYEE_IBAN_INVALID'],
      [claimBody({ amountClaimed: 10.5 }), 400, 'REQUEST_VALIDATION_FAILED'],
      [claimBody({ amountClaimed: -1 }), 400, 'REQUEST_VALIDATION_FAILED'],
      [claimBody({ description: 'x'.repeat(4001) }), 400, 'REQUEST_VALIDATION_FAILED'],
      [claimBody({ surprise: true }), 400, 'REQUEST_VALIDATION_FAILED'],
      [claimBody({ currency: 'USD' }), 422, 'CLAIM_CURRENCY_MISMATCH'],
      [claimBody({ currency: 'EURO' }), 400, 'REQUEST_VALIDATION_FAILED'],
      [claimBody({ incidentDate: '2999-01-01' }), 422, 'CLAIM_INCIDENT_DATE_INVALID'],
      [claimBody({ policyId: uuidv7() }), 422, 'CLAIM_POLICY_NOT_FOUND'],
    ];
    for (const [body, status, code] of cases) {
      const res = await partner.call('POST', '/v1/claims', { body, headers: key() });
      expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    }
    const noKey = await partner.call('POST', '/v1/claims', { body: claimBody() });
    expect(noKey.body.code).toBe('IDEMPOTENCY_KEY_MISSING');
    expect(await countClaims()).toBe(before);
  });

  it('a partner files a claim; an adjuster with authority approves it in a multi-factor session', async () => {
    const filed = await partner.call('POST', '/v1/claims', { body: claimBody(), headers: key() });
    expect(filed.status).toBe(201);
    claimId = filed.body.id;
    expect(filed.body).toMatchObject({ status: 'fnol', amountClaimed: 40_000, payeeIban: IBAN });
    // Fraud signals are not shown to the partner (no tipping off).
    expect(filed.body.fraudSignals).toBeUndefined();
    expect(filed.body.fraudReview).toBeUndefined();

    // Authority through the admin API: 10,000 single-factor, 50,000 after step-up.
    const authority = await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/adjusters/${adjusterId}/authority`,
      { limits: { EUR: { single: 10_000, multi: 50_000 } } },
    );
    expect(authority).toEqual({ userId: adjusterId, limits: { EUR: { single: 10_000, multi: 50_000 } } });

    // The partner may not move the workflow.
    expect((await partner.call('POST', `/v1/claims/${claimId}/triage`)).body.code).toBe('ACCESS_DENIED');
    expect((await adjuster.call('POST', `/v1/claims/${claimId}/triage`)).body.status).toBe('triage');
    const assessed = await adjuster.call('POST', `/v1/claims/${claimId}/assessment`);
    expect(assessed.body.status).toBe('assessment');
    // Filed on the policy's first day: the early-claim signal put it under review.
    expect(assessed.body.fraudReview).toBe(true);
    expect(assessed.body.fraudSignals.map((s: { code: string }) => s.code)).toContain('early_claim');
    const blocked = await adjuster.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 40_000 },
      headers: key(),
    });
    expect(blocked.body.code).toBe('CLAIM_FRAUD_REVIEW_OPEN');
    const cleared = await adjuster.call('POST', `/v1/claims/${claimId}/fraud-review/clear`, {
      body: { note: 'Plumber invoice checked' },
    });
    expect(cleared.body.fraudReview).toBe(false);

    const approved = await adjuster.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 40_000 },
      headers: key(),
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approvedAmount: 40_000, adjusterId });
  });

  it('above the adjuster’s authority is refused', async () => {
    const big = await partner.call('POST', '/v1/claims', {
      body: claimBody({ amountClaimed: 60_000, payeeIban: 'GB82WEST12345698765432' }),
      headers: key(),
    });
    const id = big.body.id;
    await adjuster.call('POST', `/v1/claims/${id}/triage`);
    await adjuster.call('POST', `/v1/claims/${id}/assessment`);
    await adjuster.call('POST', `/v1/claims/${id}/fraud-review/clear`, { body: { note: 'ok' } });
    const refused = await adjuster.call('POST', `/v1/claims/${id}/approve`, {
      body: { amount: 50_001 },
      headers: key(),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('ACCESS_DENIED');
    expect((await adjuster.call('GET', `/v1/claims/${id}`)).body.status).toBe('assessment');
  });

  it('a policyholder reads their own claim; another policyholder gets 404', async () => {
    const mine = await holder.call('GET', `/v1/claims/${claimId}`);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({
      id: claimId,
      status: 'approved',
      description: 'Water damage in the kitchen',
    });
    expect(mine.body.fraudSignals).toBeUndefined();
    expect(mine.body.adjusterNotes).toBeUndefined();
    const theirs = await otherHolder.call('GET', `/v1/claims/${claimId}`);
    expect(theirs.status).toBe(404);
    expect(theirs.body.code).toBe('CLAIM_NOT_FOUND');
    expect((await otherHolder.call('GET', '/v1/claims')).body.items).toEqual([]);
    expect((await holder.call('GET', '/v1/claims')).body.items.map((c: { id: string }) => c.id)).toContain(
      claimId,
    );
    // The policyholder cannot approve.
    const approve = await holder.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 1 },
      headers: key(),
    });
    expect(approve.status).toBe(403);
  });

  it('documents: metadata registered and listed; the filename is encrypted at rest', async () => {
    const doc = await holder.call('POST', `/v1/claims/${claimId}/documents`, {
      body: {
        filename: 'invoice-plumber.pdf',
        mediaType: 'application/pdf',
        size: 12_345,
        sha256: 'ab'.repeat(32),
      },
    });
    expect(doc.status).toBe(201);
    expect(doc.body).toMatchObject({ filename: 'invoice-plumber.pdf', uploadedBy: { type: 'user' } });
    const bad = await holder.call('POST', `/v1/claims/${claimId}/documents`, {
      body: { filename: 'scans/invoice.pdf', mediaType: 'application/pdf', size: 1, sha256: 'ab'.repeat(32) },
    });
    expect(bad.body.code).toBe('REQUEST_VALIDATION_FAILED');
    const list = await partner.call('GET', `/v1/claims/${claimId}/documents`);
    expect(list.body.items).toHaveLength(1);
    const [raw] = await listening.app.services.db.asSystem((tx) =>
      rows<{ filename_enc: string }>(
        tx,
        sql`SELECT filename_enc FROM insurance_claim_documents WHERE id = ${doc.body.id}`,
      ),
    );
    expect(raw!.filename_enc).not.toContain('invoice');
  });

  it('another tenant’s partner gets 404 for this tenant’s policy and claim', async () => {
    const other = await tenantWithPartner(listening.app, 'Elsewhere');
    const stranger = await partnerApi(listening, { ...other, scope: SCOPES });
    const claim = await stranger.call('GET', `/v1/claims/${claimId}`);
    expect({ status: claim.status, code: claim.body.code }).toEqual({ status: 404, code: 'CLAIM_NOT_FOUND' });
    const policy = await stranger.call('GET', `/v1/policies/${policyId}`);
    expect({ status: policy.status, code: policy.body.code }).toEqual({
      status: 404,
      code: 'POLICY_NOT_FOUND',
    });
    const quote = await stranger.call('POST', '/v1/policies', {
      body: { customerId, productId, startDate: today() },
    });
    expect(quote.body.code).toBe('POLICY_CUSTOMER_NOT_FOUND');
    const filed = await stranger.call('POST', '/v1/claims', { body: claimBody(), headers: key() });
    expect(filed.body.code).toBe('CLAIM_POLICY_NOT_FOUND');
  });
});
