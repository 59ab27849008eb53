import { and, asc, count, eq, gt, inArray, isNull, lt, or } from 'drizzle-orm';
import type { Tx } from '../../platform/db/index.ts';
import type { LockState } from './lockout.ts';
import { type UserRole, userRecoveryCodes, users, userTotp, webauthnCredentials } from './schema.ts';

/**
 * Persistence of people and their authenticators. Every function takes the caller's transaction
 * (`db.withTenant`), and filters by tenant even though row-level security would too. What leaves
 * this file for ordinary reads (`UserRow`) carries no password hash, invite token or lock
 * internals; the login path asks for them explicitly (`LoginRow`).
 */

const userColumns = {
  id: users.id,
  tenantId: users.tenantId,
  usernameEnc: users.usernameEnc,
  emailEnc: users.emailEnc,
  displayNameEnc: users.displayNameEnc,
  roles: users.roles,
  status: users.status,
  failedAttempts: users.failedAttempts,
  lockedAt: users.lockedAt,
  lockedUntil: users.lockedUntil,
  lastLoginAt: users.lastLoginAt,
  createdAt: users.createdAt,
};
export type UserRow = {
  [K in keyof typeof userColumns]: (typeof users.$inferSelect)[K];
};

const loginColumns = {
  id: users.id,
  status: users.status,
  passwordHash: users.passwordHash,
  failedAttempts: users.failedAttempts,
  lockouts: users.lockouts,
  lockedAt: users.lockedAt,
  lockedUntil: users.lockedUntil,
};
/** Privileged: what the authentication path needs, hash included. */
export type LoginRow = {
  [K in keyof typeof loginColumns]: (typeof users.$inferSelect)[K];
};

export interface Page {
  readonly limit: number;
  readonly after?: string | undefined;
}

export const lockStateOf = (r: LoginRow): LockState => ({
  failedAttempts: r.failedAttempts,
  lockouts: r.lockouts,
  lockedAt: r.lockedAt?.getTime() ?? null,
  lockedUntil: r.lockedUntil?.getTime() ?? null,
});

// ---- users ------------------------------------------------------------------------------------

export async function insertUser(tx: Tx, row: typeof users.$inferInsert): Promise<UserRow> {
  const [created] = await tx.insert(users).values(row).returning(userColumns);
  return created!;
}

export async function findUser(tx: Tx, tenantId: string, userId: string): Promise<UserRow | undefined> {
  const [row] = await tx
    .select(userColumns)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
  return row;
}

export function listUsers(tx: Tx, tenantId: string, page: Page): Promise<UserRow[]> {
  return tx
    .select(userColumns)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), page.after ? gt(users.id, page.after) : undefined))
    .orderBy(asc(users.id))
    .limit(page.limit);
}

export async function findLoginByUsername(
  tx: Tx,
  tenantId: string,
  usernameIdx: string,
): Promise<LoginRow | undefined> {
  const [row] = await tx
    .select(loginColumns)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.usernameIdx, usernameIdx)));
  return row;
}

export async function emailTaken(tx: Tx, tenantId: string, emailIdx: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.emailIdx, emailIdx)));
  return row !== undefined;
}

/** The login row, locked until the transaction ends: concurrent attempts are counted one by one. */
export async function lockLogin(tx: Tx, tenantId: string, userId: string): Promise<LoginRow | undefined> {
  const [row] = await tx
    .select(loginColumns)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .for('update');
  return row;
}

export async function saveLoginState(
  tx: Tx,
  tenantId: string,
  userId: string,
  state: LockState,
  extra: { lastLoginAt?: Date; passwordHash?: string; now: Date },
): Promise<void> {
  await tx
    .update(users)
    .set({
      failedAttempts: state.failedAttempts,
      lockouts: state.lockouts,
      lockedAt: state.lockedAt === null ? null : new Date(state.lockedAt),
      lockedUntil: state.lockedUntil === null ? null : new Date(state.lockedUntil),
      ...(extra.lastLoginAt ? { lastLoginAt: extra.lastLoginAt } : {}),
      ...(extra.passwordHash ? { passwordHash: extra.passwordHash } : {}),
      updatedAt: extra.now,
    })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
}

export async function updateUser(
  tx: Tx,
  tenantId: string,
  userId: string,
  set: Partial<
    Pick<
      typeof users.$inferInsert,
      | 'roles'
      | 'status'
      | 'passwordHash'
      | 'passwordChangedAt'
      | 'failedAttempts'
      | 'lockouts'
      | 'lockedAt'
      | 'lockedUntil'
      | 'inviteTokenHash'
      | 'inviteExpiresAt'
    >
  > & { updatedAt: Date },
): Promise<UserRow | undefined> {
  const [row] = await tx
    .update(users)
    .set(set)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .returning(userColumns);
  return row;
}

export async function setRoles(
  tx: Tx,
  tenantId: string,
  userId: string,
  roles: readonly UserRole[],
  now: Date,
): Promise<UserRow | undefined> {
  return updateUser(tx, tenantId, userId, { roles: [...roles], updatedAt: now });
}

