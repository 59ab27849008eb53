import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import { problems, Timestamp, Uuid } from '../../platform/http/schemas.ts';
import { CHANGELOG_PATH, type Governance } from './governance.ts';
import { API_VERSIONS, deprecationSchedule, filterInventory, versionDocument } from './inventory.ts';
import { DATA_CLASSIFICATIONS, LIFECYCLE_STATUSES } from './lifecycle.ts';
import type { DeprecatedUsage } from './usage.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const InventoryRoute = Type.Object(
  {
    method: Type.String(),
    path: Type.String(),
    version: Nullable(Type.String()),
    status: Type.Enum([...LIFECYCLE_STATUSES]),
    owner: Type.String(),
    dataClassification: Type.Enum([...DATA_CLASSIFICATIONS]),
    since: Type.String(),
    deprecatedAt: Nullable(Type.String()),
    sunsetAt: Nullable(Type.String()),
    successor: Nullable(Type.String()),
    auth: Type.Object(
      {
        kind: Type.Enum(['public', 'operator', 'access-token']),
        scopes: Type.Array(Type.String()),
      },
      { additionalProperties: false },
    ),
    idempotencyKey: Type.Boolean(),
    rateLimit: Type.Object(
      { class: Type.String(), extraLimits: Type.Array(Type.String()) },
      { additionalProperties: false },
    ),
    summary: Nullable(Type.String()),
    tags: Type.Array(Type.String()),
    documented: Type.Boolean(),
  },
  { additionalProperties: false },
);

const UsageItem = Type.Object(
  {
    tenantId: Uuid,
    partnerId: Nullable(Uuid),
    clientId: Type.String(),
    method: Type.String(),
    route: Type.String(),
    calls: Type.Integer({ description: 'Calls answered while deprecated' }),
    refused: Type.Integer({ description: 'Calls refused with 410 after the sunset' }),
    firstSeen: Timestamp,
    lastSeen: Timestamp,
    sunsetAt: Nullable(Type.String()),
    successor: Nullable(Type.String()),
    owner: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

/** Operators' view: `/admin/api/inventory` and `/admin/api/deprecated-usage`. */
export const apiLifecycleAdminRoutes: FastifyPluginAsyncTypebox<{
  governance: Governance;
  usage: DeprecatedUsage;
}> = async (app, { governance, usage }) => {
  app.get(
    '/inventory',
    {
      schema: {
        tags: ['admin: API lifecycle'],
        summary:
          'Every registered route: version, lifecycle status, owner, data classification, auth, policies',
        security: [{ bootstrapAdmin: [] }],
        querystring: Type.Object(
          {
            version: Type.Optional(Type.String({ pattern: '^(v\\d+|unversioned)$' })),
            status: Type.Optional(Type.Enum([...LIFECYCLE_STATUSES])),
            owner: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]*$', maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { count: Type.Integer(), routes: Type.Array(InventoryRoute) },
            { additionalProperties: false },
          ),
          ...problems(400, 401, 403),
        },
      },
    },
    async (req) => {
      const routes = filterInventory(governance.routes(), req.query);
      return { count: routes.length, routes };
    },
  );

  app.get(
    '/deprecated-usage',
    {
      schema: {
        tags: ['admin: API lifecycle'],
        summary: 'Who calls deprecated routes: per tenant, client and route, with counts and first/last seen',
        security: [{ bootstrapAdmin: [] }],
        querystring: Type.Object(
          {
            tenantId: Type.Optional(Uuid),
            clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            route: Type.Optional(Type.String({ pattern: '^/', maxLength: 500 })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(UsageItem) }, { additionalProperties: false }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (req) => {
      // This instance's pending counts first, so the view includes calls made just now.
      await usage.flush();
      const lifecycles = new Map(governance.routes().map((r) => [`${r.method} ${r.path}`, r]));
      const items = await usage.list(req.query);
      return {
        items: items.map((u) => {
          const r = lifecycles.get(`${u.method} ${u.route}`);
          return {
            ...u,
            sunsetAt: r?.sunsetAt ?? null,
            successor: r?.successor ?? null,
            owner: r?.owner ?? null,
          };
        }),
      };
    },
  );
};

function readChangelog(): string {
  try {
    return readFileSync(fileURLToPath(new URL('../../../docs/api-changelog.md', import.meta.url)), 'utf8');
  } catch {
    return '# API changelog\n';
  }
}

/**
 * Public: the OpenAPI document of each version (`/openapi/v1.json`, …; `/openapi.json` stays the
 * whole API) and the changelog every `rel="deprecation"` link points to. Both are generated once,
 * on first request, from the route table (complete by then).
 */
export const apiLifecyclePublicRoutes: FastifyPluginAsyncTypebox<{ governance: Governance }> = async (
  app,
  { governance },
) => {
  const cache = new Map<string, object>();
  for (const version of API_VERSIONS) {
    app.get(
      `/openapi/${version}.json`,
      {
        schema: {
          tags: ['API description'],
          summary: `OpenAPI 3.1 description of the ${version} partner API, with each route's lifecycle`,
          response: { 200: Type.Object({}, { additionalProperties: true }) },
        },
      },
      async () => {
        let doc = cache.get(version);
        if (!doc) {
          doc = versionDocument(
            app.swagger() as unknown as Parameters<typeof versionDocument>[0],
            version,
            governance.routes(),
          );
          cache.set(version, doc);
        }
        return doc;
      },
    );
  }

  const written = readChangelog();
  let changelog: string | undefined;
  app.get(
    CHANGELOG_PATH,
    {
      schema: {
        tags: ['API description'],
        summary: 'API changelog (Markdown): releases, deprecations and sunsets',
        response: { 200: Type.String() },
      },
    },
    async (_req, reply) => {
      changelog ??= `${written.trimEnd()}\n\n${deprecationSchedule(governance.routes())}`;
      return reply.type('text/markdown; charset=utf-8').send(changelog);
    },
  );
};
