/**
 * People of a tenant and how they prove who they are. Domain logic only (no HTTP): the admin
 * routes and the authorization server's login / MFA / consent interactions call this.
 *
 * Authentication is two steps, `authenticate` (username + password) then, for users with a second
 * factor, `verifySecondFactor`. What a caller can learn from the answers is deliberately little:
 *  - no answer tells a wrong password from an unknown user or from a wrong second factor
 *    (PSD2 RTS Art. 4(3)(a); NIST SP 800-63B-4 §3.2.2). A user with a second factor is always sent
 *    to the second step, right password or not; a wrong password is counted at once and reported
 *    after the second step, as one generic failure. Unknown usernames behave like such users
 *    (`requireMfa`, the default), with their failures and locks tracked in the KV store, so the
 *    sequence of answers — warning on the 4th failure, lock on the 5th — is the same;
 *  - unknown users cost the same Argon2id work as real ones (a dummy hash is verified);
 *  - after five consecutive failures the account is locked (PSD2 RTS Art. 4(3)(b)), see lockout.ts.
 *    Any complete success resets the count; a correct password alone does not, or the second
 *    factor could be guessed forever by anyone who knows the password.
 */
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Envelope } from '../../platform/crypto/index.ts';
import { fieldAad, subjectScope } from '../../platform/crypto/index.ts';
import type { Database, Tx } from '../../platform/db/index.ts';
import { isUniqueViolation } from '../../platform/db/index.ts';
import { tenants } from '../../platform/db/schema.ts';
import { enqueue } from '../../platform/events/index.ts';
import { isUuid, randomToken, uuidv7 } from '../../platform/ids.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { TenantError } from '../../tenants/errors.ts';
import { type Acr, type Amr, acrFor, amrFor, type FactorMethod } from './amr.ts';
import { PeopleError, type PeopleErrorCode } from './errors.ts';
import {
  checkLockoutPolicy,
  DEFAULT_LOCKOUT,
  type FailureOutcome,
  isLocked,
  type LockoutPolicy,
  type LockState,
  recordFailure,
  UNLOCKED,
  warningOf,
} from './lockout.ts';
import {
  PasswordPolicy as DefaultPasswordPolicy,
  normalizePassword,
  type PasswordPolicy,
  type PasswordRejection,
} from './password-policy.ts';
import { PasswordHasher } from './passwords.ts';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.ts';
import type { UserRole, UserStatus } from './schema.ts';
import * as store from './store.ts';
import { looksLikeTotpCode, newTotpSecret, totpStep, totpUri } from './totp.ts';
import {
  type AuthenticationResponseJSON,
  authenticationOptions,
  type PasskeyCreationOptions,
  type PasskeyRequestOptions,
  type RegistrationResponseJSON,
  registrationOptions,
  verifyAssertion,
  verifyRegistration,
  type WebAuthnConfig,
} from './webauthn.ts';

export interface User {
  id: string;
  tenantId: string;
  username: string;
  email: string | null;
  displayName: string | null;
  roles: UserRole[];
  status: UserStatus;
  locked: boolean;
  /** End of a temporary lock; null when not locked or locked until an admin unlocks. */
  lockedUntil: string | null;
  mfa: store.MfaSummary;
  lastLoginAt: string | null;
  createdAt: string;
}

export interface Passkey {
  id: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  transports: string[];
  status: 'active' | 'suspended';
  createdAt: string;
  lastUsedAt: string | null;
}

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * What the second step needs to know about the first. It says whether the password was right, so
 * it must stay on the server (in the login session), never in a page or a cookie. Single use.
 */
export interface PendingAuthn {
  readonly v: 1;
  readonly nonce: string;
  readonly tenantId: string;
  /** null for an unknown username. */
  readonly userId: string | null;
  /** Blind index of the username, for the lock state of unknown usernames. */
  readonly key: string;
  readonly passwordOk: boolean;
  readonly at: number;
}

export type AuthnResult =
  | {
      readonly status: 'success';
      readonly userId: string;
      readonly methods: FactorMethod[];
      readonly amr: Amr[];
      readonly acr: Acr;
      /** Signed in with a password alone while the tenant requires MFA: enrol a second factor now. */
      readonly mfaEnrolmentRequired: boolean;
    }
  | { readonly status: 'second-factor'; readonly pending: PendingAuthn }
  /** `warning`: the next failure locks (PSD2 RTS Art. 4(4)); it never says which factor failed. */
  | { readonly status: 'failure'; readonly warning: boolean }
  | { readonly status: 'locked' };