/** An invited user by the digest of their invite token, locked for the update that follows. */
export async function findInvite(
  tx: Tx,
  tenantId: string,
  tokenHash: string,
): Promise<{ id: string; status: string; inviteExpiresAt: Date | null } | undefined> {
  const [row] = await tx
    .select({ id: users.id, status: users.status, inviteExpiresAt: users.inviteExpiresAt })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.inviteTokenHash, tokenHash)))
    .for('update');
  return row;
}

export async function passwordHashOf(tx: Tx, tenantId: string, userId: string): Promise<string | null> {
  const [row] = await tx
    .select({ passwordHash: users.passwordHash })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
  return row?.passwordHash ?? null;
}

// ---- TOTP -------------------------------------------------------------------------------------

export type TotpRow = typeof userTotp.$inferSelect;

export async function findTotp(tx: Tx, tenantId: string, userId: string): Promise<TotpRow | undefined> {
  const [row] = await tx
    .select()
    .from(userTotp)
    .where(and(eq(userTotp.tenantId, tenantId), eq(userTotp.userId, userId)));
  return row;
}

/** Starts (or restarts) a pending enrolment; an active one is never overwritten. */
export async function putPendingTotp(
  tx: Tx,
  row: { tenantId: string; userId: string; secretEnc: string; now: Date },
): Promise<boolean> {
  const written = await tx
    .insert(userTotp)
    .values({
      tenantId: row.tenantId,
      userId: row.userId,
      secretEnc: row.secretEnc,
      status: 'pending',
      createdAt: row.now,
    })
    .onConflictDoUpdate({
      target: userTotp.userId,
      set: { secretEnc: row.secretEnc, createdAt: row.now, lastUsedStep: null },
      setWhere: eq(userTotp.status, 'pending'),
    })
    .returning({ userId: userTotp.userId });
  return written.length === 1;
}

/**
 * Accepts a time step once: the row moves forward only when `step` is later than the last one
 * accepted, atomically, so a code (or an older one) replayed — even concurrently — fails.
 */
export async function takeTotpStep(
  tx: Tx,
  tenantId: string,
  userId: string,
  step: number,
  activate: { now: Date } | undefined,
): Promise<boolean> {
  const updated = await tx
    .update(userTotp)
    .set({
      lastUsedStep: step,
      ...(activate ? { status: 'active' as const, confirmedAt: activate.now } : {}),
    })
    .where(
      and(
        eq(userTotp.tenantId, tenantId),
        eq(userTotp.userId, userId),
        eq(userTotp.status, activate ? 'pending' : 'active'),
        or(isNull(userTotp.lastUsedStep), lt(userTotp.lastUsedStep, step)),
      ),
    )
    .returning({ userId: userTotp.userId });
  return updated.length === 1;
}

// ---- recovery codes ---------------------------------------------------------------------------

export async function replaceRecoveryCodes(
  tx: Tx,
  tenantId: string,
  userId: string,
  rows: readonly { id: string; codeHash: string }[],
  now: Date,
): Promise<void> {
  await tx
    .delete(userRecoveryCodes)
    .where(and(eq(userRecoveryCodes.tenantId, tenantId), eq(userRecoveryCodes.userId, userId)));
  if (rows.length) {
    await tx.insert(userRecoveryCodes).values(rows.map((r) => ({ ...r, tenantId, userId, createdAt: now })));
  }
}

/** Uses a recovery code: true once per code, atomically. */
export async function takeRecoveryCode(
  tx: Tx,
  tenantId: string,
  userId: string,
  codeHash: string,
  now: Date,
): Promise<boolean> {
  const used = await tx
    .update(userRecoveryCodes)
    .set({ usedAt: now })
    .where(
      and(
        eq(userRecoveryCodes.tenantId, tenantId),
        eq(userRecoveryCodes.userId, userId),
        eq(userRecoveryCodes.codeHash, codeHash),
        isNull(userRecoveryCodes.usedAt),
      ),
    )
    .returning({ id: userRecoveryCodes.id });
  return used.length === 1;
}

// ---- passkeys ---------------------------------------------------------------------------------

export type PasskeyRow = typeof webauthnCredentials.$inferSelect;

export async function insertPasskey(
  tx: Tx,
  row: typeof webauthnCredentials.$inferInsert,
): Promise<PasskeyRow> {
  const [created] = await tx.insert(webauthnCredentials).values(row).returning();
  return created!;
}

export function listPasskeys(tx: Tx, tenantId: string, userId: string): Promise<PasskeyRow[]> {
  return tx
    .select()
    .from(webauthnCredentials)
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)))
    .orderBy(asc(webauthnCredentials.id));
}

export async function findPasskeyForUser(
  tx: Tx,
  tenantId: string,
  userId: string,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  const [row] = await tx
    .select()
    .from(webauthnCredentials)
    .where(
      and(
        eq(webauthnCredentials.tenantId, tenantId),
        eq(webauthnCredentials.userId, userId),
        eq(webauthnCredentials.credentialId, credentialId),
      ),
    );
  return row;
}

