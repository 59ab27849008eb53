import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPerson,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';

// The two kinds of /v1 caller every domain test uses: a partner app for itself, and a person
// signed in with two factors through a partner's web app.
describe('partner API callers', () => {
  let listening: Listening;
  beforeAll(async () => {
    listening = await listeningApp();
  });
  afterAll(() => listening.app.close());

  it('a partner app and a person each reach /v1/me with their own identity', async () => {
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'Callers');
    const app = await partnerApi(listening, { tenantId, partnerId, scope: 'claims:read' });
    const me = await app.call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'client', tenantId, partnerId, roles: ['partner_app'] });

    const person = await createPerson(listening, tenantId, ['claims_adjuster']);
    const user = await userApi(listening, { tenantId, partnerId, person, scope: 'claims:read' });
    const mine = await user.call('GET', '/v1/me');
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ kind: 'user', subject: person.userId, roles: ['claims_adjuster'] });
  });
});
