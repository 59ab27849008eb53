import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { defineErrors, PROBLEM_CONTENT_TYPE, problemFor } from '../platform/errors/index.ts';
import { problems } from '../platform/http/schemas.ts';
import type { Services } from '../platform/services.ts';

export const HealthErrors = defineErrors({
  SERVICE_NOT_READY: { status: 503, title: 'A dependency is unavailable or migrations are pending' },
});

const Check = Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('pending')]);
const Checks = Type.Object(
  { database: Check, migrations: Check, kv: Check, events: Check },
  { additionalProperties: false },
);

async function outcome(probe: () => Promise<unknown>): Promise<'ok' | 'failed'> {
  try {
    await probe();
    return 'ok';
  } catch {
    return 'failed';
  }
}

/** Liveness and readiness for orchestrators and load balancers. Public; they reveal no detail. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: database reachable, migrations applied, Redis/NATS reachable when configured',
        response: {
          200: Type.Object(
            { status: Type.Literal('ready'), checks: Checks },
            { additionalProperties: false },
          ),
          ...problems(503),
        },
      },
    },
    async (req, reply) => {
      const [database, kv, events] = await Promise.all([
        outcome(() => services.db.ping()),
        outcome(() => services.kv.ping()),
        outcome(() => services.bus.ping()),
      ]);
      let migrations: 'ok' | 'failed' | 'pending' = 'failed';
      if (database === 'ok') {
        const status = await services.db.migrationStatus().catch(() => undefined);
        migrations = !status ? 'failed' : status.pending.length ? 'pending' : 'ok';
      }
      const checks = { database, migrations, kv, events };
      if (Object.values(checks).every((c) => c === 'ok')) return { status: 'ready' as const, checks };
      const problem = problemFor(HealthErrors.SERVICE_NOT_READY, req.id, undefined, { checks });
      return reply.code(503).type(PROBLEM_CONTENT_TYPE).send(problem);
    },
  );
};
