import { emissionIntervalUs } from './gcra.ts';

/**
 * What a route is, for rate limiting. Sensitive classes get stricter limits on top of the base ones,
 * and are refused (fail closed) rather than limited per instance when the shared store is down:
 *  - `login`: password / MFA steps — credential stuffing and guessing;
 *  - `token`: the OAuth token endpoint — client-secret guessing, token minting floods;
 *  - `payment`: payment initiation — money moves, so abuse is costly and must stay exact.
 */
export type RouteClass = 'default' | 'login' | 'token' | 'payment';
export const ROUTE_CLASSES: readonly RouteClass[] = ['default', 'login', 'token', 'payment'];

/**
 * What an allowance is counted per; each distinct combination of the values gets its own bucket.
 * `ip` is the client address (IPv6 per /64), `route` the route pattern with its method; the others
 * come from the authenticated principal.
 */
export type Dimension = 'ip' | 'route' | 'client' | 'user' | 'tenant';
const DIMENSIONS: readonly Dimension[] = ['ip', 'route', 'client', 'user', 'tenant'];

/** One limit: at most `limit` requests per `periodMs`, with `burst` admitted at once from rest (GCRA). */
export interface RateLimitPolicy {
  /** Named in `RateLimit-Policy` / `RateLimit`, in logs and in the storage key; unique per table. */
  readonly name: string;
  readonly by: readonly Dimension[];
  readonly limit: number;
  /** Whole seconds: the `w` parameter of RateLimit-Policy is an integer number of seconds. */
  readonly periodMs: number;
  readonly burst: number;
}

/**
 * When the shared store (Redis) cannot be reached:
 *  - `fail-closed`: answer 503 — for routes where limits must hold exactly, whatever the cost;
 *  - `local`: limit per instance from an in-process store until it comes back — N instances then
 *    admit up to N times the limit, which beats refusing all traffic for ordinary routes.
 */
export type UnavailableMode = 'fail-closed' | 'local';

export interface ClassPolicies {
  /** Added to the base policies for routes of this class. */
  readonly limits: readonly RateLimitPolicy[];
  readonly whenUnavailable: UnavailableMode;
}

export interface PolicyTable {
  /** Apply to every route. */
  readonly base: readonly RateLimitPolicy[];
  readonly classes: { readonly [C in RouteClass]: ClassPolicies };
  /** Admitted requests per UTC calendar month per partner, by plan; null is unlimited. */
  readonly plans: Readonly<Record<string, number | null>>;
  /** For a principal that names no plan or an unknown one. */
  readonly defaultPlan: string;
}

const MINUTE = 60_000;

/**
 * The defaults, sized for a partner API: generous for ordinary traffic, tight where guessing or
 * money is at stake. Policies counted by `ip` and `route` only run before authentication (cheap
 * rejection of floods); the others after it.
 */
export const DEFAULT_POLICIES: PolicyTable = deepFreeze({
  base: [
    { name: 'ip', by: ['ip'], limit: 600, periodMs: MINUTE, burst: 100 },
    { name: 'client', by: ['client'], limit: 1_200, periodMs: MINUTE, burst: 200 },
    { name: 'client-route', by: ['client', 'route'], limit: 300, periodMs: MINUTE, burst: 60 },
    { name: 'user', by: ['user'], limit: 300, periodMs: MINUTE, burst: 60 },
    { name: 'tenant', by: ['tenant'], limit: 6_000, periodMs: MINUTE, burst: 1_000 },
  ],
  classes: {
    default: { limits: [], whenUnavailable: 'local' },
    login: {
      limits: [
        { name: 'login-ip', by: ['ip'], limit: 10, periodMs: MINUTE, burst: 5 },
        { name: 'login-client', by: ['client'], limit: 60, periodMs: MINUTE, burst: 20 },
      ],
      whenUnavailable: 'fail-closed',
    },
    token: {
      limits: [
        { name: 'token-ip', by: ['ip'], limit: 120, periodMs: MINUTE, burst: 40 },
        { name: 'token-client', by: ['client'], limit: 60, periodMs: MINUTE, burst: 20 },
      ],
      whenUnavailable: 'fail-closed',
    },
    payment: {
      limits: [
        { name: 'payment-user', by: ['user'], limit: 10, periodMs: MINUTE, burst: 5 },
        { name: 'payment-client', by: ['client'], limit: 120, periodMs: MINUTE, burst: 30 },
        { name: 'payment-tenant', by: ['tenant'], limit: 1_200, periodMs: MINUTE, burst: 200 },
      ],
      whenUnavailable: 'fail-closed',
    },
  },
  plans: { sandbox: 10_000, starter: 100_000, growth: 1_000_000, enterprise: null },
  defaultPlan: 'sandbox',
});

/** Which hook runs a policy: before authentication (`ip`) or after it (`principal`). */
export type Stage = 'ip' | 'principal';

/** A policy ready for the hot path: its numbers derived and its header item rendered once. */
export interface CompiledPolicy extends RateLimitPolicy {
  readonly kind: 'gcra';
  readonly stage: Stage;
  readonly emissionUs: number;
  /** `"name";q=L;w=S` — draft-ietf-httpapi-ratelimit-headers-09 §3.1. */
  readonly policyItem: string;
}

export interface CompiledQuota {
  readonly kind: 'quota';
  readonly name: string;
  readonly plan: string;
  readonly limit: number;
  /** No `w`: a calendar month has no fixed length (the parameter is optional, §3.1). */
  readonly policyItem: string;
}