export type SecondFactorProof =
  | { readonly kind: 'totp'; readonly code: string }
  | { readonly kind: 'recovery-code'; readonly code: string }
  /** One field for both: six digits are an authenticator-app code, anything else a recovery code. */
  | { readonly kind: 'code'; readonly code: string }
  | {
      readonly kind: 'webauthn';
      readonly response: AuthenticationResponseJSON;
      /** The challenge of the options this session was given (`LoginSessions.takeChallenge`). */
      readonly expectedChallenge: string;
    };

export interface CreateUserInput {
  username: string;
  email?: string | undefined;
  displayName?: string | undefined;
  roles: readonly UserRole[];
  /** Omitted: the user is `invited` and an invite token is returned (shown once). */
  password?: string | undefined;
}

export interface PeopleServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly kv: Kv;
  readonly webauthn: WebAuthnConfig;
  /** Issuer shown in authenticator apps; default "Bulwark". */
  readonly totpIssuer?: string;
  readonly passwordPolicy?: PasswordPolicy;
  readonly hasher?: PasswordHasher;
  readonly lockout?: Partial<LockoutPolicy>;
  /**
   * Default true: every user is expected to have a second factor. Unknown usernames then answer
   * like users with one, and a password-only sign-in comes back with `mfaEnrolmentRequired`.
   * (Users who have not enrolled yet answer a wrong password at once: enrol everyone to close that.)
   */
  readonly requireMfa?: boolean;
  /** Invite token lifetime; default 7 days. */
  readonly inviteTtlMs?: number;
  /** Injectable clock (ms). */
  readonly now?: () => number;
}

const PENDING_TTL_MS = 5 * 60_000;
const ENROLMENT_TTL_MS = 15 * 60_000;
/** How long the lock state of an unknown username is kept (a permanent lock lasts this long). */
const PHANTOM_TTL_MS = 30 * 24 * 3_600_000;
const MAX_USERNAME = 254;

const PASSWORD_ERRORS: Record<PasswordRejection, PeopleErrorCode> = {
  'too-short': 'PEOPLE_PASSWORD_TOO_SHORT',
  'too-long': 'PEOPLE_PASSWORD_TOO_LONG',
  'invalid-characters': 'PEOPLE_PASSWORD_INVALID_CHARACTERS',
  breached: 'PEOPLE_PASSWORD_BREACHED',
  context: 'PEOPLE_PASSWORD_CONTEXT',
};

