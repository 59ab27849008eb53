/**
 * Route lifecycle metadata: what every route of the API is (status, owner, data classification)
 * and, once deprecated, when it goes away and what replaces it. A route declares it in
 * `config.lifecycle`; anything it leaves out comes from the default table below (by URL prefix),
 * so a module's routes need declare only what differs from their module's row.
 */

export const LIFECYCLE_STATUSES = ['beta', 'stable', 'deprecated', 'retired'] as const;
export type LifecycleStatus = (typeof LIFECYCLE_STATUSES)[number];

/** How sensitive the data a route reads or writes is (the highest class it touches). */
export const DATA_CLASSIFICATIONS = ['public', 'internal', 'confidential', 'personal', 'financial'] as const;
export type DataClassification = (typeof DATA_CLASSIFICATIONS)[number];

export interface RouteLifecycle {
  readonly status: LifecycleStatus;
  /** The module (team) answerable for the route: whom to ask, who reaches its callers. */
  readonly owner: string;
  readonly dataClassification: DataClassification;
  /** When the route appeared (RFC 3339 date or date-time). */
  readonly since: string;
  /** RFC 9745: when the route is (or will be) deprecated. Required with status `deprecated`. */
  readonly deprecatedAt?: string | undefined;
  /** RFC 8594: when the route stops answering (then 410). Required with status `deprecated`. */
  readonly sunsetAt?: string | undefined;
  /** The path of the route that replaces it, e.g. `/v2/me` (a registered route). */
  readonly successor?: string | undefined;
}

/** What a route may declare: any member; the rest comes from its prefix's defaults. */
export type LifecycleDeclaration = Partial<RouteLifecycle>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's lifecycle; after registration, the resolved (complete) one. */
    lifecycle?: LifecycleDeclaration;
  }
}

type Defaults = Pick<RouteLifecycle, 'owner' | 'dataClassification' | 'since'> & {
  readonly status?: LifecycleStatus;
};

/** The platform's first release: the `since` of every route that existed before lifecycles. */
export const FIRST_RELEASE = '2025-01-01';

const d = (
  owner: string,
  dataClassification: DataClassification,
  since = FIRST_RELEASE,
  status?: LifecycleStatus,
): Defaults => ({ owner, dataClassification, since, ...(status ? { status } : {}) });

/**
 * Defaults by URL prefix (path segments; `:name` matches any parameter segment). The longest
 * matching prefix wins. Faces (`/v1`, `/v2`, `/admin`) have a catch-all row so a new module's
 * routes boot, owned by the face until the module adds its own row; anything outside the faces
 * must be listed, or boot fails naming the route.
 */
export const LIFECYCLE_DEFAULTS: ReadonlyArray<readonly [prefix: string, defaults: Defaults]> = [
  // partner API, by module
  ['/v1', d('partner-api', 'confidential')],
  ['/v1/me', d('identity', 'internal')],
  ['/v1/webhooks', d('webhooks', 'internal')],
  ['/v1/accounts', d('ledger', 'financial')],
  ['/v1/transfers', d('ledger', 'financial')],
  ['/v1/transactions', d('ledger', 'financial')],
  ['/v1/holds', d('ledger', 'financial')],
  ['/v1/customers', d('kyc', 'personal')],
  ['/v1/kyc', d('kyc', 'personal')],
  ['/v1/products', d('insurance', 'internal')],
  ['/v1/policies', d('insurance', 'personal')],
  ['/v1/claims', d('insurance', 'personal')],
  ['/v1/mandates', d('payments', 'financial')],
  ['/v1/collections', d('payments', 'financial')],
  ['/v1/payouts', d('payments', 'financial')],
  ['/v1/payments', d('payments', 'financial')],
  ['/v1/sandbox', d('payments', 'financial')],
  ['/v1/privacy', d('privacy', 'personal', '2026-01-01')],
  ['/v2', d('partner-api', 'confidential', '2026-01-01', 'beta')],
  ['/v2/me', d('identity', 'internal', '2026-01-01', 'stable')],
  // admin API
  ['/admin', d('platform-operations', 'confidential')],
  ['/admin/metrics', d('platform', 'internal')],
  ['/admin/tenants', d('tenants', 'confidential')],
  ['/admin/tenants/:tenantId/users', d('identity', 'personal')],
  ['/admin/tenants/:tenantId/sca', d('identity', 'confidential')],
  ['/admin/tenants/:tenantId/ip-rules', d('gateway', 'internal')],
  ['/admin/tenants/:tenantId/products', d('insurance', 'internal')],
  ['/admin/tenants/:tenantId/adjusters', d('insurance', 'confidential')],
  ['/admin/tenants/:tenantId/partners/:partnerId/payment-limits', d('payments', 'financial')],
  ['/admin/tenants/:tenantId/webhooks', d('webhooks', 'confidential')],
  ['/admin/tenants/:tenantId/privacy', d('privacy', 'personal', '2026-01-01')],
  ['/admin/tenants/:tenantId/risks', d('compliance', 'confidential', '2026-01-01')],
  ['/admin/compliance', d('compliance', 'confidential', '2026-01-01')],
  ['/admin/bootstrap', d('identity', 'confidential')],
  ['/admin/audit', d('audit', 'confidential')],
  ['/admin/ip-rules', d('gateway', 'internal')],
  ['/admin/ip-blocks', d('gateway', 'internal')],
  ['/admin/detection', d('detection', 'confidential')],
  ['/admin/api', d('gateway', 'internal', '2026-01-01')],
  // authorization server and sign-in
  ['/oauth', d('identity', 'confidential')],
  ['/.well-known/openid-configuration', d('identity', 'public')],
  ['/interaction', d('identity', 'personal')],
  ['/assets/people', d('identity', 'public')],
  // public face
  ['/healthz', d('platform', 'public')],
  ['/readyz', d('platform', 'public')],
  ['/openapi.json', d('docs', 'public')],
  ['/openapi', d('gateway', 'public', '2026-01-01')],
  ['/docs', d('docs', 'public')],
  ['/docs/api-changelog', d('gateway', 'public', '2026-01-01')],
  ['/.well-known/webhook-keys.json', d('webhooks', 'public')],
  ['/.well-known/payload-keys.json', d('gateway', 'public')],
  // RFC 8615 well-known URIs are public metadata by nature
  ['/.well-known', d('platform', 'public')],
];

