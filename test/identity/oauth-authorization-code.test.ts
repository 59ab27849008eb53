import { webcrypto } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleService } from '../../src/identity/people/index.ts';
import { totpCode } from '../../src/identity/people/totp.ts';
import { adminHeaders, testApp } from '../support/app.ts';
import { freePort } from '../support/process.ts';

/** A browser in miniature: follows redirects by hand and keeps cookies per path. */
class Browser {
  private readonly cookies = new Map<string, string>();
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, ...value] = pair!.split('=');
      this.cookies.set(name!.trim(), value.join('='));
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const actionOf = (html: string) => /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '';

// A person signs in through a partner app: PAR + PKCE S256 + password + TOTP + consent, then the
// app exchanges the code for a DPoP-bound token (FAPI 2.0 security profile).
describe('authorization server: authorization code with PAR, PKCE and TOTP', () => {
  let app: FastifyInstance;
  let issuer: string;
  let clientId: string;
  let clientKey: webcrypto.CryptoKey;
  let totpSecret: string;
  let userId: string;
  const redirectUri = 'http://127.0.0.1:9/cb';
  const password = 'correct horse battery staple 42';

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    app = await testApp({ BULWARK_PORT: String(port) });
    await app.listen({ port, host: '127.0.0.1' });
    const post = (url: string, payload: object) =>
      app.inject({ method: 'POST', url, headers: adminHeaders, payload });
    const tenantId = (await post('/admin/tenants', { slug: 'code-flow', name: 'Code Flow Mutual' })).json()
      .id;
    const partnerId = (await post(`/admin/tenants/${tenantId}/partners`, { name: 'Web app' })).json().id;
    const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    clientKey = pair.privateKey;
    const { kty, crv, x, y } = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
    const registered = await post(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'policyholder portal',
      jwks: { keys: [{ kty, crv, x, y, kid: 'web-1', alg: 'ES256' }] },
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      scope: 'openid claims:read',
    });
    expect(registered.statusCode, registered.body).toBe(201);
    clientId = registered.json().clientId;
    const user = await post(`/admin/tenants/${tenantId}/users`, {
      username: 'alice',
      password,
      roles: ['policyholder'],
    });
    expect(user.statusCode, user.body).toBe(201);
    userId = user.json().user.id;
    const people = new PeopleService({
      db: app.services.db,
      envelope: app.services.crypto.envelope,
      kv: app.services.kv,
      webauthn: { rpId: '127.0.0.1', rpName: 'Bulwark', origins: [issuer] },
    });
    totpSecret = (await people.beginTotpEnrolment(tenantId, userId)).secret;
    await people.confirmTotpEnrolment(tenantId, userId, await totpCode(totpSecret, Date.now()));
  }, 60_000);
  afterAll(() => app.close());

  const config = () =>
    oidc.discovery(new URL(issuer), clientId, {}, oidc.PrivateKeyJwt({ key: clientKey, kid: 'web-1' }), {
      execute: [oidc.allowInsecureRequests],
    });

  it('signs a policyholder in with two factors and issues a DPoP-bound token carrying acr and roles', async () => {
    const c = await config();
    const dpop = oidc.getDPoPHandle(c, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = await oidc.buildAuthorizationUrlWithPAR(
      c,
      {
        redirect_uri: redirectUri,
        scope: 'openid claims:read',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      },
      { DPoP: dpop },
    );
    const browser = new Browser();
    const start = await browser.request(authUrl.href);
    expect(start.status).toBe(303);
    expect(start.location).toMatch(/^\/interaction\//);

    const login = await browser.request(`${issuer}${start.location}`);
    expect(login.status).toBe(200);
    expect(login.body).toContain('<label');
    const afterPassword = await browser.request(`${issuer}${actionOf(login.body)}`, {
      method: 'POST',
      form: { csrf: csrfOf(login.body), username: 'alice', password },
    });
    expect(afterPassword.status, afterPassword.body.slice(0, 300)).toBe(200);
    const code = await totpCode(totpSecret, Date.now() + 30_000);
    const afterTotp = await browser.request(`${issuer}${actionOf(afterPassword.body)}`, {
      method: 'POST',
      form: { csrf: csrfOf(afterPassword.body), method: 'code', code },
    });
    expect(afterTotp.status).toBe(303);

    // back through the authorization endpoint to the consent prompt
    let next = await browser.request(new URL(afterTotp.location!, issuer).href);
    expect(next.status).toBe(303);
    const consentPage = await browser.request(new URL(next.location!, issuer).href);
    expect(consentPage.body).toContain('claims:read');
    const consented = await browser.request(`${issuer}${actionOf(consentPage.body)}`, {
      method: 'POST',
      form: { csrf: csrfOf(consentPage.body), decision: 'approve' },
    });
    expect(consented.status).toBe(303);
    next = await browser.request(new URL(consented.location!, issuer).href);
    expect(next.status).toBe(303);
    const callback = new URL(next.location!);
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get('iss')).toBe(issuer);

    const tokens = await oidc.authorizationCodeGrant(
      c,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP: dpop },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: userId, roles: ['policyholder'], acr: 'urn:bulwark:acr:2fa' });
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));

    // a reused authorization code is refused
    await expect(
      oidc.authorizationCodeGrant(
        c,
        callback,
        { pkceCodeVerifier: verifier, expectedState: state },
        undefined,
        { DPoP: dpop },
      ),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses an authorization request that was not pushed (PAR required)', async () => {
    const c = await config();
    const url = oidc.buildAuthorizationUrl(c, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await fetch(url, { redirect: 'manual' });
    expect([302, 303, 400]).toContain(res.status);
    const where = res.headers.get('location') ?? (await res.text());
    expect(where).toContain('invalid_request');
  });
});
