import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problems, Uuid } from '../platform/http/schemas.ts';

/**
 * `GET /v1/me`: who the presented token says the caller is. Any valid token may call it (no scope),
 * so a partner can check its integration — token, DPoP proof, clock — before calling real routes.
 */
export const whoamiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me',
    {
      config: { scopes: [] },
      schema: {
        tags: ['partner API'],
        summary: 'The authenticated caller, as the access token describes it',
        security: [{ dpop: [] }],
        response: {
          200: Type.Object(
            {
              kind: Type.Union([Type.Literal('client'), Type.Literal('user')]),
              subject: Type.String(),
              clientId: Type.String(),
              tenantId: Uuid,
              partnerId: Type.Optional(Uuid),
              roles: Type.Array(Type.String()),
              scopes: Type.Array(Type.String()),
              binding: Type.Union([Type.Literal('dpop'), Type.Literal('mtls')]),
              expiresAt: Type.String({ format: 'date-time' }),
            },
            { additionalProperties: false },
          ),
          ...problems(401, 403),
        },
      },
    },
    async (req) => {
      const p = req.principal!;
      return {
        kind: p.kind,
        subject: p.subject,
        clientId: p.clientId,
        tenantId: p.tenantId,
        ...(p.partnerId ? { partnerId: p.partnerId } : {}),
        roles: [...p.roles],
        scopes: [...p.scopes].sort(),
        binding: p.binding,
        expiresAt: new Date(p.expiresAt * 1000).toISOString(),
      };
    },
  );
};
