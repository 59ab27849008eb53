import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import { createCrypto, type Envelope } from '../../platform/crypto/index.ts';
import type { Database } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/rows.ts';
import { tenants } from '../../platform/db/schema.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import { TenantError } from '../../tenants/errors.ts';
import { ACR_1FA, ACR_2FA } from './amr.ts';
import { PeopleError } from './errors.ts';
import { PasswordHasher } from './passwords.ts';
import {
  type AuthnResult,
  PeopleService,
  type PeopleServiceOptions,
  type SecondFactorProof,
} from './service.ts';
import { SoftAuthenticator } from './testing/soft-authenticator.ts';
import { totpCode } from './totp.ts';

const PASSWORD = 'quiet lanterns drift over copper hills';
const WRONG = 'quiet lanterns drift over copper hillz';
const RP = { rpId: 'login.example.test', rpName: 'Bulwark', origins: ['https://login.example.test'] };
const MINUTE = 60_000;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof PeopleError || err instanceof TenantError) return err.code;
    return `unexpected: ${String(err)}`;
  }
}

/** What a caller can observe of a result (the pending object is the caller's to keep, not to show). */
const seen = (r: AuthnResult) => (r.status === 'second-factor' ? { status: r.status } : r);

describe.each(dbBackends)('people service on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let envelope: Envelope;
  let kv: Kv;
  let now = Date.UTC(2030, 0, 1, 12, 0, 0);
  const clock = () => now;
  let service: PeopleService;
  const tenantA = uuidv7();
  const tenantB = uuidv7();

  const make = (extra: Partial<PeopleServiceOptions> = {}) =>
    new PeopleService({ db, envelope, kv, webauthn: RP, now: clock, ...extra });

  let seq = 0;
  const uniqueName = (base = 'user') => `${base}${++seq}@example.test`;

  async function newUser(tenantId = tenantA, extra: { email?: string; displayName?: string } = {}) {
    const username = uniqueName();
    const { user } = await service.createUser(tenantId, {
      username,
      roles: ['policyholder'],
      password: PASSWORD,
      ...extra,
    });
    return { ...user, username };
  }

  async function enrolTotp(tenantId: string, userId: string) {
    const { secret } = await service.beginTotpEnrolment(tenantId, userId);
    const { recoveryCodes } = await service.confirmTotpEnrolment(
      tenantId,
      userId,
      await totpCode(secret, now),
    );
    // The enrolment code spent the current step: sign-ins in tests start one step later.
    now += 30_000;
    return { secret, recoveryCodes };
  }

  /** Both steps as the login pages run them; returns the final answer. */
  async function signIn(
    tenantId: string,
    username: string,
    password: string,
    proof?: () => Promise<SecondFactorProof>,
  ): Promise<AuthnResult> {
    const first = await service.authenticate(tenantId, { username, password });
    if (first.status !== 'second-factor') return first;
    const p = proof ? await proof() : { kind: 'code' as const, code: '000000' };
    return service.verifySecondFactor(tenantId, first.pending, p);
  }

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    envelope = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).envelope;
    kv = createMemoryKv({ prefix: 'test:', now: clock });
    service = make();
    await db.asSystem((tx) =>
      tx.insert(tenants).values([
        { id: tenantA, slug: `acme-${tenantA}`, name: 'Acme Mutual' },
        { id: tenantB, slug: `bravo-${tenantB}`, name: 'Bravo Life' },
      ]),
    );
  });
  afterAll(async () => {
    await kv?.close();
    await dispose?.();
  });

  describe('users', () => {
    it('stores username, e-mail and display name encrypted, the password as Argon2id', async () => {
      const user = await newUser(tenantA, {
        email: 'Ada.Lovelace@Example.test',
        displayName: 'Ada Lovelace',
      });
      const [raw] = await db.asSystem((tx) =>
        rows<Record<string, string | null>>(tx, sql`SELECT * FROM users WHERE id = ${user.id}`),
      );
      const text = JSON.stringify(raw);
      expect(text).not.toContain(user.username);
      expect(text.toLowerCase()).not.toContain('lovelace');
      expect(raw?.username_enc).toMatch(/^v1\./);
      expect(raw?.email_enc).toMatch(/^v1\./);
      expect(raw?.display_name_enc).toMatch(/^v1\./);
      expect(raw?.password_hash).toMatch(
        /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
      );

      const got = await service.getUser(tenantA, user.id);
      expect(got).toMatchObject({
        username: user.username,
        email: 'Ada.Lovelace@Example.test',
        displayName: 'Ada Lovelace',
        roles: ['policyholder'],
        status: 'active',
        locked: false,
        mfa: { totp: false, passkeys: 0, recoveryCodesLeft: 0 },
      });
      expect(Object.keys(got)).not.toContain('passwordHash');
    });

    it('keeps usernames and e-mails unique per tenant, case- and width-insensitively', async () => {
      const user = await newUser(tenantA, { email: 'unique@example.test' });
      const dup = (username: string, email?: string) =>
        codeOf(service.createUser(tenantA, { username, email, roles: [], password: PASSWORD }));
      expect(await dup(user.username.toUpperCase())).toBe('USERNAME_TAKEN');
      // Fullwidth letters are the same name after NFKC.
      const wide = user.username.replace(/^u/, '\uff55');
      expect(await dup(wide)).toBe('USERNAME_TAKEN');
      expect(await dup(uniqueName(), 'UNIQUE@example.test')).toBe('USER_EMAIL_TAKEN');
      // Another tenant may have the same username.
      const { user: other } = await service.createUser(tenantB, {
        username: user.username,
        roles: [],
        password: PASSWORD,
      });
      expect(other.tenantId).toBe(tenantB);
    });

    it('refuses a new password with the reason: too short, breached, context word', async () => {
      const create = (password: string, username = uniqueName()) =>
        codeOf(service.createUser(tenantA, { username, roles: [], password }));
      expect(await create('short pass')).toBe('PEOPLE_PASSWORD_TOO_SHORT');
      expect(await create('password1234567890')).toBe('PEOPLE_PASSWORD_BREACHED');
      expect(await create('my acme mutual cover please')).toBe('PEOPLE_PASSWORD_CONTEXT');
      expect(await create('marmaduke is my secret 22', 'marmaduke')).toBe('PEOPLE_PASSWORD_CONTEXT');
      expect(
        await codeOf(service.createUser(uuidv7(), { username: 'x', roles: [], password: PASSWORD })),
      ).toBe('TENANT_NOT_FOUND');
    });

    it('invites a user, who sets a password once with the token', async () => {
      const username = uniqueName();
      const { user, inviteToken } = await service.createUser(tenantA, { username, roles: ['auditor'] });
      expect(user.status).toBe('invited');
      expect(inviteToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(seen(await service.authenticate(tenantA, { username, password: PASSWORD }))).toEqual({
        status: 'second-factor',
      });
      expect(await codeOf(service.acceptInvite(tenantA, { token: inviteToken!, password: 'short' }))).toBe(
        'PEOPLE_PASSWORD_TOO_SHORT',
      );
      const active = await service.acceptInvite(tenantA, { token: inviteToken!, password: PASSWORD });
      expect(active.status).toBe('active');
      expect(await codeOf(service.acceptInvite(tenantA, { token: inviteToken!, password: PASSWORD }))).toBe(
        'USER_INVITE_INVALID',
      );
      expect((await service.authenticate(tenantA, { username, password: PASSWORD })).status).toBe('success');
    });

    it('sets roles, and lists a tenant’s users page by page', async () => {
      const user = await newUser();
      const updated = await service.setRoles(tenantA, user.id, ['claims_adjuster', 'auditor', 'auditor']);
      expect(updated.roles).toEqual(['claims_adjuster', 'auditor']);
      const first = await service.listUsers(tenantA, 2);
      expect(first.items).toHaveLength(2);
      expect(first.nextCursor).toBe(first.items[1]!.id);
      const all = await service.listUsers(tenantA, 200);
      expect(all.items.every((u) => u.tenantId === tenantA)).toBe(true);
      expect(all.items.map((u) => u.id)).toContain(user.id);
    });
  });

  describe('tenant isolation (row-level security)', () => {
    it('never shows tenant B’s people to tenant A', async () => {
      const b = await newUser(tenantB);
      expect(await codeOf(service.getUser(tenantA, b.id))).toBe('USER_NOT_FOUND');
      expect((await service.listUsers(tenantA, 200)).items.map((u) => u.id)).not.toContain(b.id);
      expect(await codeOf(service.setRoles(tenantA, b.id, ['tenant_admin']))).toBe('USER_NOT_FOUND');
      // B's username does not sign in at A.
      expect(seen(await service.authenticate(tenantA, { username: b.username, password: PASSWORD }))).toEqual(
        {
          status: 'second-factor',
        },
      );
      // Even a query without any tenant filter sees only A's rows.
      const raw = await db.withTenant(tenantA, (tx) =>
        rows<{ tenant_id: string }>(tx, sql`SELECT tenant_id FROM users`),
      );
      expect(raw.length).toBeGreaterThan(0);
      expect(new Set(raw.map((r) => r.tenant_id))).toEqual(new Set([tenantA]));
      for (const table of ['user_totp', 'user_recovery_codes', 'webauthn_credentials']) {
        const other = await db.withTenant(tenantA, (tx) =>
          rows<{ n: number }>(
            tx,
            sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE tenant_id <> ${tenantA}`,
          ),
        );
        expect(other[0]?.n).toBe(0);
      }
    });
  });

  describe('sign-in with a password alone', () => {
    it('succeeds with acr 1fa, amr pwd, and asks for MFA enrolment', async () => {
      const user = await newUser();
      const result = await service.authenticate(tenantA, {
        username: user.username.toUpperCase(),
        password: PASSWORD,
      });
      expect(result).toEqual({
        status: 'success',
        userId: user.id,
        methods: ['password'],
        amr: ['pwd'],
        acr: ACR_1FA,
        mfaEnrolmentRequired: true,
      });
      expect((await service.getUser(tenantA, user.id)).lastLoginAt).toBe(new Date(now).toISOString());
    });

    it('accepts the password in another Unicode normal form (NFKC before hashing)', async () => {
      const username = uniqueName();
      const composed = 'Ångström quiet lanterns drift'; // U+00C5
      await service.createUser(tenantA, { username, roles: [], password: composed });
      const decomposed = composed.normalize('NFD');
      expect(decomposed).not.toBe(composed);
      expect((await service.authenticate(tenantA, { username, password: decomposed })).status).toBe(
        'success',
      );
    });

    it('warns on the 4th failure, locks on the 5th, refuses a 6th even with the right password', async () => {
      const user = await newUser();
      const fail = () => service.authenticate(tenantA, { username: user.username, password: WRONG });
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: true });
      expect(await fail()).toEqual({ status: 'locked' });
      // Regression guard for issue 3 "a sixth wrong password" — and a sixth right one.
      expect(await fail()).toEqual({ status: 'locked' });
      expect(await service.authenticate(tenantA, { username: user.username, password: PASSWORD })).toEqual({
        status: 'locked',
      });
      const shown = await service.getUser(tenantA, user.id);
      expect(shown.locked).toBe(true);
      expect(shown.lockedUntil).toBe(new Date(now + 30 * MINUTE).toISOString());
      const events = await db.asSystem((tx) =>
        rows<{ payload: { userId: string } }>(
          tx,
          sql`SELECT payload FROM outbox WHERE topic = 'people.user.locked'`,
        ),
      );
      expect(events.map((e) => e.payload.userId)).toContain(user.id);

      // The admin unlock is the secure procedure to regain access (PSD2 RTS Art. 4(4)).
      expect((await service.unlock(tenantA, user.id)).locked).toBe(false);
      expect(
        (await service.authenticate(tenantA, { username: user.username, password: PASSWORD })).status,
      ).toBe('success');
    });

    it('resets the count on success', async () => {
      const user = await newUser();
      const fail = () => service.authenticate(tenantA, { username: user.username, password: WRONG });
      await fail();
      await fail();
      await fail();
      expect(
        (await service.authenticate(tenantA, { username: user.username, password: PASSWORD })).status,
      ).toBe('success');
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: false });
      expect(await fail()).toEqual({ status: 'failure', warning: true });
    });

    it('ends a temporary lock after 30 minutes, and makes the third lock permanent', async () => {
      const user = await newUser();
      const fail = () => service.authenticate(tenantA, { username: user.username, password: WRONG });
      const lockOnce = async () => {
        for (let i = 0; i < 4; i++) await fail();
        expect(await fail()).toEqual({ status: 'locked' });
      };
      await lockOnce();
      now += 29 * MINUTE;
      expect(
        (await service.authenticate(tenantA, { username: user.username, password: PASSWORD })).status,
      ).toBe('locked');
      now += 2 * MINUTE;
      await lockOnce();
      now += 31 * MINUTE;
      await lockOnce();
      now += 24 * 60 * MINUTE;
      expect(
        (await service.authenticate(tenantA, { username: user.username, password: PASSWORD })).status,
      ).toBe('locked');
      expect((await service.getUser(tenantA, user.id)).lockedUntil).toBeNull();
    });

    it('re-hashes a password made with older Argon2 parameters at the next sign-in', async () => {
      const weak = make({ hasher: new PasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 }) });
      const username = uniqueName();
      const { user } = await weak.createUser(tenantA, { username, roles: [], password: PASSWORD });
      const hashOf = async () =>
        (
          await db.asSystem((tx) =>
            rows<{ h: string }>(tx, sql`SELECT password_hash AS h FROM users WHERE id = ${user.id}`),
          )
        )[0]?.h;
      expect(await hashOf()).toContain('m=8192,t=1,p=1');
      expect((await service.authenticate(tenantA, { username, password: PASSWORD })).status).toBe('success');
      expect(await hashOf()).toContain('m=19456,t=2,p=1');
      expect((await service.authenticate(tenantA, { username, password: PASSWORD })).status).toBe('success');
    });
  });

  describe('answers that reveal nothing', () => {
    it('answers an unknown user exactly as a user with MFA and a wrong password, lock included', async () => {
      const user = await newUser();
      await enrolTotp(tenantA, user.id);
      const unknown = uniqueName('nobody');
      const known: unknown[] = [];
      const ghost: unknown[] = [];
      for (let i = 0; i < 6; i++) {
        const a = await service.authenticate(tenantA, { username: user.username, password: WRONG });
        const b = await service.authenticate(tenantA, { username: unknown, password: WRONG });
        known.push(seen(a));
        ghost.push(seen(b));
        if (a.status === 'second-factor' && b.status === 'second-factor') {
          const code = { kind: 'code', code: '123456' } as const;
          known.push(await service.verifySecondFactor(tenantA, a.pending, code));
          ghost.push(await service.verifySecondFactor(tenantA, b.pending, code));
        }
      }
      expect(ghost).toEqual(known);
      expect(known).toEqual([
        { status: 'second-factor' },
        { status: 'failure', warning: false },
        { status: 'second-factor' },
        { status: 'failure', warning: false },
        { status: 'second-factor' },
        { status: 'failure', warning: false },
        { status: 'second-factor' },
        { status: 'failure', warning: true },
        { status: 'second-factor' },
        { status: 'locked' },
        { status: 'locked' },
      ]);
    });

    it('sends a user with MFA to the second step whether the password was right or not', async () => {
      const user = await newUser();
      const { secret } = await enrolTotp(tenantA, user.id);
      const wrong = await service.authenticate(tenantA, { username: user.username, password: WRONG });
      const right = await service.authenticate(tenantA, { username: user.username, password: PASSWORD });
      expect(seen(wrong)).toEqual(seen(right));
      expect(Object.keys(wrong)).toEqual(Object.keys(right));
      // A right second factor after a wrong password is still one generic failure.
      if (wrong.status !== 'second-factor') throw new Error('expected the second step');
      expect(
        await service.verifySecondFactor(tenantA, wrong.pending, {
          kind: 'totp',
          code: await totpCode(secret, now),
        }),
      ).toEqual({ status: 'failure', warning: false });
    });
  });

  describe('TOTP (RFC 6238) and recovery codes', () => {
    it('enrols with a first code, then signs in with 2fa; a code is accepted once', async () => {
      const user = await newUser();
      const { secret, uri } = await service.beginTotpEnrolment(tenantA, user.id);
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const parsed = new URL(uri);
      expect(parsed.protocol).toBe('otpauth:');
      expect(parsed.host).toBe('totp');
      expect(decodeURIComponent(parsed.pathname)).toBe(`/Bulwark:${user.username}`);
      expect(parsed.searchParams.get('secret')).toBe(secret);
      expect(parsed.searchParams.get('issuer')).toBe('Bulwark');
      expect(await codeOf(service.confirmTotpEnrolment(tenantA, user.id, '000000'))).toBe(
        'MFA_ENROLMENT_INVALID',
      );
      const { recoveryCodes } = await service.confirmTotpEnrolment(
        tenantA,
        user.id,
        await totpCode(secret, now),
      );
      expect(recoveryCodes).toHaveLength(10);
      expect(new Set(recoveryCodes).size).toBe(10);
      expect(await codeOf(service.beginTotpEnrolment(tenantA, user.id))).toBe('MFA_ALREADY_ENROLLED');

      // The seed is encrypted at rest.
      const [raw] = await db.asSystem((tx) =>
        rows<{ secret_enc: string }>(tx, sql`SELECT secret_enc FROM user_totp WHERE user_id = ${user.id}`),
      );
      expect(raw?.secret_enc).toMatch(/^v1\./);
      expect(raw?.secret_enc).not.toContain(secret);

      now += 30_000;
      const code = await totpCode(secret, now);
      const ok = await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code }));
      expect(ok).toMatchObject({
        status: 'success',
        methods: ['password', 'totp'],
        amr: ['pwd', 'otp', 'mfa'],
        acr: ACR_2FA,
        mfaEnrolmentRequired: false,
      });
      // Replay of the same code within its window: refused (PSD2 RTS Art. 4(1)).
      expect(await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code }))).toEqual({
        status: 'failure',
        warning: false,
      });
      // The next step's code works.
      now += 30_000;
      const next = await totpCode(secret, now);
      expect(
        (await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'code', code: next }))).status,
      ).toBe('success');
    });

    it('accepts a code one step early or late, not two', async () => {
      const user = await newUser();
      const { secret } = await enrolTotp(tenantA, user.id);
      now += 5 * 30_000;
      const late = await totpCode(secret, now - 30_000);
      expect(
        (await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code: late }))).status,
      ).toBe('success');
      now += 5 * 30_000;
      const early = await totpCode(secret, now + 30_000);
      expect(
        (await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code: early }))).status,
      ).toBe('success');
      now += 5 * 30_000;
      const tooOld = await totpCode(secret, now - 60_000);
      expect(
        (await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code: tooOld }))).status,
      ).toBe('failure');
    });

    it('accepts each recovery code once, typed loosely', async () => {
      const user = await newUser();
      const { recoveryCodes } = await enrolTotp(tenantA, user.id);
      const code = recoveryCodes[0]!;
      expect(code).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{4}$/);
      const loose = ` ${code.toLowerCase().replaceAll('-', ' ')} `;
      const first = await signIn(tenantA, user.username, PASSWORD, async () => ({
        kind: 'code',
        code: loose,
      }));
      expect(first).toMatchObject({
        status: 'success',
        methods: ['password', 'recovery-code'],
        acr: ACR_2FA,
      });
      expect(
        await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'recovery-code', code })),
      ).toEqual({ status: 'failure', warning: false });
      expect((await service.getUser(tenantA, user.id)).mfa).toEqual({
        totp: true,
        passkeys: 0,
        recoveryCodesLeft: 9,
      });
      // Stored as digests only.
      const stored = await db.asSystem((tx) =>
        rows<{ code_hash: string }>(
          tx,
          sql`SELECT code_hash FROM user_recovery_codes WHERE user_id = ${user.id}`,
        ),
      );
      expect(stored).toHaveLength(10);
      expect(JSON.stringify(stored)).not.toContain(code.replaceAll('-', ''));
    });

    it('counts second-factor failures: the 5th locks and a right password and code are then refused', async () => {
      const user = await newUser();
      const { secret } = await enrolTotp(tenantA, user.id);
      const results: AuthnResult[] = [];
      for (let i = 0; i < 5; i++) results.push(await signIn(tenantA, user.username, PASSWORD));
      expect(results.map((r) => r.status)).toEqual(['failure', 'failure', 'failure', 'failure', 'locked']);
      expect(results[3]).toEqual({ status: 'failure', warning: true });
      const code = await totpCode(secret, now);
      expect(await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'totp', code }))).toEqual({
        status: 'locked',
      });
    });

    it('spends the pending step: a second try with it, or a stale one, fails', async () => {
      const user = await newUser();
      const { secret } = await enrolTotp(tenantA, user.id);
      const first = await service.authenticate(tenantA, { username: user.username, password: PASSWORD });
      if (first.status !== 'second-factor') throw new Error('expected the second step');
      expect(
        await service.verifySecondFactor(tenantA, first.pending, { kind: 'code', code: '999999' }),
      ).toEqual({
        status: 'failure',
        warning: false,
      });
      const code = await totpCode(secret, now);
      expect(await service.verifySecondFactor(tenantA, first.pending, { kind: 'totp', code })).toEqual({
        status: 'failure',
        warning: false,
      });
      const again = await service.authenticate(tenantA, { username: user.username, password: PASSWORD });
      if (again.status !== 'second-factor') throw new Error('expected the second step');
      now += 6 * MINUTE;
      const late = await totpCode(secret, now);
      expect(await service.verifySecondFactor(tenantA, again.pending, { kind: 'totp', code: late })).toEqual({
        status: 'failure',
        warning: false,
      });
      // Another tenant cannot use it either.
      const third = await service.authenticate(tenantA, { username: user.username, password: PASSWORD });
      if (third.status !== 'second-factor') throw new Error('expected the second step');
      expect(
        (await service.verifySecondFactor(tenantB, third.pending, { kind: 'totp', code: late })).status,
      ).toBe('failure');
    });

    it('resets MFA: the user signs in with a password again and must enrol', async () => {
      const user = await newUser();
      await enrolTotp(tenantA, user.id);
      const reset = await service.resetMfa(tenantA, user.id);
      expect(reset.mfa).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
      expect(
        await service.authenticate(tenantA, { username: user.username, password: PASSWORD }),
      ).toMatchObject({
        status: 'success',
        mfaEnrolmentRequired: true,
      });
      expect(await codeOf(service.regenerateRecoveryCodes(tenantA, user.id))).toBe('MFA_NOT_ENROLLED');
    });
  });

  describe('passkeys (WebAuthn)', () => {
    it('registers a passkey and signs in with it as the second factor (acr 2fa, amr hwk)', async () => {
      const user = await newUser();
      const options = await service.passkeyRegistrationOptions(tenantA, user.id);
      expect(options.rp).toEqual({ id: RP.rpId, name: RP.rpName });
      expect(options.authenticatorSelection?.residentKey).toBe('required');
      expect(options.attestation).toBe('none');
      const authenticator = new SoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]! });

      expect(
        await codeOf(
          service.verifyPasskeyRegistration(tenantA, user.id, {
            response: authenticator.register(options.challenge),
            expectedChallenge: 'another-challenge',
          }),
        ),
      ).toBe('PASSKEY_REGISTRATION_INVALID');
      const { passkey, recoveryCodes } = await service.verifyPasskeyRegistration(tenantA, user.id, {
        response: authenticator.register(options.challenge),
        expectedChallenge: options.challenge,
      });
      expect(passkey).toMatchObject({
        status: 'active',
        transports: ['internal'],
        deviceType: 'singleDevice',
      });
      expect(recoveryCodes).toHaveLength(10);
      const [stored] = await db.asSystem((tx) =>
        rows<{ credential_id: string; public_key: string; counter: string | number }>(
          tx,
          sql`SELECT credential_id, public_key, counter FROM webauthn_credentials WHERE user_id = ${user.id}`,
        ),
      );
      expect(stored?.credential_id).toBe(authenticator.id);
      expect(stored?.public_key.length).toBeGreaterThan(50);
      expect(Number(stored?.counter)).toBe(0);

      const request = await service.passkeyAuthenticationOptions();
      expect(request.allowCredentials ?? []).toEqual([]);
      const result = await signIn(tenantA, user.username, PASSWORD, async () => ({
        kind: 'webauthn',
        response: authenticator.assert(request.challenge),
        expectedChallenge: request.challenge,
      }));
      expect(result).toMatchObject({
        status: 'success',
        methods: ['password', 'webauthn'],
        amr: ['pwd', 'hwk', 'mfa'],
        acr: ACR_2FA,
      });
      expect((await service.listPasskeys(tenantA, user.id))[0]?.lastUsedAt).not.toBeNull();
    });

    it('refuses an assertion for another challenge or origin, and suspends a passkey whose counter goes back', async () => {
      const user = await newUser();
      const authenticator = new SoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]!, counter: 10 });
      const options = await service.passkeyRegistrationOptions(tenantA, user.id);
      await service.verifyPasskeyRegistration(tenantA, user.id, {
        response: authenticator.register(options.challenge),
        expectedChallenge: options.challenge,
      });
      const request = await service.passkeyAuthenticationOptions();
      const use = (
        response: ReturnType<SoftAuthenticator['assert']>,
        expectedChallenge = request.challenge,
      ) =>
        signIn(tenantA, user.username, PASSWORD, async () => ({
          kind: 'webauthn',
          response,
          expectedChallenge,
        }));

      expect((await use(authenticator.assert('not-the-challenge'))).status).toBe('failure');
      expect(
        (await use(authenticator.assert(request.challenge, { origin: 'https://evil.example' }))).status,
      ).toBe('failure');
      expect((await use(authenticator.assert(request.challenge))).status).toBe('success');
      // A clone replays an older counter value: refused, and the passkey is suspended.
      expect((await use(authenticator.assert(request.challenge, { counter: 5 }))).status).toBe('failure');
      expect((await service.listPasskeys(tenantA, user.id))[0]?.status).toBe('suspended');
      // Still a two-step account: the suspended key does not downgrade it to a password alone.
      expect((await use(authenticator.assert(request.challenge))).status).toBe('failure');
      const codes = await service.regenerateRecoveryCodes(tenantA, user.id);
      expect(
        (await signIn(tenantA, user.username, PASSWORD, async () => ({ kind: 'code', code: codes[0]! })))
          .status,
      ).toBe('success');
      const events = await db.asSystem((tx) =>
        rows<{ payload: { userId: string } }>(
          tx,
          sql`SELECT payload FROM outbox WHERE topic = 'people.mfa.passkey_suspended'`,
        ),
      );
      expect(events.map((e) => e.payload.userId)).toContain(user.id);
    });

    it('does not accept another user’s passkey', async () => {
      const alice = await newUser();
      const mallory = await newUser();
      const key = new SoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]! });
      const options = await service.passkeyRegistrationOptions(tenantA, mallory.id);
      await service.verifyPasskeyRegistration(tenantA, mallory.id, {
        response: key.register(options.challenge),
        expectedChallenge: options.challenge,
      });
      await enrolTotp(tenantA, alice.id);
      const request = await service.passkeyAuthenticationOptions();
      const result = await signIn(tenantA, alice.username, PASSWORD, async () => ({
        kind: 'webauthn',
        response: key.assert(request.challenge),
        expectedChallenge: request.challenge,
      }));
      expect(result.status).toBe('failure');
    });
  });
});
