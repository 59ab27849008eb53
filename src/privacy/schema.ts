/**
 * Data-protection records: data-subject requests with their statutory deadlines (GDPR Art. 12(3)),
 * consents (purpose, lawful basis, scope, evidence; PSD2 account-information consents), legal
 * holds, and per-tenant settings (retention periods, whether partners need an account consent).
 *
 * Nothing here is personal data in clear: subjects are named by id, evidence by actor ids and
 * method, refusals by legal basis. Every table is tenant-owned with the row-level-security policy.
 */
import { sql } from 'drizzle-orm';
import { boolean, check, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const list = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

export const REQUEST_KINDS = ['access', 'portability', 'erasure', 'rectification'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
/**
 * received -> completed | partially_completed (some data kept, with its legal basis) | refused |
 * scheduled (erasure deferred to the end of a retention period; completed by the retention job).
 */
export const REQUEST_STATUSES = [
  'received',
  'completed',
  'partially_completed',
  'scheduled',
  'refused',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const LAWFUL_BASES = [
  'consent',
  'contract',
  'legal_obligation',
  'vital_interests',
  'public_task',
  'legitimate_interests',
] as const;
export type LawfulBasis = (typeof LAWFUL_BASES)[number];

export interface RequestOutcome {
  /** Data sources whose data was exported, erased, or kept (by name). */
  sources?: string[];
  erased?: string[];
  kept?: { source: string; legalBasis: string; until?: string | null }[];
  destroyedKeys?: number;
  fields?: string[];
  reason?: string;
}

export const privacyRequests = pgTable(
  'privacy_requests',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** The partner whose customer the subject is (null: a policyholder without a customer record). */
    partnerId: uuid('partner_id'),
    customerId: uuid('customer_id'),
    userId: uuid('user_id'),
    kind: text('kind', { enum: REQUEST_KINDS }).notNull(),
    status: text('status', { enum: REQUEST_STATUSES }).notNull().default('received'),
    receivedAt: ts('received_at').notNull(),
    /** One month from receipt (Art. 12(3)); `extended_due_at` adds up to two more, with a reason. */
    dueAt: ts('due_at').notNull(),
    extendedDueAt: ts('extended_due_at'),
    extensionReason: text('extension_reason'),
    /** Erasure deferred until then (end of the financial-records retention period). */
    scheduledFor: ts('scheduled_for'),
    completedAt: ts('completed_at'),
    outcome: jsonb('outcome').$type<RequestOutcome>().notNull().default(sql`'{}'::jsonb`),
    requestedByType: text('requested_by_type').notNull(),
    requestedById: text('requested_by_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('privacy_requests_tenant_idx').on(t.tenantId, t.id),
    index('privacy_requests_customer_idx').on(t.tenantId, t.customerId),
    index('privacy_requests_scheduled_idx').on(t.scheduledFor).where(sql`${t.status} = 'scheduled'`),
    check('privacy_requests_kind_check', sql`${t.kind} in (${list(REQUEST_KINDS)})`),
    check('privacy_requests_status_check', sql`${t.status} in (${list(REQUEST_STATUSES)})`),
    check('privacy_requests_subject_check', sql`${t.customerId} is not null or ${t.userId} is not null`),
    tenantPolicy(),
  ],
).enableRLS();

export const privacyConsents = pgTable(
  'privacy_consents',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** The partner the consent is given to (for `account_information`: the one reading the accounts). */
    partnerId: uuid('partner_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    /** A purpose code: `account_information`, `marketing`, `analytics`, … (lowercase, dotted or underscored). */
    purpose: text('purpose').notNull(),
    lawfulBasis: text('lawful_basis', { enum: LAWFUL_BASES }).notNull(),
    /** For `account_information`: the account ids covered (empty: all the customer's accounts). */
    accountIds: uuid('account_ids').array().notNull().default(sql`'{}'::uuid[]`),
    status: text('status', { enum: ['granted', 'withdrawn'] })
      .notNull()
      .default('granted'),
    grantedAt: ts('granted_at').notNull(),
    expiresAt: ts('expires_at'),
    withdrawnAt: ts('withdrawn_at'),
    /** Who recorded it, how (`method`), through which request: ids and facts only. */
    evidence: jsonb('evidence').$type<Record<string, string | null>>().notNull(),
    withdrawalEvidence: jsonb('withdrawal_evidence').$type<Record<string, string | null>>(),
  },
  (t) => [
    index('privacy_consents_customer_idx').on(t.tenantId, t.customerId),
    index('privacy_consents_partner_idx').on(t.tenantId, t.partnerId, t.purpose),
    check('privacy_consents_basis_check', sql`${t.lawfulBasis} in (${list(LAWFUL_BASES)})`),
    check('privacy_consents_status_check', sql`${t.status} in ('granted', 'withdrawn')`),
    tenantPolicy(),
  ],
).enableRLS();

/** A legal hold keeps a subject's data (litigation, investigation: GDPR Art. 17(3)(e)). */
export const privacyLegalHolds = pgTable(
  'privacy_legal_holds',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    customerId: uuid('customer_id').notNull(),
    /** A reference and category, e.g. "litigation CASE-2024-17" — no personal data. */
    reason: text('reason').notNull(),
    placedBy: text('placed_by').notNull(),
    placedAt: ts('placed_at').notNull(),
    releasedAt: ts('released_at'),
  },
  (t) => [index('privacy_legal_holds_customer_idx').on(t.tenantId, t.customerId), tenantPolicy()],
).enableRLS();

/** Per-tenant privacy settings; a tenant without a row uses the defaults in service.ts. */
export const privacySettings = pgTable(
  'privacy_settings',
  {
    tenantId: uuid('tenant_id')
      .primaryKey()
      .references(() => tenants.id),
    /** Partners need an active `account_information` consent to read a customer's account data. */
    accountConsentRequired: boolean('account_consent_required').notNull().default(false),
    /** Retention in days per data category (see RETENTION_CATEGORIES); missing: the default. */
    retentionDays: jsonb('retention_days')
      .$type<Record<string, number>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  () => [tenantPolicy()],
).enableRLS();
