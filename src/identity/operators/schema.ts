/**
 * The operators' bootstrap: which tenant holds the platform's operators, and whether the one-time
 * bootstrap path (the configured admin token) is closed. A single system row, never tenant data.
 */
import { sql } from 'drizzle-orm';
import { check, integer, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../../platform/db/schema.ts';

export const operatorBootstrap = pgTable(
  'operator_bootstrap',
  {
    /** Always 1: there is one platform. */
    id: integer('id').primaryKey(),
    platformTenantId: uuid('platform_tenant_id')
      .notNull()
      .references(() => tenants.id),
    firstOperatorId: uuid('first_operator_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** Set when the first operator confirmed their second factor: bootstrap tokens stop working. */
    closedAt: timestamp('closed_at', { withTimezone: true, mode: 'date' }),
  },
  () => [check('operator_bootstrap_single', sql`id = 1`)],
);
