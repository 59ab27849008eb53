import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulwarkClient, BulwarkProblem } from '../clients/typescript/src/index.ts';
import { CLIENT_SCHEMA_PATH, clientSchemaSource, v1Document } from '../src/docs/client-schema.ts';
import { kycServiceFor } from '../src/kyc/index.ts';
import {
  admin,
  createPerson,
  type Listening,
  listeningApp,
  type Person,
  tenantWithPartner,
  userApi,
} from './support/api.ts';

// Issue 8: the typed TypeScript client (clients/typescript) driving the sandbox quick start the way
// a partner would: its own private_key_jwt key, DPoP, idempotency keys, RFC 9421 signatures.
const SCOPE = [
  'parties:read parties:write kyc:read kyc:write policies:read policies:write',
  'claims:read claims:write payments:read payments:write',
].join(' ');
('parties:read parties:write kyc:read kyc:write policies:read policies:write payments:read payments:write');
const IBAN = 'DE89370400440532013000';
const today = () => new Date().toISOString().slice(0, 10);

async function appKey(): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const kid = `sdk-${randomUUID().slice(0, 8)}`;
  const pair = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(pair.publicKey);
  const priv = await exportJWK(pair.privateKey);
  return { publicJwk: { ...pub, kid, alg: 'ES256' }, privateJwk: { ...priv, kid, alg: 'ES256' } };
}

describe('the generated schema', () => {
  it('is what this build generates (run `npm run client:generate` after changing a /v1 route)', async () => {
    const committed = readFileSync(CLIENT_SCHEMA_PATH, 'utf8');
    expect(clientSchemaSource(await v1Document())).toBe(committed);
  }, 60_000);
});

