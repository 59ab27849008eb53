import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problems, Timestamp, Uuid } from '../../platform/http/schemas.ts';

/**
 * The `/v2` routes that differ from `/v1`. `GET /v2/me` answers the same facts as `GET /v1/me`
 * grouped by what they are about (who, which tenant and partner, what they may do, the token), and
 * always includes `partner` (null for a tenant's own app) instead of omitting it. Other /v2 routes
 * arrive as modules publish breaking changes; until then /v1 remains the way to reach them.
 */
export const v2Routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me',
    {
      config: { scopes: [] },
      schema: {
        tags: ['partner API v2'],
        summary: 'The authenticated caller, grouped by principal, tenant, partner, authorization and token',
        security: [{ dpop: [] }],
        response: {
          200: Type.Object(
            {
              principal: Type.Object(
                {
                  kind: Type.Union([Type.Literal('client'), Type.Literal('user')]),
                  subject: Type.String(),
                  clientId: Type.String(),
                },
                { additionalProperties: false },
              ),
              tenant: Type.Object({ id: Uuid }, { additionalProperties: false }),
              partner: Type.Union([Type.Object({ id: Uuid }, { additionalProperties: false }), Type.Null()]),
              authorization: Type.Object(
                { roles: Type.Array(Type.String()), scopes: Type.Array(Type.String()) },
                { additionalProperties: false },
              ),
              token: Type.Object(
                {
                  binding: Type.Union([Type.Literal('dpop'), Type.Literal('mtls')]),
                  expiresAt: Timestamp,
                  acr: Type.Union([Type.String(), Type.Null()]),
                },
                { additionalProperties: false },
              ),
            },
            { additionalProperties: false },
          ),
          ...problems(401, 403, 429),
        },
      },
    },
    async (req) => {
      const p = req.principal!;
      return {
        principal: { kind: p.kind, subject: p.subject, clientId: p.clientId },
        tenant: { id: p.tenantId },
        partner: p.partnerId ? { id: p.partnerId } : null,
        authorization: { roles: [...p.roles], scopes: [...p.scopes].sort() },
        token: {
          binding: p.binding,
          expiresAt: new Date(p.expiresAt * 1000).toISOString(),
          acr: p.acr ?? null,
        },
      };
    },
  );
};