/**
 * Declarations kept here rather than beside the route, for routes whose module predates
 * lifecycles: `METHOD path` (GET covers its HEAD). A route's own `config.lifecycle` wins.
 */
export const LIFECYCLE_OVERRIDES: Readonly<Record<string, LifecycleDeclaration>> = {
  // /v2/me reshapes the answer (principal, tenant, authorization, token); /v1/me goes away after it.
  'GET /v1/me': {
    status: 'deprecated',
    deprecatedAt: '2026-01-01T00:00:00Z',
    sunsetAt: '2099-12-31T00:00:00Z',
    successor: '/v2/me',
  },
};

const segments = (path: string) => path.split('/').filter((s) => s !== '');

function prefixMatches(prefix: readonly string[], url: readonly string[]): boolean {
  if (prefix.length > url.length) return false;
  return prefix.every((p, i) => p === url[i] || (p.startsWith(':') && url[i]!.startsWith(':')));
}

const TABLE = LIFECYCLE_DEFAULTS.map(([prefix, defaults]) => ({ prefix: segments(prefix), defaults })).sort(
  (a, b) => b.prefix.length - a.prefix.length,
);

/** The version of a route (`v1`, `v2`), or undefined for unversioned faces (admin, OAuth, public). */
export function versionOf(url: string): string | undefined {
  return /^\/(v\d+)(\/|$)/.exec(url)?.[1];
}

/**
 * The complete lifecycle of a route, or the reason it has none. `declared` is the route's own
 * `config.lifecycle`; the override table and then the prefix defaults fill in the rest.
 */
export function resolveLifecycle(
  method: string,
  url: string,
  declared: LifecycleDeclaration | undefined,
): { lifecycle: RouteLifecycle } | { problem: string } {
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  const merged: LifecycleDeclaration = { ...LIFECYCLE_OVERRIDES[key], ...declared };
  const parts = segments(url);
  const row = TABLE.find((r) => prefixMatches(r.prefix, parts));
  const full = { status: 'stable' as const, ...row?.defaults, ...merged };
  if (!full.owner || !full.dataClassification || !full.since) {
    return { problem: 'has no lifecycle: declare config.lifecycle or add its prefix to LIFECYCLE_DEFAULTS' };
  }
  const lifecycle: RouteLifecycle = {
    status: full.status,
    owner: full.owner,
    dataClassification: full.dataClassification,
    since: full.since,
    ...(full.deprecatedAt ? { deprecatedAt: full.deprecatedAt } : {}),
    ...(full.sunsetAt ? { sunsetAt: full.sunsetAt } : {}),
    ...(full.successor ? { successor: full.successor } : {}),
  };
  const problem = lifecycleProblem(lifecycle);
  return problem ? { problem } : { lifecycle };
}

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Milliseconds since the epoch of an RFC 3339 date or date-time (a bare date is midnight UTC). */
export function instant(value: string): number {
  return Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
}

function validDate(value: string | undefined): boolean {
  return value !== undefined && DATE.test(value) && Number.isFinite(instant(value));
}

/** What is wrong with a lifecycle, in words for the boot error; undefined when it is sound. */
export function lifecycleProblem(l: RouteLifecycle): string | undefined {
  if (!LIFECYCLE_STATUSES.includes(l.status)) return `has an unknown lifecycle status '${l.status}'`;
  if (!DATA_CLASSIFICATIONS.includes(l.dataClassification))
    return `has an unknown data classification '${l.dataClassification}'`;
  if (!/^[a-z][a-z0-9-]*$/.test(l.owner)) return `has an invalid owner '${l.owner}' (a module name)`;
  if (!validDate(l.since)) return `has an invalid since date '${l.since}' (RFC 3339)`;
  for (const [name, value] of [
    ['deprecatedAt', l.deprecatedAt],
    ['sunsetAt', l.sunsetAt],
  ] as const) {
    if (value !== undefined && !validDate(value)) return `has an invalid ${name} '${value}' (RFC 3339)`;
  }
  if (l.status === 'deprecated') {
    // A deprecation without a date to plan by is no notice at all: both dates are required.
    if (!l.deprecatedAt || !l.sunsetAt) return 'is deprecated without deprecatedAt and sunsetAt';
  } else if (l.status !== 'retired' && (l.deprecatedAt || l.sunsetAt)) {
    return `is ${l.status} but declares deprecatedAt or sunsetAt (declare status 'deprecated')`;
  }
  // RFC 9745 §3: the Sunset date should not be earlier than the Deprecation date.
  if (l.deprecatedAt && l.sunsetAt && instant(l.sunsetAt) < instant(l.deprecatedAt))
    return 'has sunsetAt before deprecatedAt';
  if (l.successor !== undefined && !/^\/[\x21-\x7e]*$/.test(l.successor))
    return `has an invalid successor '${l.successor}' (a path of this API)`;
  return undefined;
}