/** Everything one route needs, resolved once per route. */
export interface RoutePolicies {
  readonly routeClass: RouteClass;
  readonly whenUnavailable: UnavailableMode;
  readonly ip: readonly CompiledPolicy[];
  readonly principal: readonly CompiledPolicy[];
}

export interface CompiledTable {
  forRoute(routeClass: RouteClass, extra?: readonly RateLimitPolicy[]): RoutePolicies;
  /** The quota of a plan (the default plan's for unknown names); undefined when unlimited. */
  quota(plan: string | undefined): CompiledQuota | undefined;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Refuses a table that cannot be enforced or advertised as written; done once at boot. */
export function compilePolicies(table: PolicyTable): CompiledTable {
  const seen = new Set<string>();
  const compile = (policy: RateLimitPolicy): CompiledPolicy => {
    checkPolicy(policy);
    const ipOnly = policy.by.every((d) => d === 'ip' || d === 'route');
    return Object.freeze({
      ...policy,
      by: Object.freeze([...policy.by]),
      kind: 'gcra' as const,
      stage: ipOnly ? ('ip' as const) : ('principal' as const),
      emissionUs: emissionIntervalUs(policy.limit, policy.periodMs),
      policyItem: `"${policy.name}";q=${policy.limit};w=${policy.periodMs / 1000}`,
    });
  };
  const unique = (policy: RateLimitPolicy) => {
    if (seen.has(policy.name)) throw new Error(`rate-limit policy ${policy.name} is declared twice`);
    seen.add(policy.name);
    return compile(policy);
  };
  const base = table.base.map(unique);
  const perClass = new Map<RouteClass, RoutePolicies>();
  for (const routeClass of ROUTE_CLASSES) {
    const entry = table.classes[routeClass];
    if (!entry) throw new Error(`rate-limit policies for class ${routeClass} are missing`);
    if (entry.whenUnavailable !== 'fail-closed' && entry.whenUnavailable !== 'local') {
      throw new Error(`class ${routeClass}: whenUnavailable must be 'fail-closed' or 'local'`);
    }
    perClass.set(
      routeClass,
      split(routeClass, entry.whenUnavailable, [...base, ...entry.limits.map(unique)]),
    );
  }

  const quotas = new Map<string, CompiledQuota | undefined>();
  for (const [plan, limit] of Object.entries(table.plans)) {
    if (limit !== null && !(Number.isSafeInteger(limit) && limit > 0)) {
      throw new Error(`plan ${plan}: the monthly quota must be a positive integer or null`);
    }
    quotas.set(
      plan,
      limit === null
        ? undefined
        : Object.freeze({
            kind: 'quota' as const,
            name: 'quota',
            plan,
            limit,
            policyItem: `"quota";q=${limit}`,
          }),
    );
  }
  if (!quotas.has(table.defaultPlan)) throw new Error(`default plan ${table.defaultPlan} is not in plans`);
  const defaultQuota = quotas.get(table.defaultPlan);

  return {
    forRoute(routeClass, extra) {
      const known = perClass.get(routeClass);
      if (!known) throw new Error(`unknown rate-limit class ${String(routeClass)}`);
      if (!extra || extra.length === 0) return known;
      // Route-declared policies: compiled once per route by the caller, which caches the result.
      const names = new Set([...known.ip, ...known.principal].map((p) => p.name));
      const own = extra.map((policy) => {
        if (names.has(policy.name)) throw new Error(`route policy ${policy.name} shadows a table policy`);
        names.add(policy.name);
        return compile(policy);
      });
      return split(routeClass, known.whenUnavailable, [...known.ip, ...known.principal, ...own]);
    },
    quota(plan) {
      if (plan !== undefined && quotas.has(plan)) return quotas.get(plan);
      return defaultQuota;
    },
  };
}

function split(routeClass: RouteClass, whenUnavailable: UnavailableMode, all: readonly CompiledPolicy[]) {
  return Object.freeze({
    routeClass,
    whenUnavailable,
    ip: Object.freeze(all.filter((p) => p.stage === 'ip')),
    principal: Object.freeze(all.filter((p) => p.stage === 'principal')),
  });
}

function checkPolicy(policy: RateLimitPolicy): void {
  const where = `rate-limit policy ${JSON.stringify(policy.name)}`;
  // The name goes verbatim into a structured-field String (RFC 8941 §3.3.3): keep it to plain tokens.
  if (!NAME.test(policy.name) || policy.name === 'quota') {
    throw new Error(`${where}: name must be lower-case letters, digits and '-' (and not "quota")`);
  }
  if (policy.by.length === 0 || new Set(policy.by).size !== policy.by.length) {
    throw new Error(`${where}: 'by' must list distinct dimensions`);
  }
  for (const d of policy.by) if (!DIMENSIONS.includes(d)) throw new Error(`${where}: unknown dimension ${d}`);
  for (const field of ['limit', 'burst', 'periodMs'] as const) {
    if (!Number.isSafeInteger(policy[field]) || policy[field] <= 0) {
      throw new Error(`${where}: ${field} must be a positive integer`);
    }
  }
  if (policy.periodMs % 1000 !== 0) {
    // draft-ietf-httpapi-ratelimit-headers-09 §3.1.3: "Sub-second precision is not supported".
    throw new Error(`${where}: periodMs must be whole seconds`);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
