/**
 * Payments: premium collection by direct debit (mandates, scheduled collections, failed-collection
 * retries), claim payouts by credit transfer (KYC, verification of payee, limits per partner, SCA
 * above the exemption), rail adapters with a simulated SEPA-like rail, and the payment state
 * machine whose every money-moving change is posted to the ledger.
 *
 * Wiring (src/app.ts):
 *   const rail = new SimulatedRail({ db });
 *   const payments = new PaymentsService({ db, envelope, authz, rail, ledger, sca,
 *     customers: kycCustomers(kyc), claims: claimPayoutPort(envelope) });
 *   api.register(paymentRoutes, { service: payments });          // inside /v1
 *   admin.register(paymentAdminRoutes, { service: payments });   // inside /admin
 *   const worker = startPaymentsWorker(payments, { everyMs: 1000, logger }); onClose: worker.stop()
 *
 * Tests drive time with the service's `now` and the rail's, and call `service.tick()` themselves.
 */
import type { Tx } from '../platform/db/types.ts';
import type { CustomerForPayment, CustomerPort } from './ports.ts';
import type { PaymentsService } from './service.ts';

export { PaymentError, type PaymentErrorCode, PaymentErrors } from './errors.ts';
export { compareNames, PAYEE_CHECKS, type PayeeCheckResult } from './payee-check.ts';
export type { ClaimForPayout, ClaimPayoutPort, CustomerForPayment, CustomerPort } from './ports.ts';
export {
  SANDBOX_ACCOUNTS,
  SANDBOX_MAGIC_AMOUNTS,
  type SimulatedAccount,
  SimulatedRail,
  type SimulatedRailOptions,
} from './rail/simulated.ts';
export {
  isReasonCode,
  type RailAdapter,
  type RailOutcome,
  type RailReport,
  type RailSubmission,
  REASON_CODES,
  RETRYABLE_REASONS,
} from './rail/types.ts';
export { paymentAdminRoutes, paymentJson, paymentRoutes } from './routes.ts';
export {
  type CreateCollectionInput,
  type CreateMandateInput,
  type CreatePayoutInput,
  DEFAULT_LIMITS,
  type Mandate,
  type Payment,
  PaymentsService,
  type PaymentsServiceOptions,
} from './service.ts';
export {
  canTransition,
  ledgerEffect,
  PAYMENT_KINDS,
  PAYMENT_STATUSES,
  type PaymentKind,
  type PaymentStatus,
} from './state.ts';

/** KYC's customer lookups as payments' port (KycService has both methods). */
export function kycCustomers(kyc: {
  customerRef(tx: Tx, tenantId: string, customerId: string): Promise<CustomerForPayment | undefined>;
  assertVerified(tx: Tx, tenantId: string, customerId: string): Promise<unknown>;
}): CustomerPort {
  return {
    customerForPayment: async (tx, tenantId, customerId) =>
      (await kyc.customerRef(tx, tenantId, customerId)) ?? null,
    assertVerified: async (tx, tenantId, customerId) => {
      await kyc.assertVerified(tx, tenantId, customerId);
    },
  };
}

export interface PaymentsWorker {
  stop(): Promise<void>;
}

/** Runs `service.tick()` every `everyMs` on this instance (every instance may run one). */
export function startPaymentsWorker(
  service: PaymentsService,
  options: { everyMs: number; logger?: { warn(obj: object, msg: string): void } },
): PaymentsWorker {
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = service
      .tick()
      .then(() => undefined)
      .catch((err: unknown) => options.logger?.warn({ err }, 'payments tick failed'))
      .finally(() => {
        running = undefined;
      });
  }, options.everyMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
