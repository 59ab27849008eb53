import { describe, expect, it } from 'vitest';
import { ACR_1FA, ACR_2FA, acrFor, amrFor } from './amr.ts';
import { DEFAULT_LOCKOUT, isLocked, type LockState, recordFailure, UNLOCKED } from './lockout.ts';
import { PasswordHasher } from './passwords.ts';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.ts';
import { newTotpSecret, totpCode, totpStep, totpUri } from './totp.ts';

describe('Argon2id hashing', () => {
  const hasher = new PasswordHasher();

  it('produces a PHC string with Argon2id, version 19, m=19 MiB, t=2, p=1 and a 16-byte salt', async () => {
    const h = await hasher.hash('quiet lanterns drift');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await hasher.hash('quiet lanterns drift')).not.toBe(h);
    expect(await hasher.verify(h, 'quiet lanterns drift')).toBe(true);
    expect(await hasher.verify(h, 'quiet lanterns drifT')).toBe(false);
    expect(await hasher.verify('not a hash', 'x')).toBe(false);
    expect(hasher.needsRehash(h)).toBe(false);
  });

  it('asks for a rehash when the parameters change', async () => {
    const old = await new PasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 }).hash('p');
    expect(hasher.needsRehash(old)).toBe(true);
    expect(hasher.needsRehash('$2b$10$bcrypt.hash.from.elsewhere')).toBe(true);
  });

  it('burns comparable work for unknown users and always says no', async () => {
    expect(await hasher.burn('anything')).toBe(false);
  });
});

describe('lockout state machine (PSD2 RTS Art. 4(3)(b), 4(4))', () => {
  const t0 = 1_000_000;
  const fail = (s: LockState, now = t0) => recordFailure(s, now, DEFAULT_LOCKOUT);

  it('warns on the 4th consecutive failure and locks on the 5th for 30 minutes', () => {
    let s = UNLOCKED;
    const outcomes: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const o = fail(s);
      outcomes.push(o.outcome === 'failure' ? o.warning : 'locked');
      s = o.state;
    }
    expect(outcomes).toEqual([false, false, false, true, 'locked']);
    expect(s.lockedUntil).toBe(t0 + 30 * 60_000);
    expect(isLocked(s, t0 + 30 * 60_000 - 1)).toBe(true);
    expect(isLocked(s, t0 + 30 * 60_000)).toBe(false);
    // While locked nothing is counted.
    expect(fail(s)).toEqual({ outcome: 'locked', newlyLocked: false, state: s });
  });

  it('starts a fresh round after a temporary lock and makes the third lock permanent', () => {
    let s = UNLOCKED;
    let now = t0;
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 5; i++) s = fail(s, now).state;
      expect(s.lockouts).toBe(round);
      now += 31 * 60_000;
    }
    expect(s.lockedUntil).toBeNull();
    expect(isLocked(s, now + 365 * 86_400_000)).toBe(true);
  });
});

describe('TOTP (RFC 6238) helpers', () => {
  it('makes 160-bit base32 seeds and otpauth URIs', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = totpUri(secret, 'Acme Mutual', 'ada@example.test');
    expect(uri.startsWith('otpauth://totp/Acme%20Mutual:ada%40example.test?')).toBe(true);
  });

  it('matches the RFC 6238 Appendix B vector (SHA-1, T = 59 s)', async () => {
    // The RFC's seed is the ASCII "12345678901234567890"; in base32:
    const seed = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(await totpCode(seed, 59_000)).toBe('287082');
    expect(await totpStep(seed, '287082', 59_000)).toBe(1);
    expect(await totpStep(seed, '287 082', 59_000)).toBe(1);
    expect(await totpStep(seed, '287082', 59_000 + 90_000)).toBeUndefined();
    expect(await totpStep(seed, 'abcdef', 59_000)).toBeUndefined();
  });
});

describe('recovery codes (NIST SP 800-63B-4 §3.1.2)', () => {
  it('makes ten distinct 120-bit codes in groups of four', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{4}$/);
  });

  it('forgives case, spaces, dashes and look-alike letters', () => {
    const [code] = newRecoveryCodes(1);
    const canonical = normalizeRecoveryCode(code!)!;
    const typed = code!.toLowerCase().replaceAll('-', ' ').replaceAll('1', 'l').replaceAll('0', 'o');
    expect(normalizeRecoveryCode(typed)).toBe(canonical);
    expect(hashRecoveryCode(normalizeRecoveryCode(typed)!)).toBe(hashRecoveryCode(canonical));
    expect(normalizeRecoveryCode('123456')).toBeUndefined();
  });
});

describe('ACR and AMR (RFC 8176)', () => {
  it('gives 2fa only for a knowledge and a possession factor together', () => {
    expect(amrFor(['password'])).toEqual(['pwd']);
    expect(acrFor(amrFor(['password']))).toBe(ACR_1FA);
    expect(amrFor(['password', 'totp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(acrFor(amrFor(['password', 'totp']))).toBe(ACR_2FA);
    expect(amrFor(['password', 'webauthn'])).toEqual(['pwd', 'hwk', 'mfa']);
    expect(acrFor(amrFor(['password', 'recovery-code']))).toBe(ACR_2FA);
    expect(acrFor(['otp'])).toBe(ACR_1FA);
    expect(acrFor(['otp', 'hwk'])).toBe(ACR_1FA);
  });
});
