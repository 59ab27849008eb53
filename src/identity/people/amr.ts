/**
 * Authentication Method Reference values (RFC 8176 §2) and the ACR this module reports to the
 * authorization server, which puts them in ID tokens and gives them to policies (MFA level).
 */

/** `pwd` password; `otp` one-time code (TOTP, or a single-use recovery code); `hwk` WebAuthn key; `mfa` two factors. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'mfa';

export const ACR_1FA = 'urn:bulwark:acr:1fa';
export const ACR_2FA = 'urn:bulwark:acr:2fa';
export type Acr = typeof ACR_1FA | typeof ACR_2FA;

/** The second-factor methods a user proves: authenticator app, recovery code, passkey. */
export type FactorMethod = 'password' | 'totp' | 'recovery-code' | 'webauthn';

const AMR_OF: Record<FactorMethod, Amr> = {
  password: 'pwd',
  totp: 'otp',
  'recovery-code': 'otp',
  webauthn: 'hwk',
};

/** RFC 8176 values for the methods used, with `mfa` when a knowledge and a possession factor are both in. */
export function amrFor(methods: readonly FactorMethod[]): Amr[] {
  const amr = new Set<Amr>(methods.map((m) => AMR_OF[m]));
  if (amr.has('pwd') && (amr.has('otp') || amr.has('hwk'))) amr.add('mfa');
  return [...amr];
}

/**
 * Two factors of different kinds (something known and something held: NIST SP 800-63B-4 §2.2,
 * PSD2 Art. 4(30)) give `2fa`; anything else `1fa`.
 */
export function acrFor(amr: readonly Amr[]): Acr {
  const known = amr.includes('pwd');
  const held = amr.includes('otp') || amr.includes('hwk');
  return known && held ? ACR_2FA : ACR_1FA;
}
