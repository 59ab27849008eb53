/**
 * API lifecycle governance, installed once at the root of the app before any route:
 *
 *   onRoute     every route gets its resolved lifecycle (declaration + defaults) in `config.lifecycle`
 *   onReady     boot fails naming every route that is undocumented (no summary or no response
 *               schema) or whose lifecycle cannot be resolved or is unsound (e.g. deprecated
 *               without a sunset, a successor that is no route)
 *   preHandler  deprecated routes: count the caller (client, tenant) for the route's owner; past the
 *               sunset, or retired: 410 API_ROUTE_RETIRED. Root preHandlers run after every face's
 *               preValidation (authentication, rate limits) and before its preHandlers (idempotency),
 *               so the caller is known and nothing is claimed or written for a retired route.
 *   onSend      deprecated and retired routes: `Deprecation` (RFC 9745), `Sunset` (RFC 8594), `Link`
 *
 * The route table this keeps is what the inventory, the per-version OpenAPI documents and the
 * changelog are generated from.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import { AppError } from '../../platform/errors/index.ts';
import type { RouteAccess } from '../../platform/http/route-guard.ts';
import { VersioningErrors } from './errors.ts';
import { type DeprecationFields, deprecationFields } from './headers.ts';
import {
  type DataClassification,
  type LifecycleStatus,
  type RouteLifecycle,
  resolveLifecycle,
  versionOf,
} from './lifecycle.ts';
import type { DeprecatedUsage } from './usage.ts';

/** Where the changelog is served (the target of every `rel="deprecation"` link). */
export const CHANGELOG_PATH = '/docs/api-changelog';

/**
 * Routes outside the API description on purpose, each with the reason. Anything else must carry
 * a summary and response schemas. Exact patterns: a new route under these prefixes is not exempt.
 */
export const UNDOCUMENTED_BY_DESIGN: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/oauth\/\*$/, 'OAuth 2.0 / OIDC endpoints of oidc-provider, described by discovery (RFC 8414)'],
  [/^\/\.well-known\/openid-configuration$/, 'the discovery document itself (OpenID Connect Discovery 1.0)'],
  [/^\/interaction\/:uid(\/(login|second-factor|consent))?$/, 'HTML sign-in pages, not an API'],
  [/^\/assets\/people\/[a-z0-9.-]+$/, 'static assets of the sign-in pages'],
  [/^\/openapi\.json$/, 'the API description itself'],
  [/^\/docs(\/|\/json|\/yaml|\/static\/.*)?$/, 'the interactive API reference (swagger-ui)'],
];

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with its lifecycle, access and policies (complete once ready). */
    readonly apiInventory: () => readonly GovernedRoute[];
  }
}

export interface GovernedRoute {
  readonly method: string;
  readonly path: string;
  /** `v1`, `v2`, or null for unversioned faces (admin, OAuth, public). */
  readonly version: string | null;
  readonly status: LifecycleStatus;
  readonly owner: string;
  readonly dataClassification: DataClassification;
  readonly since: string;
  readonly deprecatedAt: string | null;
  readonly sunsetAt: string | null;
  readonly successor: string | null;
  readonly auth: {
    /** `public`, `operator` (admin face), or `access-token` (partner API: token + scopes). */
    readonly kind: 'public' | 'operator' | 'access-token';
    readonly scopes: string[];
  };
  /** Whether the route requires an `Idempotency-Key`. */
  readonly idempotencyKey: boolean;
  readonly rateLimit: { readonly class: string; readonly extraLimits: string[] };
  readonly summary: string | null;
  readonly tags: string[];
  /** False only for the routes in UNDOCUMENTED_BY_DESIGN. */
  readonly documented: boolean;
}

export interface GovernanceOptions {
  /** `config.publicUrl`: base of the `Link` targets. */
  readonly publicUrl: string;
  /** The clock the sunset is judged by (tests move it past a sunset). */
  readonly now?: () => number;
  /** Where calls to deprecated routes are counted; none: not counted. */
  readonly usage?: DeprecatedUsage;
}

export interface Governance {
  /** Every registered route with its lifecycle, access and policies (after boot). */
  routes(): readonly GovernedRoute[];
}

const AUTH_KIND: Record<RouteAccess, GovernedRoute['auth']['kind']> = {
  public: 'public',
  'bootstrap-admin': 'operator',
  'access-token': 'access-token',
};

interface RouteSchemaLike {
  readonly summary?: unknown;
  readonly response?: unknown;
  readonly tags?: unknown;
  readonly hide?: unknown;
}

function documentationProblem(schema: RouteSchemaLike | undefined): string | undefined {
  if (!schema || typeof schema.summary !== 'string' || schema.summary.trim() === '')
    return 'has no schema.summary';
  if (schema.hide === true) return 'is hidden from the API description (schema.hide)';
  const response = schema.response as Record<string, unknown> | undefined;
  if (!response || !Object.keys(response).some((s) => /^([23]\d\d|[23]XX|default)$/.test(s)))
    return 'has no response schema for its success status';
  return undefined;
}

