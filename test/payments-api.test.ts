import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers } from '../src/kyc/schema.ts';
import { LedgerService } from '../src/ledger/service.ts';
import { rows } from '../src/platform/db/rows.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import {
  type ApiCaller,
  admin,
  createPerson,
  type Listening,
  listeningApp,
  type Person,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';

// Mandates, premium collections and claim payouts through the real HTTP stack: a partner app's
// DPoP-bound token, an adjuster and a policyholder signed in with password + TOTP, the real SCA
// service, ledger, insurance and the simulated rail (whose answers the sandbox control forces).
const SCOPES = 'payments:read payments:write policies:read policies:write claims:read claims:write';
const IBAN = 'DE89370400440532013000';
const today = () => new Date().toISOString().slice(0, 10);
const key = () => ({ 'idempotency-key': randomUUID() });

describe('payments over /v1', () => {
  let listening: Listening;
  let tenantId: string;
  let partnerId: string;
  let partner: ApiCaller;
  let holderPerson: Person;
  let adjuster: ApiCaller;
  let customerId: string;
  let policyId: string;
  let mandateId: string;

  const db = () => listening.app.services.db;
  const count = async (table: string, tenant = tenantId) =>
    (
      await db().asSystem((tx) =>
        rows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE tenant_id = ${tenant}`,
        ),
      )
    )[0]!.n;
  const balance = (kind: 'premium_receivable' | 'claims_reserve' | 'payout_clearing' | 'rail_settlement') =>
    db().withTenant(tenantId, async (tx) => {
      const ledger = new LedgerService({ db: db() });
      const account = await ledger.systemAccount(tx, tenantId, kind, 'EUR');
      return (await ledger.balance(tx, tenantId, account.id)).posted;
    });

  /** A customer as KYC keeps it, verified (KYC's own flow is tested in kyc-api.test.ts). */
  async function verifiedCustomer(ownerUserId: string | null, tenant = tenantId, partnerOf = partnerId) {
    const id = uuidv7();
    await db().withTenant(tenant, (tx) =>
      tx.insert(customers).values({
        id,
        tenantId: tenant,
        partnerId: partnerOf,
        ownerUserId,
        kind: 'person',
        environment: 'sandbox',
        dataEnc: 'fixture',
        kycStatus: 'approved',
        verifiedCaseId: uuidv7(),
        verifiedUntil: new Date(Date.now() + 365 * 86_400_000),
      }),
    );
    return id;
  }

  /** An approved claim through insurance's own routes: file, triage, assess, clear review, approve. */
  async function approvedClaim(amount: number) {
    const filed = await partner.call('POST', '/v1/claims', {
      body: {
        policyId,
        incidentDate: today(),
        amountClaimed: amount,
        currency: 'EUR',
        description: 'Burst pipe',
        payeeName: 'Erika Mustermann',
        payeeIban: IBAN,
      },
      headers: key(),
    });
    expect(filed.status).toBe(201);
    const id: string = filed.body.id;
    await adjuster.call('POST', `/v1/claims/${id}/triage`);
    const assessed = await adjuster.call('POST', `/v1/claims/${id}/assessment`);
    if (assessed.body.fraudReview) {
      await adjuster.call('POST', `/v1/claims/${id}/fraud-review/clear`, { body: { note: 'Checked' } });
    }
    const approved = await adjuster.call('POST', `/v1/claims/${id}/approve`, {
      body: { amount },
      headers: key(),
    });
    expect(approved.body.status).toBe('approved');
    return id;
  }

  beforeAll(async () => {
    listening = await listeningApp({ BULWARK_PAYMENTS_WORKER_POLL_MS: '0' });
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Pay'));
    partner = await partnerApi(listening, { tenantId, partnerId, scope: SCOPES });
    holderPerson = await createPerson(listening, tenantId, ['policyholder']);
    const adjusterPerson = await createPerson(listening, tenantId, ['claims_adjuster']);
    adjuster = await userApi(listening, { tenantId, partnerId, person: adjusterPerson, scope: SCOPES });
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/adjusters/${adjusterPerson.userId}/authority`,
      {
        limits: { EUR: { single: 1_000_000, multi: 1_000_000 } },
      },
    );
    customerId = await verifiedCustomer(holderPerson.userId);
    const productId = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
        name: 'Home contents',
        lineOfBusiness: 'home',
        currency: 'EUR',
        premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
        coverLimit: 500_000,
      })
    ).id;
    policyId = (
      await partner.call('POST', '/v1/policies', {
        body: { customerId, productId, startDate: today(), coverAmount: 300_000 },
      })
    ).body.id;
    expect(
      (await partner.call('POST', `/v1/policies/${policyId}/bind`, { headers: key() })).body.status,
    ).toBe('active');
  }, 180_000);
  afterAll(() => listening?.app.close());

  it('registers a direct-debit mandate and refuses bad ones with their own codes', async () => {
    const body = {
      customerId,
      debtorName: 'Erika Mustermann',
      debtorIban: 'DE89 3704 0044 0532 0130 00',
      reference: 'MANDATE-0001',
      signedOn: '2024-05-01',
    };
    const before = await count('payment_mandates');
    const bad = async (over: Record<string, unknown>) =>
      (await partner.call('POST', '/v1/mandates', { body: { ...body, ...over } })).body.code;
    expect(await bad({ debtorIban: 'DE89370400440532013001' })).toBe('PAYMENT_IBAN_INVALID');
    expect(await bad({ customerId: uuidv7() })).toBe('PAYMENT_CUSTOMER_NOT_FOUND');
    expect(await bad({ status: 'active' })).toBe('REQUEST_VALIDATION_FAILED');
    expect(await bad({ reference: 'x'.repeat(36) })).toBe('REQUEST_VALIDATION_FAILED');
    expect(await count('payment_mandates')).toBe(before);

    const created = await partner.call('POST', '/v1/mandates', { body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      customerId,
      partnerId,
      debtorIban: IBAN,
      status: 'active',
      sandbox: true,
    });
    mandateId = created.body.id;
    expect((await partner.call('GET', `/v1/mandates/${mandateId}`)).body).toEqual(created.body);
    expect((await partner.call('POST', '/v1/mandates', { body })).body.code).toBe('MANDATE_REFERENCE_TAKEN');
    const list = await partner.call('GET', '/v1/mandates?limit=10');
    expect(list.body.items.map((m: { id: string }) => m.id)).toContain(mandateId);
  });

  it('collects the first premium: submitted, settled on the rail, and the ledger shows it', async () => {
    const receivable = await balance('premium_receivable');
    const body = { mandateId, amount: '1050', currency: 'EUR', dueDate: today(), policyId };
    expect((await partner.call('POST', '/v1/collections', { sign: true, body })).body.code).toBe(
      'IDEMPOTENCY_KEY_MISSING',
    );
    const headers = key();
    const created = await partner.call('POST', '/v1/collections', { sign: true, body, headers });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      kind: 'collection',
      status: 'submitted',
      amount: '1050',
      currency: 'EUR',
      payeeIban: IBAN,
      policyId,
      mandateId,
      attempts: 1,
    });
    const replay = await partner.call('POST', '/v1/collections', { sign: true, body, headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(created.body);
    expect(await count('payments')).toBe(1);

    const settled = await partner.call('POST', `/v1/sandbox/payments/${created.body.id}/outcome`, {
      body: { status: 'settled' },
      headers: key(),
    });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'settled' });
    expect(await balance('premium_receivable')).toBe(receivable + 1050n);
    const listed = await partner.call('GET', `/v1/payments?status=settled&kind=collection`);
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([created.body.id]);
  });

  it('refuses bad collections, each with its own code, writing nothing', async () => {
    const base = { mandateId, amount: '500', currency: 'EUR', dueDate: today() };
    const before = await count('payments');
    const codeOf = async (over: Record<string, unknown>) =>
      (
        await partner.call('POST', '/v1/collections', {
          sign: true,
          body: { ...base, ...over },
          headers: key(),
        })
      ).body.code;
    expect(await codeOf({ amount: '-500' })).toBe('PAYMENT_AMOUNT_INVALID');
    expect(await codeOf({ amount: 12.5 })).toBe('PAYMENT_AMOUNT_INVALID');
    expect(await codeOf({ amount: '12.50' })).toBe('PAYMENT_AMOUNT_INVALID');
    expect(await codeOf({ amount: 0 })).toBe('PAYMENT_AMOUNT_INVALID');
    expect(await codeOf({ currency: 'XYZ' })).toBe('PAYMENT_CURRENCY_UNKNOWN');
    expect(await codeOf({ currency: 'eur' })).toBe('REQUEST_VALIDATION_FAILED');
    expect(await codeOf({ status: 'settled' })).toBe('REQUEST_VALIDATION_FAILED');
    expect(await codeOf({ amount: '10000001' })).toBe('PAYMENT_LIMIT_EXCEEDED');
    expect(await codeOf({ dueDate: '2031-02-29' })).toBe('PAYMENT_DATE_INVALID');
    // Another tenant's mandate is not there at all.
    const other = await tenantWithPartner(listening.app, 'Other');
    const otherApp = await partnerApi(listening, { ...other, scope: SCOPES });
    const foreignCustomer = await verifiedCustomer(null, other.tenantId, other.partnerId);
    const foreign = await otherApp.call('POST', '/v1/mandates', {
      body: {
        customerId: foreignCustomer,
        debtorName: 'Jan de Vries',
        debtorIban: 'NL91ABNA0417164300',
        reference: 'F-1',
        signedOn: '2024-01-01',
      },
    });
    expect(foreign.status).toBe(201);
    expect(await codeOf({ mandateId: foreign.body.id })).toBe('MANDATE_NOT_FOUND');
    expect((await partner.call('GET', `/v1/mandates/${foreign.body.id}`)).body.code).toBe(
      'MANDATE_NOT_FOUND',
    );
    expect((await otherApp.call('GET', `/v1/mandates/${mandateId}`)).body.code).toBe('MANDATE_NOT_FOUND');
    expect(await count('payments')).toBe(before);
  });

  it("pays out an approved claim after the policyholder's SCA; it settles and the claim is paid", async () => {
    const claimId = await approvedClaim(40_000);
    const reserve = await balance('claims_reserve');
    const over = await partner.call('POST', '/v1/payouts', {
      sign: true,
      body: { claimId, amount: '40001', currency: 'EUR' },
      headers: key(),
    });
    expect(over.body.code).toBe('PAYMENT_AMOUNT_EXCEEDS_CLAIM');
    const created = await partner.call('POST', '/v1/payouts', {
      sign: true,
      body: { claimId, amount: '40000', currency: 'EUR' },
      headers: key(),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      kind: 'claim_payout',
      status: 'awaiting_sca',
      scaStatus: 'required',
      claimId,
      payeeCheck: { result: 'match' },
    });
    const detail = created.body.authorizationDetail;
    expect(detail).toMatchObject({ type: 'payment_initiation', paymentId: created.body.id });
    // Nothing has moved yet.
    expect(await balance('claims_reserve')).toBe(reserve);

    // The partner app cannot approve, nor can the policyholder without a token for this payment.
    const id = created.body.id;
    expect(
      (await partner.call('POST', `/v1/payments/${id}/authorize`, { sign: true, headers: key() })).body.code,
    ).toBe('ACCESS_DENIED');
    const plain = await userApi(listening, { tenantId, partnerId, person: holderPerson, scope: SCOPES });
    expect(
      (await plain.call('POST', `/v1/payments/${id}/authorize`, { sign: true, headers: key() })).body.code,
    ).toBe('SCA_REQUIRED');
    const approver = await userApi(listening, {
      tenantId,
      partnerId,
      person: holderPerson,
      scope: SCOPES,
      authorizationDetails: [detail],
    });
    const authorized = await approver.call('POST', `/v1/payments/${id}/authorize`, {
      sign: true,
      headers: key(),
    });
    expect(authorized.status).toBe(200);
    expect(authorized.body).toMatchObject({
      status: 'submitted',
      scaStatus: 'completed',
      authorizationDetail: null,
    });
    expect(await balance('claims_reserve')).toBe(reserve - 40_000n);
    expect(await balance('payout_clearing')).toBe(40_000n);

    const settled = await partner.call('POST', `/v1/sandbox/payments/${id}/outcome`, {
      body: { status: 'settled' },
      headers: key(),
    });
    expect(settled.body.status).toBe('settled');
    expect(await balance('payout_clearing')).toBe(0n);
    const claim = await partner.call('GET', `/v1/claims/${claimId}`);
    expect(claim.body).toMatchObject({ status: 'paid', paidAmount: 40_000 });
    // The policyholder sees their payout; the books balance.
    expect((await approver.call('GET', `/v1/payments/${id}`)).body.status).toBe('settled');
    const [sum] = await db().withTenant(tenantId, (tx) =>
      rows<{ total: string }>(
        tx,
        sql`SELECT coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0)::text AS total FROM ledger_entries`,
      ),
    );
    expect(sum!.total).toBe('0');
  });

  it("keeps payouts within the partner's limits set by the operator", async () => {
    // 40,000 were paid out today already (the test above): 2,500 more are allowed.
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/partners/${partnerId}/payment-limits/payout/EUR`,
      {
        maxPerPayment: '2000',
        maxPerDay: '42500',
      },
    );
    const limits = await admin(
      listening.app,
      'GET',
      `/admin/tenants/${tenantId}/partners/${partnerId}/payment-limits`,
    );
    expect(limits.items).toEqual([
      { partnerId, direction: 'payout', currency: 'EUR', maxPerPayment: '2000', maxPerDay: '42500' },
    ]);
    const claimId = await approvedClaim(5_000);
    const pay = async (amount: string) =>
      (
        await partner.call('POST', '/v1/payouts', {
          sign: true,
          body: { claimId, amount, currency: 'EUR' },
          headers: key(),
        })
      ).body;
    expect((await pay('2001')).code).toBe('PAYMENT_LIMIT_EXCEEDED');
    expect((await pay('2000')).status).toBe('submitted');
    expect((await pay('501')).code).toBe('PAYMENT_DAILY_LIMIT_EXCEEDED');
    expect((await pay('20')).status).toBe('submitted');
    const bad = await listening.app.inject({
      method: 'PUT',
      url: `/admin/tenants/${tenantId}/partners/${partnerId}/payment-limits/payout/EUR`,
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdefghijklmnop' },
      payload: { maxPerPayment: '3000', maxPerDay: '2000' },
    });
    expect(bad.json().code).toBe('PAYMENT_LIMIT_INVALID');
  });

  it('a sandbox control is refused for an unknown reason code and for a payment not on the rail', async () => {
    const claimId = await approvedClaim(9_000);
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/partners/${partnerId}/payment-limits/payout/EUR`,
      {
        maxPerPayment: '100000',
        maxPerDay: '1000000',
      },
    );
    const held = await partner.call('POST', '/v1/payouts', {
      sign: true,
      body: { claimId, amount: '9000', currency: 'EUR' },
      headers: key(),
    });
    expect(held.body.status).toBe('awaiting_sca');
    const force = (body: object) =>
      partner.call('POST', `/v1/sandbox/payments/${held.body.id}/outcome`, { body, headers: key() });
    expect((await force({ status: 'returned', reasonCode: 'ZZ99' })).body.code).toBe(
      'PAYMENT_REASON_CODE_INVALID',
    );
    expect((await force({ status: 'returned', reasonCode: 'AC04' })).body.code).toBe(
      'PAYMENT_INVALID_TRANSITION',
    );
    const cancelled = await partner.call('POST', `/v1/payments/${held.body.id}/cancel`, { headers: key() });
    expect(cancelled.body.status).toBe('cancelled');
    expect((await partner.call('GET', `/v1/payments/${randomUUID()}`)).body.code).toBe('PAYMENT_NOT_FOUND');
  });
});
