import { defineErrors } from '../platform/errors/index.ts';

/** Stable codes of products, policies and claims (docs/errors.md, "Insurance"). */
export const InsuranceErrors = defineErrors({
  PRODUCT_NOT_FOUND: { status: 404, title: 'No such insurance product' },
  PRODUCT_NAME_TAKEN: { status: 409, title: 'The tenant already has a product with this name' },
  PRODUCT_CURRENCY_UNKNOWN: { status: 400, title: 'The currency is not an ISO 4217 code' },
  PRODUCT_RULES_INVALID: {
    status: 422,
    title: 'The product rules are inconsistent (term not a whole number of premium periods, limits)',
  },
  PRODUCT_RETIRED: { status: 409, title: 'The product is retired: no new quotes' },
  POLICY_NOT_FOUND: { status: 404, title: 'No such policy' },
  POLICY_CUSTOMER_NOT_FOUND: { status: 422, title: 'customerId names no customer this caller can see' },
  POLICY_PRODUCT_NOT_FOUND: { status: 422, title: 'productId names no product of this tenant' },
  POLICY_CURRENCY_MISMATCH: { status: 422, title: 'The currency is not the product’s currency' },
  POLICY_COVER_ABOVE_LIMIT: { status: 422, title: 'The cover amount is above the product’s cover limit' },
  POLICY_START_DATE_INVALID: {
    status: 422,
    title: 'The start date is in the past or further ahead than the product allows',
  },
  POLICY_INVALID_TRANSITION: { status: 409, title: 'The policy is not in a state that allows this' },
  POLICY_QUOTE_EXPIRED: { status: 409, title: 'The quote has expired: ask for a new one' },
  CLAIM_NOT_FOUND: { status: 404, title: 'No such claim' },
  CLAIM_POLICY_NOT_FOUND: { status: 422, title: 'policyId names no policy this caller can see' },
  CLAIM_POLICY_NOT_IN_FORCE: { status: 422, title: 'The policy is not in force (bound or active)' },
  CLAIM_CURRENCY_MISMATCH: { status: 422, title: 'The currency is not the policy’s currency' },
  CLAIM_INCIDENT_DATE_INVALID: {
    status: 422,
    title: 'The incident date is in the future or outside the policy’s cover period',
  },
  CLAIM_IN_WAITING_PERIOD: { status: 422, title: 'The incident falls in the product’s waiting period' },
  CLAIM_PAYEE_IBAN_INVALID: { status: 400, title: 'The payee IBAN fails its check digits (ISO 13616)' },
  CLAIM_INVALID_TRANSITION: { status: 409, title: 'The claim is not in a state that allows this' },
  CLAIM_FRAUD_REVIEW_OPEN: {
    status: 409,
    title: 'Fraud signals routed the claim to review: an adjuster must clear it first',
  },
  CLAIM_NO_FRAUD_REVIEW: { status: 409, title: 'The claim has no open fraud review to clear' },
  CLAIM_APPROVAL_ABOVE_CLAIMED: { status: 422, title: 'The approved amount is above the amount claimed' },
  CLAIM_NOTHING_TO_PAY: { status: 409, title: 'The approved amount of the claim is already paid' },
  CLAIM_DOCUMENT_LIMIT: { status: 409, title: 'The claim already has the maximum number of documents' },
  ADJUSTER_NOT_FOUND: { status: 404, title: 'No user with this id in this tenant' },
  ADJUSTER_ROLE_REQUIRED: { status: 422, title: 'Approval authority is given to claims adjusters only' },
  ADJUSTER_LIMITS_INVALID: {
    status: 422,
    title: 'Each limit must have single ≤ multi, in a known ISO 4217 currency',
  },
});

export type InsuranceErrorCode = keyof typeof InsuranceErrors;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class InsuranceError extends Error {
  constructor(
    readonly code: InsuranceErrorCode,
    readonly detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'InsuranceError';
  }
}
