/**
 * Payments: direct-debit mandates, payments (premium collections and claim payouts) with their
 * state, per-partner limits and their daily usage, and the simulated rail's book of submissions.
 * Every table is tenant-owned with the row-level-security policy (DESIGN invariant 2). Personal
 * data (IBANs, names, remittance text, the SCA detail that names the payee) is stored only
 * envelope-encrypted, bound to table, column and row. Amounts are bigint minor units.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const money = (name: string) => bigint(name, { mode: 'bigint' });

export const MANDATE_STATUSES = ['active', 'revoked'] as const;
export type MandateStatus = (typeof MANDATE_STATUSES)[number];

/** A SEPA-style direct-debit mandate: the debtor's authorisation to collect premiums. */
export const paymentMandates = pgTable(
  'payment_mandates',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    partnerId: uuid('partner_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    /** Unique mandate reference (UMR), at most 35 characters (SEPA rulebook). */
    reference: text('reference').notNull(),
    debtorIbanEnc: text('debtor_iban_enc').notNull(),
    debtorNameEnc: text('debtor_name_enc').notNull(),
    signedOn: date('signed_on', { mode: 'string' }).notNull(),
    status: text('status', { enum: MANDATE_STATUSES }).notNull().default('active'),
    sandbox: boolean('sandbox').notNull(),
    createdAt: ts('created_at').notNull(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [
    unique('payment_mandates_reference_key').on(t.tenantId, t.reference),
    index('payment_mandates_partner_idx').on(t.tenantId, t.partnerId, t.id),
    check('payment_mandates_status_check', sql`${t.status} in ('active', 'revoked')`),
    tenantPolicy(),
  ],
).enableRLS();

export const payments = pgTable(
  'payments',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    partnerId: uuid('partner_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    /** The policyholder's user, when there is one (object-level checks, SCA approver). */
    ownerUserId: uuid('owner_user_id'),
    kind: text('kind', { enum: ['collection', 'claim_payout'] }).notNull(),
    status: text('status').notNull(),
    mandateId: uuid('mandate_id'),
    claimId: uuid('claim_id'),
    policyId: uuid('policy_id'),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    /** The payee (payout) or debtor (collection): name and IBAN, sealed. */
    counterpartyNameEnc: text('counterparty_name_enc').notNull(),
    counterpartyIbanEnc: text('counterparty_iban_enc').notNull(),
    /** Verification of payee: match | close_match | no_match | unavailable. */
    payeeCheck: text('payee_check'),
    /** The holder's name as the rail knows it, for a close match (sealed). */
    payeeCheckNameEnc: text('payee_check_name_enc'),
    referenceEnc: text('reference_enc'),
    /** not_required | exempt | required | completed */
    scaStatus: text('sca_status').notNull(),
    scaDetailEnc: text('sca_detail_enc'),
    /** Collections: the due date, attempts made, the retry policy and when the next attempt is due. */
    dueDate: date('due_date', { mode: 'string' }),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(1),
    retrySpacingMs: bigint('retry_spacing_ms', { mode: 'number' }).notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    rail: text('rail').notNull(),
    railRef: uuid('rail_ref'),
    /** ISO 20022 reason of the last return or reject (AC04, AM04, MD01…). */
    reasonCode: text('reason_code'),
    sandbox: boolean('sandbox').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    submittedAt: ts('submitted_at'),
    settledAt: ts('settled_at'),
  },
  (t) => [
    index('payments_partner_idx').on(t.tenantId, t.partnerId, t.id),
    index('payments_claim_idx').on(t.tenantId, t.claimId).where(sql`${t.claimId} is not null`),
    index('payments_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'scheduled'`),
    check('payments_amount_check', sql`${t.amount} > 0`),
    check('payments_currency_check', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('payments_kind_check', sql`${t.kind} in ('collection', 'claim_payout')`),
    check(
      'payments_status_check',
      sql`${t.status} in ('created', 'scheduled', 'awaiting_sca', 'submitted', 'settled', 'returned', 'rejected', 'failed', 'cancelled')`,
    ),
    check(
      'payments_links_check',
      sql`(${t.kind} = 'collection' and ${t.mandateId} is not null) or (${t.kind} = 'claim_payout' and ${t.claimId} is not null)`,
    ),
    tenantPolicy(),
  ],
).enableRLS();

/** Per partner, direction and currency: the most one payment and one day's payments may move. */
export const paymentLimits = pgTable(
  'payment_limits',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    partnerId: uuid('partner_id').notNull(),
    direction: text('direction', { enum: ['collection', 'payout'] }).notNull(),
    currency: text('currency').notNull(),
    maxPerPayment: money('max_per_payment').notNull(),
    maxPerDay: money('max_per_day').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.partnerId, t.direction, t.currency] }),
    check('payment_limits_check', sql`${t.maxPerPayment} > 0 and ${t.maxPerDay} >= ${t.maxPerPayment}`),
    tenantPolicy(),
  ],
).enableRLS();

/** What each partner has moved per UTC day: incremented atomically, so concurrent payments cannot both slip under the limit. */
export const paymentDailyUsage = pgTable(
  'payment_daily_usage',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    partnerId: uuid('partner_id').notNull(),
    direction: text('direction', { enum: ['collection', 'payout'] }).notNull(),
    currency: text('currency').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    total: money('total').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.partnerId, t.direction, t.currency, t.day] }), tenantPolicy()],
).enableRLS();

/**
 * The simulated rail's book: what it was handed and what it will report, and when. No personal
 * data: the outcome is decided when the payment is submitted.
 */
export const railSimTransfers = pgTable(
  'rail_sim_transfers',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    paymentId: uuid('payment_id').notNull(),
    outcome: text('outcome', { enum: ['settled', 'returned', 'rejected'] }).notNull(),
    reasonCode: text('reason_code'),
    dueAt: ts('due_at').notNull(),
    reportedAt: ts('reported_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('rail_sim_transfers_due_idx').on(t.dueAt).where(sql`${t.reportedAt} is null`),
    index('rail_sim_transfers_payment_idx').on(t.tenantId, t.paymentId),
    tenantPolicy(),
  ],
).enableRLS();
