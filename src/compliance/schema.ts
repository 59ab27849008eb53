/**
 * The risk register (ISO/IEC 27001:2022 clause 6.1.2/6.1.3, 8.2/8.3): each tenant's information-
 * security risks with their assessment, owner, treatment, linked Annex A / RTS / OWASP controls and
 * review dates. Tenant data under row-level security like every tenant-owned table.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const RISK_TREATMENTS = ['avoid', 'mitigate', 'transfer', 'accept'] as const;
export type RiskTreatment = (typeof RISK_TREATMENTS)[number];
export const RISK_STATUSES = ['identified', 'treating', 'monitoring', 'closed'] as const;
export type RiskStatus = (typeof RISK_STATUSES)[number];

export const complianceRisks = pgTable(
  'compliance_risks',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    title: text('title').notNull(),
    description: text('description').notNull(),
    /** 1 (rare) .. 5 (almost certain). */
    likelihood: integer('likelihood').notNull(),
    /** 1 (negligible) .. 5 (severe). */
    impact: integer('impact').notNull(),
    /** Who answers for it: a role or an operator's user id, not a person's name. */
    owner: text('owner').notNull(),
    treatment: text('treatment', { enum: RISK_TREATMENTS }).notNull(),
    treatmentPlan: text('treatment_plan').notNull(),
    /** Control references, `<framework>:<id>` (`iso27001:8.24`, `psd2-rts:art4`, `owasp-api:API1`). */
    controls: text('controls').array().notNull().default(sql`'{}'::text[]`),
    status: text('status', { enum: RISK_STATUSES }).notNull(),
    reviewDue: ts('review_due').notNull(),
    lastReviewedAt: ts('last_reviewed_at'),
    /** The `review_due` an overdue alert was raised for: one alert per missed date, on any instance. */
    overdueAlertedFor: ts('overdue_alerted_for'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('compliance_risks_scale', sql`likelihood BETWEEN 1 AND 5 AND impact BETWEEN 1 AND 5`),
    check('compliance_risks_treatment', sql`treatment in ('avoid', 'mitigate', 'transfer', 'accept')`),
    check('compliance_risks_status', sql`status in ('identified', 'treating', 'monitoring', 'closed')`),
    index('compliance_risks_tenant_idx').on(t.tenantId, t.id),
    index('compliance_risks_due_idx').on(t.reviewDue).where(sql`${t.status} <> 'closed'`),
    tenantPolicy(),
  ],
).enableRLS();
