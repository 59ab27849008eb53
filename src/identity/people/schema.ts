/**
 * People of a tenant (its users) and the authenticators they prove who they are with. Every table
 * is tenant-owned and carries the same row-level-security policy as the platform's tables
 * (`tenant_isolation`, for `bulwark_app`), so a query that forgot its tenant filter still sees one
 * tenant only (DESIGN invariant 2).
 *
 * Personal data (username, e-mail, display name) and the TOTP seed are stored only as envelope-
 * encrypted fields (DESIGN invariant 6) whose associated data binds them to their table, column
 * and row; usernames and e-mails are found through blind indexes (HMAC per tenant and column).
 * Nothing here is a readable secret: passwords are Argon2id hashes, recovery codes SHA-256 digests,
 * invite tokens SHA-256 digests; passkeys store only public keys.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const USER_ROLES = [
  'tenant_admin',
  'security_operator',
  'underwriter',
  'claims_adjuster',
  'policyholder',
  'auditor',
] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const USER_STATUSES = ['invited', 'active', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

const roleList = sql.raw(`array[${USER_ROLES.map((r) => `'${r}'`).join(', ')}]::text[]`);

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Blind index of the normalised username (NFKC, lower case): equality lookups only. */
    usernameIdx: text('username_idx').notNull(),
    usernameEnc: text('username_enc').notNull(),
    emailIdx: text('email_idx'),
    emailEnc: text('email_enc'),
    displayNameEnc: text('display_name_enc'),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    status: text('status', { enum: USER_STATUSES }).notNull().default('active'),
    /** Argon2id PHC string; null until an invited user sets a password. */
    passwordHash: text('password_hash'),
    passwordChangedAt: ts('password_changed_at'),
    /** Consecutive failed authentication attempts (PSD2 RTS Art. 4(3)(b)). */
    failedAttempts: integer('failed_attempts').notNull().default(0),
    /** Locks since the last success; the last one allowed turns the next lock permanent. */
    lockouts: integer('lockouts').notNull().default(0),
    lockedAt: ts('locked_at'),
    /** End of a temporary lock; null with `locked_at` set means locked until an admin unlocks. */
    lockedUntil: ts('locked_until'),
    lastLoginAt: ts('last_login_at'),
    inviteTokenHash: text('invite_token_hash'),
    inviteExpiresAt: ts('invite_expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    unique('users_tenant_id_id_key').on(t.tenantId, t.id),
    unique('users_tenant_username_key').on(t.tenantId, t.usernameIdx),
    // NULLs are distinct: any number of users without an e-mail.
    unique('users_tenant_email_key').on(t.tenantId, t.emailIdx),
    uniqueIndex('users_invite_token_idx')
      .on(t.tenantId, t.inviteTokenHash)
      .where(sql`${t.inviteTokenHash} is not null`),
    check('users_status_check', sql`${t.status} in ('invited', 'active', 'disabled')`),
    check('users_roles_check', sql`${t.roles} <@ ${roleList}`),
    check('users_attempts_check', sql`${t.failedAttempts} >= 0 and ${t.lockouts} >= 0`),
    // Only an invited user may lack a password.
    check('users_password_check', sql`${t.status} = 'invited' or ${t.passwordHash} is not null`),
    tenantPolicy(),
  ],
).enableRLS();

/** One TOTP authenticator per user (RFC 6238); `pending` until confirmed with a first code. */
export const userTotp = pgTable(
  'user_totp',
  {
    userId: uuid('user_id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    /** The base32 seed, envelope-encrypted (AAD: user_totp.secret.<user id>). */
    secretEnc: text('secret_enc').notNull(),
    status: text('status', { enum: ['pending', 'active'] }).notNull(),
    /** The last accepted time step: a code is accepted once (PSD2 RTS Art. 4(1); RFC 6238 §5.2). */
    lastUsedStep: integer('last_used_step'),
    createdAt: ts('created_at').notNull().defaultNow(),
    confirmedAt: ts('confirmed_at'),
  },
  (t) => [
    foreignKey({ columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete(
      'cascade',
    ),
    check('user_totp_status_check', sql`${t.status} in ('pending', 'active')`),
    tenantPolicy(),
  ],
).enableRLS();

/** Single-use recovery codes (look-up secrets, NIST SP 800-63B-4 §3.1.2), stored as SHA-256 digests. */
export const userRecoveryCodes = pgTable(
  'user_recovery_codes',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    userId: uuid('user_id').notNull(),
    codeHash: text('code_hash').notNull(),
    usedAt: ts('used_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete(
      'cascade',
    ),
    unique('user_recovery_codes_code_key').on(t.tenantId, t.userId, t.codeHash),
    tenantPolicy(),
  ],
).enableRLS();

/** WebAuthn credentials (passkeys, security keys): public key, signature counter, transports. */
export const webauthnCredentials = pgTable(
  'webauthn_credentials',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    userId: uuid('user_id').notNull(),
    /** The credential id the authenticator chose (base64url). */
    credentialId: text('credential_id').notNull(),
    /** COSE public key (base64url). Public by nature; integrity is what matters, not secrecy. */
    publicKey: text('public_key').notNull(),
    /** The authenticator's signature counter: a uint32 (WebAuthn L3 §6.1), beyond int4. */
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: jsonb('transports').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    deviceType: text('device_type', { enum: ['singleDevice', 'multiDevice'] }).notNull(),
    backedUp: boolean('backed_up').notNull().default(false),
    aaguid: text('aaguid').notNull(),
    /** `suspended` after a signature-counter regression (a possibly cloned authenticator). */
    status: text('status', { enum: ['active', 'suspended'] })
      .notNull()
      .default('active'),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [
    foreignKey({ columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete(
      'cascade',
    ),
    unique('webauthn_credentials_credential_key').on(t.tenantId, t.credentialId),
    index('webauthn_credentials_user_idx').on(t.tenantId, t.userId),
    check('webauthn_credentials_status_check', sql`${t.status} in ('active', 'suspended')`),
    check('webauthn_credentials_counter_check', sql`${t.counter} >= 0`),
    tenantPolicy(),
  ],
).enableRLS();
