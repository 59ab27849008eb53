import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleService } from '../src/identity/people/index.ts';
import {
  type ApiCaller,
  admin,
  freshTotpCode,
  type Listening,
  listeningApp,
  type Person,
  tenantWithPartner,
  userApi,
} from './support/api.ts';
import { adminHeaders } from './support/app.ts';

// The bootstrap credential creates the first operator and then closes; from then on the admin API
// takes only operators' two-factor, sender-constrained tokens for the admin resource.
describe('operators replace the bootstrap admin credential', () => {
  let listening: Listening;
  let platformTenantId: string;
  let first: Person;
  let operator: ApiCaller;
  let partnerTenant: { tenantId: string; partnerId: string };

  beforeAll(async () => {
    listening = await listeningApp();
    partnerTenant = await tenantWithPartner(listening.app, 'Ordinary');
  });
  afterAll(() => listening.app.close());

  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: object) =>
    listening.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  it('creates the first operator once, with a TOTP enrolment to confirm', async () => {
    expect(await admin(listening.app, 'GET', '/admin/bootstrap')).toEqual({ open: true });
    const password = 'quiet harbour lamps at dusk 7';
    const created = await inject('POST', '/admin/bootstrap/operator', adminHeaders, {
      username: 'root-op',
      password,
    });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body.totp.uri).toMatch(/^otpauth:\/\/totp\//);
    platformTenantId = body.platformTenantId;
    first = { userId: body.userId, username: 'root-op', password, totpSecret: body.totp.secret };

    const again = await inject('POST', '/admin/bootstrap/operator', adminHeaders, {
      username: 'x',
      password,
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('BOOTSTRAP_ALREADY_STARTED');

    // the operator's sign-in client lives in the platform tenant (registered while bootstrap is open)
    const consolePartner = await admin(listening.app, 'POST', `/admin/tenants/${platformTenantId}/partners`, {
      name: 'Operations console',
    });
    operator = await userApi(listening, {
      tenantId: platformTenantId,
      partnerId: consolePartner.id,
      person: first,
      scope: 'admin',
      resource: `${listening.issuer}/admin`,
    });

    const wrong = await inject('POST', '/admin/bootstrap/operator/confirm', adminHeaders, { code: '000000' });
    expect(wrong.statusCode).toBeGreaterThanOrEqual(400);
    expect((await admin(listening.app, 'GET', '/admin/bootstrap')).open).toBe(true);
    const confirmed = await inject('POST', '/admin/bootstrap/operator/confirm', adminHeaders, {
      code: await freshTotpCode(first.totpSecret),
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toMatchObject({ open: false, platformTenantId, firstOperatorId: first.userId });
  });

  it('refuses the bootstrap credential everywhere once closed', async () => {
    for (const url of ['/admin/tenants', '/admin/bootstrap', '/admin/audit']) {
      const res = await inject('GET', url, adminHeaders);
      expect(res.statusCode, url).toBe(401);
      expect(res.json().code).toBe('BOOTSTRAP_CLOSED');
    }
    const garbage = await inject('GET', '/admin/tenants', { authorization: 'Bearer not-the-token' });
    expect(garbage.json().code).toBe('AUTH_INVALID_CREDENTIALS');
  });

  it('lets the operator administer with a two-factor DPoP token, audited under their own id', async () => {
    const listed = await operator.call('GET', '/admin/tenants?limit=200');
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    const created = await operator.call('POST', '/admin/tenants', {
      body: { slug: `op-made-${Date.now()}`, name: 'Made by an operator' },
    });
    expect(created.status).toBe(201);
    const audit = await operator.call('GET', `/admin/audit?action=admin.tenant.created&limit=200`);
    expect(audit.status, JSON.stringify(audit.body)).toBe(200);
    const record = audit.body.items.find((r: { objectId?: string }) => r.objectId === created.body.id);
    expect(record).toMatchObject({ actorType: 'operator', actorId: first.userId });
    // the token without its DPoP proof is refused
    const bare = await inject('GET', '/admin/tenants', {
      authorization: `DPoP ${await operator.accessToken()}`,
    });
    expect(bare.statusCode).toBe(401);
  });

  it('keeps audiences apart: an admin token is no /v1 token, a /v1 token is no admin token', async () => {
    expect((await operator.call('GET', '/v1/me')).status).toBe(401);
    const partners = await operator.call('GET', `/admin/tenants/${platformTenantId}/partners`);
    const apiCaller = await userApi(listening, {
      tenantId: platformTenantId,
      partnerId: partners.body.items[0].id,
      person: await personVia(platformTenantId, ['tenant_admin']),
      scope: 'claims:read',
      register: (path, body) => operator.call('POST', path, { body }).then((r) => r.body),
    });
    expect((await apiCaller.call('GET', '/v1/me')).status).toBe(200);
    const refused = await apiCaller.call('GET', '/admin/tenants');
    expect(refused.status).toBe(401);
  });

  /** A person of `tenantId` with `roles` and TOTP, created through the operator's admin token. */
  const personVia = async (tenantId: string, roles: string[]): Promise<Person> => {
    const people = new PeopleService({
      db: listening.app.services.db,
      envelope: listening.app.services.crypto.envelope,
      kv: listening.app.services.kv,
      webauthn: { rpId: '127.0.0.1', rpName: 'Bulwark', origins: [listening.issuer] },
    });
    const username = `p${Math.random().toString(36).slice(2, 10)}`;
    const password = `quiet harbour lamps ${Math.random().toString(36).slice(2, 8)}`;
    const res = await operator.call('POST', `/admin/tenants/${tenantId}/users`, {
      body: { username, password, roles },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const userId = res.body.user.id;
    const totpSecret = (await people.beginTotpEnrolment(tenantId, userId)).secret;
    await people.confirmTotpEnrolment(tenantId, userId, await freshTotpCode(totpSecret));
    return { userId, username, password, totpSecret };
  };
  const signIn = (tenantId: string, partnerId: string, person: Person) =>
    userApi(listening, {
      tenantId,
      partnerId,
      person,
      scope: 'admin',
      resource: `${listening.issuer}/admin`,
      register: (path, body) => operator.call('POST', path, { body }).then((r) => r.body),
    });

  it('never gives a partner tenant’s client a token for the admin resource, even for its tenant admin', async () => {
    const tenantAdmin = await personVia(partnerTenant.tenantId, ['tenant_admin']);
    const caller = await signIn(partnerTenant.tenantId, partnerTenant.partnerId, tenantAdmin);
    await expect(caller.accessToken()).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('lets an auditor operator read but not change, and refuses non-admin roles', async () => {
    const partners = await operator.call('GET', `/admin/tenants/${platformTenantId}/partners`);
    const consoleId = partners.body.items[0].id;
    const auditor = await signIn(platformTenantId, consoleId, await personVia(platformTenantId, ['auditor']));
    expect((await auditor.call('GET', '/admin/tenants')).status).toBe(200);
    const write = await auditor.call('POST', '/admin/tenants', {
      body: { slug: `no-${Date.now()}`, name: 'No' },
    });
    expect(write.status).toBe(403);
    expect(write.body.code).toBe('ACCESS_DENIED');
    const adjuster = await signIn(
      platformTenantId,
      consoleId,
      await personVia(platformTenantId, ['claims_adjuster']),
    );
    const read = await adjuster.call('GET', '/admin/tenants');
    expect(read.status).toBe(403);
    expect(read.body.code).toBe('ACCESS_DENIED');
  });
});
