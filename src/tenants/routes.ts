import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { operatorActor } from '../gateway/admin-auth.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { TenantError } from './errors.ts';
import type { ActorContext, TenantService } from './service.ts';

const Status = Type.Union([Type.Literal('active'), Type.Literal('suspended')]);
const Environment = Type.Union([Type.Literal('sandbox'), Type.Literal('live')]);
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$' });

const Tenant = Type.Object(
  { id: Uuid, slug: Type.String(), name: Type.String(), status: Status, createdAt: Timestamp },
  { additionalProperties: false },
);
const Partner = Type.Object(
  { id: Uuid, tenantId: Uuid, name: Type.String(), status: Status, createdAt: Timestamp },
  { additionalProperties: false },
);
const AuthMethod = Type.Union([
  Type.Literal('private_key_jwt'),
  Type.Literal('tls_client_auth'),
  Type.Literal('self_signed_tls_client_auth'),
]);
const GrantType = Type.Union([
  Type.Literal('client_credentials'),
  Type.Literal('authorization_code'),
  Type.Literal('refresh_token'),
]);
// A JWK's members vary by key type; checkPublicJwks (credentials.ts) enforces what is allowed.
const Jwk = Type.Record(Type.String({ maxLength: 16 }), Type.Unknown(), { maxProperties: 16 });
const Jwks = Type.Object(
  { keys: Type.Array(Jwk, { minItems: 1, maxItems: 10 }) },
  { additionalProperties: false },
);
const SubjectDn = Type.String({ minLength: 3, maxLength: 1024 });
const Scope = Type.String({ maxLength: 1024, pattern: '^[a-z_:]*( [a-z_:]+)*$' });
const RedirectUris = Type.Array(Type.String({ format: 'uri', maxLength: 2048 }), {
  maxItems: 10,
  uniqueItems: true,
});

const App = Type.Object(
  {
    id: Uuid,
    tenantId: Uuid,
    partnerId: Uuid,
    name: Type.String(),
    clientId: Type.String(),
    environment: Environment,
    status: Status,
    authMethod: AuthMethod,
    jwks: Type.Optional(Jwks),
    tlsSubjectDn: Type.Optional(Type.String()),
    redirectUris: Type.Array(Type.String()),
    grantTypes: Type.Array(GrantType),
    scope: Type.String(),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const PartnerParams = Type.Object({ tenantId: Uuid, partnerId: Uuid }, { additionalProperties: false });
const AppParams = Type.Object(
  { tenantId: Uuid, partnerId: Uuid, appId: Uuid },
  { additionalProperties: false },
);
const admin = { tags: ['admin: tenants'], security: [{ bootstrapAdmin: [] }] };

/** The operator of an admin request (an operator's user id, or the bootstrap credential). */
const operator = (req: FastifyRequest): ActorContext => ({ actor: operatorActor(req), requestId: req.id });

/** The one place tenant domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof TenantError) throw new AppError(err.code);
  throw err;
}

export const tenantRoutes: FastifyPluginAsyncTypebox<{ service: TenantService }> = async (
  app,
  { service },
) => {
  app.post(
    '/tenants',
    {
      schema: {
        ...admin,
        summary: 'Create a tenant (insurer)',
        body: Type.Object(
          {
            slug: Type.String({ minLength: 2, maxLength: 63, pattern: '^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$' }),
            name: Name,
          },
          { additionalProperties: false },
        ),
        response: { 201: Tenant, ...problems(400, 401, 409, 415) },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await service.createTenant(req.body, operator(req)).catch(http)),
  );

  app.get(
    '/tenants',
    {
      schema: {
        ...admin,
        summary: 'List tenants',
        querystring: PageQuery,
        response: { 200: PageOf(Tenant), ...problems(400, 401) },
      },
    },
    async (req) => service.listTenants(req.query.limit, req.query.after),
  );

  app.get(
    '/tenants/:tenantId',
    {
      schema: {
        ...admin,
        summary: 'Get a tenant',
        params: TenantParams,
        response: { 200: Tenant, ...problems(401, 404) },
      },
    },
    async (req) => service.getTenant(req.params.tenantId).catch(http),
  );

  app.post(
    '/tenants/:tenantId/partners',
    {
      schema: {
        ...admin,
        summary: 'Create a partner under a tenant',
        params: TenantParams,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 201: Partner, ...problems(400, 401, 404, 409, 415) },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(await service.createPartner(req.params.tenantId, req.body, operator(req)).catch(http)),
  );

  app.get(
    '/tenants/:tenantId/partners',
    {
      schema: {
        ...admin,
        summary: 'List a tenant’s partners',
        params: TenantParams,
        querystring: PageQuery,
        response: { 200: PageOf(Partner), ...problems(400, 401, 404) },
      },
    },
    async (req) => service.listPartners(req.params.tenantId, req.query.limit, req.query.after).catch(http),
  );

  app.post(
    '/tenants/:tenantId/partners/:partnerId/apps',
    {
      schema: {
        ...admin,
        summary: 'Register a partner app (OAuth client) with its public keys or certificate subject',
        params: PartnerParams,
        body: Type.Object(
          {
            name: Name,
            environment: Type.Optional(Environment),
            authMethod: Type.Optional(AuthMethod),
            jwks: Type.Optional(Jwks),
            tlsSubjectDn: Type.Optional(SubjectDn),
            redirectUris: Type.Optional(RedirectUris),
            grantTypes: Type.Optional(Type.Array(GrantType, { minItems: 1, maxItems: 3, uniqueItems: true })),
            scope: Type.Optional(Scope),
          },
          { additionalProperties: false },
        ),
        response: { 201: App, ...problems(400, 401, 404, 415) },
      },
    },
    async (req, reply) => {
      const { tenantId, partnerId } = req.params;
      const b = req.body;
      const created = await service
        .createApp(
          tenantId,
          partnerId,
          {
            name: b.name,
            environment: b.environment ?? 'sandbox',
            authMethod: b.authMethod ?? 'private_key_jwt',
            jwks: b.jwks,
            tlsSubjectDn: b.tlsSubjectDn,
            redirectUris: b.redirectUris ?? [],
            grantTypes: b.grantTypes ?? ['client_credentials'],
            scope: b.scope ?? '',
          },
          operator(req),
        )
        .catch(http);
      return reply.code(201).send(created);
    },
  );

  app.put(
    '/tenants/:tenantId/partners/:partnerId/apps/:appId/credentials',
    {
      schema: {
        ...admin,
        summary: 'Rotate an app’s keys (JWKS) or certificate subject',
        params: AppParams,
        body: Type.Object(
          { jwks: Type.Optional(Jwks), tlsSubjectDn: Type.Optional(SubjectDn) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: App, ...problems(400, 401, 404, 415) },
      },
    },
    async (req) => {
      const { tenantId, partnerId, appId } = req.params;
      return service.rotateAppCredentials(tenantId, partnerId, appId, req.body, operator(req)).catch(http);
    },
  );

  app.get(
    '/tenants/:tenantId/partners/:partnerId/apps',
    {
      schema: {
        ...admin,
        summary: 'List a partner’s apps',
        params: PartnerParams,
        querystring: PageQuery,
        response: { 200: PageOf(App), ...problems(400, 401, 404) },
      },
    },
    async (req) =>
      service
        .listApps(req.params.tenantId, req.params.partnerId, req.query.limit, req.query.after)
        .catch(http),
  );
};