/** Usernames compare case-insensitively after NFKC: "Ada", "ada" and "ａｄａ" are one account. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

const aad = {
  username: (id: string) => fieldAad('users', 'username', id),
  email: (id: string) => fieldAad('users', 'email', id),
  displayName: (id: string) => fieldAad('users', 'display_name', id),
  totp: (id: string) => fieldAad('user_totp', 'secret', id),
};

export class PeopleService {
  readonly lockout: LockoutPolicy;
  readonly requireMfa: boolean;
  private readonly db: Database;
  private readonly envelope: Envelope;
  private readonly kv: Kv;
  private readonly webauthn: WebAuthnConfig;
  private readonly totpIssuer: string;
  private readonly policy: PasswordPolicy;
  private readonly hasher: PasswordHasher;
  private readonly inviteTtlMs: number;
  private readonly now: () => number;

  constructor(options: PeopleServiceOptions) {
    this.db = options.db;
    this.envelope = options.envelope;
    this.kv = options.kv;
    this.webauthn = options.webauthn;
    this.totpIssuer = options.totpIssuer ?? 'Bulwark';
    this.policy = options.passwordPolicy ?? new DefaultPasswordPolicy();
    this.hasher = options.hasher ?? new PasswordHasher();
    this.lockout = checkLockoutPolicy({ ...DEFAULT_LOCKOUT, ...options.lockout });
    this.requireMfa = options.requireMfa ?? true;
    this.inviteTtlMs = options.inviteTtlMs ?? 7 * 24 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  // ---- administration -----------------------------------------------------------------------

  async createUser(tenantId: string, input: CreateUserInput): Promise<{ user: User; inviteToken?: string }> {
    const username = input.username.normalize('NFKC').trim();
    const email = input.email?.normalize('NFKC').trim() || null;
    const displayName = input.displayName?.normalize('NFKC').trim() || null;
    const tenant = await this.tenantOf(tenantId);
    let passwordHash: string | null = null;
    if (input.password !== undefined) {
      passwordHash = await this.hashNewPassword(input.password, [
        username,
        email,
        displayName,
        tenant.name,
        tenant.slug,
      ]);
    }
    const inviteToken = passwordHash === null ? randomToken(32) : undefined;
    const now = new Date(this.now());
    const id = uuidv7(now.getTime());
    try {
      const user = await this.db.withTenant(tenantId, async (tx) => {
        const usernameIdx = await this.usernameIndex(tx, tenantId, username);
        if (await store.findLoginByUsername(tx, tenantId, usernameIdx))
          throw new PeopleError('USERNAME_TAKEN');
        const emailIdx = email ? await this.emailIndex(tx, tenantId, email) : null;
        if (emailIdx && (await store.emailTaken(tx, tenantId, emailIdx)))
          throw new PeopleError('USER_EMAIL_TAKEN');
        const scope = subjectScope(id);
        const seal = (value: string, where: string) =>
          this.envelope.encryptField(tenantId, value, { aad: where, scope, tx });
        const row = await store.insertUser(tx, {
          id,
          tenantId,
          usernameIdx,
          usernameEnc: await seal(username, aad.username(id)),
          emailIdx,
          emailEnc: email ? await seal(email, aad.email(id)) : null,
          displayNameEnc: displayName ? await seal(displayName, aad.displayName(id)) : null,
          roles: [...new Set(input.roles)],
          status: passwordHash ? 'active' : 'invited',
          passwordHash,
          passwordChangedAt: passwordHash ? now : null,
          inviteTokenHash: inviteToken ? sha256(inviteToken) : null,
          inviteExpiresAt: inviteToken ? new Date(now.getTime() + this.inviteTtlMs) : null,
          createdAt: now,
          updatedAt: now,
        });
        await enqueue(tx, {
          topic: 'people.user.created',
          tenantId,
          payload: { userId: id, roles: row.roles, status: row.status },
        });
        return this.present(tx, row);
      });
      return inviteToken ? { user, inviteToken } : { user };
    } catch (err) {
      // Lost a race with a concurrent creation (the checks above ran before its commit).
      if (isUniqueViolation(err)) {
        throw new PeopleError(
          constraintOf(err) === 'users_tenant_email_key' ? 'USER_EMAIL_TAKEN' : 'USERNAME_TAKEN',
        );
      }
      throw err;
    }
  }

  async getUser(tenantId: string, userId: string): Promise<User> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findUser(tx, tenantId, userId);
      if (!row) throw new PeopleError('USER_NOT_FOUND');
      return this.present(tx, row);
    });
  }

  async listUsers(tenantId: string, limit: number, after?: string): Promise<PageResult<User>> {
    await this.tenantOf(tenantId);
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await store.listUsers(tx, tenantId, { limit, after });
      const mfa = await store.mfaSummaries(
        tx,
        tenantId,
        rows.map((r) => r.id),
      );
      const items: User[] = [];
      for (const row of rows) items.push(await this.present(tx, row, mfa.get(row.id)));
      return { items, nextCursor: rows.length === limit ? (rows.at(-1)?.id ?? null) : null };
    });
  }

  async setRoles(tenantId: string, userId: string, roles: readonly UserRole[]): Promise<User> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.setRoles(tx, tenantId, userId, [...new Set(roles)], new Date(this.now()));
      if (!row) throw new PeopleError('USER_NOT_FOUND');
      await enqueue(tx, {
        topic: 'people.user.roles_changed',
        tenantId,
        payload: { userId, roles: row.roles },
      });
      return this.present(tx, row);
    });
  }

  /** The "secure procedure to regain use" after a block (PSD2 RTS Art. 4(4)): an admin unlock. */
  async unlock(tenantId: string, userId: string): Promise<User> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.updateUser(tx, tenantId, userId, {
        failedAttempts: 0,
        lockouts: 0,
        lockedAt: null,
        lockedUntil: null,
        updatedAt: new Date(this.now()),
      });
      if (!row) throw new PeopleError('USER_NOT_FOUND');
      await enqueue(tx, { topic: 'people.user.unlocked', tenantId, payload: { userId } });
      return this.present(tx, row);
    });
  }

  /** Removes every second factor (lost phone): the user enrols again at the next sign-in. */
  async resetMfa(tenantId: string, userId: string): Promise<User> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findUser(tx, tenantId, userId);
      if (!row) throw new PeopleError('USER_NOT_FOUND');
      await store.deleteSecondFactors(tx, tenantId, userId);
      await enqueue(tx, { topic: 'people.mfa.reset', tenantId, payload: { userId } });
      return this.present(tx, row);
    });
  }

  /** Sets a new password (after the user authenticated, or by an admin); checked against the policy. */
  async setPassword(tenantId: string, userId: string, password: string): Promise<void> {
    const user = await this.getUser(tenantId, userId);
    const tenant = await this.tenantOf(tenantId);
    const hash = await this.hashNewPassword(password, [
      user.username,
      user.email,
      user.displayName,
      tenant.name,
      tenant.slug,
    ]);
    await this.db.withTenant(tenantId, async (tx) => {
      const now = new Date(this.now());
      const row = await store.updateUser(tx, tenantId, userId, {
        passwordHash: hash,
        passwordChangedAt: now,
        updatedAt: now,
      });
      if (!row) throw new PeopleError('USER_NOT_FOUND');
      await enqueue(tx, { topic: 'people.password.changed', tenantId, payload: { userId } });
    });
  }

  /** An invited user sets their first password with the token they were sent. */
  async acceptInvite(tenantId: string, input: { token: string; password: string }): Promise<User> {
    if (!isUuid(tenantId) || input.token.length > 100) throw new PeopleError('USER_INVITE_INVALID');
    const tokenHash = sha256(input.token);
    const found = await this.db.withTenant(tenantId, (tx) => store.findInvite(tx, tenantId, tokenHash));
    const expires = found?.inviteExpiresAt?.getTime() ?? 0;
    if (found?.status !== 'invited' || expires <= this.now()) {
      throw new PeopleError('USER_INVITE_INVALID');
    }
    const user = await this.getUser(tenantId, found.id);
    const tenant = await this.tenantOf(tenantId);
    const hash = await this.hashNewPassword(input.password, [
      user.username,
      user.email,
      user.displayName,
      tenant.name,
      tenant.slug,
    ]);
    return this.db.withTenant(tenantId, async (tx) => {
      const again = await store.findInvite(tx, tenantId, tokenHash);
      if (again?.status !== 'invited') throw new PeopleError('USER_INVITE_INVALID');
      const now = new Date(this.now());
      const row = await store.updateUser(tx, tenantId, found.id, {
        status: 'active',
        passwordHash: hash,
        passwordChangedAt: now,
        inviteTokenHash: null,
        inviteExpiresAt: null,
        updatedAt: now,
      });
      if (!row) throw new PeopleError('USER_INVITE_INVALID');
      await enqueue(tx, { topic: 'people.user.activated', tenantId, payload: { userId: found.id } });
      return this.present(tx, row);
    });
  }

  /** Checks a new password against the policy without storing it (for forms that explain). */
  checkPassword(password: string, contextWords: readonly (string | null | undefined)[] = []) {
    return this.policy.check(password, { words: contextWords });
  }

  // ---- authentication -----------------------------------------------------------------------

  /** Step one: username and password. See the module comment for what the answers reveal. */
  async authenticate(tenantId: string, input: { username: string; password: string }): Promise<AuthnResult> {
    const now = this.now();
    const username = normalizeUsername(input.username);
    const password = normalizePassword(input.password);
    const usable =
      isUuid(tenantId) &&
      username.length > 0 &&
      username.length <= MAX_USERNAME &&
      password.length <= this.policy.maxLength * 4;
    const found = usable
      ? await this.db.withTenant(tenantId, async (tx) => {
          const [t] = await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
          if (!t) return undefined;
          const key = await this.usernameIndex(tx, tenantId, username);
          return { key, row: await store.findLoginByUsername(tx, tenantId, key) };
        })
      : undefined;
    if (!found) {
      await this.hasher.burn(password);
      return { status: 'failure', warning: false };
    }
    const { key, row } = found;

    if (!row) {
      await this.hasher.burn(password);
      const before = await this.phantomState(tenantId, key);
      if (isLocked(before, now)) return { status: 'locked' };
      const outcome = await this.phantomFailure(tenantId, key, before, now);
      if (this.requireMfa)
        return { status: 'second-factor', pending: this.pending(tenantId, null, key, false, now) };
      return answerOf(outcome);
    }

    const passwordOk = row.passwordHash
      ? await this.hasher.verify(row.passwordHash, password)
      : await this.hasher.burn(password);
    const ok = passwordOk && row.status === 'active';
    const rehash =
      ok && row.passwordHash && this.hasher.needsRehash(row.passwordHash)
        ? await this.hasher.hash(password)
        : undefined;

    return this.db.withTenant(tenantId, async (tx): Promise<AuthnResult> => {
      const current = await store.lockLogin(tx, tenantId, row.id);
      if (!current) return { status: 'failure', warning: false };
      const state = store.lockStateOf(current);
      if (isLocked(state, now)) return { status: 'locked' };
      const at = new Date(now);
      // Accounts that cannot sign in (invited, disabled) answer like unknown ones when MFA is required.
      const deferred =
        (await store.hasSecondFactor(tx, tenantId, row.id)) || (this.requireMfa && row.status !== 'active');
      if (deferred) {
        if (!ok) await this.saveFailure(tx, tenantId, row.id, recordFailure(state, now, this.lockout), at);
        else if (rehash)
          await store.saveLoginState(tx, tenantId, row.id, state, { passwordHash: rehash, now: at });
        return { status: 'second-factor', pending: this.pending(tenantId, row.id, key, ok, now) };
      }
      if (!ok)
        return answerOf(
          await this.saveFailure(tx, tenantId, row.id, recordFailure(state, now, this.lockout), at),
        );
      await store.saveLoginState(tx, tenantId, row.id, UNLOCKED, {
        lastLoginAt: at,
        now: at,
        ...(rehash ? { passwordHash: rehash } : {}),
      });
      return this.success(row.id, ['password']);
    });
  }

  /**
   * Step two: a TOTP code, a recovery code or a passkey assertion, for the `pending` that step one
   * returned. Whatever the answer, `pending` is spent: after a failure the user starts again from
   * the password (the failure cannot say which factor was wrong).
   */
  async verifySecondFactor(
    tenantId: string,
    pending: PendingAuthn,
    proof: SecondFactorProof,
  ): Promise<AuthnResult> {
    const now = this.now();
    if (!validPending(pending, tenantId) || now - pending.at > PENDING_TTL_MS || now < pending.at) {
      return { status: 'failure', warning: false };
    }
    if (!(await this.kv.setIfAbsent(`people:pending:${pending.nonce}`, '1', PENDING_TTL_MS + 60_000))) {
      return { status: 'failure', warning: false };
    }
    if (pending.userId === null) {
      // Unknown username: its failure was counted in step one.
      const state = await this.phantomState(tenantId, pending.key);
      return isLocked(state, now)
        ? { status: 'locked' }
        : { status: 'failure', warning: warningOf(state, now, this.lockout) };
    }
    const userId = pending.userId;
    return this.db.withTenant(tenantId, async (tx): Promise<AuthnResult> => {
      const row = await store.lockLogin(tx, tenantId, userId);
      if (!row) return { status: 'failure', warning: false };
      const state = store.lockStateOf(row);
      if (isLocked(state, now)) return { status: 'locked' };
      // A wrong password was counted in step one; report it now, as one generic failure.
      if (!pending.passwordOk) return { status: 'failure', warning: warningOf(state, now, this.lockout) };
      const at = new Date(now);
      const method = await this.checkProof(tx, tenantId, userId, proof, now);
      if (method && row.status === 'active') {
        await store.saveLoginState(tx, tenantId, userId, UNLOCKED, { lastLoginAt: at, now: at });
        return this.success(userId, ['password', method]);
      }
      return answerOf(
        await this.saveFailure(tx, tenantId, userId, recordFailure(state, now, this.lockout), at),
      );
    });
  }

  // ---- TOTP (RFC 6238) ----------------------------------------------------------------------

  /** Starts enrolling an authenticator app: the seed is returned this once (page + otpauth URI). */
  async beginTotpEnrolment(tenantId: string, userId: string): Promise<{ secret: string; uri: string }> {
    return this.db.withTenant(tenantId, async (tx) => {
      const user = await store.findUser(tx, tenantId, userId);
      if (!user) throw new PeopleError('USER_NOT_FOUND');
      const existing = await store.findTotp(tx, tenantId, userId);
      if (existing?.status === 'active') throw new PeopleError('MFA_ALREADY_ENROLLED');
      const secret = newTotpSecret();
      const secretEnc = await this.envelope.encryptField(tenantId, secret, {
        aad: aad.totp(userId),
        scope: subjectScope(userId),
        tx,
      });
      if (!(await store.putPendingTotp(tx, { tenantId, userId, secretEnc, now: new Date(this.now()) }))) {
        throw new PeopleError('MFA_ALREADY_ENROLLED');
      }
      const username = await this.envelope.decryptField(tenantId, user.usernameEnc, {
        aad: aad.username(userId),
        tx,
      });
      return { secret, uri: totpUri(secret, this.totpIssuer, username) };
    });
  }

  /**
   * Confirms the enrolment with a first code (proof the app holds the seed), which is then spent
   * like any other. Returns the recovery codes, shown once.
   */
  async confirmTotpEnrolment(
    tenantId: string,
    userId: string,
    code: string,
  ): Promise<{ recoveryCodes: string[] }> {
    const now = this.now();
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findTotp(tx, tenantId, userId);
      if (row?.status !== 'pending' || now - row.createdAt.getTime() > ENROLMENT_TTL_MS) {
        throw new PeopleError('MFA_ENROLMENT_INVALID');
      }
      const secret = await this.envelope.decryptField(tenantId, row.secretEnc, { aad: aad.totp(userId), tx });
      const step = await totpStep(secret, code, now);
      if (
        step === undefined ||
        !(await store.takeTotpStep(tx, tenantId, userId, step, { now: new Date(now) }))
      ) {
        throw new PeopleError('MFA_ENROLMENT_INVALID');
      }
      const recoveryCodes = await this.writeRecoveryCodes(tx, tenantId, userId, now);
      await enqueue(tx, { topic: 'people.mfa.totp_enrolled', tenantId, payload: { userId } });
      return { recoveryCodes };
    });
  }

  /** New recovery codes (the old ones stop working), shown once. */
  async regenerateRecoveryCodes(tenantId: string, userId: string): Promise<string[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findUser(tx, tenantId, userId))) throw new PeopleError('USER_NOT_FOUND');
      if (!(await store.hasSecondFactor(tx, tenantId, userId))) throw new PeopleError('MFA_NOT_ENROLLED');
      const codes = await this.writeRecoveryCodes(tx, tenantId, userId, this.now());
      await enqueue(tx, { topic: 'people.mfa.recovery_codes_renewed', tenantId, payload: { userId } });
      return codes;
    });
  }

  // ---- passkeys (WebAuthn) ------------------------------------------------------------------

  /** Options for `navigator.credentials.create`; keep `options.challenge` in the session. */
  async passkeyRegistrationOptions(tenantId: string, userId: string): Promise<PasskeyCreationOptions> {
    return this.db.withTenant(tenantId, async (tx) => {
      const user = await store.findUser(tx, tenantId, userId);
      if (!user) throw new PeopleError('USER_NOT_FOUND');
      const name = await this.envelope.decryptField(tenantId, user.usernameEnc, {
        aad: aad.username(userId),
        tx,
      });
      const displayName = user.displayNameEnc
        ? await this.envelope.decryptField(tenantId, user.displayNameEnc, {
            aad: aad.displayName(userId),
            tx,
          })
        : name;
      const existing = await store.listPasskeys(tx, tenantId, userId);
      return registrationOptions(this.webauthn, { id: userId, name, displayName }, existing);
    });
  }

  /**
   * Verifies and stores a new passkey. When it is the user's first second factor, recovery codes
   * are issued with it (shown once).
   */
  async verifyPasskeyRegistration(
    tenantId: string,
    userId: string,
    input: { response: RegistrationResponseJSON; expectedChallenge: string },
  ): Promise<{ passkey: Passkey; recoveryCodes?: string[] }> {
    const verified = await verifyRegistration(this.webauthn, input.response, input.expectedChallenge);
    if (!verified) throw new PeopleError('PASSKEY_REGISTRATION_INVALID');
    const now = this.now();
    try {
      return await this.db.withTenant(tenantId, async (tx) => {
        if (!(await store.findUser(tx, tenantId, userId))) throw new PeopleError('USER_NOT_FOUND');
        const summary = (await store.mfaSummaries(tx, tenantId, [userId])).get(userId);
        const row = await store.insertPasskey(tx, {
          id: uuidv7(now),
          tenantId,
          userId,
          credentialId: verified.credentialId,
          publicKey: verified.publicKey,
          counter: verified.counter,
          transports: [...verified.transports],
          deviceType: verified.deviceType,
          backedUp: verified.backedUp,
          aaguid: verified.aaguid,
          createdAt: new Date(now),
        });
        await enqueue(tx, {
          topic: 'people.mfa.passkey_registered',
          tenantId,
          payload: { userId, passkeyId: row.id },
        });
        const passkey = presentPasskey(row);
        if (summary && summary.recoveryCodesLeft > 0) return { passkey };
        return { passkey, recoveryCodes: await this.writeRecoveryCodes(tx, tenantId, userId, now) };
      });
    } catch (err) {
      // The same authenticator registered twice (excludeCredentials should have stopped it).
      if (isUniqueViolation(err)) throw new PeopleError('PASSKEY_REGISTRATION_INVALID');
      throw err;
    }
  }

  /** Options for `navigator.credentials.get`: the same for every user (discoverable credentials). */
  passkeyAuthenticationOptions(): Promise<PasskeyRequestOptions> {
    return authenticationOptions(this.webauthn);
  }

  async listPasskeys(tenantId: string, userId: string): Promise<Passkey[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findUser(tx, tenantId, userId))) throw new PeopleError('USER_NOT_FOUND');
      return (await store.listPasskeys(tx, tenantId, userId)).map(presentPasskey);
    });
  }

  async removePasskey(tenantId: string, userId: string, passkeyId: string): Promise<void> {
    await this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.deletePasskey(tx, tenantId, userId, passkeyId)))
        throw new PeopleError('PASSKEY_NOT_FOUND');
      await enqueue(tx, { topic: 'people.mfa.passkey_removed', tenantId, payload: { userId, passkeyId } });
    });
  }

  // ---- internals ----------------------------------------------------------------------------

  private success(userId: string, methods: FactorMethod[]): AuthnResult {
    const amr = amrFor(methods);
    const acr = acrFor(amr);
    return {
      status: 'success',
      userId,
      methods,
      amr,
      acr,
      mfaEnrolmentRequired: this.requireMfa && methods.length === 1,
    };
  }

  private pending(
    tenantId: string,
    userId: string | null,
    key: string,
    passwordOk: boolean,
    at: number,
  ): PendingAuthn {
    return { v: 1, nonce: randomToken(18), tenantId, userId, key, passwordOk, at };
  }

  /** The method the proof establishes, or undefined. Spends what it accepts (code, counter). */
  private async checkProof(
    tx: Tx,
    tenantId: string,
    userId: string,
    proof: SecondFactorProof,
    now: number,
  ): Promise<FactorMethod | undefined> {
    const kind =
      proof.kind === 'code' ? (looksLikeTotpCode(proof.code) ? 'totp' : 'recovery-code') : proof.kind;
    if (kind === 'totp' && proof.kind !== 'webauthn') {
      const row = await store.findTotp(tx, tenantId, userId);
      if (row?.status !== 'active') return undefined;
      const secret = await this.envelope.decryptField(tenantId, row.secretEnc, { aad: aad.totp(userId), tx });
      const step = await totpStep(secret, proof.code, now);
      if (step === undefined) return undefined;
      return (await store.takeTotpStep(tx, tenantId, userId, step, undefined)) ? 'totp' : undefined;
    }
    if (kind === 'recovery-code' && proof.kind !== 'webauthn') {
      const code = normalizeRecoveryCode(proof.code);
      if (!code) return undefined;
      const used = await store.takeRecoveryCode(tx, tenantId, userId, hashRecoveryCode(code), new Date(now));
      return used ? 'recovery-code' : undefined;
    }
    if (proof.kind !== 'webauthn' || typeof proof.response?.id !== 'string') return undefined;
    const cred = await store.findPasskeyForUser(tx, tenantId, userId, proof.response.id);
    if (cred?.status !== 'active') return undefined;
    const check = await verifyAssertion(this.webauthn, proof.response, proof.expectedChallenge, cred);
    if (check.ok) {
      return (await store.advancePasskeyCounter(tx, tenantId, cred.id, check.newCounter, new Date(now)))
        ? 'webauthn'
        : undefined;
    }
    if (check.counterRegression) {
      // WebAuthn L3 §6.1.1: a counter that went back signals a cloned authenticator.
      await store.suspendPasskey(tx, tenantId, cred.id);
      await enqueue(tx, {
        topic: 'people.mfa.passkey_suspended',
        tenantId,
        payload: { userId, passkeyId: cred.id, reason: 'counter_regression' },
      });
    }
    return undefined;
  }

  private async saveFailure(tx: Tx, tenantId: string, userId: string, outcome: FailureOutcome, at: Date) {
    await store.saveLoginState(tx, tenantId, userId, outcome.state, { now: at });
    if (outcome.outcome === 'locked' && outcome.newlyLocked) {
      await enqueue(tx, {
        topic: 'people.user.locked',
        tenantId,
        payload: {
          userId,
          lockouts: outcome.state.lockouts,
          until:
            outcome.state.lockedUntil === null ? null : new Date(outcome.state.lockedUntil).toISOString(),
        },
      });
    }
    return outcome;
  }

  private phantomKey(tenantId: string, key: string) {
    return `people:phantom:${tenantId}:${key}`;
  }

  private async phantomState(tenantId: string, key: string): Promise<LockState> {
    const raw = await this.kv.get(this.phantomKey(tenantId, key));
    return raw ? (JSON.parse(raw) as LockState) : UNLOCKED;
  }

  private async phantomFailure(tenantId: string, key: string, before: LockState, now: number) {
    const outcome = recordFailure(before, now, this.lockout);
    await this.kv.set(this.phantomKey(tenantId, key), JSON.stringify(outcome.state), {
      ttlMs: PHANTOM_TTL_MS,
    });
    return outcome;
  }

  private async writeRecoveryCodes(tx: Tx, tenantId: string, userId: string, now: number): Promise<string[]> {
    const codes = newRecoveryCodes();
    await store.replaceRecoveryCodes(
      tx,
      tenantId,
      userId,
      codes.map((c) => ({ id: uuidv7(now), codeHash: hashRecoveryCode(normalizeRecoveryCode(c)!) })),
      new Date(now),
    );
    return codes;
  }

  private async hashNewPassword(
    password: string,
    words: readonly (string | null | undefined)[],
  ): Promise<string> {
    const checked = this.policy.check(password, { words });
    if (!checked.ok) throw new PeopleError(PASSWORD_ERRORS[checked.reason]);
    return this.hasher.hash(checked.normalized);
  }

  private usernameIndex(tx: Tx, tenantId: string, username: string) {
    return this.envelope.blindIndex(tenantId, normalizeUsername(username), 'users.username', { tx });
  }

  private emailIndex(tx: Tx, tenantId: string, email: string) {
    return this.envelope.blindIndex(tenantId, normalizeEmail(email), 'users.email', { tx });
  }

  private async tenantOf(tenantId: string): Promise<{ name: string; slug: string }> {
    if (!isUuid(tenantId)) throw new TenantError('TENANT_NOT_FOUND');
    const [row] = await this.db.withTenant(tenantId, (tx) =>
      tx.select({ name: tenants.name, slug: tenants.slug }).from(tenants).where(eq(tenants.id, tenantId)),
    );
    if (!row) throw new TenantError('TENANT_NOT_FOUND');
    return row;
  }

  private async present(tx: Tx, row: store.UserRow, mfa?: store.MfaSummary): Promise<User> {
    const open = (value: string, where: string) =>
      this.envelope.decryptField(row.tenantId, value, { aad: where, tx });
    const summary = mfa ?? (await store.mfaSummaries(tx, row.tenantId, [row.id])).get(row.id)!;
    const state: LockState = {
      failedAttempts: row.failedAttempts,
      lockouts: 0,
      lockedAt: row.lockedAt?.getTime() ?? null,
      lockedUntil: row.lockedUntil?.getTime() ?? null,
    };
    const locked = isLocked(state, this.now());
    return {
      id: row.id,
      tenantId: row.tenantId,
      username: await open(row.usernameEnc, aad.username(row.id)),
      email: row.emailEnc ? await open(row.emailEnc, aad.email(row.id)) : null,
      displayName: row.displayNameEnc ? await open(row.displayNameEnc, aad.displayName(row.id)) : null,
      roles: row.roles as UserRole[],
      status: row.status,
      locked,
      lockedUntil: locked ? iso(row.lockedUntil) : null,
      mfa: summary,
      lastLoginAt: iso(row.lastLoginAt),
      createdAt: row.createdAt.toISOString(),
    };
  }
}

