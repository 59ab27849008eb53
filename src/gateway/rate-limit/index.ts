/**
 * Rate limits and quotas: GCRA per IP (IPv6 per /64), client, user, tenant and route, stricter for
 * login, token and payment routes, monthly quotas per partner plan — one atomic script per check,
 * on Redis (exact across instances) or in memory (embedded).
 */
export { RateLimitErrors } from './errors.ts';
export { type CheckOutcome, type KeyOutcome, RATE_LIMIT_SCRIPT } from './gcra.ts';
export {
  createRateLimitHooks,
  type GetPrincipal,
  type InstallRateLimitOptions,
  installRateLimit,
  type RateLimitHook,
  type RateLimitHooks,
  type RateLimitPrincipal,
  type RouteRateLimit,
} from './hooks.ts';
export { ipBucket } from './ip.ts';
export {
  createRateLimiter,
  type DegradedEvent,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
  type RateLimitLogger,
  type RateLimitResult,
  type RateLimitSubject,
  type RateLimitUnavailable,
  type RateLimitVerdict,
  type RecoveredEvent,
  type ShownPolicy,
} from './limiter.ts';
export {
  type ClassPolicies,
  type CompiledTable,
  compilePolicies,
  DEFAULT_POLICIES,
  type Dimension,
  type PolicyTable,
  type RateLimitPolicy,
  ROUTE_CLASSES,
  type RouteClass,
  type RoutePolicies,
  type Stage,
  type UnavailableMode,
} from './policies.ts';
