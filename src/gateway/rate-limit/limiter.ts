import { createHash } from 'node:crypto';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import {
  type CheckOutcome,
  decodeReply,
  encodeSpecs,
  type KeyOutcome,
  type LimitSpec,
  RATE_LIMIT_SCRIPT,
} from './gcra.ts';
import { ipBucket } from './ip.ts';
import {
  type CompiledPolicy,
  type CompiledQuota,
  type CompiledTable,
  compilePolicies,
  DEFAULT_POLICIES,
  type PolicyTable,
  type RouteClass,
  type RoutePolicies,
  type Stage,
} from './policies.ts';

/** Who and what a request is, as far as rate limiting cares. Absent values skip the policies that need them. */
export interface RateLimitSubject {
  /** The client address as Fastify resolved it (trusted proxies applied); IPv6 is counted per /64. */
  readonly ip?: string | undefined;
  /** Method and route pattern, e.g. `POST /v1/payments`. */
  readonly route?: string | undefined;
  readonly clientId?: string | undefined;
  readonly userId?: string | undefined;
  readonly tenantId?: string | undefined;
  /** Whose monthly quota the request counts against; defaults to the client. */
  readonly partnerId?: string | undefined;
  /** The partner's plan, for the monthly quota. */
  readonly plan?: string | undefined;
}

/** A policy as the response headers name it. */
export interface ShownPolicy {
  readonly name: string;
  /** The RateLimit-Policy item, e.g. `"ip";q=600;w=60`. */
  readonly policyItem: string;
}

export interface RateLimitVerdict {
  readonly kind: 'verdict';
  readonly allowed: boolean;
  /** For `policy`: requests still admitted now (0 when refused). */
  readonly remaining: number;
  /** For `policy`: until its allowance is whole again (or the month ends, for the quota). */
  readonly resetAfterMs: number;
  /** 0 when allowed; otherwise until every violated policy would admit the request. */
  readonly retryAfterMs: number;
  /** When refused: the violated policy with the longest wait; when allowed: the one with least left. */
  readonly policy: ShownPolicy;
  readonly violated: readonly string[];
  /** A monthly quota is among the violated policies (the wait is then until the month ends). */
  readonly quotaExceeded: boolean;
  /** Decided by this instance's local store because the shared one is unreachable. */
  readonly degraded: boolean;
}

/** The shared store is unreachable and the route's class fails closed. */
export interface RateLimitUnavailable {
  readonly kind: 'unavailable';
  /** When the store will next be tried; a sensible Retry-After. */
  readonly retryAfterMs: number;
}

export type RateLimitResult = RateLimitVerdict | RateLimitUnavailable;

/** One decision, for audit and detection. The key is a digest: identities never reach the log. */
export interface RateLimitDecision {
  readonly stage: Stage;
  readonly routeClass: RouteClass;
  readonly policy: string;
  readonly key: string;
  readonly allowed: boolean;
  readonly remaining: number;
  readonly retryAfterMs: number;
  readonly degraded: boolean;
}

export interface DegradedEvent {
  readonly since: number;
  /** The store's error message (never a URL or password: the KV keeps those out of its errors). */
  readonly error: string;
}

export interface RecoveredEvent {
  readonly since: number;
  readonly durationMs: number;
  /** Checks answered without the shared store (fallback or refusal) during the outage. */
  readonly degradedChecks: number;
}

export interface RateLimiterStats {
  readonly outages: number;
  /** Checks decided by the local fallback store. */
  readonly fallbackChecks: number;
  /** Checks refused with 503 because their class fails closed. */
  readonly failedClosedChecks: number;
  readonly degraded: boolean;
}

/** The part of a pino logger the limiter uses. */
export interface RateLimitLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RateLimiterOptions {
  /** The shared store: Redis for scale-out (exact across instances), memory when embedded. */
  readonly kv: Kv;
  readonly policies?: PolicyTable | undefined;
  readonly onDecision?: ((decision: RateLimitDecision) => void) | undefined;
  /** Called once when the shared store becomes unreachable (not per request). */
  readonly onDegraded?: ((event: DegradedEvent) => void) | undefined;
  readonly onRecovered?: ((event: RecoveredEvent) => void) | undefined;
  readonly logger?: RateLimitLogger | undefined;
  /**
   * While the store is unreachable, how often one request tries it again; the others go straight to
   * the fallback, so an outage does not cost every request a failed round trip. Default 1 s.
   */
  readonly probeIntervalMs?: number | undefined;
  /** Bound on the local fallback store (see MemoryKvOptions.maxEntries). */
  readonly fallbackMaxEntries?: number | undefined;
  /** Prefix length IPv6 addresses are counted under; default 64. */
  readonly ipv6PrefixLength?: number | undefined;
}

