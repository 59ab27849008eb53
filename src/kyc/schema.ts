/**
 * Customers (parties) and their identity verification cases. Tenant-owned, row-level security as
 * everywhere (DESIGN invariant 2). Personal data is one envelope-encrypted JSON document per row,
 * under a data key of the customer's own (`subject:<customer id>` scope), so erasing a customer is
 * destroying that key (crypto-shredding); blind indexes allow exact look-ups by e-mail, national id
 * and registration number without decrypting.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  pgTable,
  smallint,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from '../identity/people/schema.ts';
import { partners, tenantPolicy } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const CUSTOMER_KINDS = ['person', 'business'] as const;
export const KYC_STATUSES = ['unverified', 'pending', 'approved', 'needs_review', 'rejected'] as const;
export const CASE_STATUSES = ['submitted', 'checks_running', 'approved', 'needs_review', 'rejected'] as const;
export const ENVIRONMENTS = ['sandbox', 'live'] as const;

const list = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

export const customers = pgTable(
  'customers',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    /** The partner that onboarded the customer: Cedar's `partner`. */
    partnerId: uuid('partner_id').notNull(),
    /** The policyholder's user, when the customer signs in: Cedar's `owner`. */
    ownerUserId: uuid('owner_user_id'),
    kind: text('kind', { enum: CUSTOMER_KINDS }).notNull(),
    /** Copied from the onboarding app: sandbox customers are verified by the sandbox adapter only. */
    environment: text('environment', { enum: ENVIRONMENTS }).notNull(),
    /** The partner's own reference (not personal data: their id for the customer). */
    externalRef: text('external_ref'),
    /** Envelope-encrypted JSON of every personal field (AAD: customers.data.<id>). */
    dataEnc: text('data_enc').notNull(),
    emailIdx: text('email_idx'),
    /** Blind index of `<country>:<normalised national id>` (people) or registration number (businesses). */
    identifierIdx: text('identifier_idx'),
    kycStatus: text('kyc_status', { enum: KYC_STATUSES }).notNull().default('unverified'),
    riskScore: smallint('risk_score'),
    pep: boolean('pep').notNull().default(false),
    /** The approved case behind `kyc_status = 'approved'`, and until when it counts. */
    verifiedCaseId: uuid('verified_case_id'),
    verifiedUntil: ts('verified_until'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    unique('customers_tenant_id_id_key').on(t.tenantId, t.id),
    foreignKey({
      name: 'customers_partner_fk',
      columns: [t.tenantId, t.partnerId],
      foreignColumns: [partners.tenantId, partners.id],
    }),
    foreignKey({
      name: 'customers_owner_fk',
      columns: [t.tenantId, t.ownerUserId],
      foreignColumns: [users.tenantId, users.id],
    }),
    index('customers_partner_idx').on(t.tenantId, t.partnerId, t.id),
    index('customers_owner_idx').on(t.tenantId, t.ownerUserId),
    index('customers_email_idx').on(t.tenantId, t.emailIdx),
    // One customer per identity per partner: onboarding the same person twice is a mistake.
    uniqueIndex('customers_identifier_key')
      .on(t.tenantId, t.partnerId, t.identifierIdx)
      .where(sql`${t.identifierIdx} is not null`),
    check('customers_kind_check', sql`${t.kind} in (${list(CUSTOMER_KINDS)})`),
    check('customers_environment_check', sql`${t.environment} in (${list(ENVIRONMENTS)})`),
    check('customers_kyc_status_check', sql`${t.kycStatus} in (${list(KYC_STATUSES)})`),
    check('customers_risk_check', sql`${t.riskScore} is null or ${t.riskScore} between 0 and 100`),
    check(
      'customers_verified_check',
      sql`${t.kycStatus} <> 'approved' or (${t.verifiedCaseId} is not null and ${t.verifiedUntil} is not null)`,
    ),
    tenantPolicy(),
  ],
).enableRLS();

export const kycCases = pgTable(
  'kyc_cases',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    /** Copied from the customer (never changes): Cedar's `partner`, and the events' routing key. */
    partnerId: uuid('partner_id').notNull(),
    environment: text('environment', { enum: ENVIRONMENTS }).notNull(),
    status: text('status', { enum: CASE_STATUSES }).notNull().default('submitted'),
    /** Envelope-encrypted JSON of the identity documents presented (AAD: kyc_cases.documents.<id>). */
    documentsEnc: text('documents_enc'),
    /**
     * Envelope-encrypted JSON of the findings (AAD: kyc_cases.findings.<id>): they quote the
     * customer's name and the list entries it matched.
     */
    findingsEnc: text('findings_enc'),
    riskScore: smallint('risk_score'),
    pep: boolean('pep'),
    sanctionsHit: boolean('sanctions_hit'),
    reviewerNotesEnc: text('reviewer_notes_enc'),
    /** `system` for the automatic decision, else the deciding user's id. */
    decidedBy: text('decided_by'),
    decidedAt: ts('decided_at'),
    /** Worker lease: a run that did not finish by then is picked up again. */
    attempts: integer('attempts').notNull().default(0),
    leaseUntil: ts('lease_until'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: 'kyc_cases_customer_fk',
      columns: [t.tenantId, t.customerId],
      foreignColumns: [customers.tenantId, customers.id],
    }).onDelete('cascade'),
    index('kyc_cases_customer_idx').on(t.tenantId, t.customerId, t.id),
    // The worker's queue: only open cases are in this index.
    index('kyc_cases_open_idx')
      .on(t.status, t.leaseUntil)
      .where(sql`${t.status} in ('submitted', 'checks_running')`),
    // At most one open case per customer.
    uniqueIndex('kyc_cases_one_open_key')
      .on(t.tenantId, t.customerId)
      .where(sql`${t.status} in ('submitted', 'checks_running', 'needs_review')`),
    check('kyc_cases_status_check', sql`${t.status} in (${list(CASE_STATUSES)})`),
    check('kyc_cases_environment_check', sql`${t.environment} in (${list(ENVIRONMENTS)})`),
    check('kyc_cases_risk_check', sql`${t.riskScore} is null or ${t.riskScore} between 0 and 100`),
    tenantPolicy(),
  ],
).enableRLS();
