/**
 * From findings to a decision: the risk score is the sum of the findings' weights, capped at 100;
 * any critical finding rejects; any high finding, or a score of 50 or more, needs a person to
 * review; anything else is approved. The reasons are the findings themselves, heaviest first.
 */
import type { Finding } from './types.ts';

export type Outcome = 'approved' | 'needs_review' | 'rejected';

export interface Assessment {
  readonly outcome: Outcome;
  readonly riskScore: number;
  readonly pep: boolean;
  readonly sanctionsHit: boolean;
  /** One line per finding that carried weight, heaviest first. */
  readonly reasons: readonly string[];
}

export const REVIEW_SCORE = 50;

export function assess(findings: readonly Finding[]): Assessment {
  const score = Math.min(
    100,
    findings.reduce((sum, f) => sum + Math.max(0, f.weight), 0),
  );
  const critical = findings.some((f) => f.severity === 'critical');
  const high = findings.some((f) => f.severity === 'high');
  const outcome: Outcome = critical
    ? 'rejected'
    : high || score >= REVIEW_SCORE
      ? 'needs_review'
      : 'approved';
  return {
    outcome,
    riskScore: Math.round(score),
    pep: findings.some((f) => (f.pep?.length ?? 0) > 0 || f.code.startsWith('pep.')),
    sanctionsHit: findings.some((f) => (f.sanctions?.length ?? 0) > 0 || f.code.startsWith('sanctions.')),
    reasons: [...findings]
      .filter((f) => f.weight > 0)
      .sort((a, b) => b.weight - a.weight)
      .map((f) => `${f.code} (+${f.weight}): ${f.message}`),
  };
}
