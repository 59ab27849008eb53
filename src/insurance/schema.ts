/**
 * Products, policies with their premium schedules, claims with their documents and payouts, and
 * adjusters' approval authorities. Every table is tenant-owned with the row-level-security policy
 * (DESIGN invariant 2); amounts are bigint minor units with an ISO 4217 code (invariant 3).
 *
 * Personal data of a claim (description, payee name and IBAN, document file names, adjuster
 * notes) is stored envelope-encrypted under the customer's subject key (invariant 6), so erasing
 * the customer crypto-shreds it; the payee IBAN also has a blind index for the shared-IBAN
 * fraud signal. Policies and claims copy the customer's partner and policyholder user down, for
 * the object-level policies (a partner sees its customers' objects, a policyholder their own).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from '../identity/people/schema.ts';
import { tenantPolicy, tenants } from '../platform/db/schema.ts';
import type { FraudSignal } from './fraud.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const money = (name: string) => bigint(name, { mode: 'bigint' });
const day = (name: string) => date(name, { mode: 'string' });

export const insuranceProducts = pgTable(
  'insurance_products',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    lineOfBusiness: text('line_of_business').notNull(),
    currency: text('currency').notNull(),
    premiumFrequency: text('premium_frequency').notNull(),
    annualBase: money('annual_base').notNull(),
    ratePerMille: money('rate_per_mille').notNull(),
    coverLimit: money('cover_limit').notNull(),
    termMonths: integer('term_months').notNull(),
    waitingDays: integer('waiting_days').notNull(),
    maxStartDelayDays: integer('max_start_delay_days').notNull(),
    quoteValidDays: integer('quote_valid_days').notNull(),
    graceDays: integer('grace_days').notNull(),
    earlyClaimDays: integer('early_claim_days').notNull(),
    status: text('status', { enum: ['active', 'retired'] })
      .notNull()
      .default('active'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('insurance_products_tenant_id_id_key').on(t.tenantId, t.id),
    unique('insurance_products_tenant_name_key').on(t.tenantId, t.name),
    check(
      'insurance_products_amounts_check',
      sql`${t.coverLimit} > 0 and ${t.annualBase} >= 0 and ${t.ratePerMille} >= 0`,
    ),
    check('insurance_products_status_check', sql`${t.status} in ('active', 'retired')`),
    tenantPolicy(),
  ],
).enableRLS();

export const insurancePolicies = pgTable(
  'insurance_policies',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    productId: uuid('product_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    /** Copied from the customer: the partner whose customer this is. */
    partnerId: uuid('partner_id').notNull(),
    /** Copied from the customer: the policyholder's user, when they have one. */
    ownerUserId: uuid('owner_user_id'),
    status: text('status').notNull(),
    currency: text('currency').notNull(),
    coverAmount: money('cover_amount').notNull(),
    /** Over the whole term; the instalments add up to it. */
    premiumAmount: money('premium_amount').notNull(),
    premiumFrequency: text('premium_frequency').notNull(),
    startDate: day('start_date').notNull(),
    endDate: day('end_date').notNull(),
    quoteExpiresAt: ts('quote_expires_at').notNull(),
    boundAt: ts('bound_at'),
    /** Last day of cover when cancelled or lapsed before `end_date`. */
    endedOn: day('ended_on'),
    endReason: text('end_reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    unique('insurance_policies_tenant_id_id_key').on(t.tenantId, t.id),
    foreignKey({
      columns: [t.tenantId, t.productId],
      foreignColumns: [insuranceProducts.tenantId, insuranceProducts.id],
    }),
    index('insurance_policies_partner_idx').on(t.tenantId, t.partnerId, t.id),
    index('insurance_policies_owner_idx').on(t.tenantId, t.ownerUserId, t.id),
    index('insurance_policies_customer_idx').on(t.tenantId, t.customerId),
    check(
      'insurance_policies_status_check',
      sql`${t.status} in ('quoted', 'bound', 'active', 'cancelled', 'lapsed', 'expired')`,
    ),
    check('insurance_policies_amounts_check', sql`${t.coverAmount} > 0 and ${t.premiumAmount} >= 0`),
    check('insurance_policies_dates_check', sql`${t.startDate} < ${t.endDate}`),
    tenantPolicy(),
  ],
).enableRLS();

/** A policy's premium schedule, generated at bind; unpaid future instalments are voided when it ends. */
export const insuranceInstalments = pgTable(
  'insurance_instalments',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    policyId: uuid('policy_id').notNull(),
    seq: integer('seq').notNull(),
    dueDate: day('due_date').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    status: text('status', { enum: ['due', 'paid', 'void'] })
      .notNull()
      .default('due'),
    paymentId: uuid('payment_id'),
    paidAt: ts('paid_at'),
  },
  (t) => [
    foreignKey({
      columns: [t.tenantId, t.policyId],
      foreignColumns: [insurancePolicies.tenantId, insurancePolicies.id],
    }).onDelete('cascade'),
    unique('insurance_instalments_policy_seq_key').on(t.tenantId, t.policyId, t.seq),
    check('insurance_instalments_amount_check', sql`${t.amount} >= 0`),
    check('insurance_instalments_status_check', sql`${t.status} in ('due', 'paid', 'void')`),
    tenantPolicy(),
  ],
).enableRLS();

