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
  check,
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
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** Created by migration 0000 (cluster-wide, so it may already exist). */
export const appRole = pgRole('bulwark_app').existing();

const currentTenant = sql`bulwark_current_tenant()`;

/** The row-level-security policy of a tenant-owned table: only the transaction's tenant's rows. */
export function tenantPolicy(column: 'id' | 'tenant_id' = 'tenant_id') {
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
    /**
     * OAuth client metadata (RFC 7591 names). Partner back-ends authenticate with private_key_jwt
     * (their public `jwks`) or mTLS (`tls_client_auth` by subject DN, `self_signed_tls_client_auth`
     * by the certificate in `jwks`); client secrets are not accepted by the FAPI profile.
     */
    authMethod: text('auth_method', {
      enum: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    })
      .notNull()
      .default('private_key_jwt'),
    jwks: jsonb('jwks').$type<{ keys: Record<string, unknown>[] }>(),
    tlsSubjectDn: text('tls_subject_dn'),
    redirectUris: jsonb('redirect_uris').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    grantTypes: jsonb('grant_types')
      .$type<string[]>()
      .notNull()
      .default(sql`'["client_credentials"]'::jsonb`),
    scope: text('scope').notNull().default(''),
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

const timestampTz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Data-encryption keys (DEKs) of envelope encryption (DESIGN invariant 6), owned by
 * `platform/crypto`. Each key encrypts the fields of one scope of one tenant (`tenant`, or
 * `subject:<id>` so that one person's data can be erased alone) and is stored only WRAPPED by a
 * master key (KEK, `kek_id`). Destroying a key (crypto-shredding) removes the wrapped material for
 * good; the row stays, so a later read can say "erased" rather than "not found".
 */
export const dataKeys = pgTable(
  'data_keys',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    scope: text('scope').notNull(),
    /** `encryption` keys seal fields; the one `blind-index` key per tenant feeds HKDF for lookups. */
    purpose: text('purpose', { enum: ['encryption', 'blind-index'] }).notNull(),
    status: text('status', { enum: ['active', 'retired', 'destroyed'] })
      .notNull()
      .default('active'),
    kekId: text('kek_id'),
    wrappedKey: text('wrapped_key'),
    createdAt: createdAt(),
    retiredAt: timestampTz('retired_at'),
    destroyedAt: timestampTz('destroyed_at'),
  },
  (t) => [
    // At most one active key per scope and purpose: instances creating the first key together
    // race on this index (INSERT ... ON CONFLICT DO NOTHING), not on application locks.
    uniqueIndex('data_keys_one_active_idx')
      .on(t.tenantId, t.scope, t.purpose)
      .where(sql`${t.status} = 'active'`),
    index('data_keys_tenant_scope_idx').on(t.tenantId, t.scope),
    check('data_keys_status_check', sql`${t.status} in ('active', 'retired', 'destroyed')`),
    // A destroyed key holds no material, and a live key always does.
    check(
      'data_keys_material_check',
      sql`(${t.status} = 'destroyed') = (${t.wrappedKey} is null) and (${t.wrappedKey} is null) = (${t.kekId} is null)`,
    ),
    tenantPolicy('tenant_id'),
  ],
).enableRLS();

/**
 * Asymmetric signing keys (OAuth tokens and JWKS, audit checkpoints, webhook signatures), owned by
 * `platform/crypto`. Platform keys have no tenant (invisible to `bulwark_app`, read by the system);
 * `tenant_id` is there for per-tenant keys. The private key is stored wrapped by a master key.
 * Life cycle: pending (published, never signs) -> active (signs) -> retired (verifies until
 * `verify_until`) ; revoked at any time (material deleted, unpublished).
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key. */
    kid: text('kid').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    purpose: text('purpose').notNull(),
    alg: text('alg', { enum: ['ES256', 'PS256', 'EdDSA'] }).notNull(),
    state: text('state', { enum: ['pending', 'active', 'retired', 'revoked'] }).notNull(),
    publicJwk: jsonb('public_jwk').notNull(),
    kekId: text('kek_id'),
    privateKey: text('private_key'),
    createdAt: timestampTz('created_at').notNull(),
    activatedAt: timestampTz('activated_at'),
    retiredAt: timestampTz('retired_at'),
    verifyUntil: timestampTz('verify_until'),
    revokedAt: timestampTz('revoked_at'),
  },
  (t) => [
    // One signing key per purpose at a time; platform keys (no tenant) and tenant keys apart,
    // because NULLs are distinct in a unique index.
    uniqueIndex('signing_keys_one_active_platform_idx')
      .on(t.purpose)
      .where(sql`${t.state} = 'active' and ${t.tenantId} is null`),
    uniqueIndex('signing_keys_one_active_tenant_idx')
      .on(t.tenantId, t.purpose)
      .where(sql`${t.state} = 'active' and ${t.tenantId} is not null`),
    index('signing_keys_purpose_idx').on(t.purpose, t.state),
    check('signing_keys_state_check', sql`${t.state} in ('pending', 'active', 'retired', 'revoked')`),
    check(
      'signing_keys_material_check',
      sql`(${t.privateKey} is null) = (${t.kekId} is null) and (${t.state} <> 'revoked' or ${t.privateKey} is null) and (${t.state} not in ('pending', 'active') or ${t.privateKey} is not null)`,
    ),
    tenantPolicy('tenant_id'),
  ],
).enableRLS();