function answerOf(outcome: FailureOutcome): AuthnResult {
  return outcome.outcome === 'locked'
    ? { status: 'locked' }
    : { status: 'failure', warning: outcome.warning };
}

/** The violated constraint's name, from either driver's error (drizzle wraps it as `cause`). */
function constraintOf(err: unknown): string | undefined {
  for (
    let e = err as { constraint?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.constraint === 'string') return e.constraint;
    e = e.cause as typeof e;
  }
  return undefined;
}

function validPending(p: PendingAuthn, tenantId: string): boolean {
  return (
    typeof p === 'object' &&
    p !== null &&
    p.v === 1 &&
    p.tenantId === tenantId &&
    typeof p.nonce === 'string' &&
    p.nonce.length >= 16 &&
    typeof p.key === 'string' &&
    typeof p.passwordOk === 'boolean' &&
    typeof p.at === 'number' &&
    (p.userId === null || (typeof p.userId === 'string' && isUuid(p.userId)))
  );
}

function presentPasskey(row: store.PasskeyRow): Passkey {
  return {
    id: row.id,
    deviceType: row.deviceType,
    backedUp: row.backedUp,
    transports: row.transports,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: iso(row.lastUsedAt),
  };
}

// Re-exported so callers need only this module for the types they pass around.
export type { Acr, Amr, FactorMethod } from './amr.ts';
