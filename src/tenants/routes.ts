import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { TenantError } from './errors.ts';
import type { TenantService } from './service.ts';

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
const App = Type.Object(
  {
    id: Uuid,
    tenantId: Uuid,
    partnerId: Uuid,
    name: Type.String(),
    clientId: Type.String(),
    environment: Environment,
    status: Status,
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const PartnerParams = Type.Object({ tenantId: Uuid, partnerId: Uuid }, { additionalProperties: false });
const admin = { tags: ['admin: tenants'], security: [{ bootstrapAdmin: [] }] };

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
    async (req, reply) => reply.code(201).send(await service.createTenant(req.body).catch(http)),
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
      reply.code(201).send(await service.createPartner(req.params.tenantId, req.body).catch(http)),
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
        summary: 'Register a partner app; its client secret is returned once',
        params: PartnerParams,
        body: Type.Object(
          { name: Name, environment: Type.Optional(Environment) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ app: App, clientSecret: Type.String() }, { additionalProperties: false }),
          ...problems(400, 401, 404, 415),
        },
      },
    },
    async (req, reply) => {
      const { tenantId, partnerId } = req.params;
      const created = await service
        .createApp(tenantId, partnerId, {
          name: req.body.name,
          environment: req.body.environment ?? 'sandbox',
        })
        .catch(http);
      return reply.code(201).header('cache-control', 'no-store').send(created);
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
