import { defineErrors } from '../platform/errors/index.ts';

export const PaymentErrors = defineErrors({
  PAYMENT_NOT_FOUND: { status: 404, title: 'No such payment' },
  MANDATE_NOT_FOUND: { status: 404, title: 'No such direct-debit mandate' },
  PAYMENT_CUSTOMER_NOT_FOUND: { status: 404, title: 'No such customer' },
  PAYMENT_IBAN_INVALID: {
    status: 400,
    title: 'The IBAN is not valid (ISO 13616 length and mod-97 check digits)',
  },
  PAYMENT_AMOUNT_INVALID: {
    status: 400,
    title: 'The amount must be a positive integer number of minor units, at most 2^53 - 1',
  },
  PAYMENT_CURRENCY_UNKNOWN: { status: 400, title: 'The currency is not an ISO 4217 code' },
  PAYMENT_CURRENCY_UNSUPPORTED: { status: 422, title: 'The payment rail does not carry this currency' },
  PAYMENT_DATE_INVALID: { status: 400, title: 'The date is not a valid calendar date in the allowed range' },
  PAYMENT_LIMIT_EXCEEDED: { status: 422, title: "The amount is above the partner's limit per payment" },
  PAYMENT_DAILY_LIMIT_EXCEEDED: { status: 422, title: "The amount would exceed the partner's daily limit" },
  PAYMENT_LIMIT_INVALID: {
    status: 400,
    title: 'Limits must be positive integers of minor units, the daily one at least the per-payment one',
  },
  PAYMENT_INVALID_TRANSITION: { status: 409, title: 'The payment is not in a state that allows this' },
  PAYMENT_AMOUNT_EXCEEDS_CLAIM: { status: 422, title: 'The amount is more than is left to pay on the claim' },
  PAYMENT_SANDBOX_ONLY: {
    status: 403,
    title: 'Outcomes can be forced only on sandbox payments by sandbox apps',
  },
  PAYMENT_REASON_CODE_INVALID: {
    status: 400,
    title: 'The reason code is not an ISO 20022 return/reject reason the simulated rail knows',
  },
  PAYMENT_PARTNER_NOT_FOUND: { status: 404, title: 'No such partner in this tenant' },
  MANDATE_REFERENCE_TAKEN: { status: 409, title: 'A mandate with this reference already exists' },
  MANDATE_REVOKED: { status: 409, title: 'The mandate is revoked' },
});

export type PaymentErrorCode = keyof typeof PaymentErrors;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class PaymentError extends Error {
  constructor(
    readonly code: PaymentErrorCode,
    readonly detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'PaymentError';
  }
}
