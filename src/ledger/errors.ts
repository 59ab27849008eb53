import { AppError, defineErrors } from '../platform/errors/index.ts';

/** Stable codes of the ledger (docs/errors.md, section Ledger). */
export const LedgerErrors = defineErrors({
  LEDGER_ACCOUNT_NOT_FOUND: { status: 404, title: 'No such account' },
  LEDGER_TRANSACTION_NOT_FOUND: { status: 404, title: 'No such ledger transaction' },
  LEDGER_HOLD_NOT_FOUND: { status: 404, title: 'No such hold' },
  LEDGER_UNBALANCED: { status: 422, title: 'Debits and credits of the transaction differ in some currency' },
  LEDGER_CURRENCY_UNKNOWN: { status: 422, title: 'Not an active ISO 4217 currency code' },
  LEDGER_CURRENCY_MISMATCH: {
    status: 422,
    title: "An amount's currency differs from its account's currency",
  },
  LEDGER_AMOUNT_INVALID: {
    status: 422,
    title: 'Amounts are positive integers of minor units (no zero, negative or fractional amounts)',
  },
  LEDGER_POSTINGS_INVALID: {
    status: 422,
    title: 'A transaction needs at least two postings, at most 100, and no account twice on the same side',
  },
  LEDGER_INSUFFICIENT_FUNDS: {
    status: 422,
    title: "The transaction would take the account's available balance below its overdraft limit",
  },
  LEDGER_TRANSACTION_ID_CONFLICT: {
    status: 409,
    title: 'A different ledger transaction or hold already has this id',
  },
  LEDGER_ALREADY_REVERSED: { status: 409, title: 'The transaction has already been reversed' },
  LEDGER_NOT_REVERSIBLE: { status: 409, title: 'A reversal cannot itself be reversed' },
  LEDGER_ACCOUNT_CLOSED: { status: 409, title: 'The account is closed' },
  LEDGER_ACCOUNT_CODE_TAKEN: { status: 409, title: 'Another account of this tenant already has this code' },
  LEDGER_HOLD_NOT_PENDING: { status: 409, title: 'The hold has already been posted or voided' },
  LEDGER_HOLD_EXPIRED: { status: 409, title: 'The hold has expired' },
  LEDGER_HOLD_AMOUNT_EXCEEDED: { status: 422, title: 'The amount exceeds what the hold reserves' },
  LEDGER_EFFECTIVE_AT_INVALID: { status: 422, title: 'effectiveAt may not be in the future' },
  LEDGER_CUSTOMER_NOT_VERIFIED: {
    status: 409,
    title: 'The customer has no approved identity verification; the account cannot be opened',
  },
});

export type LedgerErrorCode = keyof typeof LedgerErrors;

/**
 * Domain failure, free of HTTP. It is an AppError so that a ledger refusal met inside another
 * module's handler (payments posting a payout, insurance reserving a claim) still reaches the caller
 * as its stable code (problem+json) without every module mapping ledger codes.
 */
export class LedgerError extends AppError {
  declare readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, detail?: string) {
    super(code, detail);
    this.name = 'LedgerError';
  }
}
