/**
 * A payment rail as payments sees it. A rail takes a payment (`submit`), and later reports what
 * became of it — settled, returned (an R-transaction after acceptance) or rejected — which the
 * service applies with `drain`. A real SEPA adapter would send pain.001/pain.008 and turn
 * pacs.002/pacs.004/camt.054 reports into `RailReport`s; the simulator (simulated.ts) keeps its
 * book in the database.
 */
import type { Tx } from '../../platform/db/types.ts';
import type { PayeeCheckResult } from '../payee-check.ts';

export interface RailSubmission {
  readonly tenantId: string;
  readonly paymentId: string;
  readonly kind: 'collection' | 'claim_payout';
  /** Integer minor units. */
  readonly amount: bigint;
  readonly currency: string;
  /** The counterparty's account (payee for a payout, debtor for a collection). */
  readonly iban: string;
  readonly sandbox: boolean;
  readonly attempt: number;
}

export type RailOutcome =
  | { readonly status: 'settled' }
  | { readonly status: 'returned' | 'rejected'; readonly reasonCode: string };

export interface RailReport {
  readonly tenantId: string;
  readonly paymentId: string;
  readonly railRef: string;
  readonly outcome: RailOutcome;
}

export interface PayeeVerification {
  readonly result: PayeeCheckResult;
  /** The holder's name as the payee's bank knows it: shown for a close match only. */
  readonly holderName?: string;
}

/** Applies one report in the tenant transaction the rail opened for it. */
export type ApplyReport = (tx: Tx, report: RailReport) => Promise<void>;

export interface RailAdapter {
  readonly name: string;
  /** ISO 4217 codes the rail carries (SEPA: EUR). */
  readonly currencies: readonly string[];
  /** Verification of payee for `iban` and the name the payer gave. */
  verifyPayee(iban: string, name: string): Promise<PayeeVerification>;
  /**
   * Hands the payment to the rail, in the caller's transaction: the submission exists if and only
   * if the payment's move to `submitted` commits. Returns the rail's reference.
   */
  submit(tx: Tx, submission: RailSubmission): Promise<{ readonly railRef: string }>;
  /** Reports due at `now`, each applied through `apply` in its own tenant transaction. Returns how many. */
  drain(now: Date, apply: ApplyReport, limit?: number): Promise<number>;
  /**
   * Sandbox control (simulated rails only): the pending submission `railRef` reports `outcome`
   * now, applied through `apply` in `tx`. False when the rail has already answered.
   */
  force?(
    tx: Tx,
    tenantId: string,
    railRef: string,
    outcome: RailOutcome,
    apply: ApplyReport,
  ): Promise<boolean>;
}

/** Return and reject reasons (ISO 20022 ExternalStatusReason1Code / ExternalReturnReason1Code). */
export const REASON_CODES = {
  AC01: 'Incorrect account number',
  AC04: 'Closed account number',
  AC06: 'Blocked account',
  AG01: 'Transaction forbidden',
  AM04: 'Insufficient funds',
  AM05: 'Duplication',
  MD01: 'No mandate',
  MD06: 'Refund request by end customer',
  MS02: 'Not specified reason, customer generated',
  MS03: 'Not specified reason, agent generated',
  RR04: 'Regulatory reason',
  SL01: 'Specific service offered by debtor agent',
} as const;
export type ReasonCode = keyof typeof REASON_CODES;
export const isReasonCode = (code: string): code is ReasonCode => Object.hasOwn(REASON_CODES, code);

/** Returns a failed collection may be retried after (the debtor may have funds later). */
export const RETRYABLE_REASONS: ReadonlySet<string> = new Set(['AM04', 'MS02', 'MS03']);
