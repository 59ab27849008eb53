/**
 * Data protection: data-subject requests (GDPR Art. 15-17, 20) with statutory deadlines, exports
 * assembled across modules through a registry of `SubjectDataSource`s, erasure by crypto-shredding
 * the subject's data key (financial records kept for their retention period, legal holds),
 * consents (incl. PSD2 account-information consents that gate partners' account reads), and
 * retention purges. docs/privacy.md describes it.
 *
 *   const privacy = new PrivacyService({ db, envelope, rectifier? });
 *   privacy.register(source)                        // a module's SubjectDataSource
 *   privacy.assertAccountConsent(tx, tenantId, partnerId, accountId)   // PRIVACY_CONSENT_REQUIRED
 *   privacy.accountReadCheck(tx, caller, account)   // the ledger's account-read hook
 *   privacy.runRetention(now)                        // one retention pass (tests call it)
 *   startPrivacyRetention(privacy, { everyMs, logger })  // the in-process timer
 */
import type { Logger } from '../platform/log.ts';
import type { PrivacyService } from './service.ts';

export { PrivacyError, type PrivacyErrorCode, PrivacyErrors } from './errors.ts';
export { privacyAdminRoutes, privacyRoutes } from './routes.ts';
export {
  type CallContext as PrivacyCallContext,
  CONSENT_PURPOSES,
  type ExportDocument,
  PrivacyService,
  type PrivacyServiceOptions,
  RETENTION_CATEGORIES,
  type Rectifier,
} from './service.ts';
export { FINANCIAL_RETENTION_YEARS } from './sources/builtin.ts';
export type { DataSubject, EraseContext, Retention, SubjectDataSource } from './sources/types.ts';
export { openField } from './sources/types.ts';

/** Runs `runRetention` every `everyMs` (first run after one interval); `stop` waits for a running pass. */
export function startPrivacyRetention(
  service: PrivacyService,
  options: { everyMs: number; logger?: Logger },
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = service
      .runRetention()
      .then((counts) => options.logger?.info({ counts }, 'privacy retention pass'))
      .catch((err: unknown) => options.logger?.warn({ err }, 'privacy retention pass failed'))
      .finally(() => {
        running = undefined;
      });
  }, options.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
