/**
 * Micro-benchmark of access-token authentication (issue 3 `bench/`, issue 5 pipeline budget): µs per
 * request of the verifier — token found in the verification cache by its SHA-256, revocation
 * check, DPoP proof verified, jti recorded in the replay cache — next to bare `jose` in the same
 * run (jwtVerify of the token with an imported key, plus jwtVerify of the proof with its embedded
 * JWK, plus the ath/htm/htu comparisons), and the floor: one node:crypto signature verification.
 * CPU time (user + system) is what the pipeline budget counts; wall time is shown beside it.
 * Not part of the test suite.
 *
 *   npx tsx bench/auth-micro.ts [iterations]      (REDIS_URL set: the replay cache on Redis too)
 */
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  EmbeddedJWK,
  exportJWK,
  generateKeyPair,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import {
  authenticateRequest,
  createTokenVerifier,
  type TokenVerifier,
} from '../src/gateway/authenticate/index.ts';
import { createMemoryKv, createRedisKv, type Kv } from '../src/platform/kv/index.ts';

const iterations = Number(process.argv[2] ?? 10_000);
const ISSUER = 'https://api.bulwark.test';
const AUDIENCE = `${ISSUER}/v1`;
const PATH = '/v1/claims';
const HTU = `${ISSUER}${PATH}`;

interface Result {
  readonly cpu: number;
  readonly wall: number;
}

async function measure(name: string, n: number, op: (i: number) => unknown): Promise<Result> {
  const warm = Math.min(n, 500);
  for (let i = 0; i < warm; i++) await op(i); // warm-up (JIT, caches)
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = warm; i < n + warm; i++) await op(i);
  const wall = ((performance.now() - start) * 1000) / n;
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / n;
  console.log(
    `${name.padEnd(58)} ${cpu.toFixed(1).padStart(7)} µs CPU ${wall.toFixed(1).padStart(7)} µs wall`,
  );
  return { cpu, wall };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

interface ClientKey {
  readonly alg: 'ES256' | 'EdDSA';
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
}

async function clientKey(alg: ClientKey['alg']): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** `n` distinct proofs (a proof is single-use), made before the clock starts. */
function proofs(key: ClientKey, token: string, n: number): Promise<string[]> {
  const ath = sha256(token);
  const iat = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: n }, () =>
      new SignJWT({ htm: 'GET', htu: HTU, iat, jti: randomUUID(), ath })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk })
        .sign(key.privateKey),
    ),
  );
}

// The authorization server's key, and access tokens as it issues them.
const as = await generateKeyPair('ES256', { extractable: true });
const asJwk = { ...(await exportJWK(as.publicKey)), kid: 'as-1', alg: 'ES256', use: 'sig' };
const mint = (jkt: string) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    client_id: 'client-1',
    scope: 'claims:read claims:write',
    jti: randomUUID(),
    tenant_id: 'tenant-1',
    partner_id: 'partner-1',
    roles: ['partner_app'],
    cnf: { jkt },
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'as-1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('client-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(as.privateKey);
};

const verifierOn = (kv: Kv): TokenVerifier =>
  createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: () => ({ keys: [asJwk] }),
    kv,
    dpop: { iatWindowSec: 300 },
  });

console.log(`node ${process.version}, ${iterations} requests per line, ES256 access tokens\n`);

