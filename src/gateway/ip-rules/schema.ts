/**
 * IP allow/deny rules and temporary blocks. One table each, for every scope: platform rows have no
 * tenant (`tenant_id` NULL), tenant rows have one, app rows have a tenant and a `client_id`.
 *
 * Row-level security is the platform's `tenant_isolation` policy: under `bulwark_app` (a tenant
 * transaction) a row is visible only when `tenant_id = bulwark_current_tenant()`. NULL never equals
 * anything, so platform rows are invisible to every tenant transaction and can only be read or
 * written by the system (`db.asSystem`); the same test as WITH CHECK stops a tenant transaction from
 * writing a platform row or another tenant's row.
 */
import { sql } from 'drizzle-orm';
import { check, cidr, index, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { apps, tenantPolicy, tenants } from '../../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const ipRules = pgTable(
  'ip_rules',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    /** Set for a rule of one partner app (OAuth client) of the tenant. */
    clientId: text('client_id').references(() => apps.clientId),
    action: text('action', { enum: ['allow', 'deny'] }).notNull(),
    /** PostgreSQL `cidr`: the database refuses a block with host bits set, a second wall after ours. */
    cidr: cidr('cidr').notNull(),
    note: text('note'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    // One rule per block, action and scope; NULLS NOT DISTINCT so platform rules are unique too.
    // Its index also serves the per-scope reads (tenant_id, client_id are its leading columns).
    unique('ip_rules_scope_cidr_key').on(t.tenantId, t.clientId, t.action, t.cidr).nullsNotDistinct(),
    check('ip_rules_action_check', sql`${t.action} in ('allow', 'deny')`),
    check('ip_rules_scope_check', sql`${t.clientId} is null or ${t.tenantId} is not null`),
    tenantPolicy(),
  ],
).enableRLS();

/**
 * Temporary blocks. Rows are kept after they expire or are revoked: they are the history of who
 * blocked what, when and why. The active set is mirrored to the KV store for the request path.
 */
export const ipBlocks = pgTable(
  'ip_blocks',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    clientId: text('client_id').references(() => apps.clientId),
    cidr: cidr('cidr').notNull(),
    reason: text('reason').notNull(),
    /** `operator:<who>` or the module that set it, e.g. `detection:<detector>`. */
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    revokedBy: text('revoked_by'),
  },
  (t) => [
    index('ip_blocks_active_idx').on(t.expiresAt).where(sql`${t.revokedAt} is null`),
    index('ip_blocks_scope_idx').on(t.tenantId, t.clientId),
    check('ip_blocks_scope_check', sql`${t.clientId} is null or ${t.tenantId} is not null`),
    check('ip_blocks_expiry_check', sql`${t.expiresAt} > ${t.createdAt}`),
    check('ip_blocks_revoked_check', sql`(${t.revokedAt} is null) = (${t.revokedBy} is null)`),
    tenantPolicy(),
  ],
).enableRLS();
