/**
 * Recovery codes: look-up secrets (NIST SP 800-63B-4 §3.1.2). Ten per user, shown once, each
 * accepted once. Each carries 120 random bits, so a plain SHA-256 digest is the right storage:
 * §3.1.2.1 requires look-up secrets of at least 112 bits to be stored hashed with an approved
 * one-way function (only shorter ones need a password hashing scheme).
 *
 * Format: 24 characters of Crockford base32 in six groups ("7K2M-Q9XD-…"), readable aloud and
 * forgiving when typed: case, dashes and spaces are ignored, I/L read as 1 and O as 0.
 */
import { createHash, randomBytes } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 24; // 24 × 5 bits = 120 bits
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{24}$/;

export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(CODE_CHARS);
    // 256 is a multiple of 32: taking each byte mod 32 is unbiased.
    const chars = [...bytes].map((b) => ALPHABET[b % 32]).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** Canonical form, or undefined when the input cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | undefined {
  const s = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return CODE_RE.test(s) ? s : undefined;
}

export function hashRecoveryCode(normalized: string): string {
  return createHash('sha256').update(`bulwark.recovery.v1:${normalized}`).digest('base64url');
}
