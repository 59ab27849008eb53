/**
 * Strong customer authentication state: each tenant's low-value exemption settings (PSD2 RTS
 * Art. 16), the exemption counters per payer since their last SCA, and each consumed approval —
 * one per payment and one per access token, so an approval authorizes exactly one payment once.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const SCA_EXEMPTION_MODES = ['cumulative_amount', 'consecutive_count', 'both', 'disabled'] as const;
export type ScaExemptionMode = (typeof SCA_EXEMPTION_MODES)[number];

export const scaSettings = pgTable(
  'sca_settings',
  {
    tenantId: uuid('tenant_id')
      .primaryKey()
      .references(() => tenants.id),
    /** The one currency the exemption applies in; payments in others always need SCA. */
    currency: text('currency').notNull(),
    /** A single payment at or below this (minor units) may be exempt (RTS Art. 16(a): €30). */
    lowValueLimit: bigint('low_value_limit', { mode: 'bigint' }).notNull(),
    /** Exempt payments since the last SCA may add up to this (Art. 16(b)(i): €100). */
    cumulativeLimit: bigint('cumulative_limit', { mode: 'bigint' }).notNull(),
    /** …or number this many (Art. 16(b)(ii): 5 consecutive). */
    countLimit: integer('count_limit').notNull(),
    mode: text('mode', { enum: SCA_EXEMPTION_MODES }).notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  () => [
    tenantPolicy(),
    check('sca_settings_limits', sql`low_value_limit >= 0 AND cumulative_limit >= 0 AND count_limit >= 0`),
  ],
).enableRLS();

export const scaExemptionCounters = pgTable(
  'sca_exemption_counters',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Whose payments count together: the payer's customer id, or a partner's id. */
    payerRef: text('payer_ref').notNull(),
    cumulative: bigint('cumulative', { mode: 'bigint' }).notNull(),
    count: integer('count').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.payerRef] }), tenantPolicy()],
).enableRLS();

export const scaApprovals = pgTable(
  'sca_approvals',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    paymentId: uuid('payment_id').notNull(),
    /** `jti` of the access token that carried the approval. */
    tokenId: text('token_id').notNull(),
    userId: text('user_id').notNull(),
    clientId: text('client_id').notNull(),
    /** The approved `authorization_details` entry, as the token carried it. */
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull(),
    approvedAt: ts('approved_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.paymentId] }),
    unique('sca_approvals_token_uq').on(t.tokenId),
    tenantPolicy(),
  ],
).enableRLS();
