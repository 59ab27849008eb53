/**
 * Public types of the ledger. Amounts are integer minor units of the account's ISO 4217 currency, as
 * `bigint` in code; in JSON (the /v1 API) they are decimal-integer STRINGS (`"1250"` = 12.50 EUR), so
 * no amount ever passes through a float.
 */

/** What an account is for. Customer-facing accounts are `wallet`; the rest are the tenant's books. */
export const ACCOUNT_KINDS = [
  'wallet',
  'premium_receivable',
  'claims_reserve',
  'payout_clearing',
  'collection_clearing',
  'rail_settlement',
  'fees',
  'suspense',
  'equity',
  'external',
] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

/** Kinds of the per-tenant, per-currency system accounts that `systemAccount` gets or creates. */
export const SYSTEM_ACCOUNT_KINDS = [
  'premium_receivable',
  'claims_reserve',
  'payout_clearing',
  'collection_clearing',
  'rail_settlement',
  'fees',
  'suspense',
  'equity',
  'external',
] as const satisfies readonly AccountKind[];
export type SystemAccountKind = (typeof SYSTEM_ACCOUNT_KINDS)[number];

export type AccountStatus = 'open' | 'closed';

export interface Account {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: AccountKind;
  readonly currency: string;
  readonly name: string;
  /** Unique per tenant when set (system accounts: `system:<kind>:<currency>`). */
  readonly code: string | null;
  readonly customerId: string | null;
  readonly partnerId: string | null;
  /** The customer's user id (policyholder), for Cedar's `owner`; null when unknown. */
  readonly ownerUserId: string | null;
  /**
   * How far below zero the available balance may go, in minor units: `0n` forbids any negative
   * balance (the default for customer accounts), `null` is unlimited (system accounts).
   */
  readonly overdraftLimit: bigint | null;
  readonly status: AccountStatus;
  readonly createdAt: Date;
}

export interface OpenAccountInput {
  readonly kind: AccountKind;
  readonly currency: string;
  readonly name: string;
  readonly customerId?: string | undefined;
  readonly partnerId?: string | undefined;
  readonly ownerUserId?: string | undefined;
  /** Default `0n` (no negative balance). `null` = unlimited. */
  readonly overdraftLimit?: bigint | null | undefined;
  /** Unique per tenant. */
  readonly code?: string | undefined;
}

export type Direction = 'debit' | 'credit';

export interface PostingInput {
  readonly accountId: string;
  /** > 0, minor units of the account's currency. */
  readonly amount: bigint;
  readonly direction: Direction;
}

export interface PostInput {
  /** Caller-chosen UUID, unique per tenant (see LedgerService.post). */
  readonly id: string;
  readonly postings: readonly PostingInput[];
  readonly description?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** When the transaction takes economic effect; defaults to now. Point-in-time balances use it. */
  readonly effectiveAt?: Date | undefined;
}

export interface Posting {
  readonly accountId: string;
  readonly amount: bigint;
  readonly direction: Direction;
  readonly currency: string;
}

export interface LedgerTransaction {
  readonly id: string;
  readonly tenantId: string;
  readonly postings: readonly Posting[];
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly effectiveAt: Date;
  readonly createdAt: Date;
  /** Set on a compensating transaction: the transaction it reverses. */
  readonly reversesId: string | null;
  /** Set on a reversed transaction: its compensating transaction. */
  readonly reversedById: string | null;
}

/**
 * Balances in minor units. Sign convention: `posted` = credits − debits (what a wallet holds, what
 * the platform owes its owner). `pending` = the sum of live (pending, unexpired) holds on the account,
 * ≥ 0. `available` = posted − pending; the overdraft rule is `available >= -overdraftLimit`.
 */
export interface Balance {
  readonly accountId: string;
  readonly currency: string;
  readonly posted: bigint;
  readonly pending: bigint;
  readonly available: bigint;
}

export type HoldStatus = 'pending' | 'posted' | 'voided';

/**
 * A hold reserves `amount` on `accountId` (it lowers the available balance) for a later transfer to
 * `counterpartyAccountId`. `postHold` turns it into a transaction (debit account, credit
 * counterparty) for at most the held amount; `voidHold` releases it. An expired hold stops counting
 * and can no longer be posted.
 */
export interface Hold {
  readonly id: string;
  readonly tenantId: string;
  readonly accountId: string;
  readonly counterpartyAccountId: string;
  readonly currency: string;
  readonly amount: bigint;
  readonly status: HoldStatus;
  readonly expiresAt: Date;
  readonly transactionId: string | null;
  readonly description: string | null;
  readonly createdAt: Date;
}

export interface PlaceHoldInput {
  /** Caller-chosen UUID, unique per tenant; the same id again returns the existing hold if identical. */
  readonly id: string;
  readonly accountId: string;
  readonly counterpartyAccountId: string;
  readonly amount: bigint;
  readonly expiresAt: Date;
  readonly description?: string | undefined;
}

export interface Entry {
  /** UUIDv7; entries of an account are listed in id order. */
  readonly id: string;
  readonly transactionId: string;
  readonly accountId: string;
  readonly direction: Direction;
  readonly amount: bigint;
  readonly currency: string;
  /** The account's posted balance right after this entry (credits − debits). */
  readonly balanceAfter: bigint;
  readonly effectiveAt: Date;
  readonly createdAt: Date;
}
