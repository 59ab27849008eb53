/**
 * Overdue risk reviews as threat-detection alerts, so they reach the operators' alert queue (and,
 * through the alert's audit record, the SIEM) like any other finding.
 *
 * Detection's detector and subject ids are closed lists of its behavioural detectors (its
 * evaluation scores each); `risk_review_overdue` and the `risk` subject are not among them, hence
 * the two casts below. The alert store and views take any string, and a detector without a
 * response policy runs no action.
 */
import type { DetectionService } from '../detection/index.ts';
import type { DetectorId, Finding, SubjectType } from '../detection/types.ts';
import type { Risk, RiskAlertPort } from './service.ts';

export const RISK_REVIEW_DETECTOR = 'risk_review_overdue';

export function detectionRiskAlerts(
  detection: Pick<DetectionService, 'raise'>,
  now: () => number = Date.now,
): RiskAlertPort {
  return {
    async overdue(risk: Risk, daysOverdue: number) {
      const finding: Finding = {
        detector: RISK_REVIEW_DETECTOR as DetectorId,
        tenantId: risk.tenantId,
        subject: { type: 'risk' as SubjectType, id: risk.id },
        severity: risk.level === 'high' ? 'high' : risk.level === 'medium' ? 'medium' : 'low',
        at: now(),
        explanation: {
          what: `Risk review overdue by ${daysOverdue} day(s)`,
          why: `risk ${risk.id} (score ${risk.score}) was due for review on ${risk.reviewDue.slice(0, 10)}`,
          numbers: { score: risk.score, daysOverdue, reviewDue: risk.reviewDue },
        },
        context: {},
      };
      await detection.raise(finding);
    },
  };
}
