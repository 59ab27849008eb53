/**
 * One benchmark target per process, so the load generator (bench/run.ts) has its own core:
 *   bare     — bare Fastify answering the same shapes with the same JSON schemas: the baseline;
 *   bulwark  — the real app (buildApp) on the embedded defaults, with a seeded tenant.
 * Prints one JSON line `{ ready, port, tenantId?, token? }` when listening.
 */

import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import * as oidc from 'openid-client';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { TenantService } from '../src/tenants/index.ts';
import { benchRateLimitsFile } from './limits.ts';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
const token = `bench-admin-token-${'b'.repeat(32)}`;

if (kind === 'bare') {
  const app = Fastify({ logger: false });
  const tenant = {
    id: '01900000-0000-7000-8000-000000000000',
    slug: 'bench',
    name: 'Bench',
    status: 'active',
    createdAt: new Date().toISOString(),
  };
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/v1/me', async () => ({
    kind: 'client',
    subject: 'bwk_test_x',
    clientId: 'bwk_test_x',
    tenantId: tenant.id,
    roles: ['partner_app'],
    scopes: ['payments:read'],
    binding: 'dpop',
    expiresAt: new Date().toISOString(),
  }));
  app.get('/admin/tenants/:tenantId', async () => tenant);
  await app.listen({ port, host: '127.0.0.1' });
  console.log(JSON.stringify({ ready: true, port, tenantId: tenant.id, token }));
} else if (kind === 'bulwark') {
  // The whole pipeline runs, rate-limit checks included, with limits the load cannot reach.
  const limitsFile = benchRateLimitsFile();
  const config = loadConfig({
    env: {
      NODE_ENV: 'test',
      BULWARK_DATA_DIR: 'memory://',
      BULWARK_LOG_LEVEL: 'silent',
      BULWARK_BOOTSTRAP_ADMIN_TOKENS: token,
      BULWARK_PORT: String(port),
      BULWARK_RATE_LIMITS_FILE: limitsFile,
      // Measure on PostgreSQL/Redis/NATS when their URLs are set, on the embedded defaults otherwise.
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      ...(process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {}),
    },
  });
  const app = await buildApp(config, { logger: createLogger('silent') });
  const tenants = new TenantService(app.services.db);
  const tenant = await tenants.createTenant({ slug: `bench-${Date.now()}`, name: 'Bench' });
  await app.listen({ port, host: '127.0.0.1' });
  // A partner app with its own key, and a DPoP-bound access token obtained the real way.
  const partner = await tenants.createPartner(tenant.id, { name: 'Bench partner' });
  const clientKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey('jwk', clientKeys.publicKey);
  const registered = await tenants.createApp(tenant.id, partner.id, {
    name: 'bench',
    environment: 'sandbox',
    authMethod: 'private_key_jwt',
    jwks: { keys: [{ kty, crv, x, y, kid: 'bench', alg: 'ES256' }] },
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scope: 'payments:read',
  });
  const oauth = await oidc.discovery(
    new URL(config.publicUrl),
    registered.clientId,
    {},
    oidc.PrivateKeyJwt({ key: clientKeys.privateKey, kid: 'bench' }),
    { execute: [oidc.allowInsecureRequests] },
  );
  const dpopKeys = await oidc.randomDPoPKeyPair('ES256', { extractable: true });
  const tokens = await oidc.clientCredentialsGrant(
    oauth,
    { scope: 'payments:read' },
    { DPoP: oidc.getDPoPHandle(oauth, dpopKeys) },
  );
  const dpopPrivateJwk = await webcrypto.subtle.exportKey('jwk', dpopKeys.privateKey);
  console.log(
    JSON.stringify({
      ready: true,
      port,
      tenantId: tenant.id,
      token,
      accessToken: tokens.access_token,
      dpopPrivateJwk,
    }),
  );
} else {
  console.error('usage: targets.ts bare|bulwark PORT');
  process.exit(2);
}

// BENCH_PROFILE=FILE: a CPU profile of the serving phase only (boot excluded), written on SIGTERM.
const profileFile = process.env.BENCH_PROFILE;
if (profileFile) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  process.on('SIGTERM', async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    process.exit(0);
  });
} else {
  process.on('SIGTERM', () => process.exit(0));
}
