/**
 * Insurance: products, policies with premium schedules, claims from first notice of loss to
 * payout, fraud signals, adjusters' approval authority (Cedar `approve` on `Claim`), and the
 * claims side of payouts for payments (`claimPayoutPort`).
 */
export { InsuranceErrors } from './errors.ts';
export {
  DEFAULT_FRAUD_SETTINGS,
  evaluateFraudSignals,
  FRAUD_SIGNAL_CODES,
  type FraudSignal,
} from './fraud.ts';
export { claimPayoutPort } from './payout-port.ts';
export { insuranceAdminRoutes, insuranceRoutes } from './routes.ts';
export {
  type Claim,
  type CustomerLookup,
  type CustomerRef,
  InsuranceService,
  type InsuranceServiceOptions,
  type Policy,
  type Product,
} from './service.ts';
export { CLAIM_STATUSES, type ClaimStatus, POLICY_STATUSES, type PolicyStatus } from './states.ts';