export const insuranceClaims = pgTable(
  'insurance_claims',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    policyId: uuid('policy_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    ownerUserId: uuid('owner_user_id'),
    status: text('status').notNull(),
    incidentDate: day('incident_date').notNull(),
    amountClaimed: money('amount_claimed').notNull(),
    currency: text('currency').notNull(),
    descriptionEnc: text('description_enc').notNull(),
    payeeNameEnc: text('payee_name_enc').notNull(),
    payeeIbanEnc: text('payee_iban_enc').notNull(),
    /** Blind index of the normalised IBAN (`insurance_claims.payee_iban`): the shared-IBAN signal. */
    payeeIbanIdx: text('payee_iban_idx').notNull(),
    approvedAmount: money('approved_amount'),
    /** Settled payouts less returned ones. */
    paidAmount: money('paid_amount').notNull().default(sql`0`),
    /** Fraud signals routed the claim to review; approval waits until an adjuster clears it. */
    fraudReview: boolean('fraud_review').notNull().default(false),
    fraudSignals: jsonb('fraud_signals').$type<FraudSignal[]>().notNull().default(sql`'[]'::jsonb`),
    adjusterId: uuid('adjuster_id'),
    adjusterNotesEnc: text('adjuster_notes_enc'),
    decidedAt: ts('decided_at'),
    decidedBy: uuid('decided_by'),
    /** Why a claim was denied (a code from DENIAL_REASONS; details go in the adjuster's notes). */
    decisionReason: text('decision_reason'),
    filedByType: text('filed_by_type', { enum: ['user', 'client'] }).notNull(),
    filedById: text('filed_by_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    unique('insurance_claims_tenant_id_id_key').on(t.tenantId, t.id),
    foreignKey({
      columns: [t.tenantId, t.policyId],
      foreignColumns: [insurancePolicies.tenantId, insurancePolicies.id],
    }),
    index('insurance_claims_policy_idx').on(t.tenantId, t.policyId),
    index('insurance_claims_partner_idx').on(t.tenantId, t.partnerId, t.id),
    index('insurance_claims_owner_idx').on(t.tenantId, t.ownerUserId, t.id),
    index('insurance_claims_payee_idx').on(t.tenantId, t.payeeIbanIdx),
    check(
      'insurance_claims_status_check',
      sql`${t.status} in ('fnol', 'triage', 'assessment', 'approved', 'denied', 'paid', 'closed')`,
    ),
    check(
      'insurance_claims_amounts_check',
      sql`${t.amountClaimed} > 0 and ${t.paidAmount} >= 0 and (${t.approvedAmount} is null or (${t.approvedAmount} > 0 and ${t.approvedAmount} <= ${t.amountClaimed} and ${t.paidAmount} <= ${t.approvedAmount}))`,
    ),
    tenantPolicy(),
  ],
).enableRLS();

/** Metadata of a claim's documents; the content store comes with the privacy module. */
export const insuranceClaimDocuments = pgTable(
  'insurance_claim_documents',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    claimId: uuid('claim_id').notNull(),
    filenameEnc: text('filename_enc').notNull(),
    mediaType: text('media_type').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    uploadedByType: text('uploaded_by_type', { enum: ['user', 'client'] }).notNull(),
    uploadedById: text('uploaded_by_id').notNull(),
    uploadedAt: ts('uploaded_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      columns: [t.tenantId, t.claimId],
      foreignColumns: [insuranceClaims.tenantId, insuranceClaims.id],
    }).onDelete('cascade'),
    index('insurance_claim_documents_claim_idx').on(t.tenantId, t.claimId, t.id),
    check('insurance_claim_documents_size_check', sql`${t.sizeBytes} >= 0`),
    tenantPolicy(),
  ],
).enableRLS();

/** Payouts of a claim as payments reported them: at most one settle and one return per payment. */
export const insuranceClaimPayouts = pgTable(
  'insurance_claim_payouts',
  {
    tenantId: uuid('tenant_id').notNull(),
    claimId: uuid('claim_id').notNull(),
    paymentId: uuid('payment_id').notNull(),
    kind: text('kind', { enum: ['settled', 'returned'] }).notNull(),
    amount: money('amount').notNull(),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.claimId, t.paymentId, t.kind] }),
    foreignKey({
      columns: [t.tenantId, t.claimId],
      foreignColumns: [insuranceClaims.tenantId, insuranceClaims.id],
    }),
    check('insurance_claim_payouts_kind_check', sql`${t.kind} in ('settled', 'returned')`),
    check('insurance_claim_payouts_amount_check', sql`${t.amount} > 0`),
    tenantPolicy(),
  ],
).enableRLS();

/** An adjuster's approval authority per currency: Cedar tags `approvalLimits` (policies/30-money.cedar). */
export const insuranceAdjusterAuthorities = pgTable(
  'insurance_adjuster_authorities',
  {
    tenantId: uuid('tenant_id').notNull(),
    userId: uuid('user_id').notNull(),
    currency: text('currency').notNull(),
    /** Highest amount approvable in a single-factor session, minor units. */
    singleLimit: money('single_limit').notNull(),
    /** Highest amount approvable after multi-factor step-up. */
    multiLimit: money('multi_limit').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.userId, t.currency] }),
    foreignKey({ columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete(
      'cascade',
    ),
    check(
      'insurance_adjuster_authorities_limits_check',
      sql`${t.singleLimit} >= 0 and ${t.singleLimit} <= ${t.multiLimit}`,
    ),
    tenantPolicy(),
  ],
).enableRLS();
