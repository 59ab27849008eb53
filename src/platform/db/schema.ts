/**
 * The one database schema, for PGlite and PostgreSQL alike. drizzle-kit turns it into the SQL
 * migrations under `drizzle/` (`npm run db:generate`).
 *
 * Tenant isolation has two walls (DESIGN invariant 2): every store filters by tenant, and every
 * tenant-owned table carries a row-level-security policy for the `bulwark_app` role, which
 * tenant-scoped transactions switch to (`SET LOCAL ROLE`). `bulwark_current_tenant()` reads the
 * transaction's tenant setting; when none is set it is NULL and no row matches.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  foreignKey,
  index,
  integer,
  jsonb,
  pgPolicy,
  pgRole,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/** Created by migration 0000 (cluster-wide, so it may already exist). */
export const appRole = pgRole('bulwark_app').existing();

const currentTenant = sql`bulwark_current_tenant()`;

function tenantPolicy(column: 'id' | 'tenant_id') {
  const match = sql`${sql.identifier(column)} = ${currentTenant}`;
  return pgPolicy('tenant_isolation', {
    as: 'permissive',
    for: 'all',
    to: appRole,
    using: match,
    withCheck: match,
  });
}

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

/** Insurers. Each tenant sees only its own row. */
export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey(),
    slug: text('slug').notNull().unique(),
    name: text('name').notNull(),
    status: text('status', { enum: ['active', 'suspended'] })
      .notNull()
      .default('active'),
    createdAt: createdAt(),
  },
  () => [tenantPolicy('id')],
).enableRLS();

/** Third-party organisations (insurtechs, brokers, MGAs) under a tenant. */
export const partners = pgTable(
  'partners',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    status: text('status', { enum: ['active', 'suspended'] })
      .notNull()
      .default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('partners_tenant_id_id_key').on(t.tenantId, t.id),
    unique().on(t.tenantId, t.name),
    tenantPolicy('tenant_id'),
  ],
).enableRLS();

/** A partner's applications: the OAuth clients that call the partner API. */
export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    name: text('name').notNull(),
    clientId: text('client_id').notNull().unique(),
    /** SHA-256 of the generated client secret; the secret itself is shown once and never stored. */
    secretHash: text('secret_hash'),
    environment: text('environment', { enum: ['sandbox', 'live'] })
      .notNull()
      .default('sandbox'),
    status: text('status', { enum: ['active', 'suspended'] })
      .notNull()
      .default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    // The partner must belong to the same tenant as the app.
    foreignKey({ columns: [t.tenantId, t.partnerId], foreignColumns: [partners.tenantId, partners.id] }),
    index().on(t.tenantId, t.partnerId),
    tenantPolicy('tenant_id'),
  ],
).enableRLS();

/**
 * Transactional outbox: written in the same transaction as the change it announces; the relay
 * publishes it after commit (at least once; `id` is the de-duplication id).
 */
export const outbox = pgTable(
  'outbox',
  {
    seq: bigserial('seq', { mode: 'bigint' }).primaryKey(),
    id: uuid('id').notNull().unique(),
    tenantId: uuid('tenant_id'),
    topic: text('topic').notNull(),
    payload: jsonb('payload').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [
    index('outbox_unpublished_idx').on(t.seq).where(sql`${t.publishedAt} is null`),
    tenantPolicy('tenant_id'),
  ],
).enableRLS();
