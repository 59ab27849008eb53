/**
 * Threat detection: a typed event feed from the request path and the outbox bus, online detectors
 * with explanations, alerts (de-duplicated, suppressible), response actions (IP block, client
 * throttle, token revocation, step-up) and incidents with their GDPR / DORA reporting clocks.
 * Alerts and actions are appended to the audit trail, which is how they reach the SIEM export.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayDecisions } from '../gateway/decisions.ts';
import type { IpRulesService } from '../gateway/ip-rules/index.ts';
import type { Logger } from '../platform/log.ts';
import type { Services } from '../platform/services.ts';
import { type Detector, defaultDetectors } from './detectors/index.ts';
import { DetectionFeed } from './feed.ts';
import { accountDigest } from './network.ts';
import { type DetectionMetrics, DetectionService } from './service.ts';
import type { SignInEvent } from './types.ts';

export { defaultDetectors } from './detectors/index.ts';
export { DetectionError, DetectionErrors } from './errors.ts';
export { DetectionFeed, type DetectionFeedOptions, type FeedStats } from './feed.ts';
export { accountDigest, networkOf, sourceOf } from './network.ts';
export { ACTION_KINDS, type ActionKind, ResponseActions } from './responses.ts';
export { detectionAdminRoutes } from './routes.ts';
export {
  type Action,
  type Alert,
  DEFAULT_RESPONSES,
  DetectionService,
  type Incident,
  type RaiseOutcome,
  type ResponsePolicy,
} from './service.ts';
export type * from './types.ts';

/** What the sign-in pages report after each decided step (second-factor prompts are undecided). */
export interface SignInOutcome {
  readonly tenantId: string;
  readonly clientId?: string | undefined;
  readonly ip: string;
  /** The submitted username, when the user is not known: digested here, never kept. */
  readonly username?: string | undefined;
  readonly userId?: string | undefined;
  readonly outcome: SignInEvent['outcome'];
}

export interface DetectionOptions {
  readonly services: Pick<Services, 'db' | 'kv' | 'bus'>;
  readonly ipRules?: IpRulesService | undefined;
  readonly metrics?: DetectionMetrics | undefined;
  readonly logger: Logger;
  readonly detectors?: readonly Detector[] | undefined;
  readonly now?: (() => number) | undefined;
  /** The WAF's blocking threshold (anomaly score). */
  readonly wafThreshold?: number | undefined;
}

/** Business topics the detectors read (payloads: `{ paymentId, claimId, policyId, partnerId, … }`). */
const BUSINESS_TOPICS = ['payment.>', 'claim.>', 'policy.>'];

export interface Detection {
  readonly feed: DetectionFeed;
  readonly service: DetectionService;
  /** For `onResponse` (every face). */
  readonly onResponse: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** For `/v1` preValidation, after the per-principal rate limit: throttles and step-up. */
  readonly guard: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** The gateway's decision sink with the WAF's verdicts also fed to detection. */
  observeGateway(decisions: GatewayDecisions): GatewayDecisions;
  readonly signIn: (outcome: SignInOutcome) => void;
  close(): Promise<void>;
}

/** The path parameter naming the object a route acts on: the last one (`/claims/:claimId/notes/:noteId`). */
function objectIdOf(req: FastifyRequest): string | undefined {
  const params = req.params as Record<string, unknown> | undefined;
  if (!params) return undefined;
  let last: string | undefined;
  for (const v of Object.values(params))
    if (typeof v === 'string' && v.length > 0 && v.length <= 200) last = v;
  return last;
}

export async function startDetection(options: DetectionOptions): Promise<Detection> {
  const now = options.now ?? Date.now;
  const { db, kv, bus } = options.services;
  const service = new DetectionService({ db, kv, ipRules: options.ipRules, metrics: options.metrics, now });
  const feed = new DetectionFeed({
    kv,
    detectors: options.detectors ?? defaultDetectors(),
    logger: options.logger,
    onFinding: async (finding) => {
      await service.raise(finding);
    },
  });
  const threshold = options.wafThreshold ?? 5;
  const unsubscribe = [
    // Shared work across instances (KV windows are shared): each business event is judged once.
    ...(await Promise.all(
      BUSINESS_TOPICS.map((filter) =>
        bus.subscribe(
          filter,
          async (e) => {
            if (!e.tenantId) return;
            feed.emit({
              kind: 'business',
              at: Date.parse(e.occurredAt) || now(),
              tenantId: e.tenantId,
              topic: e.topic,
              payload: e.payload,
            });
          },
          { durable: `detection-${filter.split('.')[0]}` },
        ),
      ),
    )),
    // Every instance drops its cached response policies when one is changed.
    await bus.subscribe('detection.policy.updated', async () => service.reloadPolicies()),
  ];

  return {
    feed,
    service,
    async onResponse(req, reply) {
      const p = req.principal;
      feed.emit({
        kind: 'response',
        at: now(),
        tenantId: p?.tenantId ?? null,
        ...(p ? { clientId: p.clientId, tokenId: p.tokenId, tokenExp: p.expiresAt } : {}),
        ...(p?.kind === 'user' ? { userId: p.subject } : {}),
        ip: req.ip,
        route: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        status: reply.statusCode,
        durationMs: reply.elapsedTime,
        objectId: req.routeOptions.url ? objectIdOf(req) : undefined,
      });
    },
    guard: service.responses.guard(),
    observeGateway(decisions) {
      return {
        ...decisions,
        waf(req, d) {
          decisions.waf(req, d);
          feed.emit({
            kind: 'waf',
            at: now(),
            tenantId: null,
            ip: req.ip,
            route: req.routeOptions.url ?? 'unmatched',
            action: d.action,
            score: d.score,
            threshold,
            ruleIds: d.ruleIds,
          });
        },
      };
    },
    signIn(o) {
      const account = o.userId
        ? `user:${o.userId}`
        : accountDigest(o.tenantId, (o.username ?? '').normalize('NFKC').trim().toLowerCase());
      feed.emit({
        kind: 'signin',
        at: now(),
        tenantId: o.tenantId,
        ...(o.clientId ? { clientId: o.clientId } : {}),
        ip: o.ip,
        account,
        ...(o.userId ? { userId: o.userId } : {}),
        outcome: o.outcome,
      });
    },
    async close() {
      for (const u of unsubscribe) await u().catch(() => {});
      await feed.close();
    },
  };
}