export function installGovernance(app: FastifyInstance, options: GovernanceOptions): Governance {
  const now = options.now ?? Date.now;
  const base = options.publicUrl.replace(/\/+$/, '');
  const links = { changelog: `${base}${CHANGELOG_PATH}`, base };
  // The url as onRoute saw it: a route at a prefixed plugin's root ('/') is added to the router twice
  // (Fastify's prefixTrailingSlash 'both': `/prefix` with onRoute, then `/prefix/` without, on the
  // same options object, whose url then reads `/prefix/`). Both are routes the router answers.
  const seen: { route: RouteOptions; url: string }[] = [];
  const problems: string[] = [];
  const fields = new WeakMap<RouteLifecycle, DeprecationFields>();
  let table: GovernedRoute[] | undefined;

  app.addHook('onRoute', (route: RouteOptions) => {
    seen.push({ route, url: route.url });
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const resolved = resolveLifecycle(methods[0]!, route.url, route.config?.lifecycle);
    if ('problem' in resolved) {
      problems.push(`${methods.join(',')} ${route.url} ${resolved.problem}`);
      return;
    }
    const { lifecycle } = resolved;
    if (lifecycle.status === 'deprecated' || lifecycle.status === 'retired')
      fields.set(lifecycle, deprecationFields(lifecycle, links));
    route.config = { ...route.config, lifecycle };
  });

  const build = (): GovernedRoute[] =>
    seen.flatMap(({ route, url: first }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const urls = first === route.url ? [route.url] : [first, route.url];
      const l = route.config?.lifecycle as RouteLifecycle;
      const schema = route.schema as RouteSchemaLike | undefined;
      const access = route.config?.access as RouteAccess;
      return urls.flatMap((url) =>
        methods.map((method) => ({
          method,
          path: url,
          version: versionOf(url) ?? null,
          status: l.status,
          owner: l.owner,
          dataClassification: l.dataClassification,
          since: l.since,
          deprecatedAt: l.deprecatedAt ?? null,
          sunsetAt: l.sunsetAt ?? null,
          successor: l.successor ?? null,
          auth: {
            kind: AUTH_KIND[access] ?? 'public',
            scopes: access === 'access-token' ? [...(route.config?.scopes ?? [])] : [],
          },
          idempotencyKey: route.config?.idempotency === true,
          rateLimit: {
            class: route.config?.rateLimit?.class ?? 'default',
            extraLimits: (route.config?.rateLimit?.limits ?? []).map((p) => p.name),
          },
          summary: typeof schema?.summary === 'string' ? schema.summary : null,
          tags: Array.isArray(schema?.tags) ? (schema.tags as string[]) : [],
          documented: !UNDOCUMENTED_BY_DESIGN.some(([p]) => p.test(url)),
        })),
      );
    });

  app.addHook('onReady', async () => {
    const found = [...problems];
    const paths = new Set(seen.flatMap((r) => [r.url, r.route.url]));
    for (const { route } of seen) {
      const where = `${Array.isArray(route.method) ? route.method.join(',') : route.method} ${route.url}`;
      if (!UNDOCUMENTED_BY_DESIGN.some(([p]) => p.test(route.url))) {
        const problem = documentationProblem(route.schema as RouteSchemaLike | undefined);
        if (problem) found.push(`${where} ${problem}`);
      }
      const successor = (route.config?.lifecycle as RouteLifecycle | undefined)?.successor;
      if (successor && !paths.has(successor)) found.push(`${where} names successor ${successor}, no route`);
    }
    if (found.length) throw new Error(`API governance: routes refused:\n  ${found.join('\n  ')}`);
    table = build();
  });

  // Callback-style hooks: they run on every request, and most routes are neither deprecated nor
  // retired, so the common path is one property read and no promise.
  const gate = (req: FastifyRequest): AppError | undefined => {
    const l = req.routeOptions.config.lifecycle as RouteLifecycle | undefined;
    if (l === undefined || (l.status !== 'deprecated' && l.status !== 'retired')) return undefined;
    const at = now();
    const f = fields.get(l);
    const gone = l.status === 'retired' || (f?.sunsetMs !== undefined && at >= f.sunsetMs);
    const p = req.principal;
    if (options.usage && p) options.usage.record(p, req.method, req.routeOptions.url ?? req.url, at, gone);
    if (!gone) return undefined;
    return new AppError(
      VersioningErrors.API_ROUTE_RETIRED,
      l.successor
        ? `${req.method} ${req.routeOptions.url} was retired; use ${l.successor} (see ${links.changelog})`
        : `${req.method} ${req.routeOptions.url} was retired (see ${links.changelog})`,
      { ...(l.successor ? { successor: `${base}${l.successor}` } : {}), changelog: links.changelog },
    );
  };
  app.addHook('preHandler', (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    done(gate(req));
  });

  app.addHook(
    'onSend',
    (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (e: null, p: unknown) => void) => {
      const l = req.routeOptions.config?.lifecycle as RouteLifecycle | undefined;
      const f = l === undefined ? undefined : fields.get(l);
      if (f !== undefined) {
        if (f.deprecation) reply.header('deprecation', f.deprecation);
        if (f.sunset) reply.header('sunset', f.sunset);
        if (f.link) {
          const prior = reply.getHeader('link');
          reply.header('link', prior ? `${String(prior)}, ${f.link}` : f.link);
        }
      }
      done(null, payload);
    },
  );

  const routes = () => {
    if (!table) throw new Error('the route table is complete only once the app is ready');
    return table;
  };
  app.decorate('apiInventory', routes);
  return { routes };
}
