/**
 * Tokens issued per second (issue 3 `bench/`): client_credentials with private_key_jwt and a DPoP
 * proof, against Bulwark's authorization server (storage on the database, tenant metadata in the
 * token, metrics, the whole gateway in front) and against a BARE `oidc-provider` configured the same
 * way (FAPI 2.0, DPoP, private_key_jwt, JWT access tokens, in-memory storage) in the same run.
 * A closed-loop driver keeps `concurrency` requests in flight; both sides pay the same client cost
 * (signing the assertion and the proof), so the ratio is the server's.
 * Not part of the test suite.
 *
 *   npx tsx bench/tokens.ts [seconds=10] [concurrency=16]
 */
import type { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { benchRateLimitsFile } from './limits.ts';

const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 16);
const ADMIN = 'bench-admin-token-0123456789abcdefghijklmnop';

interface Client {
  readonly clientId: string;
  readonly key: webcrypto.CryptoKey;
  readonly kid: string;
}

async function clientKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256' };
  return { jwk, privateKey: privateKey as webcrypto.CryptoKey };
}

/** One token request: a fresh client assertion and a fresh DPoP proof, as a real client sends. */
async function tokenRequest(
  issuer: string,
  tokenUrl: string,
  client: Client,
  dpopKey: { privateKey: webcrypto.CryptoKey; jwk: JWK },
) {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: client.kid })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(issuer)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(client.key);
  const proof = await new SignJWT({ htm: 'POST', htu: tokenUrl })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopKey.jwk })
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .sign(dpopKey.privateKey);
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'payments:read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (res.status !== 200 || !body.access_token)
    throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
}

async function drive(name: string, once: () => Promise<void>) {
  for (let i = 0; i < concurrency; i++) await once(); // warm up
  let done = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await once();
        done += 1;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = done / elapsed;
  console.log(
    `${name.padEnd(28)} ${String(done).padStart(7)} tokens in ${elapsed.toFixed(1)} s = ${rate.toFixed(0)} tokens/s`,
  );
  return rate;
}

async function bulwark(): Promise<{ rate: number; close: () => Promise<void> }> {
  const port = 18_000 + Math.floor(Math.random() * 1000);
  const config = loadConfig({
    env: {
      NODE_ENV: 'test',
      BULWARK_DATA_DIR: 'memory://',
      BULWARK_LOG_LEVEL: 'silent',
      BULWARK_BOOTSTRAP_ADMIN_TOKENS: ADMIN,
      BULWARK_PORT: String(port),
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      BULWARK_RATE_LIMITS_FILE: benchRateLimitsFile(),
    },
  });
  const app = await buildApp(config, { logger: createLogger('silent') });
  await app.listen({ port, host: '127.0.0.1' });
  const issuer = `http://127.0.0.1:${port}`;
  const admin = async (url: string, payload: object) =>
    (
      await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN}` }, payload })
    ).json();
  const tenant = await admin('/admin/tenants', { slug: `bench-${Date.now()}`, name: 'Bench' });
  const partner = await admin(`/admin/tenants/${tenant.id}/partners`, { name: 'Bench partner' });
  const key = await clientKey();
  const registered = await admin(`/admin/tenants/${tenant.id}/partners/${partner.id}/apps`, {
    name: 'bench',
    jwks: { keys: [key.jwk] },
    scope: 'payments:read',
  });
  const client = { clientId: registered.clientId, key: key.privateKey, kid: 'bench-1' };
  const dpop = await clientKey();
  const rate = await drive(`bulwark (${app.services.db.kind})`, () =>
    tokenRequest(issuer, `${issuer}/oauth/token`, client, dpop),
  );
  return { rate, close: () => app.close() };
}

async function bare(): Promise<{ rate: number; close: () => Promise<void> }> {
  const key = await clientKey();
  const signing = await generateKeyPair('ES256', { extractable: true });
  const port = 19_000 + Math.floor(Math.random() * 1000);
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'bench',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key.jwk as never] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'payments:read',
        dpop_bound_access_tokens: true,
        id_token_signed_response_alg: 'ES256',
        token_endpoint_auth_signing_alg: 'ES256',
      },
    ],
    enabledJWA: { clientAuthSigningAlgValues: ['ES256'], dPoPSigningAlgValues: ['ES256'] },
    jwks: {
      keys: [{ ...(await exportJWK(signing.privateKey)), kid: 'as-1', alg: 'ES256', use: 'sig' }] as never,
    },
    clientAuthMethods: ['private_key_jwt'],
    scopes: ['payments:read'],
    features: {
      devInteractions: { enabled: false },
      fapi: { enabled: true, profile: '2.0' },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => `${issuer}/v1`,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'payments:read',
          audience: `${issuer}/v1`,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    routes: { token: '/oauth/token' },
    ttl: { ClientCredentials: 300 },
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const dpop = await clientKey();
  const client = { clientId: 'bench', key: key.privateKey, kid: 'bench-1' };
  const rate = await drive('bare oidc-provider (memory)', () =>
    tokenRequest(issuer, `${issuer}/oauth/token`, client, dpop),
  );
  return { rate, close: () => new Promise((r) => server.close(() => r())) };
}

const base = await bare();
await base.close();
const ours = await bulwark();
await ours.close();
console.log(
  `\nratio bulwark / bare oidc-provider: ${(ours.rate / base.rate).toFixed(2)}× (concurrency ${concurrency}, ${seconds} s each)`,
);
