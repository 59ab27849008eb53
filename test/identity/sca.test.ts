import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentDetail } from '../../src/identity/sca/index.ts';
import { uuidv7 } from '../../src/platform/ids.ts';
import {
  admin,
  createPerson,
  type Listening,
  listeningApp,
  type Person,
  tenantWithPartner,
  userApi,
} from '../support/api.ts';

// A payment consent (RFC 9396 authorization_details through PAR) approved by a person with two
// factors: the access token carries exactly the approved payment.
describe('strong customer authentication: payment consent', () => {
  let listening: Listening;
  let tenantId: string;
  let partnerId: string;
  let approver: Person;

  beforeAll(async () => {
    listening = await listeningApp();
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'SCA'));
    approver = await createPerson(listening, tenantId, ['claims_adjuster']);
  });
  afterAll(() => listening.app.close());

  const payment = () =>
    paymentDetail({
      paymentId: uuidv7(),
      amount: 125_000n,
      currency: 'EUR',
      payeeName: 'Ada Lovelace',
      payeeIban: 'DE89370400440532013000',
    });

  it('issues a token carrying the approved payment_initiation detail and a two-factor acr', async () => {
    const detail = payment();
    const user = await userApi(listening, {
      tenantId,
      partnerId,
      person: approver,
      scope: 'payments:write',
      authorizationDetails: [{ ...detail }],
    });
    const claims = decodeJwt(await user.accessToken());
    expect(claims.authorization_details).toEqual([detail]);
    expect(claims.acr).toBe('urn:bulwark:acr:2fa');
    // the resource server reads it into the principal
    expect((await user.call('GET', '/v1/me')).status).toBe(200);
  });

  it('refuses a malformed or unknown authorization detail at the pushed authorization request', async () => {
    for (const bad of [
      { ...payment(), instructedAmount: { currency: 'EUR', amount: '1.001' } },
      { ...payment(), extra: 'x' },
      { type: 'account_information' },
    ]) {
      const user = await userApi(listening, {
        tenantId,
        partnerId,
        person: approver,
        scope: 'payments:write',
        authorizationDetails: [bad],
      });
      await expect(user.accessToken()).rejects.toMatchObject({ error: 'invalid_authorization_details' });
    }
  });

  it('lets an operator tighten the low-value exemption, and refuses settings looser than the RTS', async () => {
    const url = `/admin/tenants/${tenantId}/sca`;
    expect(await admin(listening.app, 'GET', url)).toEqual({
      currency: 'EUR',
      lowValueLimit: 3000,
      cumulativeLimit: 10000,
      countLimit: 5,
      mode: 'both',
    });
    const strict = {
      currency: 'EUR',
      lowValueLimit: 1500,
      cumulativeLimit: 5000,
      countLimit: 3,
      mode: 'both',
    };
    expect(await admin(listening.app, 'PUT', url, strict)).toEqual(strict);
    const loose = await listening.app.inject({
      method: 'PUT',
      url,
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdefghijklmnop' },
      payload: { ...strict, lowValueLimit: 5000 },
    });
    expect(loose.statusCode).toBe(400);
    expect(loose.json().code).toBe('SCA_SETTINGS_INVALID');
    expect(await admin(listening.app, 'GET', url)).toEqual(strict);
  });
});
