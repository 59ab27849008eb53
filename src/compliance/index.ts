/**
 * Compliance evidence: a report mapping ISO/IEC 27001:2022 Annex A controls, the PSD2 RTS articles
 * on strong customer authentication and the OWASP API Security Top 10 (2023) to evidence computed
 * live from this deployment's configuration and data; the GDPR Art. 30 record of processing; and
 * each tenant's risk register, whose overdue reviews raise alerts. See docs/compliance.md.
 */

import type { Database } from '../platform/db/index.ts';
import type { Logger } from '../platform/log.ts';
import { checkOverdueReviews, type RiskAlertPort } from './service.ts';

export { detectionRiskAlerts, RISK_REVIEW_DETECTOR } from './alerts.ts';
export { CONTROLS, type ControlDef, controlByRef } from './controls.ts';
export { ComplianceError, type ComplianceErrorCode, ComplianceErrors } from './errors.ts';
export { DeploymentFacts, type EvidenceSources } from './facts.ts';
export {
  CONTENT_TYPES,
  HTML_CSP,
  REPORT_FORMATS,
  type ReportFormat,
  renderReport,
  renderRopa,
} from './render.ts';
export {
  buildReport,
  type ComplianceReport,
  type ControlReport,
  REPORT_FORMAT,
  ReportSchema,
  RopaSchema,
  ropaJson,
} from './report.ts';
export { buildRopa, PROCESSING_ACTIVITIES, type ProcessingActivity, type Ropa } from './ropa.ts';
export { complianceReportRoutes, riskAdminRoutes } from './routes.ts';
export {
  checkOverdueReviews,
  type OverdueResult,
  type Risk,
  type RiskAlertPort,
  type RiskInput,
  RiskService,
} from './service.ts';
export { type Check, type Evidence, type Fact, FRAMEWORKS, judge, type Status } from './types.ts';

export interface RiskReviewCheck {
  /** Runs one check now (what the timer does). */
  run(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The scheduled check of overdue risk reviews (hourly by default; 0 turns the timer off). Every
 * instance may run it: claiming a risk for a missed date is one conditional UPDATE.
 */
export function startRiskReviewCheck(options: {
  db: Database;
  alerts?: RiskAlertPort | undefined;
  logger: Logger;
  everyMs?: number;
  now?: () => number;
}): RiskReviewCheck {
  const now = options.now ?? Date.now;
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= checkOverdueReviews(
      {
        db: options.db,
        alerts: options.alerts,
        onError: (err) => options.logger.warn({ err }, 'risk review alert failed'),
      },
      new Date(now()),
    )
      .then((r) => {
        if (r.alerted) options.logger.info({ ...r }, 'overdue risk reviews reported');
      })
      .catch((err: unknown) => options.logger.error({ err }, 'risk review check failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const everyMs = options.everyMs ?? 3_600_000;
  const timer = everyMs > 0 ? setInterval(() => void run(), everyMs) : undefined;
  timer?.unref();
  return {
    run,
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
