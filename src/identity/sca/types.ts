/**
 * Strong customer authentication with dynamic linking (PSD2 RTS Art. 5), as payments uses it.
 * Implemented in this folder (service.ts); payments calls it, and never reads tokens itself.
 */
import type { Caller } from '../../access/guard.ts';
import type { Tx } from '../../platform/db/types.ts';

/** The facts SCA links to: exactly what the person approves, and what the token must carry. */
export interface PaymentForSca {
  readonly paymentId: string;
  readonly tenantId: string;
  /** Integer minor units. */
  readonly amount: bigint;
  /** ISO 4217. */
  readonly currency: string;
  readonly payeeName: string;
  readonly payeeIban: string;
  /**
   * Whose payments count together for the low-value exemption (cumulative amount and count since
   * the last SCA): the payer's customer id, or the partner for a partner's own payouts.
   */
  readonly payerRef: string;
}

export type ScaDecision =
  /** No SCA needed: a low-value exemption applies and was counted. */
  | { readonly required: false; readonly exemption: 'low_value' }
  | {
      readonly required: true;
      readonly reason: 'above_threshold' | 'cumulative_limit' | 'count_limit';
      /**
       * The RFC 9396 `authorization_details` entry the approver must obtain a token for (via PAR),
       * then present to the payment's authorize route.
       */
      readonly authorizationDetail: Readonly<Record<string, unknown>>;
    };

export interface ScaPort {
  /** Whether this payment needs SCA; an exemption that applies is recorded (in `tx`). */
  evaluate(tx: Tx, payment: PaymentForSca): Promise<ScaDecision>;
  /**
   * Consumes the SCA the caller's token carries for this payment: a two-factor sign-in whose
   * `authorization_details` name exactly this amount, currency, payee and payment id, not used
   * before. Throws SCA_REQUIRED, SCA_MISMATCH (amount or payee changed) or SCA_ALREADY_USED.
   * Resets the low-value exemption counters of the payer.
   */
  consume(tx: Tx, caller: Caller, payment: PaymentForSca): Promise<void>;
}
