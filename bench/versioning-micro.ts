/**
 * Micro-benchmark of the API lifecycle hooks (not part of the test suite):
 *
 *   npx tsx bench/versioning-micro.ts      (BENCH_ITERATIONS, default 20000)
 *
 * The same bare Fastify app served through `inject`, without governance, with it on a stable
 * route (the common case: one property read per hook), and on a deprecated route (headers and a
 * usage count). Numbers vary by machine; the differences much less.
 */
import Fastify from 'fastify';
import { Type } from 'typebox';
import { installGovernance } from '../src/gateway/versioning/index.ts';

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const schema = {
  summary: 'bench',
  response: { 200: Type.Object({ ok: Type.Boolean() }, { additionalProperties: false }) },
};

async function app(governed: boolean) {
  const a = Fastify();
  if (governed) installGovernance(a, { publicUrl: 'https://api.example.test' });
  a.get('/v2/stable', { schema }, async () => ({ ok: true }));
  a.get(
    '/v1/old',
    {
      schema,
      config: {
        lifecycle: {
          status: 'deprecated',
          deprecatedAt: '2026-01-01',
          sunsetAt: '2099-01-01',
          successor: '/v2/stable',
        },
      },
    },
    async () => ({ ok: true }),
  );
  await a.ready();
  return a;
}

async function measure(name: string, a: Awaited<ReturnType<typeof app>>, url: string) {
  for (let i = 0; i < 2_000; i++) await a.inject({ method: 'GET', url });
  const t = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await a.inject({ method: 'GET', url });
  const us = Number(process.hrtime.bigint() - t) / 1000 / iterations;
  console.log(`${name.padEnd(44)} ${us.toFixed(1).padStart(7)} µs/request (inject)`);
}

const bare = await app(false);
const governed = await app(true);
await measure('no governance, GET /v2/stable', bare, '/v2/stable');
await measure('governance, stable route', governed, '/v2/stable');
await measure('governance, deprecated route (headers)', governed, '/v1/old');
await measure('no governance, GET /v2/stable (again)', bare, '/v2/stable');
await Promise.all([bare.close(), governed.close()]);
