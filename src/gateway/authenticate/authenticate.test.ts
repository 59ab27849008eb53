import { createHash, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, uniqueName } from '../../../test/support/backends.ts';
import { backends as kvBackends } from '../../../test/support/kv-backends.ts';
import { createCrypto, type SigningKeyRing } from '../../platform/crypto/index.ts';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import {
  accessTokenContext,
  createTokenVerifier,
  markRevoked,
  type PublicJwks,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './index.ts';

/**
 * Negative tests name the exact error code. Tokens are signed by a real key ring ('oauth' purpose)
 * as the authorization server's are; DPoP keys are the client's own jose keys. The replay cache
 * runs on the memory KV always and on Redis when REDIS_URL is set.
 */

const PUBLIC_URL = 'https://api.bulwark.test';
const AUDIENCE = `${PUBLIC_URL}/v1`;
const ALGS = 'algs="ES256 EdDSA PS256"';

interface DpopKey {
  readonly alg: 'ES256' | 'EdDSA' | 'PS256';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly jkt: string;
}

async function dpopKey(alg: DpopKey['alg'] = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(publicJwk),
  };
}

const nowSec = () => Math.floor(Date.now() / 1000);
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

interface ProofOptions {
  readonly key?: DpopKey;
  readonly htm?: string;
  readonly htu?: string;
  readonly iat?: number;
  readonly jti?: string;
  /** The token whose hash goes in `ath`; null leaves `ath` out. */
  readonly token?: string | null;
  readonly header?: Record<string, unknown>;
}

let db: Awaited<ReturnType<typeof migratedDatabase>>['db'];
let disposeDb: () => Promise<void>;
let signing: SigningKeyRing;
let clientKey: DpopKey;
let otherKey: DpopKey;

beforeAll(async () => {
  ({ db, dispose: disposeDb } = await migratedDatabase({ name: 'pglite' }));
  signing = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).signing;
  await signing.ensureKeys('oauth', 'ES256');
  [clientKey, otherKey] = await Promise.all([dpopKey(), dpopKey()]);
});
afterAll(() => disposeDb?.());

function claimsFor(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSec();
  const claims: Record<string, unknown> = {
    iss: PUBLIC_URL,
    aud: AUDIENCE,
    sub: 'client-1',
    client_id: 'client-1',
    scope: 'claims:read claims:write',
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    tenant_id: 'tenant-1',
    partner_id: 'partner-1',
    roles: ['partner_app'],
    cnf: { jkt: clientKey.jkt },
    ...overrides,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

/** An access token as the authorization server issues it: at+jwt, signed by the 'oauth' key ring. */
function mintToken(
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return signing.signJws('oauth', JSON.stringify(claimsFor(overrides)), { typ: 'at+jwt', ...header });
}

function proof(token: string | null, options: ProofOptions = {}): Promise<string> {
  const key = options.key ?? clientKey;
  const payload: Record<string, unknown> = {
    htm: options.htm ?? 'GET',
    htu: options.htu ?? `${PUBLIC_URL}/v1/claims`,
    iat: options.iat ?? nowSec(),
    jti: options.jti ?? randomUUID(),
  };
  const tokenForAth = options.token === undefined ? token : options.token;
  if (tokenForAth !== null) payload.ath = ath(tokenForAth);
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...options.header })
    .sign(key.privateKey);
}

/** The certificate the test app's connection "presents" (the hook a TLS proxy setup would supply). */
let presentedCertificate: Uint8Array | undefined;

async function buildApp(verifier: TokenVerifier): Promise<FastifyInstance> {
  const app = Fastify();
  installProblemHandlers(app);
  await app.register(async (api) => {
    accessTokenContext(api, verifier, {
      publicUrl: PUBLIC_URL,
      clientCertificate: () => presentedCertificate,
    });
    const echo = async (req: { principal?: unknown }) => {
      const p = req.principal as { scopes: ReadonlySet<string> } & Record<string, unknown>;
      return { ...p, scopes: [...p.scopes] };
    };
    api.get('/v1/claims', { config: { scopes: ['claims:read'] } }, echo);
    api.post('/v1/payments', { config: { scopes: ['payments:write', 'payments:read'] } }, echo);
    api.get('/v1/me', { config: { scopes: [] } }, echo);
  });
  await app.ready();
  return app;
}