export interface RateLimiter {
  readonly policies: CompiledTable;
  /**
   * Checks and, when every applicable policy admits it, charges one request — atomically, in one
   * round trip. Undefined when no policy applies (no subject values for any of them).
   */
  check(route: RoutePolicies, stage: Stage, subject: RateLimitSubject): Promise<RateLimitResult | undefined>;
  stats(): RateLimiterStats;
  /** Releases the local fallback store; the shared KV belongs to the caller. */
  close(): Promise<void>;
}

interface Planned {
  readonly spec: LimitSpec;
  readonly shown: ShownPolicy;
  readonly quota: boolean;
}

const DEFAULT_PROBE_MS = 1_000;

/** A short, fixed-length key that says which policy and bucket without carrying the identity itself. */
function digest(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const table = compilePolicies(options.policies ?? DEFAULT_POLICIES);
  const kv = options.kv;
  const probeMs = options.probeIntervalMs ?? DEFAULT_PROBE_MS;
  const v6Prefix = options.ipv6PrefixLength ?? 64;
  if (!Number.isSafeInteger(probeMs) || probeMs <= 0)
    throw new Error('probeIntervalMs must be a positive integer');
  if (!Number.isSafeInteger(v6Prefix) || v6Prefix < 1 || v6Prefix > 128) {
    throw new Error('ipv6PrefixLength must be 1..128');
  }
  // The embedded store cannot become unreachable; a Redis store can, and then this one takes over.
  const fallback =
    kv.kind === 'redis'
      ? createMemoryKv({ prefix: 'rate-limit-fallback:', maxEntries: options.fallbackMaxEntries ?? 100_000 })
      : undefined;

  let degradedSince: number | undefined;
  let lastAttempt = 0;
  let outageChecks = 0;
  const counters = { outages: 0, fallbackChecks: 0, failedClosedChecks: 0 };

  const enterDegraded = (err: unknown) => {
    lastAttempt = Date.now();
    if (degradedSince !== undefined) return;
    degradedSince = lastAttempt;
    outageChecks = 0;
    counters.outages++;
    const error = err instanceof Error ? err.message : String(err);
    // Once per outage: a log line per request would bury the logs exactly when they matter.
    options.logger?.warn(
      { error, probeIntervalMs: probeMs },
      'rate-limit store unreachable: fail-closed classes answer 503, others use per-instance limits',
    );
    options.onDegraded?.({ since: degradedSince, error });
  };

  const recover = () => {
    if (degradedSince === undefined) return;
    const event = {
      since: degradedSince,
      durationMs: Date.now() - degradedSince,
      degradedChecks: outageChecks,
    };
    degradedSince = undefined;
    options.logger?.info(event, 'rate-limit store reachable again');
    options.onRecovered?.(event);
  };

  /** Runs the check on the shared store, or decides what to do without it. */
  const run = async (
    specs: readonly LimitSpec[],
    route: RoutePolicies,
  ): Promise<{ outcome: CheckOutcome; degraded: boolean } | 'unavailable'> => {
    const { keys, args } = encodeSpecs(specs);
    const probeDue = degradedSince === undefined || Date.now() - lastAttempt >= probeMs;
    if (!fallback || probeDue) {
      if (degradedSince !== undefined) lastAttempt = Date.now(); // one probe per interval, not one per request
      try {
        const outcome = decodeReply(await kv.script(RATE_LIMIT_SCRIPT, keys, args), specs.length);
        recover();
        return { outcome, degraded: false };
      } catch (err) {
        if (!fallback) throw err; // the memory store only fails on misuse: a bug, not an outage
        enterDegraded(err);
      }
    }
    outageChecks++;
    if (route.whenUnavailable === 'fail-closed') {
      counters.failedClosedChecks++;
      return 'unavailable';
    }
    counters.fallbackChecks++;
    const reply = await fallback.script(RATE_LIMIT_SCRIPT, keys, args);
    return { outcome: decodeReply(reply, specs.length), degraded: true };
  };

  const plan = (route: RoutePolicies, stage: Stage, subject: RateLimitSubject): Planned[] => {
    const planned: Planned[] = [];
    let ip: string | undefined;
    const dimensionValue = (dimension: CompiledPolicy['by'][number]): string | undefined => {
      switch (dimension) {
        case 'ip':
          // Parsed only when a policy counts by it (an IPv6 parse is most of a check's CPU).
          if (ip === undefined && subject.ip !== undefined) ip = ipBucket(subject.ip, v6Prefix);
          return ip;
        case 'route':
          return subject.route;
        case 'client':
          return subject.clientId;
        case 'user':
          return subject.userId;
        case 'tenant':
          return subject.tenantId;
      }
    };
    for (const policy of stage === 'ip' ? route.ip : route.principal) {
      const parts: string[] = [];
      for (const dimension of policy.by) {
        const value = dimensionValue(dimension);
        if (value === undefined || value === '') break;
        parts.push(value);
      }
      if (parts.length !== policy.by.length) continue;
      planned.push({
        spec: {
          kind: 'gcra',
          key: `rl:${policy.name}:${digest(parts)}`,
          emissionUs: policy.emissionUs,
          burst: policy.burst,
          cost: 1,
        },
        shown: policy,
        quota: false,
      });
    }
    const owner = subject.partnerId ?? subject.clientId;
    if (stage === 'principal' && owner) {
      const quota: CompiledQuota | undefined = table.quota(subject.plan);
      if (quota) {
        planned.push({
          spec: {
            kind: 'quota',
            key: `rq:${digest([subject.tenantId ?? '', owner])}`,
            limit: quota.limit,
            cost: 1,
          },
          shown: quota,
          quota: true,
        });
      }
    }
    return planned;
  };

  return {
    policies: table,

    async check(route, stage, subject) {
      const planned = plan(route, stage, subject);
      if (planned.length === 0) return undefined;
      const ran = await run(
        planned.map((p) => p.spec),
        route,
      );
      if (ran === 'unavailable') {
        options.onDecision?.({
          stage,
          routeClass: route.routeClass,
          policy: planned[0]!.shown.name,
          key: planned[0]!.spec.key,
          allowed: false,
          remaining: 0,
          retryAfterMs: probeMs,
          degraded: true,
        });
        return { kind: 'unavailable', retryAfterMs: probeMs };
      }
      const verdict = decide(planned, ran.outcome, ran.degraded);
      if (options.onDecision) {
        const chosen = planned[verdict.index]!;
        options.onDecision({
          stage,
          routeClass: route.routeClass,
          policy: chosen.shown.name,
          key: chosen.spec.key,
          allowed: verdict.result.allowed,
          remaining: verdict.result.remaining,
          retryAfterMs: verdict.result.retryAfterMs,
          degraded: ran.degraded,
        });
      }
      return verdict.result;
    },

    stats: () => ({ ...counters, degraded: degradedSince !== undefined }),

    async close() {
      await fallback?.close();
    },
  };
}

