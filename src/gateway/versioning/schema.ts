/**
 * Calls to deprecated routes, per calling client: what route owners need to reach the callers
 * before a sunset. One row per (tenant, client, method, route pattern); each instance aggregates in
 * memory and adds its counts here periodically (`DeprecatedUsage.flush`), so rows stay few and the
 * request path never writes to the database.
 */
import { bigint, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantPolicy } from '../../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const apiDeprecatedUsage = pgTable(
  'api_deprecated_usage',
  {
    // No foreign key to tenants (as idempotency_keys): RLS's WITH CHECK pins the tenant.
    tenantId: uuid('tenant_id').notNull(),
    clientId: text('client_id').notNull(),
    /** The partner the client belongs to, when it is a partner's app. */
    partnerId: uuid('partner_id'),
    method: text('method').notNull(),
    /** The route pattern as registered, e.g. `/v1/me`. */
    route: text('route').notNull(),
    /** Calls answered while the route was deprecated. */
    calls: bigint('calls', { mode: 'number' }).notNull(),
    /** Calls refused with 410 after the route's sunset (or retirement). */
    refused: bigint('refused', { mode: 'number' }).notNull(),
    firstSeen: ts('first_seen').notNull(),
    lastSeen: ts('last_seen').notNull(),
  },
  (t) => [
    primaryKey({ name: 'api_deprecated_usage_pkey', columns: [t.tenantId, t.clientId, t.method, t.route] }),
    tenantPolicy(),
  ],
).enableRLS();
