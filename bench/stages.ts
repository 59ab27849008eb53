/**
 * Marginal CPU cost of each gateway stage, in microseconds per request, measured in one process
 * with `inject` (no sockets, so only our work is counted). Stages are added one at a time to a bare
 * Fastify app serving the same small JSON, in pipeline order; each line's delta is that stage.
 *
 *   npx tsx bench/stages.ts [requests]
 */
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '../src/config/index.ts';
import { authenticateRequest, createTokenVerifier } from '../src/gateway/authenticate/index.ts';
import { limitHeaderCount, refuseUnknownMethods } from '../src/gateway/edges.ts';
import { createRateLimiter, createRateLimitHooks } from '../src/gateway/rate-limit/index.ts';
import { compileWaf, installWaf } from '../src/gateway/waf/index.ts';
import { installJsonBodyParser } from '../src/platform/http/json-body.ts';
import { installProblemHandlers } from '../src/platform/http/problems.ts';
import { requestId } from '../src/platform/http/request-id.ts';
import { validatorCompiler } from '../src/platform/http/validation.ts';
import { createMemoryKv } from '../src/platform/kv/memory.ts';

const N = Number(process.argv[2] ?? 20_000);
const config = loadConfig({ env: { NODE_ENV: 'test', BULWARK_DATA_DIR: 'memory://' } });
const issuer = 'http://127.0.0.1:8080';
const audience = `${issuer}/v1`;

// Token and DPoP key, signed once; a fresh proof per request is signed ahead of the timed loop.
const signing = await generateKeyPair('ES256');
const signingJwk = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'ES256' };
const dpop = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
  'sign',
  'verify',
])) as webcrypto.CryptoKeyPair;
const dpopJwk = await exportJWK(dpop.publicKey);
const jkt = createHash('sha256')
  .update(JSON.stringify({ crv: dpopJwk.crv, kty: dpopJwk.kty, x: dpopJwk.x, y: dpopJwk.y }))
  .digest('base64url');
const accessToken = await new SignJWT({
  client_id: 'bench',
  scope: 'payments:read',
  tenant_id: '01900000-0000-7000-8000-000000000000',
  roles: ['partner_app'],
  cnf: { jkt },
  jti: randomUUID(),
})
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject('bench')
  .setIssuedAt()
  .setExpirationTime('10m')
  .sign(signing.privateKey);
const ath = createHash('sha256').update(accessToken).digest('base64url');
const proofs: string[] = [];

type Stage = (app: FastifyInstance) => void;
const kv = createMemoryKv({ prefix: 'bench:' });
const limiter = createRateLimiter({
  kv,
  policies: {
    base: [{ name: 'ip', by: ['ip'], limit: 1e9, periodMs: 60_000, burst: 1e9 }],
    classes: {
      default: { limits: [], whenUnavailable: 'local' },
      login: { limits: [], whenUnavailable: 'local' },
      token: { limits: [], whenUnavailable: 'local' },
      payment: { limits: [], whenUnavailable: 'local' },
    },
    plans: { sandbox: null },
    defaultPlan: 'sandbox',
  },
});
const rateLimit = createRateLimitHooks(limiter);
const waf = compileWaf({ paranoia: 1, mode: 'block' });
const verifier = createTokenVerifier({
  issuer,
  audience,
  keys: () => ({ keys: [signingJwk] }) as never,
  kv,
  dpop: { iatWindowSec: 60 },
});

const stages: [string, Stage][] = [
  [
    'request id, problem handlers, strict JSON parser and validator',
    (app) => {
      installProblemHandlers(app);
      installJsonBodyParser(app);
      app.setValidatorCompiler(validatorCompiler());
    },
  ],
  [
    'edges: method allow-list, header count',
    (app) => {
      app.addHook('onRequest', refuseUnknownMethods);
      app.addHook('onRequest', limitHeaderCount(config.maxHeaders));
    },
  ],
  ['per-IP rate limit (memory)', (app) => app.addHook('onRequest', rateLimit.perIpHook)],
  ['WAF (line, headers, cookies, body)', (app) => installWaf(app, waf)],
  [
    'token (cached) + DPoP proof verification',
    (app) => {
      app.decorateRequest('principal', undefined);
      app.addHook('preValidation', authenticateRequest(verifier, { publicUrl: issuer }));
    },
  ],
];

function build(upTo: number): FastifyInstance {
  const app = Fastify({ logger: false, genReqId: upTo >= 1 ? requestId : undefined });
  for (const [, stage] of stages.slice(0, upTo)) stage(app);
  app.post(
    '/v1/echo',
    {
      config: { scopes: ['payments:read'] },
      schema: {
        body: {
          type: 'object',
          properties: { amount: { type: 'integer' }, currency: { type: 'string' } },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { ok: { type: 'boolean' } }, additionalProperties: false },
        },
      },
    },
    async () => ({ ok: true }),
  );
  return app;
}

let proofIndex = 0;
async function perRequestMicros(app: FastifyInstance, withAuth: boolean): Promise<number> {
  await app.ready();
  const run = async (n: number, _offset: number) => {
    for (let i = 0; i < n; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/echo',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'partner-sdk/1.0',
          // Every variant gets the same bytes, DPoP proof included (fresh for each request).
          ...(withAuth ? { authorization: `DPoP ${accessToken}`, dpop: proofs[proofIndex++]! } : {}),
        },
        payload: '{"amount":1250,"currency":"EUR"}',
      });
      if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
    }
  };
  await run(Math.min(3000, N / 4), 0);
  const start = process.cpuUsage();
  await run(N, 0);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const htu = `${issuer}/v1/echo`;
const needed = (N + Math.min(3000, N / 4)) * (stages.length + 1);
for (let i = 0; i < needed; i++) {
  proofs.push(
    await new SignJWT({ htm: 'POST', htu, ath, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
      .setIssuedAt()
      .sign(dpop.privateKey),
  );
}

let previous = 0;
console.log(`| stage added (in pipeline order) | µs CPU per request | marginal µs |`);
console.log('|---|--:|--:|');
for (let i = 0; i <= stages.length; i++) {
  const app = build(i);
  const us = await perRequestMicros(app, true);
  const name = i === 0 ? 'bare Fastify (same route, same schemas)' : stages[i - 1]![0];
  console.log(`| ${name} | ${us.toFixed(1)} | ${i === 0 ? '' : `+${(us - previous).toFixed(1)}`} |`);
  previous = us;
  await app.close();
}
await limiter.close();
await kv.close();