/**
 * Which policy a response describes. Refused: the violated policy with the longest wait, since the
 * request needs all of them to admit it. Admitted: the one with the least left — "the most
 * restrictive" — ties going to the longer reset.
 */
function decide(
  planned: readonly Planned[],
  outcome: CheckOutcome,
  degraded: boolean,
): { index: number; result: RateLimitVerdict } {
  let index = -1;
  let chosen: KeyOutcome | undefined;
  const violated: string[] = [];
  let quotaExceeded = false;
  outcome.keys.forEach((key, i) => {
    if (outcome.allowed) {
      if (
        !chosen ||
        key.remaining < chosen.remaining ||
        (key.remaining === chosen.remaining && key.resetAfterMs > chosen.resetAfterMs)
      ) {
        chosen = key;
        index = i;
      }
      return;
    }
    if (key.allowed) return;
    violated.push(planned[i]!.shown.name);
    if (planned[i]!.quota) quotaExceeded = true;
    if (!chosen || key.retryAfterMs > chosen.retryAfterMs) {
      chosen = key;
      index = i;
    }
  });
  const key = chosen!;
  const shown = planned[index]!.shown;
  return {
    index,
    result: {
      kind: 'verdict',
      allowed: outcome.allowed,
      remaining: outcome.allowed ? key.remaining : 0,
      resetAfterMs: key.resetAfterMs,
      retryAfterMs: outcome.allowed ? 0 : key.retryAfterMs,
      policy: { name: shown.name, policyItem: shown.policyItem },
      violated,
      quotaExceeded,
      degraded,
    },
  };
}
