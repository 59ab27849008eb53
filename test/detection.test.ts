import { webcrypto } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionOf,
  admin,
  Browser,
  createPerson,
  csrfOf,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';
import { adminHeaders } from './support/app.ts';

/** Detection runs after the response: wait (bounded) for what it writes. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// End to end through the real HTTP stack: requests through the gateway, the WAF, authentication
// and the sign-in pages feed detection; alerts and actions are read and reverted through the admin
// API; the actions take effect on the next request.
describe('threat detection through the HTTP stack', () => {
  let listening: Listening;
  beforeAll(async () => {
    // The test's load balancer is 127.0.0.1: X-Forwarded-For names the client address.
    listening = await listeningApp({ BULWARK_TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => listening.app.close());

  const alertsOf = async (query: string) =>
    (await admin(listening.app, 'GET', `/admin/detection/alerts?${query}`)).items;

  it('a token used from a second network is alerted, revoked, and both actions can be reverted', async () => {
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'Detect');
    const partner = await partnerApi(listening, { tenantId, partnerId, scope: 'claims:read' });
    const home = { 'x-forwarded-for': '198.51.100.10' };
    const thief = { 'x-forwarded-for': '203.0.113.20' };
    expect((await partner.call('GET', '/v1/me', { headers: home })).status).toBe(200);
    expect((await partner.call('GET', '/v1/me', { headers: thief })).status).toBe(200);

    const [alert] = await eventually(async () => {
      const found = await alertsOf(`detector=token_network&tenantId=${tenantId}`);
      return found.length ? found : undefined;
    }, 'the token_network alert');
    expect(alert).toMatchObject({
      tenantId,
      subject: { type: 'token' },
      status: 'open',
      explanation: { numbers: { firstNetwork: '198.51.100.0/24', newNetwork: '203.0.113.0/24' } },
      context: { clientId: partner.clientId, ip: '203.0.113.20' },
    });
    expect(alert!.explanation.why).toContain('two networks');

    // The default response revoked the token: the next request with it is refused.
    const actions = await eventually(async () => {
      const page = await admin(listening.app, 'GET', `/admin/detection/actions?alertId=${alert!.id}`);
      return page.items.length ? page.items : undefined;
    }, 'the revocation');
    expect(actions).toMatchObject([{ kind: 'revoke_token', status: 'applied' }]);
    const refused = await partner.call('GET', '/v1/me', { headers: home });
    expect(refused.status).toBe(401);

    // An operator blocks the thief's address as well: the gateway refuses it with 403.
    const block = await admin(listening.app, 'POST', `/admin/detection/alerts/${alert!.id}/actions`, {
      kind: 'ip_block',
    });
    expect(block).toMatchObject({ kind: 'ip_block', status: 'applied', target: { cidr: '203.0.113.20/32' } });
    const blocked = await partner.call('GET', '/v1/me', { headers: thief });
    expect(blocked.status).toBe(403);
    expect(blocked.body.code).toBe('IP_BLOCKED');

    // Reverting lifts both: the token works again, from the formerly blocked address too.
    await admin(listening.app, 'POST', `/admin/detection/actions/${actions[0].id}/revert`);
    await admin(listening.app, 'POST', `/admin/detection/actions/${block.id}/revert`);
    expect((await partner.call('GET', '/v1/me', { headers: thief })).status).toBe(200);
    const again = await listening.app.inject({
      method: 'POST',
      url: `/admin/detection/actions/${block.id}/revert`,
      headers: adminHeaders,
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('DETECTION_ACTION_NOT_REVERTIBLE');

    // A throttle (here 2 requests a minute) answers 429 past the allowance; reverting lifts it.
    await admin(listening.app, 'PUT', '/admin/detection/policies/token_network', {
      actions: ['revoke_token'],
      minSeverity: 'medium',
      ttlSeconds: 600,
      throttlePerMinute: 2,
    });
    const throttle = await admin(listening.app, 'POST', `/admin/detection/alerts/${alert!.id}/actions`, {
      kind: 'throttle',
    });
    // Fixed one-minute windows: within five calls at most one boundary passes, so one is refused.
    let last = await partner.call('GET', '/v1/me', { headers: home });
    for (let i = 0; i < 4 && last.status !== 429; i++) {
      last = await partner.call('GET', '/v1/me', { headers: home });
    }
    expect(last.status).toBe(429);
    expect(last.body.code).toBe('DETECTION_THROTTLED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    await admin(listening.app, 'POST', `/admin/detection/actions/${throttle.id}/revert`);
    expect((await partner.call('GET', '/v1/me', { headers: home })).status).toBe(200);

    // Every alert and action is in the audit trail (how they reach the SIEM export).
    const audit = async (action: string) =>
      (await admin(listening.app, 'GET', `/admin/audit?action=${action}&tenantId=${tenantId}`)).items;
    const raised = await eventually(async () => {
      const r = await audit('detection.alert.raised');
      return r.length ? r : undefined;
    }, 'the audit record');
    expect(raised[0]!.details).toMatchObject({ alertId: alert!.id, detector: 'token_network' });
    expect((await audit('detection.action.applied')).length).toBe(3);
    expect((await audit('detection.action.reverted')).length).toBe(3);
  });

  it('a step-up makes a signed-in person sign in again with a second factor', async () => {
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'StepUp');
    const person = await createPerson(listening, tenantId, ['policyholder']);
    const user = await userApi(listening, { tenantId, partnerId, person, scope: 'claims:read' });
    expect(
      (await user.call('GET', '/v1/me', { headers: { 'x-forwarded-for': '198.51.100.30' } })).status,
    ).toBe(200);
    expect((await user.call('GET', '/v1/me', { headers: { 'x-forwarded-for': '192.0.2.30' } })).status).toBe(
      200,
    );
    const [alert] = await eventually(async () => {
      const found = await alertsOf(`detector=token_network&tenantId=${tenantId}`);
      return found.length ? found : undefined;
    }, 'the token_network alert');
    expect(alert.context.userId).toBe(person.userId);
    // Revoke (the default) is reverted, then a step-up applied by hand.
    const page = await eventually(async () => {
      const p = await admin(listening.app, 'GET', `/admin/detection/actions?alertId=${alert.id}`);
      return p.items.length ? p : undefined;
    }, 'the revocation');
    await admin(listening.app, 'POST', `/admin/detection/actions/${page.items[0].id}/revert`);
    const stepUp = await admin(listening.app, 'POST', `/admin/detection/alerts/${alert.id}/actions`, {
      kind: 'step_up',
    });
    expect(stepUp).toMatchObject({ kind: 'step_up', status: 'applied', target: { userId: person.userId } });
    const refused = await user.call('GET', '/v1/me');
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('DETECTION_STEP_UP_REQUIRED');
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    // A fresh sign-in (password + TOTP) gets a token issued after the step-up: admitted. The token
    // lifetime is counted in whole seconds, so the new one must be issued a second later.
    await sleep(1_100);
    const again = await userApi(listening, { tenantId, partnerId, person, scope: 'claims:read' });
    expect((await again.call('GET', '/v1/me')).status).toBe(200);
  });

  it('credential stuffing through the sign-in pages raises an alert (a loopback source is never blocked)', async () => {
    const { tenantId, partnerId } = await tenantWithPartner(listening.app, 'Stuffed');
    const { issuer } = listening;
    const web = await webClient(listening, tenantId, partnerId);
    for (let i = 0; i < 6; i++) {
      const browser = new Browser();
      const start = await browser.request((await web.authorizationUrl()).href);
      const login = await browser.request(new URL(start.location!, issuer).href);
      const step = await browser.request(`${issuer}${actionOf(login.body)}`, {
        method: 'POST',
        form: {
          csrf: csrfOf(login.body),
          username: `leaked-${i}@example.com`,
          password: 'correct horse battery',
        },
      });
      if (step.status === 200 && actionOf(step.body).includes('second-factor')) {
        const second = await browser.request(`${issuer}${actionOf(step.body)}`, {
          method: 'POST',
          form: { csrf: csrfOf(step.body), method: 'code', code: '000000' },
        });
        expect(second.status).toBe(401);
      } else {
        expect(step.status).toBe(401);
      }
    }
    const [alert] = await eventually(async () => {
      const found = await alertsOf(`detector=credential_stuffing&tenantId=${tenantId}`);
      return found.length ? found : undefined;
    }, 'the credential_stuffing alert');
    expect(alert).toMatchObject({ subject: { type: 'ip', id: '127.0.0.1' }, severity: 'high' });
    expect(alert!.explanation.numbers.distinctAccounts).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(alert)).not.toContain('leaked-');
    const actions = await eventually(async () => {
      const page = await admin(listening.app, 'GET', `/admin/detection/actions?alertId=${alert!.id}`);
      return page.items.length ? page.items : undefined;
    }, 'the block decision');
    expect(actions).toMatchObject([{ kind: 'ip_block', status: 'skipped', note: 'loopback address' }]);

    // The incident groups it, with its timeline; flagging it a breach starts the GDPR clock.
    const patched = await listening.app.inject({
      method: 'PATCH',
      url: `/admin/detection/incidents/${alert!.incidentId}`,
      headers: adminHeaders,
      payload: { status: 'investigating', personalDataBreach: true },
    });
    expect(patched.statusCode).toBe(200);
    const incident = patched.json();
    expect(incident.gdpr.notification.secondsLeft).toBeGreaterThan(71 * 3600);
    const detail = await admin(listening.app, 'GET', `/admin/detection/incidents/${alert!.incidentId}`);
    expect(detail.alertIds).toContain(alert!.id);
    expect(detail.timeline.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['alert', 'action', 'status', 'flag']),
    );
  });

  it('answers bad admin input with stable codes and writes nothing', async () => {
    const bad = await listening.app.inject({
      method: 'POST',
      url: '/admin/detection/suppressions',
      headers: adminHeaders,
      payload: { subjectType: 'ip', ttlSeconds: 600, reason: 'x' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('DETECTION_SUPPRESSION_INVALID');
    const missing = await listening.app.inject({
      method: 'GET',
      url: '/admin/detection/alerts/0195f6b0-0000-7000-8000-000000000009',
      headers: adminHeaders,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('DETECTION_ALERT_NOT_FOUND');
    const unknown = await listening.app.inject({
      method: 'PUT',
      url: '/admin/detection/policies/nope',
      headers: adminHeaders,
      payload: { actions: [], minSeverity: 'high', ttlSeconds: 600, throttlePerMinute: 10 },
    });
    expect(unknown.json().code).toBe('DETECTION_DETECTOR_UNKNOWN');
    const sup = await admin(listening.app, 'GET', '/admin/detection/suppressions?state=all');
    expect(sup.items).toEqual([]);
  });
});

/** A partner web app that starts people's sign-ins (PAR + PKCE), as userApi does. */
async function webClient(listening: Listening, tenantId: string, partnerId: string) {
  const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const kid = `web-${Math.random().toString(36).slice(2, 10)}`;
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
  const redirectUri = 'http://127.0.0.1:9/cb';
  const registered = await admin(
    listening.app,
    'POST',
    `/admin/tenants/${tenantId}/partners/${partnerId}/apps`,
    {
      name: 'web app',
      jwks: { keys: [{ kty, crv, x, y, kid, alg: 'ES256' }] },
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      scope: 'openid claims:read',
    },
  );
  const config = await oidc.discovery(
    new URL(listening.issuer),
    registered.clientId,
    {},
    oidc.PrivateKeyJwt({ key: pair.privateKey, kid }),
    { execute: [oidc.allowInsecureRequests] },
  );
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  return {
    authorizationUrl: async () =>
      oidc.buildAuthorizationUrlWithPAR(
        config,
        {
          redirect_uri: redirectUri,
          scope: 'openid claims:read',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          state: oidc.randomState(),
        },
        { DPoP: dpop },
      ),
  };
}
