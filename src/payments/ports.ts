/**
 * What payments needs from other modules, as interfaces the app wires at boot (src/app.ts), so
 * payments never imports their internals.
 */
import type { Tx } from '../platform/db/types.ts';

/** A claim as a payout sees it: who is owed how much, and to which account. */
export interface ClaimForPayout {
  readonly claimId: string;
  readonly policyId: string;
  readonly customerId: string;
  readonly partnerId: string;
  /** The policyholder's user, when there is one. */
  readonly ownerUserId?: string | undefined;
  /** Integer minor units (ISO 4217 `currency`). */
  readonly approvedAmount: bigint;
  /**
   * What settled payouts have paid (the sum `payoutSettled` added). Payouts still in flight
   * (awaiting SCA or submitted) are not in it: payments subtracts those itself.
   */
  readonly paidAmount: bigint;
  readonly currency: string;
  readonly payeeName: string;
  readonly payeeIban: string;
}

/** Implemented by insurance (src/insurance). Every call runs in the caller's tenant transaction. */
export interface ClaimPayoutPort {
  /**
   * Locks the claim row (FOR UPDATE) and returns what may be paid out. Throws the claim's own
   * not-found error for a missing/foreign claim, and a 409/422 domain error when it is not approved
   * or nothing is left to pay.
   */
  claimForPayout(tx: Tx, tenantId: string, claimId: string): Promise<ClaimForPayout>;
  /** A payout of the claim settled on the rail: the claim becomes `paid` once fully paid. */
  payoutSettled(tx: Tx, tenantId: string, claimId: string, paymentId: string, amount: bigint): Promise<void>;
  /**
   * A payout of the claim that was submitted to the rail was returned, rejected or failed: the
   * amount is owed again. (Payouts cancelled before submission never moved money: no call.)
   */
  payoutReturned(tx: Tx, tenantId: string, claimId: string, paymentId: string, amount: bigint): Promise<void>;
}

/** A customer as payments needs it: whose it is (Cedar `partner` / `owner`). */
export interface CustomerForPayment {
  readonly customerId: string;
  readonly partnerId: string | null;
  readonly ownerUserId?: string | undefined;
}

/** Implemented by KYC (src/kyc), which owns customers. Every call runs in the caller's tenant transaction. */
export interface CustomerPort {
  /** The customer, or null when there is none in this tenant. */
  customerForPayment(tx: Tx, tenantId: string, customerId: string): Promise<CustomerForPayment | null>;
  /** Throws KYC's own 4xx error unless the customer's verification is approved. */
  assertVerified(tx: Tx, tenantId: string, customerId: string): Promise<void>;
}
