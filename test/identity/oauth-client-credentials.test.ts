import { webcrypto } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRevokedJti } from '../../src/gateway/authenticate/index.ts';
import { adminHeaders, testApp } from '../support/app.ts';
import { freePort } from '../support/process.ts';

// Partner back-end flow with a real OIDC client: client_credentials, private_key_jwt, DPoP.
describe('authorization server: client credentials (FAPI 2.0)', () => {
  let app: FastifyInstance;
  let issuer: string;
  let clientId: string;
  let clientKey: webcrypto.CryptoKey;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    app = await testApp({ BULWARK_PORT: String(port) });
    await app.listen({ port, host: '127.0.0.1' });
    const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    clientKey = pair.privateKey;
    const jwk = {
      ...(await webcrypto.subtle.exportKey('jwk', pair.publicKey)),
      kid: 'partner-1',
      alg: 'ES256',
    };
    delete (jwk as { key_ops?: unknown }).key_ops;
    delete (jwk as { ext?: unknown }).ext;
    const post = (url: string, payload: object) =>
      app.inject({ method: 'POST', url, headers: adminHeaders, payload });
    const tenantId = (await post('/admin/tenants', { slug: 'oauth-ins', name: 'OAuth Insurer' })).json().id;
    const partnerId = (await post(`/admin/tenants/${tenantId}/partners`, { name: 'Partner' })).json().id;
    const registered = await post(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'backend',
      jwks: { keys: [jwk] },
      scope: 'payments:read payments:write',
    });
    expect(registered.statusCode, registered.body).toBe(201);
    clientId = registered.json().clientId;
  });
  afterAll(() => app.close());

  const discover = () =>
    oidc.discovery(new URL(issuer), clientId, {}, oidc.PrivateKeyJwt({ key: clientKey, kid: 'partner-1' }), {
      execute: [oidc.allowInsecureRequests],
    });

  it('publishes a FAPI 2.0 discovery document', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.token_endpoint_auth_methods_supported).toEqual([
      'private_key_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
    ]);
    expect(meta.require_pushed_authorization_requests).toBe(true);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.dpop_signing_alg_values_supported).toEqual(['ES256', 'PS256', 'EdDSA']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.grant_types_supported).not.toContain('password');
    expect(meta.jwks_uri).toBe(`${issuer}/oauth/jwks`);
  });

  it('issues a DPoP-bound JWT access token for the partner API to a private_key_jwt client', async () => {
    const config = await discover();
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'payments:read' }, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    expect(tokens.expires_in).toBeLessThanOrEqual(300);
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(
      tokens.access_token,
      createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`)),
      {
        issuer,
        audience: `${issuer}/v1`,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      },
    );
    expect(payload).toMatchObject({ client_id: clientId, scope: 'payments:read', roles: ['partner_app'] });
    expect(payload.tenant_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((payload.cnf as { jkt?: string }).jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('calls the partner API with the DPoP-bound token, and the resource server checks the binding', async () => {
    const config = await discover();
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'payments:read' }, { DPoP: dpop });
    const me = await oidc.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(`${issuer}/v1/me`),
      'GET',
      undefined,
      undefined,
      {
        DPoP: dpop,
      },
    );
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      kind: 'client',
      clientId,
      scopes: ['payments:read'],
      binding: 'dpop',
      roles: ['partner_app'],
    });
    // the same token without its proof is refused
    const bare = await fetch(`${issuer}/v1/me`, {
      headers: { authorization: `DPoP ${tokens.access_token}` },
    });
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { code: string }).code).toBe('AUTH_DPOP_PROOF_INVALID');
    // revoked at the authorization server: refused by the resource server at once
    await oidc.tokenRevocation(config, tokens.access_token);
    // (openid-client throws on a 401 challenge; the response rides on the error)
    const after = await oidc
      .fetchProtectedResource(
        config,
        tokens.access_token,
        new URL(`${issuer}/v1/me`),
        'GET',
        undefined,
        undefined,
        {
          DPoP: dpop,
        },
      )
      .catch((e: { response: Response }) => e.response);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { code: string }).code).toBe('AUTH_TOKEN_REVOKED');
  });

  it('refuses a token request without a DPoP proof (sender-constrained tokens only)', async () => {
    const config = await discover();
    await expect(oidc.clientCredentialsGrant(config, { scope: 'payments:read' })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('refuses a scope the app was not granted', async () => {
    const config = await discover();
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await expect(
      oidc.clientCredentialsGrant(config, { scope: 'claims:write' }, { DPoP: dpop }),
    ).rejects.toMatchObject({
      error: 'invalid_scope',
    });
  });

  it('refuses a client assertion signed by another key', async () => {
    const other = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const config = await oidc.discovery(
      new URL(issuer),
      clientId,
      {},
      oidc.PrivateKeyJwt({ key: other.privateKey, kid: 'partner-1' }),
      { execute: [oidc.allowInsecureRequests] },
    );
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await expect(
      oidc.clientCredentialsGrant(config, { scope: 'payments:read' }, { DPoP: dpop }),
    ).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it('counts token requests by grant and outcome in the metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/metrics', headers: adminHeaders });
    expect(res.body).toMatch(
      /bulwark_oauth_token_requests_total\{grant="client_credentials",result="issued"\} [1-9]/,
    );
    expect(res.body).toMatch(
      /bulwark_oauth_token_requests_total\{grant="client_credentials",result="invalid_client"\} 1/,
    );
  });

  it('introspects and revokes tokens (RFC 7662, RFC 7009)', async () => {
    const config = await discover();
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'payments:write' }, { DPoP: dpop });
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: clientId, scope: 'payments:write' });
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    // the revocation list the resource server reads
    const { payload } = await jwtVerify(
      tokens.access_token,
      createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`)),
    );
    expect(await isRevokedJti(app.services.kv, payload.jti as string)).toBe(true);
  });
});