/** Moves the counter forward only (concurrent assertions with one counter value: one wins). */
export async function advancePasskeyCounter(
  tx: Tx,
  tenantId: string,
  id: string,
  newCounter: number,
  now: Date,
): Promise<boolean> {
  const updated = await tx
    .update(webauthnCredentials)
    .set({ counter: newCounter, lastUsedAt: now })
    .where(
      and(
        eq(webauthnCredentials.tenantId, tenantId),
        eq(webauthnCredentials.id, id),
        eq(webauthnCredentials.status, 'active'),
        // Counter-less authenticators stay at 0 (WebAuthn L3 §6.1.1).
        newCounter === 0 ? eq(webauthnCredentials.counter, 0) : lt(webauthnCredentials.counter, newCounter),
      ),
    )
    .returning({ id: webauthnCredentials.id });
  return updated.length === 1;
}

export async function suspendPasskey(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx
    .update(webauthnCredentials)
    .set({ status: 'suspended' })
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.id, id)));
}

export async function deletePasskey(tx: Tx, tenantId: string, userId: string, id: string): Promise<boolean> {
  const gone = await tx
    .delete(webauthnCredentials)
    .where(
      and(
        eq(webauthnCredentials.tenantId, tenantId),
        eq(webauthnCredentials.userId, userId),
        eq(webauthnCredentials.id, id),
      ),
    )
    .returning({ id: webauthnCredentials.id });
  return gone.length === 1;
}

/** Removes every second factor of a user (admin reset). */
export async function deleteSecondFactors(tx: Tx, tenantId: string, userId: string): Promise<void> {
  await tx.delete(userTotp).where(and(eq(userTotp.tenantId, tenantId), eq(userTotp.userId, userId)));
  await tx
    .delete(userRecoveryCodes)
    .where(and(eq(userRecoveryCodes.tenantId, tenantId), eq(userRecoveryCodes.userId, userId)));
  await tx
    .delete(webauthnCredentials)
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)));
}

// ---- second-factor summary --------------------------------------------------------------------

export interface MfaSummary {
  readonly totp: boolean;
  readonly passkeys: number;
  readonly recoveryCodesLeft: number;
}

const NO_MFA: MfaSummary = { totp: false, passkeys: 0, recoveryCodesLeft: 0 };

export async function mfaSummaries(
  tx: Tx,
  tenantId: string,
  userIds: readonly string[],
): Promise<Map<string, MfaSummary>> {
  const out = new Map<string, MfaSummary>(userIds.map((id) => [id, NO_MFA]));
  if (userIds.length === 0) return out;
  const ids = [...userIds];
  const [totps, keys, codes] = await Promise.all([
    tx
      .select({ userId: userTotp.userId })
      .from(userTotp)
      .where(
        and(eq(userTotp.tenantId, tenantId), inArray(userTotp.userId, ids), eq(userTotp.status, 'active')),
      ),
    tx
      .select({ userId: webauthnCredentials.userId, n: count() })
      .from(webauthnCredentials)
      .where(
        and(
          eq(webauthnCredentials.tenantId, tenantId),
          inArray(webauthnCredentials.userId, ids),
          eq(webauthnCredentials.status, 'active'),
        ),
      )
      .groupBy(webauthnCredentials.userId),
    tx
      .select({ userId: userRecoveryCodes.userId, n: count() })
      .from(userRecoveryCodes)
      .where(
        and(
          eq(userRecoveryCodes.tenantId, tenantId),
          inArray(userRecoveryCodes.userId, ids),
          isNull(userRecoveryCodes.usedAt),
        ),
      )
      .groupBy(userRecoveryCodes.userId),
  ]);
  const patch = (id: string, p: Partial<MfaSummary>) => out.set(id, { ...(out.get(id) ?? NO_MFA), ...p });
  for (const t of totps) patch(t.userId, { totp: true });
  for (const k of keys) patch(k.userId, { passkeys: Number(k.n) });
  for (const c of codes) patch(c.userId, { recoveryCodesLeft: Number(c.n) });
  return out;
}

/**
 * Whether the user must pass a second step: an active authenticator app, any passkey — even a
 * suspended one, so that suspending a possibly cloned key never downgrades the account to a
 * password alone — or unused recovery codes.
 */
export async function hasSecondFactor(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const [totp] = await tx
    .select({ userId: userTotp.userId })
    .from(userTotp)
    .where(and(eq(userTotp.tenantId, tenantId), eq(userTotp.userId, userId), eq(userTotp.status, 'active')));
  if (totp) return true;
  const [key] = await tx
    .select({ id: webauthnCredentials.id })
    .from(webauthnCredentials)
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)))
    .limit(1);
  if (key) return true;
  const [code] = await tx
    .select({ id: userRecoveryCodes.id })
    .from(userRecoveryCodes)
    .where(
      and(
        eq(userRecoveryCodes.tenantId, tenantId),
        eq(userRecoveryCodes.userId, userId),
        isNull(userRecoveryCodes.usedAt),
      ),
    )
    .limit(1);
  return code !== undefined;
}