describe('@bulwark/client: sandbox quick start', { timeout: 120_000 }, () => {
  let listening: Listening;
  let tenantId: string;
  let partnerId: string;
  let client: BulwarkClient;
  let registered: { clientId: string; privateJwk: JWK };
  let customerId: string;
  let policyId: string;
  let mandateId: string;
  let holder: Person;

  beforeAll(async () => {
    listening = await listeningApp({ BULWARK_KYC_WORKER_POLL_MS: '0', BULWARK_PAYMENTS_WORKER_POLL_MS: '0' });
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'SDK'));
    holder = await createPerson(listening, tenantId, ['policyholder']);
    const key = await appKey();
    const app = await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'sdk backend',
      jwks: { keys: [key.publicJwk] },
      scope: SCOPE,
    });
    registered = { clientId: app.clientId, privateJwk: key.privateJwk };
    client = new BulwarkClient({ baseUrl: listening.issuer, scope: SCOPE, ...registered });
  }, 120_000);
  afterAll(async () => {
    await listening?.app.close();
  });

  it('onboards a customer whose sandbox verification is approved', async () => {
    const customer = await client.request('POST /v1/customers', {
      body: {
        kind: 'person',
        name: { given: 'Erika', family: 'Approved' },
        dateOfBirth: '1985-04-12',
        email: 'erika@example.test',
        address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
        ownerUserId: holder.userId,
      },
    });
    customerId = customer.id;
    const kase = await client.request('POST /v1/kyc/cases', {
      body: {
        customerId,
        documents: [{ type: 'passport', number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2035-01-01' }],
      },
    });
    // The KYC worker's poll is off in this test: run the pending checks as the worker would.
    await kycServiceFor(listening.app.services, listening.app.config).runPendingChecks();
    const decided = await client.request('GET /v1/kyc/cases/{caseId}', { path: { caseId: kase.id } });
    expect(decided.status).toBe('approved');
  });

  it('quotes and binds a policy, collects the first premium with a signed request, settles it', async () => {
    const productId: string = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
        name: 'Home contents',
        lineOfBusiness: 'home',
        currency: 'EUR',
        premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
        coverLimit: 500_000,
      })
    ).id;
    const quote = await client.request('POST /v1/policies', {
      body: { customerId, productId, startDate: today(), coverAmount: 300_000 },
    });
    policyId = quote.id;
    const bound = await client.request('POST /v1/policies/{policyId}/bind', { path: { policyId } });
    expect(bound.status).toBe('active');

    const mandate = await client.request('POST /v1/mandates', {
      body: {
        customerId,
        debtorName: 'Erika Approved',
        debtorIban: IBAN,
        reference: `M-${Date.now()}`,
        signedOn: today(),
      },
    });
    mandateId = mandate.id;
    // Payment initiation: signed (RFC 9421) and given an Idempotency-Key by the client.
    const collection = await client.request('POST /v1/collections', {
      body: { mandateId, amount: '1050', currency: 'EUR', dueDate: today(), policyId },
    });
    expect(collection.kind).toBe('collection');
    const settled = await client.request('POST /v1/sandbox/payments/{id}/outcome', {
      path: { id: collection.id },
      body: { status: 'settled' },
    });
    expect(settled.status).toBe('settled');
    const read = await client.request('GET /v1/payments/{id}', { path: { id: collection.id } });
    expect(read.status).toBe('settled');
    expect(read.amount).toBe('1050');
  });

  it('pays out an approved claim (below the SCA exemption) and settles it in the sandbox', async () => {
    // The claim is filed by the policyholder and approved by an adjuster, both people signed in
    // through a web app (test/support/api.ts); the partner's backend then pays it out via the client.
    const policyholder = await userApi(listening, { tenantId, partnerId, person: holder, scope: SCOPE });
    const filed = await policyholder.call('POST', '/v1/claims', {
      body: {
        policyId,
        incidentDate: today(),
        amountClaimed: 2_000,
        currency: 'EUR',
        description: 'Broken window',
        payeeName: 'Erika Approved',
        payeeIban: IBAN,
      },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    const claimId: string = filed.body.id;
    const adjusterPerson = await createPerson(listening, tenantId, ['claims_adjuster']);
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/adjusters/${adjusterPerson.userId}/authority`,
      {
        limits: { EUR: { single: 50_000, multi: 100_000 } },
      },
    );
    const adjuster = await userApi(listening, { tenantId, partnerId, person: adjusterPerson, scope: SCOPE });
    expect((await adjuster.call('POST', `/v1/claims/${claimId}/triage`)).status).toBe(200);
    const assessed = await adjuster.call('POST', `/v1/claims/${claimId}/assessment`);
    if (assessed.body.fraudReview) {
      await adjuster.call('POST', `/v1/claims/${claimId}/fraud-review/clear`, { body: { note: 'Checked' } });
    }
    const approved = await adjuster.call('POST', `/v1/claims/${claimId}/approve`, {
      body: { amount: 2_000 },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(approved.body.status, JSON.stringify(approved.body)).toBe('approved');

    const payout = await client.request('POST /v1/payouts', {
      body: { claimId, amount: '2000', currency: 'EUR' },
    });
    expect(payout.scaStatus).toBe('exempt');
    expect(payout.status).toBe('submitted');
    const settled = await client.request('POST /v1/sandbox/payments/{id}/outcome', {
      path: { id: payout.id },
      body: { status: 'settled' },
    });
    expect(settled.status).toBe('settled');
    expect((await client.request('GET /v1/claims/{claimId}', { path: { claimId } })).status).toBe('paid');
  });

  it('retries with the same Idempotency-Key get the stored answer', async () => {
    const idempotencyKey = randomUUID();
    const input = {
      body: { mandateId, amount: '700', currency: 'EUR', dueDate: today(), policyId },
      idempotencyKey,
    };
    const first = await client.request('POST /v1/collections', input);
    const again = await client.request('POST /v1/collections', input);
    expect(again.id).toBe(first.id);
    const other = await client.request('POST /v1/collections', { ...input, idempotencyKey: randomUUID() });
    expect(other.id).not.toBe(first.id);
  });

  it('surfaces error answers as a BulwarkProblem with the stable code', async () => {
    const missing = await client
      .request('GET /v1/customers/{customerId}', { path: { customerId: randomUUID() } })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BulwarkProblem);
    expect((missing as BulwarkProblem).status).toBe(404);
    expect((missing as BulwarkProblem).code).toBe('CUSTOMER_NOT_FOUND');
    expect((missing as BulwarkProblem).requestId).toBeTruthy();
  });

  it('payment initiation without a signing key is refused, and nothing is written', async () => {
    const unsigned = new BulwarkClient({
      baseUrl: listening.issuer,
      scope: SCOPE,
      ...registered,
      signingJwk: false,
    });
    const before = await unsigned.request('GET /v1/payments', { query: { limit: 200 } });
    const refused = await unsigned
      .request('POST /v1/collections', {
        body: { mandateId, amount: '900', currency: 'EUR', dueDate: today(), policyId },
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BulwarkProblem);
    expect((refused as BulwarkProblem).code).toBe('SIGNATURE_MISSING');
    const after = await unsigned.request('GET /v1/payments', { query: { limit: 200 } });
    expect(after.items.length).toBe(before.items.length);
  });

  it('takes a new token before the current one expires', async () => {
    // Access tokens live 300 s: refreshing 300 s early means a new token for every call.
    const eager = new BulwarkClient({
      baseUrl: listening.issuer,
      scope: SCOPE,
      ...registered,
      refreshBeforeSeconds: 300,
    });
    const first = await eager.accessToken();
    const second = await eager.accessToken();
    expect(second).not.toBe(first);
    // …and a client left at the default keeps its token.
    expect(await client.accessToken()).toBe(await client.accessToken());
    await eager.request('GET /v1/customers/{customerId}', { path: { customerId } });
  });

  it('refuses a wrong client key at the token endpoint with an OAuth error code', async () => {
    const stranger = await appKey();
    const wrong = new BulwarkClient({
      baseUrl: listening.issuer,
      scope: SCOPE,
      clientId: registered.clientId,
      privateJwk: stranger.privateJwk,
    });
    const refused = await wrong.accessToken().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BulwarkProblem);
    expect((refused as BulwarkProblem).code).toBe('invalid_client');
  });

  it('types requests and responses from the OpenAPI document', () => {
    // Compile-time checks (the root `tsc --noEmit` covers this file); never sent.
    const typed = async () => {
      // @ts-expect-error: an unknown operation
      await client.request('GET /v1/nope');
      // @ts-expect-error: `path` is required
      await client.request('GET /v1/payments/{id}', {});
      // @ts-expect-error: additionalProperties: false
      await client.request('POST /v1/mandates', { body: { customerId, nonsense: 1 } });
      const p = await client.request('GET /v1/payments/{id}', { path: { id: 'x' } });
      // @ts-expect-error: status is an enum
      p.status === 'paid';
    };
    expect(typeof typed).toBe('function');
  });
});
