/**
 * TOTP (RFC 6238) over otplib v13: HMAC-SHA-1, 6 digits, 30-second steps — what every
 * authenticator app implements. The seed is 160 random bits (RFC 4226 §4 R6 recommends 160).
 */
import { generate, generateSecret, generateURI, verify } from 'otplib';

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
/**
 * ±1 time step: RFC 6238 §5.2 recommends at most one step of network delay; one step either way
 * also absorbs a phone clock that is a little fast or slow.
 */
const TOLERANCE_SECONDS = TOTP_PERIOD;
const CODE_RE = /^[0-9]{6}$/;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The otpauth:// URI an authenticator app reads (usually from a QR code). */
export function totpUri(secret: string, issuer: string, account: string): string {
  return generateURI({ issuer, label: account, secret, digits: TOTP_DIGITS, period: TOTP_PERIOD });
}

/** Strips the spaces people type in the middle of a code ("123 456"). */
export function normalizeTotpCode(code: string): string {
  return code.replace(/[\s-]/g, '');
}

export function looksLikeTotpCode(code: string): boolean {
  return CODE_RE.test(normalizeTotpCode(code));
}

/**
 * The RFC 6238 time step the code belongs to, or undefined when it matches none within ±1 step.
 * Replay protection is the caller's: a step is accepted once per user (stored atomically).
 */
export async function totpStep(secret: string, code: string, nowMs: number): Promise<number | undefined> {
  const token = normalizeTotpCode(code);
  if (!CODE_RE.test(token)) return undefined;
  try {
    const result = await verify({
      secret,
      token,
      epoch: Math.floor(nowMs / 1000),
      period: TOTP_PERIOD,
      digits: TOTP_DIGITS,
      epochTolerance: TOLERANCE_SECONDS,
    });
    // The functional API answers for HOTP too; a TOTP match carries its time step.
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  } catch {
    return undefined;
  }
}

/** The code for a moment: for tests and for the enrolment page's self-check, never logged. */
export function totpCode(secret: string, nowMs: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000), period: TOTP_PERIOD, digits: TOTP_DIGITS });
}
