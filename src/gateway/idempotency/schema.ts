/**
 * Idempotency keys of money-moving requests, shared by every instance. One row per (tenant, client,
 * subject, key): `in_flight` while its first request runs (a lease: `locked_until`), then `completed`
 * with the stored response. Rows are deleted once `expires_at` passes (pruneIdempotencyKeys).
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantPolicy } from '../../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    // No foreign key to tenants: each claim would KEY SHARE-lock the tenant row (MultiXacts under
    // concurrency). RLS's WITH CHECK pins tenant_id to the transaction's tenant.
    tenantId: uuid('tenant_id').notNull(),
    clientId: text('client_id').notNull(),
    /** The token's subject (the client itself, or the user acting through it). */
    subject: text('subject').notNull(),
    key: text('key').notNull(),
    /** SHA-256 (hex) of method, path and canonical JSON body. */
    fingerprint: text('fingerprint').notNull(),
    status: text('status').notNull(),
    /** Random per claim: only the request that holds the claim may complete or release it. */
    claim: uuid('claim').notNull(),
    lockedUntil: ts('locked_until').notNull(),
    responseStatus: integer('response_status'),
    responseType: text('response_type'),
    responseBody: text('response_body'),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [
    primaryKey({ name: 'idempotency_keys_pkey', columns: [t.tenantId, t.clientId, t.subject, t.key] }),
    index('idempotency_keys_expires_idx').on(t.expiresAt),
    check('idempotency_keys_status_check', sql`${t.status} in ('in_flight', 'completed')`),
    tenantPolicy(),
  ],
).enableRLS();
