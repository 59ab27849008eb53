/**
 * The payment state machine, in one place: which transitions exist for which kind of payment,
 * and what each one moves in the ledger. The service asks `transition` before every change and
 * posts `ledgerEffect`; nothing else decides either.
 *
 *   collection:  created -> scheduled -> submitted -> settled
 *                                  ^         |-----> returned   (final return reason)
 *                                  |_________|-----> scheduled  (retryable return, attempts left)
 *                                            |-----> rejected | failed (retries exhausted)
 *                scheduled -> cancelled
 *   claim_payout: created -> awaiting_sca -> submitted -> settled | returned | rejected | failed
 *                 created -> submitted (SCA exemption)
 *                 awaiting_sca -> cancelled
 *
 * Ledger (double entry; account roles, mapped to ledger accounts by the ledger adapter):
 *   payout submitted:            debit claims_reserve   / credit payout_clearing  (money leaves the reserve)
 *   payout settled:              debit payout_clearing  / credit rail_settlement  (the bank paid it out)
 *   payout returned/rejected/failed after submission:
 *                                debit payout_clearing  / credit claims_reserve   (compensation: owed again)
 *   collection settled:          debit rail_settlement  / credit premium_receivable (premium received)
 * A collection moves no money before it settles, so its returns and rejects post nothing.
 */
export const PAYMENT_KINDS = ['collection', 'claim_payout'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

export const PAYMENT_STATUSES = [
  'created',
  'scheduled',
  'awaiting_sca',
  'submitted',
  'settled',
  'returned',
  'rejected',
  'failed',
  'cancelled',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'settled',
  'returned',
  'rejected',
  'failed',
  'cancelled',
]);

/** Statuses in which a payout still counts against what is left to pay on its claim. */
export const PAYOUT_IN_FLIGHT: readonly PaymentStatus[] = ['created', 'awaiting_sca', 'submitted', 'settled'];

const TRANSITIONS: Readonly<
  Record<PaymentKind, Readonly<Partial<Record<PaymentStatus, readonly PaymentStatus[]>>>>
> = {
  collection: {
    created: ['scheduled'],
    scheduled: ['submitted', 'cancelled', 'failed'],
    submitted: ['settled', 'returned', 'rejected', 'scheduled', 'failed'],
  },
  claim_payout: {
    created: ['awaiting_sca', 'submitted'],
    awaiting_sca: ['submitted', 'cancelled', 'failed'],
    submitted: ['settled', 'returned', 'rejected', 'failed'],
  },
};

export function canTransition(kind: PaymentKind, from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[kind][from]?.includes(to) ?? false;
}

export class InvalidTransition extends Error {
  constructor(
    readonly kind: PaymentKind,
    readonly from: PaymentStatus,
    readonly to: PaymentStatus,
  ) {
    super(`a ${kind} cannot go from ${from} to ${to}`);
    this.name = 'InvalidTransition';
  }
}

export function assertTransition(kind: PaymentKind, from: PaymentStatus, to: PaymentStatus): void {
  if (!canTransition(kind, from, to)) throw new InvalidTransition(kind, from, to);
}

/** What a payment's money is, in the ledger's words. */
export const LEDGER_ROLES = [
  'claims_reserve',
  'payout_clearing',
  'rail_settlement',
  'premium_receivable',
] as const;
export type LedgerRole = (typeof LEDGER_ROLES)[number];

export interface LedgerLeg {
  readonly debit: LedgerRole;
  readonly credit: LedgerRole;
}

/** The posting a transition makes (the payment's full amount, debit one role / credit the other), or none. */
export function ledgerEffect(kind: PaymentKind, from: PaymentStatus, to: PaymentStatus): LedgerLeg | null {
  assertTransition(kind, from, to);
  if (kind === 'claim_payout') {
    if (to === 'submitted') return { debit: 'claims_reserve', credit: 'payout_clearing' };
    if (from !== 'submitted') return null;
    if (to === 'settled') return { debit: 'payout_clearing', credit: 'rail_settlement' };
    return { debit: 'payout_clearing', credit: 'claims_reserve' };
  }
  if (to === 'settled') return { debit: 'rail_settlement', credit: 'premium_receivable' };
  return null;
}

/** The outbox topic of a change into `to` (lowercase dotted). */
export const eventTopic = (to: PaymentStatus) => `payment.${to}`;