interface CallOptions {
  readonly method?: 'GET' | 'POST';
  readonly url?: string;
  readonly token?: string;
  readonly scheme?: string;
  readonly proof?: string;
  readonly headers?: Record<string, string>;
}

function call(app: FastifyInstance, options: CallOptions): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `${options.scheme ?? 'DPoP'} ${options.token}`;
  if (options.proof !== undefined) headers.dpop = options.proof;
  return app.inject({ method: options.method ?? 'GET', url: options.url ?? '/v1/claims', headers });
}

/** Asserts the exact refusal, its challenge, and that no credential is echoed back. */
function expectRefused(
  res: LightMyRequestResponse,
  code: string,
  secrets: readonly (string | undefined)[] = [],
): void {
  const body = res.json() as { code: string; status: number };
  expect(body.code).toBe(code);
  expect(res.statusCode).toBe(body.status);
  for (const s of secrets) if (s) expect(res.body).not.toContain(s);
  const challenge = String(res.headers['www-authenticate']);
  if (res.statusCode !== 401) return;
  expect(challenge.startsWith('DPoP ')).toBe(true);
  expect(challenge).toContain(ALGS);
  if (code === 'AUTH_DPOP_PROOF_INVALID' || code === 'AUTH_DPOP_PROOF_REPLAYED') {
    expect(challenge).toContain('error="invalid_dpop_proof"');
  } else if (code !== 'AUTH_REQUIRED') {
    expect(challenge).toContain('error="invalid_token"');
  } else {
    expect(challenge).not.toContain('error=');
  }
}

// Real time in memory: proofs carry real `iat`s.
const backends = kvBackends({ realTime: true });

