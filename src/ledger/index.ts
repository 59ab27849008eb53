/**
 * The ledger: double-entry accounts per tenant, balanced append-only transactions, holds, reversals.
 *
 * API for other modules (payments, insurance, kyc) — every method takes the CALLER's tenant
 * transaction (`db.withTenant`), so the domain change, its postings, its audit record and its outbox
 * event commit together or not at all:
 *
 *   const ledger = new LedgerService({ db, now });
 *   openAccount(tx, tenantId, { kind, currency, name, customerId?, partnerId?, ownerUserId?,
 *               overdraftLimit? (0n default = never negative; null = unlimited), code? (unique per tenant) })
 *   systemAccount(tx, tenantId, 'premium_receivable' | 'claims_reserve' | 'payout_clearing' |
 *                 'collection_clearing' | 'rail_settlement' | 'fees' | 'suspense' | 'equity' | 'external',
 *                 currency)                       -> get-or-create, race-safe, unlimited overdraft
 *   post(tx, tenantId, { id /* caller-chosen UUID, unique per tenant *\/, postings: [{ accountId,
 *        amount /* bigint > 0, minor units *\/, direction: 'debit' | 'credit' }], description?, metadata?,
 *        effectiveAt? })                          -> LedgerTransaction
 *      The same id again returns the existing transaction if identical, else LEDGER_TRANSACTION_ID_CONFLICT
 *      (so a caller can derive the id from its own object, e.g. uuidv5-free: store it on the payment).
 *   placeHold(tx, tenantId, { id, accountId, counterpartyAccountId, amount, expiresAt, description? })
 *   postHold(tx, tenantId, holdId, { transactionId, amount? (≤ held; default all), description? })
 *   voidHold(tx, tenantId, holdId)
 *   balance(tx, tenantId, accountId, at?)         -> { currency, posted, pending, available }
 *   reverse(tx, tenantId, transactionId, reversalId) -> the compensating transaction (once per transaction)
 *   getAccount / getTransaction / getHold / entries
 *
 * Sign convention: an account's balance is credits − debits (a wallet's money is a credit balance);
 * system accounts go negative freely. The sum of all balances of a tenant is zero per currency.
 * Overdraft rule: a posting that lowers an account's balance is refused (LEDGER_INSUFFICIENT_FUNDS)
 * when `posted − live holds − amount < −overdraftLimit`.
 *
 * Errors are `LedgerError` (an AppError: stable code, 4xx). Every check runs BEFORE anything is
 * written, so a caller may catch a LedgerError (e.g. LEDGER_INSUFFICIENT_FUNDS to mark a payment
 * failed) and still commit its own transaction. Any other error leaves the transaction unusable.
 */
export { CURRENCIES, currencyExponent, isCurrency } from './currencies.ts';
export { LedgerError, type LedgerErrorCode, LedgerErrors } from './errors.ts';
export {
  type AccountReadCheck,
  type AssertCustomerVerified,
  type LedgerRoutesOptions,
  ledgerRoutes,
} from './routes.ts';
export { LedgerService, type LedgerServiceDeps } from './service.ts';
export * from './types.ts';