for (const alg of ['ES256', 'EdDSA'] as const) {
  const key = await clientKey(alg);
  const token = await mint(key.jkt);
  const total = iterations + 500;
  console.log(`-- DPoP proof key ${alg}`);

  // Floor: the one public-key operation a request cannot avoid.
  const sample = (await proofs(key, token, 1))[0]!;
  const dot = sample.lastIndexOf('.');
  const signed = Buffer.from(sample.slice(0, dot));
  const signature = Buffer.from(sample.slice(dot + 1), 'base64url');
  const proofKey = createPublicKey({ key: key.jwk as never, format: 'jwk' });
  const floor = await measure(`floor: node:crypto verify of the proof signature`, iterations, () =>
    alg === 'ES256'
      ? verify('sha256', signed, { key: proofKey, dsaEncoding: 'ieee-p1363' }, signature)
      : verify(null, signed, proofKey, signature),
  );

  const asKey = as.publicKey;
  const joseOptions = {
    algorithms: ['ES256', 'PS256', 'EdDSA'],
    typ: 'at+jwt',
    issuer: ISSUER,
    audience: AUDIENCE,
  };
  let list = await proofs(key, token, total);
  await measure('bare jose: jwtVerify(token) only', iterations, () => jwtVerify(token, asKey, joseOptions));
  const bare = await measure(
    'bare jose: jwtVerify(token) + jwtVerify(proof, EmbeddedJWK)',
    iterations,
    async (i) => {
      await jwtVerify(token, asKey, joseOptions);
      const { payload } = await jwtVerify(list[i]!, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: ['ES256', 'EdDSA'],
      });
      if (payload.htm !== 'GET' || payload.htu !== HTU || payload.ath !== sha256(token))
        throw new Error('bad proof');
    },
  );

  const kv = createMemoryKv({ prefix: 'bench:' });
  const verifier = verifierOn(kv);
  list = await proofs(key, token, total);
  const ours = await measure(
    'verifier: cached token + DPoP + revocation + replay (memory)',
    iterations,
    (i) => verifier.authenticate({ authorization: `DPoP ${token}`, dpop: list[i], method: 'GET', uri: HTU }),
  );

  // Through the Fastify hook as the pipeline runs it (URL building, principal, scope check).
  const hook = authenticateRequest(verifier, { publicUrl: ISSUER });
  list = await proofs(key, token, total);
  const reply = { header: () => reply } as unknown as FastifyReply;
  const request = (i: number) =>
    ({
      headers: { authorization: `DPoP ${token}`, dpop: list[i] },
      method: 'GET',
      url: `${PATH}?page=2`,
      routeOptions: { config: { scopes: ['claims:read'] } },
      raw: { socket: {} },
    }) as unknown as FastifyRequest;
  const hooked = await measure('preValidation hook: the same + scopes (memory)', iterations, (i) =>
    hook(request(i), reply),
  );

  // A token seen for the first time: jose verification before it is cached.
  const missCount = Math.max(200, Math.floor(iterations / 10));
  const fresh = await Promise.all(Array.from({ length: missCount + 500 }, () => mint(key.jkt)));
  const freshProofs = await Promise.all(fresh.map((t) => proofs(key, t, 1).then((p) => p[0]!)));
  await measure('verifier: first use of a token (cache miss) + DPoP', missCount, (i) =>
    verifier.authenticate({
      authorization: `DPoP ${fresh[i]}`,
      dpop: freshProofs[i],
      method: 'GET',
      uri: HTU,
    }),
  );
  await kv.close();

  if (process.env.REDIS_URL) {
    const redis = await createRedisKv({ url: process.env.REDIS_URL, prefix: `bench-${randomUUID()}:` });
    const onRedis = verifierOn(redis);
    list = await proofs(key, token, total);
    await measure('verifier: cached token + DPoP + revocation + replay (Redis)', iterations, (i) =>
      onRedis.authenticate({ authorization: `DPoP ${token}`, dpop: list[i], method: 'GET', uri: HTU }),
    );
    await redis.close();
  }

  console.log(
    `   => verifier ${ours.cpu.toFixed(1)} µs CPU vs bare jose ${bare.cpu.toFixed(1)} µs (${(bare.cpu / ours.cpu).toFixed(1)}× less); ` +
      `hook ${hooked.cpu.toFixed(1)} µs; above the signature floor: ${(ours.cpu - floor.cpu).toFixed(1)} µs\n`,
  );
}
