import type { FastifyRequest } from 'fastify';
import { type AuditInput, appendAuditAsync } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { IpDecision } from './ip-rules/index.ts';
import type { RateLimitDecision } from './rate-limit/index.ts';
import type { Decision } from './waf/index.ts';

/**
 * Where the gateway's refusals go: the audit trail (queued, so a flood of blocks costs one small
 * insert each and the chain is extended by the single writer) and the log. These are the records
 * detection reads (credential stuffing, scanners, near-misses). Never the payload: rule ids, the
 * route pattern and the client address only.
 */
export function gatewayDecisions(db: Database, logger: Logger, metrics?: Metrics) {
  const record = (input: AuditInput) => {
    db.asSystem((tx) => appendAuditAsync(tx, input)).catch((err) =>
      logger.warn({ err, action: input.action }, 'audit of a gateway decision failed'),
    );
  };
  const where = (req: FastifyRequest) => ({
    ip: req.ip,
    method: req.method,
    route: req.routeOptions.url ?? null,
  });

  return {
    waf(req: FastifyRequest, d: Decision): void {
      if (d.action === 'allow') return;
      if (d.action === 'block') for (const rule of d.ruleIds) metrics?.block('waf', rule);
      req.log.warn({ waf: { action: d.action, score: d.score, ruleIds: d.ruleIds } }, 'waf match');
      record({
        actor: { type: 'anonymous' },
        action: d.action === 'block' ? 'waf.blocked' : 'waf.monitored',
        tenantId: null,
        outcome: d.action === 'block' ? 'blocked' : 'success',
        requestId: req.id,
        details: { ...where(req), score: d.score, ruleIds: d.ruleIds },
      });
    },
    ipRule(d: IpDecision, req: FastifyRequest): void {
      metrics?.block('ip', d.rule);
      req.log.warn({ ipRule: d }, 'ip rule refused the request');
      record({
        actor: { type: 'anonymous' },
        action: 'ip.blocked',
        tenantId: null,
        outcome: 'blocked',
        requestId: req.id,
        details: { ...where(req), scope: d.scope, rule: d.rule, ruleId: d.ruleId },
      });
    },
    rateLimit(d: RateLimitDecision): void {
      if (d.allowed) return;
      metrics?.block('rate_limit', d.policy);
      record({
        actor: { type: 'anonymous' },
        action: 'ratelimit.blocked',
        tenantId: null,
        outcome: 'blocked',
        details: { policy: d.policy, stage: d.stage, routeClass: d.routeClass, key: d.key },
      });
    },
  };
}

export type GatewayDecisions = ReturnType<typeof gatewayDecisions>;