describe.each(backends)('access-token authentication with the replay cache on $name', (backend) => {
  let kv: Kv;
  let verifier: TokenVerifier;
  let app: FastifyInstance;
  let keyLoads = 0;
  const options = (store: Kv): TokenVerifierOptions => ({
    issuer: PUBLIC_URL,
    audience: AUDIENCE,
    keys: () => {
      keyLoads++;
      return signing.publicJwks('oauth');
    },
    kv: store,
    dpop: { iatWindowSec: 60 },
  });

  beforeAll(async () => {
    kv = await backend.connect();
    verifier = createTokenVerifier(options(kv));
    app = await buildApp(verifier);
  });
  afterAll(async () => {
    await app?.close();
    await backend.close();
  });

  describe('accepts', () => {
    it('a DPoP-bound token with a fresh proof, and sets the principal', async () => {
      const token = await mintToken();
      const res = await call(app, { token, proof: await proof(token) });
      expect(res.statusCode).toBe(200);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      expect(res.json()).toEqual({
        kind: 'client',
        subject: 'client-1',
        clientId: 'client-1',
        tenantId: 'tenant-1',
        partnerId: 'partner-1',
        roles: ['partner_app'],
        scopes: ['claims:read', 'claims:write'],
        tokenId: claims.jti,
        binding: 'dpop',
        expiresAt: claims.exp,
      });
      // The same token again, from the verification cache, with the next proof.
      const again = await call(app, { token, proof: await proof(token) });
      expect(again.statusCode).toBe(200);
    });

    it("a user's token with acr, amr and authorization_details", async () => {
      const details = [
        { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '120.00' } },
      ];
      const token = await mintToken({
        sub: 'user-42',
        acr: 'urn:bulwark:acr:2fa',
        amr: ['pwd', 'otp'],
        authorization_details: details,
        roles: ['policyholder'],
      });
      const res = await call(app, { token, proof: await proof(token) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        kind: 'user',
        subject: 'user-42',
        clientId: 'client-1',
        acr: 'urn:bulwark:acr:2fa',
        amr: ['pwd', 'otp'],
        authorizationDetails: details,
        roles: ['policyholder'],
      });
    });

    it("a tenant's own app: partner_id null is no partner", async () => {
      const token = await mintToken({ partner_id: null, roles: null });
      const res = await call(app, { token, proof: await proof(token) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ roles: [] });
      expect(res.json()).not.toHaveProperty('partnerId');
    });

    it('an audience array that names Bulwark, and an EdDSA proof key', async () => {
      const edKey = await dpopKey('EdDSA');
      const token = await mintToken({ aud: ['https://other.example', AUDIENCE], cnf: { jkt: edKey.jkt } });
      const res = await call(app, { token, proof: await proof(token, { key: edKey }) });
      expect(res.statusCode).toBe(200);
    });

    it('a proof whose htu differs only by RFC 3986 normalisation, and ignores the query', async () => {
      const token = await mintToken();
      const htu = 'HTTPS://API.Bulwark.TEST:443/v1/./%63laims';
      const res = await call(app, { token, url: '/v1/claims?page=2', proof: await proof(token, { htu }) });
      expect(res.statusCode).toBe(200);
    });

    it('takes htu from the public URL, whatever Host the client sends', async () => {
      const token = await mintToken();
      const ok = await call(app, {
        token,
        proof: await proof(token),
        headers: { host: 'attacker.example' },
      });
      expect(ok.statusCode).toBe(200);
      const forged = await call(app, {
        token,
        proof: await proof(token, { htu: 'https://attacker.example/v1/claims' }),
        headers: { host: 'attacker.example' },
      });
      expectRefused(forged, 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a certificate-bound token as Bearer over a connection with that certificate', async () => {
      const cert = randomBytes(600);
      const token = await mintToken({ cnf: { 'x5t#S256': b64(createHash('sha256').update(cert).digest()) } });
      presentedCertificate = cert;
      try {
        const res = await call(app, { token, scheme: 'Bearer' });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ binding: 'mtls' });
      } finally {
        presentedCertificate = undefined;
      }
    });
  });

  describe('refuses', () => {
    it('a request without credentials, or with another scheme, with AUTH_REQUIRED', async () => {
      expectRefused(await call(app, {}), 'AUTH_REQUIRED');
      expectRefused(await call(app, { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'AUTH_REQUIRED');
    });

    it('a replayed DPoP proof', async () => {
      const token = await mintToken();
      const p = await proof(token);
      expect((await call(app, { token, proof: p })).statusCode).toBe(200);
      expectRefused(await call(app, { token, proof: p }), 'AUTH_DPOP_PROOF_REPLAYED', [token, p]);
    });

    it('a replay across two verifier instances sharing the store', async () => {
      const other = await buildApp(createTokenVerifier(options(await backend.connect())));
      try {
        const token = await mintToken();
        const p = await proof(token);
        expect((await call(app, { token, proof: p })).statusCode).toBe(200);
        expectRefused(await call(other, { token, proof: p }), 'AUTH_DPOP_PROOF_REPLAYED');
      } finally {
        await other.close();
      }
    });

    it('a proof made for another URL or another method', async () => {
      const token = await mintToken();
      const url = await proof(token, { htu: `${PUBLIC_URL}/v1/payments` });
      expectRefused(await call(app, { token, proof: url }), 'AUTH_DPOP_PROOF_INVALID');
      const method = await proof(token, { htm: 'POST' });
      expectRefused(await call(app, { token, proof: method }), 'AUTH_DPOP_PROOF_INVALID');
      const lower = await proof(token, { htm: 'get' });
      expectRefused(await call(app, { token, proof: lower }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a proof without ath, or with the ath of another token', async () => {
      const token = await mintToken();
      const without = await proof(token, { token: null });
      expectRefused(await call(app, { token, proof: without }), 'AUTH_DPOP_PROOF_INVALID');
      const wrong = await proof(token, { token: await mintToken() });
      expectRefused(await call(app, { token, proof: wrong }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a DPoP-bound token with a proof from another key', async () => {
      const token = await mintToken();
      const res = await call(app, { token, proof: await proof(token, { key: otherKey }) });
      expectRefused(res, 'AUTH_TOKEN_BINDING_MISMATCH', [token]);
    });

    it('a DPoP-bound token presented as a Bearer token, or without a proof', async () => {
      const token = await mintToken();
      expectRefused(await call(app, { token, scheme: 'Bearer' }), 'AUTH_TOKEN_BINDING_MISMATCH', [token]);
      expectRefused(
        await call(app, { token, scheme: 'Bearer', proof: await proof(token) }),
        'AUTH_TOKEN_BINDING_MISMATCH',
      );
      expectRefused(await call(app, { token }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a stale proof, and a proof from the future', async () => {
      const token = await mintToken();
      const stale = await proof(token, { iat: nowSec() - 120 });
      expectRefused(await call(app, { token, proof: stale }), 'AUTH_DPOP_PROOF_INVALID');
      const future = await proof(token, { iat: nowSec() + 120 });
      expectRefused(await call(app, { token, proof: future }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a proof that carries a private key, has the wrong typ, or a bad signature', async () => {
      const token = await mintToken();
      const withPrivate = await proof(token, { header: { jwk: clientKey.privateJwk } });
      expectRefused(await call(app, { token, proof: withPrivate }), 'AUTH_DPOP_PROOF_INVALID');
      const jwtTyp = await proof(token, { header: { typ: 'JWT' } });
      expectRefused(await call(app, { token, proof: jwtTyp }), 'AUTH_DPOP_PROOF_INVALID');
      const good = await proof(token);
      const [h, p, s] = good.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${h}.${b64(JSON.stringify({ ...claims, jti: randomUUID() }))}.${s}`;
      expectRefused(await call(app, { token, proof: tampered }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('a proof signed with HS256 or alg none', async () => {
      const token = await mintToken();
      const claims = {
        htm: 'GET',
        htu: `${PUBLIC_URL}/v1/claims`,
        iat: nowSec(),
        jti: randomUUID(),
        ath: ath(token),
      };
      const hs = await new SignJWT(claims)
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: clientKey.publicJwk })
        .sign(new TextEncoder().encode(JSON.stringify(clientKey.publicJwk)));
      expectRefused(await call(app, { token, proof: hs }), 'AUTH_DPOP_PROOF_INVALID');
      const none = `${b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: clientKey.publicJwk }))}.${b64(JSON.stringify(claims))}.`;
      expectRefused(await call(app, { token, proof: none }), 'AUTH_DPOP_PROOF_INVALID');
    });

    it('an alg: none token', async () => {
      const { kid } = await signing.ensureKeys('oauth', 'ES256');
      const token = `${b64(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid }))}.${b64(JSON.stringify(claimsFor()))}.`;
      expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID', [token]);
    });

    it('an HS256 token signed with the public key as the secret', async () => {
      const { kid, publicJwk } = await signing.ensureKeys('oauth', 'ES256');
      const pem = createPublicKey({ key: { ...publicJwk }, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(publicJwk))]) {
        const token = await new SignJWT(claimsFor())
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
          .sign(new Uint8Array(secret));
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
      }
    });

    it('an expired token', async () => {
      const token = await mintToken({ iat: nowSec() - 900, exp: nowSec() - 120 });
      expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_EXPIRED');
    });

    it('a token for another audience or from another issuer', async () => {
      const aud = await mintToken({ aud: 'https://other-api.example/v1' });
      expectRefused(await call(app, { token: aud, proof: await proof(aud) }), 'AUTH_TOKEN_INVALID');
      const iss = await mintToken({ iss: 'https://evil.example' });
      expectRefused(await call(app, { token: iss, proof: await proof(iss) }), 'AUTH_TOKEN_INVALID');
    });

    it('a token that is not an at+jwt (an ID token, say)', async () => {
      const token = await mintToken({}, { typ: 'JWT' });
      expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
    });

    it('a token signed by an unknown kid, reloading the keys at most once', async () => {
      const rogue = await generateKeyPair('ES256');
      const sign = () =>
        new SignJWT(claimsFor())
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'rogue' })
          .sign(rogue.privateKey);
      const before = keyLoads;
      for (let i = 0; i < 3; i++) {
        const token = await sign();
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
      }
      expect(keyLoads - before).toBeLessThanOrEqual(1);
    });

    it('a token without a sender constraint, or with a malformed one', async () => {
      for (const cnf of [
        undefined,
        {},
        { jkt: 'short' },
        { jkt: clientKey.jkt, 'x5t#S256': clientKey.jkt },
      ]) {
        const token = await mintToken({ cnf });
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
      }
    });

    it('a token missing a required claim', async () => {
      for (const missing of ['jti', 'client_id', 'tenant_id', 'sub', 'exp']) {
        const token = await mintToken({ [missing]: undefined });
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
      }
    });

    it('a token with a malformed optional claim', async () => {
      for (const claim of [
        { roles: 'admin' },
        { scope: ['claims:read'] },
        { amr: 'pwd' },
        { authorization_details: [{}] },
      ]) {
        const token = await mintToken(claim);
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
      }
    });

    it('a revoked token, even one already verified and cached', async () => {
      const token = await mintToken();
      expect((await call(app, { token, proof: await proof(token) })).statusCode).toBe(200);
      const { jti, exp } = claimsOf(token);
      await markRevoked(kv, jti, exp);
      expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_REVOKED');
    });

    it('a token revoked on one instance, at another instance sharing the store', async () => {
      const other = await buildApp(createTokenVerifier(options(await backend.connect())));
      try {
        const token = await mintToken();
        const { jti, exp } = claimsOf(token);
        await markRevoked(kv, jti, exp);
        expectRefused(await call(other, { token, proof: await proof(token) }), 'AUTH_TOKEN_REVOKED');
      } finally {
        await other.close();
      }
    });

    it('a token without a scope the route requires, naming the scopes (403)', async () => {
      const token = await mintToken({ scope: 'payments:read claims:read' });
      const res = await call(app, {
        method: 'POST',
        url: '/v1/payments',
        token,
        proof: await proof(token, { htm: 'POST', htu: `${PUBLIC_URL}/v1/payments` }),
      });
      expectRefused(res, 'AUTH_INSUFFICIENT_SCOPE', [token]);
      expect(res.statusCode).toBe(403);
      expect(res.headers['www-authenticate']).toBe(
        'DPoP error="insufficient_scope", scope="payments:write payments:read"',
      );
      const noScope = await mintToken({ scope: undefined });
      expect(
        (
          await call(app, {
            url: '/v1/me',
            token: noScope,
            proof: await proof(noScope, { htu: `${PUBLIC_URL}/v1/me` }),
          })
        ).statusCode,
      ).toBe(200);
    });

    it('a certificate-bound token without its certificate, or with the DPoP scheme', async () => {
      const cert = randomBytes(600);
      const token = await mintToken({ cnf: { 'x5t#S256': b64(createHash('sha256').update(cert).digest()) } });
      expectRefused(await call(app, { token, scheme: 'Bearer' }), 'AUTH_TOKEN_BINDING_MISMATCH');
      presentedCertificate = randomBytes(600);
      try {
        const res = await call(app, { token, scheme: 'Bearer' });
        expectRefused(res, 'AUTH_TOKEN_BINDING_MISMATCH');
        expect(res.headers['www-authenticate']).toContain('Bearer error="invalid_token"');
        presentedCertificate = cert;
        expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_BINDING_MISMATCH');
      } finally {
        presentedCertificate = undefined;
      }
    });

    it('a malformed Authorization header', async () => {
      for (const authorization of ['DPoP', 'DPoP a b', 'Bearer "quoted"', `DPoP ${'a'.repeat(9000)}`]) {
        expectRefused(await call(app, { headers: { authorization } }), 'AUTH_TOKEN_INVALID');
      }
    });
  });
});

function claimsOf(token: string): { jti: string; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
    jti: string;
    exp: number;
  };
}

describe('signing keys', () => {
  const kv = createMemoryKv({ prefix: `${uniqueName('authn-keys')}:` });
  afterAll(() => kv.close());

  async function signer(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    const sign = () =>
      new SignJWT(claimsFor()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
    return { jwk, sign };
  }

  it('picks up a new key on an unknown kid, and forgets tokens of a removed key', async () => {
    const a = await signer('key-a');
    const b = await signer('key-b');
    let jwks: PublicJwks = { keys: [a.jwk] };
    const verifier = createTokenVerifier({
      issuer: PUBLIC_URL,
      audience: AUDIENCE,
      keys: () => jwks,
      kv,
      dpop: { iatWindowSec: 60 },
      keysRefreshIntervalSec: 0,
    });
    const app = await buildApp(verifier);
    try {
      const tokenA = await a.sign();
      expect((await call(app, { token: tokenA, proof: await proof(tokenA) })).statusCode).toBe(200);
      // A rotation: b published, then a removed (revoked at the authorization server).
      jwks = { keys: [a.jwk, b.jwk] };
      const tokenB = await b.sign();
      expect((await call(app, { token: tokenB, proof: await proof(tokenB) })).statusCode).toBe(200);
      jwks = { keys: [b.jwk] };
      await verifier.refreshKeys();
      expectRefused(await call(app, { token: tokenA, proof: await proof(tokenA) }), 'AUTH_TOKEN_INVALID');
      expect((await call(app, { token: tokenB, proof: await proof(tokenB) })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses a key that names another algorithm than the token', async () => {
    const a = await signer('key-a');
    const verifier = createTokenVerifier({
      issuer: PUBLIC_URL,
      audience: AUDIENCE,
      keys: () => ({ keys: [{ ...a.jwk, alg: 'PS256' }] }),
      kv,
      dpop: { iatWindowSec: 60 },
    });
    const app = await buildApp(verifier);
    try {
      const token = await a.sign();
      expectRefused(await call(app, { token, proof: await proof(token) }), 'AUTH_TOKEN_INVALID');
    } finally {
      await app.close();
    }
  });
});

describe('configuration', () => {
  const kv = createMemoryKv({ prefix: `${uniqueName('authn-cfg')}:` });
  afterAll(() => kv.close());
  const base = { issuer: PUBLIC_URL, audience: AUDIENCE, keys: () => ({ keys: [] }), kv };

  it('refuses a replay window, tolerance or algorithm list that would weaken the checks', () => {
    expect(() => createTokenVerifier({ ...base, dpop: { iatWindowSec: 0 } })).toThrow(/iatWindowSec/);
    expect(() => createTokenVerifier({ ...base, dpop: { iatWindowSec: 3600 } })).toThrow(/iatWindowSec/);
    expect(() =>
      createTokenVerifier({ ...base, dpop: { iatWindowSec: 60 }, clockToleranceSec: 600 }),
    ).toThrow(/clockToleranceSec/);
    expect(() =>
      createTokenVerifier({
        ...base,
        dpop: { iatWindowSec: 60 },
        algorithms: ['HS256' as unknown as 'ES256'],
      }),
    ).toThrow(/algorithms/);
  });

  it('refuses to boot an access-token route that declares no scopes', async () => {
    const verifier = createTokenVerifier({ ...base, dpop: { iatWindowSec: 60 } });
    const app = Fastify();
    await expect(
      app.register(async (api) => {
        accessTokenContext(api, verifier, { publicUrl: PUBLIC_URL });
        api.get('/v1/open', async () => 'open');
      }),
    ).rejects.toThrow(/declares no config.scopes/);
  });
});
