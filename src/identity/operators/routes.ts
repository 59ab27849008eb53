import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../platform/errors/index.ts';
import { problems, Uuid } from '../../platform/http/schemas.ts';
import { TenantError } from '../../tenants/errors.ts';
import { PeopleError } from '../people/index.ts';
import { OperatorError } from './errors.ts';
import type { OperatorBootstrap } from './service.ts';

const admin = { tags: ['admin: operators'], security: [{ bootstrapAdmin: [] }] };
const State = Type.Object(
  {
    open: Type.Boolean({ description: 'Whether the bootstrap credential still works' }),
    platformTenantId: Type.Optional(Uuid),
    firstOperatorId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

function http(err: unknown): never {
  if (err instanceof PeopleError || err instanceof TenantError) throw new AppError(err.code);
  throw err;
}

/**
 * The one-time bootstrap: with the configured admin token, create the first operator and confirm
 * their authenticator; the token then stops working. Mount under `/admin/bootstrap`.
 */
export const operatorBootstrapRoutes: FastifyPluginAsyncTypebox<{ service: OperatorBootstrap }> = async (
  app,
  { service },
) => {
  const onlyBootstrap = async (req: { operator?: { kind: string } }) => {
    if (req.operator?.kind !== 'bootstrap') throw new OperatorError('BOOTSTRAP_ALREADY_STARTED');
  };

  app.get(
    '/',
    {
      schema: {
        ...admin,
        summary: 'Whether the bootstrap credential is still open',
        response: { 200: State },
      },
    },
    async () => {
      const s = await service.state();
      return {
        open: s.open,
        ...(s.platformTenantId ? { platformTenantId: s.platformTenantId } : {}),
        ...(s.firstOperatorId ? { firstOperatorId: s.firstOperatorId } : {}),
      };
    },
  );

  app.post(
    '/operator',
    {
      preHandler: onlyBootstrap,
      schema: {
        ...admin,
        summary: 'Create the first operator (platform tenant, admin roles) and start their TOTP enrolment',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 254, pattern: '^\\S(.*\\S)?$' }),
            password: Type.String({ minLength: 1, maxLength: 512 }),
            email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object(
            {
              platformTenantId: Uuid,
              userId: Uuid,
              totp: Type.Object(
                {
                  secret: Type.String({ description: 'Base32; shown once' }),
                  uri: Type.String({ description: 'otpauth:// URI for an authenticator app' }),
                },
                { additionalProperties: false },
              ),
            },
            { additionalProperties: false },
          ),
          ...problems(400, 401, 409, 422),
        },
      },
    },
    async (req, reply) => {
      const created = await service.createFirstOperator(req.body, req.id).catch(http);
      return reply.code(201).send(created);
    },
  );

  app.post(
    '/operator/confirm',
    {
      preHandler: onlyBootstrap,
      schema: {
        ...admin,
        summary: "Confirm the first operator's authenticator with a code; closes the bootstrap credential",
        body: Type.Object(
          { code: Type.String({ minLength: 6, maxLength: 10 }) },
          { additionalProperties: false },
        ),
        response: { 200: State, ...problems(400, 401, 409) },
      },
    },
    async (req) => {
      await service.confirmFirstOperator(req.body.code, req.id).catch(http);
      const s = await service.state();
      return { open: s.open, platformTenantId: s.platformTenantId!, firstOperatorId: s.firstOperatorId! };
    },
  );
};
