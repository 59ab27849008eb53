import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../../platform/errors/index.ts';
import { RateLimitErrors } from './errors.ts';
import type { RateLimiter, RateLimitResult, ShownPolicy } from './limiter.ts';
import {
  type RateLimitPolicy,
  ROUTE_CLASSES,
  type RouteClass,
  type RoutePolicies,
  type Stage,
} from './policies.ts';

/** What a route declares, in its `config`: `{ config: { rateLimit: { class: 'login' } } }`. */
export interface RouteRateLimit {
  readonly class?: RouteClass | undefined;
  /** Extra limits for this route only; add `route` to `by` to count them per route. */
  readonly limits?: readonly RateLimitPolicy[] | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RouteRateLimit;
  }
}

/** Who is calling, once authenticated. Missing members skip the policies counted by them. */
export interface RateLimitPrincipal {
  readonly clientId?: string | undefined;
  readonly userId?: string | undefined;
  readonly tenantId?: string | undefined;
  /** Whose monthly quota the call counts against; defaults to the client. */
  readonly partnerId?: string | undefined;
  readonly plan?: string | undefined;
}

export type GetPrincipal = (req: FastifyRequest) => RateLimitPrincipal | undefined;

export type RateLimitHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RateLimitHooks {
  /** For `onRequest`: the policies counted by IP (and route), before any parsing or authentication. */
  readonly perIpHook: RateLimitHook;
  /** For `preValidation`, after authentication: per client, user, tenant, route, and the monthly quota. */
  perPrincipalHook(getPrincipal: GetPrincipal): RateLimitHook;
  /** For `onRoute`: refuses, at boot, a route whose rate-limit declaration cannot be enforced. */
  readonly checkRoute: (route: RouteOptions) => void;
}

/** What the response headers currently describe, so the later stage only replaces a looser policy. */
interface Shown {
  readonly remaining: number;
  readonly resetAfterMs: number;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function createRateLimitHooks(limiter: RateLimiter): RateLimitHooks {
  // Keyed by the route context's config object, which Fastify keeps for the route's lifetime.
  const perRoute = new WeakMap<object, RoutePolicies>();
  const shown = new WeakMap<FastifyRequest, Shown>();

  const resolve = (declared: RouteRateLimit | undefined): RoutePolicies =>
    limiter.policies.forRoute(declared?.class ?? 'default', declared?.limits);

  const routeOf = (req: FastifyRequest): RoutePolicies => {
    const config = req.routeOptions.config;
    let route = perRoute.get(config);
    if (!route) {
      route = resolve(config.rateLimit);
      perRoute.set(config, route);
    }
    return route;
  };

  const setFields = (reply: FastifyReply, policy: ShownPolicy, remaining: number, t: number) => {
    // draft-ietf-httpapi-ratelimit-headers-09 §3 and §4 (unchanged in -11): a List of one Item each,
    // the policy named by an sf-string; q/w in the policy, r/t in the service limit.
    reply.header('RateLimit-Policy', policy.policyItem);
    reply.header('RateLimit', `"${policy.name}";r=${remaining};t=${t}`);
  };

  const apply = (req: FastifyRequest, reply: FastifyReply, result: RateLimitResult | undefined): void => {
    if (!result) return;
    if (result.kind === 'unavailable') {
      reply.header('Retry-After', seconds(result.retryAfterMs));
      throw new AppError(RateLimitErrors.RATE_LIMIT_UNAVAILABLE);
    }
    if (!result.allowed) {
      const wait = seconds(result.retryAfterMs);
      // RFC 9110 §10.2.3: delay-seconds, a whole number; at least 1 so a client never retries at once.
      reply.header('Retry-After', wait);
      // With r=0 the effective window is the wait itself; draft -11 §6: Retry-After must not point
      // earlier than the end of that window, so both say the same.
      setFields(reply, result.policy, 0, wait);
      throw new AppError(
        result.quotaExceeded ? RateLimitErrors.QUOTA_EXCEEDED : RateLimitErrors.RATE_LIMITED,
        undefined,
        { violatedPolicies: result.violated },
      );
    }
    const before = shown.get(req);
    if (
      before &&
      (before.remaining < result.remaining ||
        (before.remaining === result.remaining && before.resetAfterMs >= result.resetAfterMs))
    ) {
      return;
    }
    shown.set(req, { remaining: result.remaining, resetAfterMs: result.resetAfterMs });
    setFields(reply, result.policy, result.remaining, Math.ceil(result.resetAfterMs / 1000));
  };

  const run = async (
    req: FastifyRequest,
    reply: FastifyReply,
    stage: Stage,
    principal?: RateLimitPrincipal,
  ) => {
    const route = routeOf(req);
    const result = await limiter.check(route, stage, {
      ip: req.ip,
      // The pattern, not the path: one bucket per route, however many ids a caller puts in URLs.
      route: `${req.method} ${req.routeOptions.url ?? '*'}`,
      // Picked, not spread: whatever else the principal object carries cannot replace ip or route.
      clientId: principal?.clientId,
      userId: principal?.userId,
      tenantId: principal?.tenantId,
      partnerId: principal?.partnerId,
      plan: principal?.plan,
    });
    apply(req, reply, result);
  };

  return {
    perIpHook: async function rateLimitPerIp(req, reply) {
      await run(req, reply, 'ip');
    },
    perPrincipalHook(getPrincipal) {
      return async function rateLimitPerPrincipal(req, reply) {
        const principal = getPrincipal(req);
        // Unauthenticated (public) routes have nothing to count here; the per-IP stage covered them.
        if (!principal) return;
        await run(req, reply, 'principal', principal);
      };
    },
    checkRoute(route) {
      const declared = route.config?.rateLimit;
      if (declared?.class !== undefined && !ROUTE_CLASSES.includes(declared.class)) {
        throw new Error(`route ${route.url}: unknown rate-limit class ${String(declared.class)}`);
      }
      resolve(declared);
    },
  };
}

export interface InstallRateLimitOptions {
  readonly getPrincipal: GetPrincipal;
}

/**
 * Both stages in one call, for apps that do not list their pipeline by hand: per IP on `onRequest`,
 * per principal on `preValidation` (so authentication, also on `preValidation`, must be added first).
 */
export function installRateLimit(
  app: FastifyInstance,
  limiter: RateLimiter,
  options: InstallRateLimitOptions,
): RateLimitHooks {
  const hooks = createRateLimitHooks(limiter);
  app.addHook('onRoute', hooks.checkRoute);
  app.addHook('onRequest', hooks.perIpHook);
  app.addHook('preValidation', hooks.perPrincipalHook(options.getPrincipal));
  return hooks;
}
