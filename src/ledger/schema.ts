/**
 * Ledger tables. Every table is tenant-owned with the platform's `tenant_isolation` RLS policy.
 *
 * - `ledger_accounts`: what an account is (kind, one currency, owner); never holds money.
 * - `ledger_balances`: one row per account with its posted balance (credits − debits), updated only
 *   by `LedgerService` under a row lock taken in account-id order, in the same transaction as the
 *   entries it sums. Kept apart from the account row so that entry inserts (whose foreign key takes
 *   a KEY SHARE lock on the account) never wait on balance updates.
 * - `ledger_transactions` + `ledger_entries`: append-only (migration `ledger_append_only` revokes
 *   UPDATE and DELETE from `bulwark_app`). A reversal is a new transaction pointing at the original
 *   through `reverses_id`, unique per tenant, so a transaction is reversed at most once.
 * - `ledger_holds`: reservations (pending -> posted | voided, with expiry).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  foreignKey,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { partners, tenantPolicy, tenants } from '../platform/db/schema.ts';
import { ACCOUNT_KINDS } from './types.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const money = (name: string) => bigint(name, { mode: 'bigint' });
const kindList = sql.raw(ACCOUNT_KINDS.map((k) => `'${k}'`).join(', '));

export const ledgerAccounts = pgTable(
  'ledger_accounts',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    currency: text('currency').notNull(),
    name: text('name').notNull(),
    code: text('code'),
    customerId: uuid('customer_id'),
    partnerId: uuid('partner_id'),
    ownerUserId: uuid('owner_user_id'),
    /** Null: unlimited (system accounts). */
    overdraftLimit: money('overdraft_limit'),
    status: text('status').notNull().default('open'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('ledger_accounts_tenant_id_id_key').on(t.tenantId, t.id),
    uniqueIndex('ledger_accounts_code_key').on(t.tenantId, t.code),
    index('ledger_accounts_customer_idx').on(t.tenantId, t.customerId),
    foreignKey({ columns: [t.tenantId, t.partnerId], foreignColumns: [partners.tenantId, partners.id] }),
    check('ledger_accounts_kind_check', sql`${t.kind} in (${kindList})`),
    check('ledger_accounts_currency_check', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('ledger_accounts_status_check', sql`${t.status} in ('open', 'closed')`),
    check('ledger_accounts_overdraft_check', sql`${t.overdraftLimit} is null or ${t.overdraftLimit} >= 0`),
    tenantPolicy(),
  ],
).enableRLS();

export const ledgerBalances = pgTable(
  'ledger_balances',
  {
    accountId: uuid('account_id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    currency: text('currency').notNull(),
    overdraftLimit: money('overdraft_limit'),
    /** Credits − debits of all entries of the account. */
    posted: money('posted').notNull().default(sql`0`),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      columns: [t.tenantId, t.accountId],
      foreignColumns: [ledgerAccounts.tenantId, ledgerAccounts.id],
    }),
    tenantPolicy(),
  ],
).enableRLS();

export const ledgerTransactions = pgTable(
  'ledger_transactions',
  {
    // No foreign key to tenants on the hot path: every insert would KEY SHARE-lock the one tenant row,
    // and concurrent lockers of one row turn into MultiXacts (slow). RLS's WITH CHECK already pins
    // tenant_id to the transaction's tenant, and every entry references a balance row of that tenant.
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    /** SHA-256 of the canonical input: the same id with another input is a conflict. */
    fingerprint: text('fingerprint').notNull(),
    description: text('description'),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    reversesId: uuid('reverses_id'),
    effectiveAt: ts('effective_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'ledger_transactions_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('ledger_transactions_reverses_key').on(t.tenantId, t.reversesId),
    foreignKey({
      name: 'ledger_transactions_reverses_fk',
      columns: [t.tenantId, t.reversesId],
      foreignColumns: [t.tenantId, t.id],
    }),
    tenantPolicy(),
  ],
).enableRLS();

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    transactionId: uuid('transaction_id').notNull(),
    accountId: uuid('account_id').notNull(),
    direction: text('direction').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    /** The account's posted balance right after this entry (in commit order of the account's lock). */
    balanceAfter: money('balance_after').notNull(),
    effectiveAt: ts('effective_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      columns: [t.tenantId, t.transactionId],
      foreignColumns: [ledgerTransactions.tenantId, ledgerTransactions.id],
    }),
    // The balance row, not the account: the writer already holds it FOR UPDATE, so the key check
    // locks nothing new (a KEY SHARE on a busy account row would serialise into MultiXacts).
    foreignKey({
      name: 'ledger_entries_balance_fk',
      columns: [t.accountId],
      foreignColumns: [ledgerBalances.accountId],
    }),
    index('ledger_entries_account_idx').on(t.accountId, t.id),
    index('ledger_entries_account_effective_idx').on(t.accountId, t.effectiveAt),
    index('ledger_entries_transaction_idx').on(t.tenantId, t.transactionId),
    check('ledger_entries_direction_check', sql`${t.direction} in ('debit', 'credit')`),
    check('ledger_entries_amount_check', sql`${t.amount} > 0`),
    tenantPolicy(),
  ],
).enableRLS();

export const ledgerHolds = pgTable(
  'ledger_holds',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    accountId: uuid('account_id').notNull(),
    counterpartyAccountId: uuid('counterparty_account_id').notNull(),
    currency: text('currency').notNull(),
    amount: money('amount').notNull(),
    status: text('status').notNull().default('pending'),
    expiresAt: ts('expires_at').notNull(),
    transactionId: uuid('transaction_id'),
    description: text('description'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'ledger_holds_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({
      columns: [t.tenantId, t.accountId],
      foreignColumns: [ledgerAccounts.tenantId, ledgerAccounts.id],
    }),
    foreignKey({
      columns: [t.tenantId, t.counterpartyAccountId],
      foreignColumns: [ledgerAccounts.tenantId, ledgerAccounts.id],
    }),
    index('ledger_holds_pending_idx').on(t.accountId, t.expiresAt).where(sql`${t.status} = 'pending'`),
    check('ledger_holds_status_check', sql`${t.status} in ('pending', 'posted', 'voided')`),
    check('ledger_holds_amount_check', sql`${t.amount} > 0`),
    tenantPolicy(),
  ],
).enableRLS();
