import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kycServiceFor } from '../src/kyc/index.ts';
import { LedgerService } from '../src/ledger/service.ts';
import { rows } from '../src/platform/db/rows.ts';
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
import { type WebhookReceiver, webhookReceiver } from './support/webhook-receiver.ts';

// Issue 4's end-to-end flow through the HTTP API with real tokens: a partner onboards a customer
// (KYC approved), binds a policy, collects the first premium (the ledger shows it), the customer
// files a claim, an adjuster approves it within authority, the payout needs SCA, settles on the
// simulated rail, the ledger balances, and the partner receives each webhook with a valid signature.
const SCOPES = [
  'parties:read parties:write kyc:read kyc:write',
  'policies:read policies:write claims:read claims:write',
  'payments:read payments:write accounts:read webhooks:manage',
].join(' ');
const IBAN = 'DE89370400440532013000';
const today = () => new Date().toISOString().slice(0, 10);
const key = () => ({ 'idempotency-key': randomUUID() });

describe('end to end: onboard, insure, collect, claim, pay out', { timeout: 120_000 }, () => {
  let listening: Listening;
  let receiver: WebhookReceiver;
  let tenantId: string;
  let partnerId: string;
  let partner: ApiCaller;
  let secret: string;
  let holder: Person;
  let customerId: string;
  let policyId: string;
  let claimId: string;
  let payoutId: string;
  let collectionId: string;

  const db = () => listening.app.services.db;
  const balance = (kind: 'premium_receivable' | 'claims_reserve' | 'payout_clearing' | 'rail_settlement') =>
    db().withTenant(tenantId, async (tx) => {
      const ledger = new LedgerService({ db: db() });
      const account = await ledger.systemAccount(tx, tenantId, kind, 'EUR');
      return (await ledger.balance(tx, tenantId, account.id)).posted;
    });

  beforeAll(async () => {
    receiver = await webhookReceiver();
    listening = await listeningApp({
      BULWARK_WEBHOOK_ALLOW_HTTP: 'true',
      BULWARK_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      BULWARK_KYC_WORKER_POLL_MS: '0',
      BULWARK_PAYMENTS_WORKER_POLL_MS: '0',
    });
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Embedded'));
    partner = await partnerApi(listening, { tenantId, partnerId, scope: SCOPES });
    const sub = await partner.call('POST', '/v1/webhooks/subscriptions', {
      body: {
        url: receiver.url,
        eventTypes: [
          'kyc.case.decided',
          'policy.status_changed',
          'claim.status_changed',
          'payment.submitted',
          'payment.settled',
        ],
      },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    secret = sub.body.secret;
  }, 120_000);
  afterAll(async () => {
    await listening?.app.close();
    await receiver?.close();
  });

  it('onboards a customer whose verification is approved', async () => {
    holder = await createPerson(listening, tenantId, ['policyholder']);
    const created = await partner.call('POST', '/v1/customers', {
      body: {
        kind: 'person',
        name: { given: 'Erika', family: 'Approved' },
        dateOfBirth: '1985-04-12',
        email: 'erika@example.test',
        address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
        ownerUserId: holder.userId,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    customerId = created.body.id;
    const kase = await partner.call('POST', '/v1/kyc/cases', {
      body: {
        customerId,
        documents: [{ type: 'passport', number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2035-01-01' }],
      },
    });
    expect(kase.status, JSON.stringify(kase.body)).toBe(202);
    await kycServiceFor(listening.app.services, listening.app.config).runPendingChecks();
    const decided = await partner.call('GET', `/v1/kyc/cases/${kase.body.id}`);
    expect(decided.body.status).toBe('approved');
  });

  it('binds a policy and collects the first premium, which the ledger shows', async () => {
    const productId = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
        name: 'Home contents',
        lineOfBusiness: 'home',
        currency: 'EUR',
        premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
        coverLimit: 500_000,
      })
    ).id;
    const quote = await partner.call('POST', '/v1/policies', {
      body: { customerId, productId, startDate: today(), coverAmount: 300_000 },
    });
    expect(quote.status, JSON.stringify(quote.body)).toBe(201);
    policyId = quote.body.id;
    const bound = await partner.call('POST', `/v1/policies/${policyId}/bind`, { headers: key() });
    expect(bound.body.status).toBe('active');

    const mandate = await partner.call('POST', '/v1/mandates', {
      body: {
        customerId,
        debtorName: 'Erika Approved',
        debtorIban: IBAN,
        reference: `M-${Date.now()}`,
        signedOn: today(),
      },
    });
    expect(mandate.status, JSON.stringify(mandate.body)).toBe(201);
    const firstPremium = bound.body.premiumSchedule?.[0]?.amount ?? 1_050;
    const receivable = await balance('premium_receivable');
    const collection = await partner.call('POST', '/v1/collections', {
      sign: true,
      body: {
        mandateId: mandate.body.id,
        amount: String(firstPremium),
        currency: 'EUR',
        dueDate: today(),
        policyId,
      },
      headers: key(),
    });
    expect(collection.status, JSON.stringify(collection.body)).toBe(201);
    collectionId = collection.body.id;
    const settled = await partner.call('POST', `/v1/sandbox/payments/${collectionId}/outcome`, {
      body: { status: 'settled' },
      headers: key(),
    });
    expect(settled.body.status).toBe('settled');
    expect(await balance('premium_receivable')).toBe(receivable + BigInt(firstPremium));
  });

  it('the customer files a claim, an adjuster approves it within authority', async () => {
    const policyholder = await userApi(listening, { tenantId, partnerId, person: holder, scope: SCOPES });
    const filed = await policyholder.call('POST', '/v1/claims', {
      body: {
        policyId,
        incidentDate: today(),
        amountClaimed: 45_000,
        currency: 'EUR',
        description: 'Water damage from a burst pipe',
        payeeName: 'Erika Approved',
        payeeIban: IBAN,
      },
      headers: key(),
    });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    claimId = filed.body.id;

    const adjusterPerson = await createPerson(listening, tenantId, ['claims_adjuster']);
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/adjusters/${adjusterPerson.userId}/authority`,
      {
        limits: { EUR: { single: 50_000, multi: 100_000 } },
      },
    );
    const adjuster = await userApi(listening, { tenantId, partnerId, person: adjusterPerson, scope: SCOPES });
    expect((await adjuster.call('POST', `/v1/claims/${claimId}/triage`)).status).toBe(200);
    const assessed = await adjuster.call('POST', `/v1/claims/${claimId}/assessment`);
    if (assessed.body.fraudReview) {
      await adjuster.call('POST', `/v1/claims/${claimId}/fraud-review/clear`, { body: { note: 'Checked' } });
    }
    // above the adjuster's authority: refused; within it: approved
    const above = await adjuster.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 100_001 },
      headers: key(),
    });
    expect(above.status).toBe(403);
    const approved = await adjuster.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 45_000 },
      headers: key(),
    });
    expect(approved.body.status, JSON.stringify(approved.body)).toBe('approved');
  });

  it('the payout needs SCA, settles on the simulated rail, and the ledger balances', async () => {
    const created = await partner.call('POST', '/v1/payouts', {
      sign: true,
      body: { claimId, amount: '45000', currency: 'EUR' },
      headers: key(),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.status).toBe('awaiting_sca');
    payoutId = created.body.id;
    const detail = created.body.authorizationDetail;
    expect(detail).toMatchObject({
      type: 'payment_initiation',
      paymentId: payoutId,
      instructedAmount: { currency: 'EUR', amount: '450.00' },
    });
    // a token approving another amount is void
    const wrong = await userApi(listening, {
      tenantId,
      partnerId,
      person: holder,
      scope: SCOPES,
      authorizationDetails: [{ ...detail, instructedAmount: { currency: 'EUR', amount: '451.00' } }],
    });
    const mismatch = await wrong.call('POST', `/v1/payments/${payoutId}/authorize`, {
      sign: true,
      headers: key(),
    });
    expect(mismatch.body.code).toBe('SCA_MISMATCH');

    const approver = await userApi(listening, {
      tenantId,
      partnerId,
      person: holder,
      scope: SCOPES,
      authorizationDetails: [detail],
    });
    const authorized = await approver.call('POST', `/v1/payments/${payoutId}/authorize`, {
      sign: true,
      headers: key(),
    });
    expect(authorized.status, JSON.stringify(authorized.body)).toBe(200);
    expect(authorized.body.status).toBe('submitted');
    // the approval is spent: it authorizes this payment once
    const again = await approver.call('POST', `/v1/payments/${payoutId}/authorize`, {
      sign: true,
      headers: key(),
    });
    expect(again.status).toBeGreaterThanOrEqual(400);

    const settled = await partner.call('POST', `/v1/sandbox/payments/${payoutId}/outcome`, {
      body: { status: 'settled' },
      headers: key(),
    });
    expect(settled.body.status).toBe('settled');
    expect((await partner.call('GET', `/v1/claims/${claimId}`)).body.status).toBe('paid');
    expect(await balance('payout_clearing')).toBe(0n);
    const [sum] = await db().withTenant(tenantId, (tx) =>
      rows<{ total: string }>(
        tx,
        sql`SELECT coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0)::text AS total FROM ledger_entries`,
      ),
    );
    expect(sum!.total).toBe('0');
  });

  it('the partner received each webhook, each with a valid HMAC and RFC 9421 signature', async () => {
    listening.app.services.relay.nudge();
    const wanted: [string, (d: Record<string, unknown>) => boolean][] = [
      ['kyc.case.decided', (d) => d.customerId === customerId && d.status === 'approved'],
      ['policy.status_changed', (d) => d.policyId === policyId && d.to === 'active'],
      ['payment.settled', (d) => d.paymentId === collectionId],
      ['claim.status_changed', (d) => d.claimId === claimId && d.to === 'approved'],
      ['payment.submitted', (d) => d.paymentId === payoutId],
      ['payment.settled', (d) => d.paymentId === payoutId],
      ['claim.status_changed', (d) => d.claimId === claimId && d.to === 'paid'],
    ];
    for (const [type, match] of wanted) {
      const got = await receiver.waitFor((w) => w.json?.type === type && match(w.json.data), 30_000);
      expect(got.json.tenantId).toBe(tenantId);
      expect(await receiver.verify(got, [secret], listening.issuer), type).toEqual({
        hmac: 'ok',
        message: 'ok',
      });
    }
    // no personal data travels in webhooks
    const all = receiver.received.map((w) => w.body).join('\n');
    for (const pii of ['Erika', IBAN, 'erika@example.test', 'burst pipe']) expect(all).not.toContain(pii);
  }, 60_000);
});
