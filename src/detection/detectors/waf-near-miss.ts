import { sourceOf } from '../network.ts';
import type { Finding } from '../types.ts';
import type { Detector } from './types.ts';

export interface WafNearMissTuning {
  readonly windowMs: number;
  /** Sum of near-miss anomaly scores from one source, in multiples of the blocking threshold. */
  readonly thresholds: number;
  /** Near-miss requests from the source, at least. */
  readonly requests: number;
  /**
   * Rules whose matches alone do not count: `protocol-231` (Host is an IP address) is what load
   * balancers' health probes and every direct-to-origin client do.
   */
  readonly ignoreRules: readonly string[];
}

export const WAF_NEAR_MISS_DEFAULTS: WafNearMissTuning = {
  windowMs: 60 * 60_000,
  thresholds: 4,
  requests: 6,
  ignoreRules: ['protocol-231'],
};

/**
 * WAF near-misses that add up: requests that matched WAF rules but scored below the blocking
 * threshold, from one source. One such request is usually an innocent apostrophe; a source whose
 * sub-threshold scores add up to several blocks' worth is probing for what passes.
 */
export function wafNearMiss(tuning: WafNearMissTuning = WAF_NEAR_MISS_DEFAULTS): Detector {
  let seq = 0;
  return {
    id: 'waf_near_miss',
    kinds: ['waf'],
    async observe(event, { windows }): Promise<Finding | undefined> {
      if (event.kind !== 'waf' || event.action !== 'allow' || event.score <= 0) return undefined;
      if (event.ruleIds.every((r) => tuning.ignoreRules.includes(r))) return undefined;
      const source = sourceOf(event.ip);
      seq = (seq + 1) % 1_000_000_000;
      const counts = await windows.add({
        key: `waf:${event.tenantId ?? '-'}:${source}`,
        at: event.at,
        windowMs: tuning.windowMs,
        // Each near-miss is its own entry; the rules matched make it distinct enough for reading.
        member: `${event.at}:${seq}`,
        weight: Math.round(event.score),
      });
      const budget = tuning.thresholds * event.threshold;
      if (counts.weight < budget || counts.count < tuning.requests) return undefined;
      return {
        detector: 'waf_near_miss',
        tenantId: event.tenantId,
        subject: { type: 'ip', id: source },
        severity: counts.weight >= budget * 3 ? 'high' : 'medium',
        at: event.at,
        explanation: {
          what: 'WAF near-misses adding up from one source',
          why: `${counts.count} requests within ${tuning.windowMs / 60_000} min matched WAF rules below the blocking threshold (${event.threshold}); their scores add up to ${counts.weight}, ${tuning.thresholds}× the threshold or more — probing for what passes`,
          numbers: {
            nearMisses: counts.count,
            scoreSum: counts.weight,
            blockThreshold: event.threshold,
            lastRules: event.ruleIds.slice(0, 5).join(' '),
            windowMinutes: tuning.windowMs / 60_000,
          },
        },
        context: { ip: event.ip },
      };
    },
  };
}
