/**
 * Password rules of NIST SP 800-63B-4 §3.1.1.2 (memorized secret verifiers):
 *  - length only, counted in Unicode code points after NFKC normalisation; no composition rules
 *    (no "one digit, one symbol"), no forced periodic change;
 *  - minimum 15 characters. -4 allows 8 only when the password is never used alone; here a user
 *    can be password-only (before MFA enrolment, after an admin reset of MFA), so 15 applies to
 *    every password. The limit can be raised, not lowered;
 *  - maximum 128 (the SP asks for at least 64); every printable character and space is accepted,
 *    nothing is truncated;
 *  - a blocklist of commonly used, expected or compromised values, plus context-specific words
 *    (the service name, the tenant, the username), with the reason for a refusal given back.
 *
 * The blocklist ships with the project (`common-passwords.txt.gz`, see `common-passwords.md`),
 * read once at boot into a Set (STYLE 13).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const MIN_PASSWORD_LENGTH = 15;
export const MAX_PASSWORD_LENGTH = 128;
/** Context words shorter than this are too common as substrings to refuse on. */
const MIN_CONTEXT_WORD = 4;
/** A password with fewer distinct characters than this is repetitive ("aaaa…", "abab…"). */
const MIN_DISTINCT = 5;

export type PasswordRejection = 'too-short' | 'too-long' | 'invalid-characters' | 'breached' | 'context';

export type PasswordCheck =
  | { readonly ok: true; readonly normalized: string }
  | { readonly ok: false; readonly reason: PasswordRejection };

export interface PasswordContext {
  /** Words the password may not contain: username, e-mail, display name, tenant name and slug. */
  readonly words?: readonly (string | null | undefined)[];
}

export interface PasswordPolicyOptions {
  /** At least 15 (default); a smaller value is refused. */
  readonly minLength?: number;
  /** Default 128; must be at least 64 and at least `minLength`. */
  readonly maxLength?: number;
  /** The blocklist; defaults to the shipped list. Entries are compared NFKC + lower case. */
  readonly blocklist?: Iterable<string>;
  /** Always-refused context words besides the per-call ones; default `['bulwark']` (the service). */
  readonly serviceWords?: readonly string[];
}

const BLOCKLIST_FILE = new URL('./common-passwords.txt.gz', import.meta.url);

let shipped: ReadonlySet<string> | undefined;

/** The shipped list of common and breached passwords (≈49k entries), loaded once. */
export function shippedBlocklist(): ReadonlySet<string> {
  if (!shipped) {
    const text = gunzipSync(readFileSync(BLOCKLIST_FILE)).toString('utf8');
    shipped = new Set(text.split('\n').filter((w) => w.length > 0));
  }
  return shipped;
}

/** NFKC (NIST SP 800-63B-4 §3.1.1.2 names NFKC or NFKD), before hashing and every rule. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Code points, not UTF-16 units: "each Unicode code point SHALL be counted as a single character". */
const codePoints = (s: string) => [...s].length;

// Control characters (C0, DEL, C1) are not printable; everything else, space included, is allowed.
const CONTROL_RE = /\p{Cc}/u;
const EDGE_NON_LETTERS_RE = /^[^\p{L}]+|[^\p{L}]+$/gu;
/** Keyboard rows and alphabets walked in order ("qwertyuiop…", "abcdef…", "123456…"). */
const SEQUENCES = [
  'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz',
  '01234567890123456789012345678901234567890123456789',
  'qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm',
  'qwertzuiopasdfghjklyxcvbnmqwertzuiopasdfghjklyxcvbnm',
  'azertyuiopqsdfghjklmwxcvbnazertyuiopqsdfghjklmwxcvbn',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p1qaz2wsx3edc4rfv',
];

export class PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  private readonly blocklist: ReadonlySet<string>;
  private readonly serviceWords: readonly string[];

  constructor(options: PasswordPolicyOptions = {}) {
    this.minLength = options.minLength ?? MIN_PASSWORD_LENGTH;
    this.maxLength = options.maxLength ?? MAX_PASSWORD_LENGTH;
    if (!Number.isInteger(this.minLength) || this.minLength < MIN_PASSWORD_LENGTH) {
      throw new Error(`password minLength must be an integer >= ${MIN_PASSWORD_LENGTH}`);
    }
    if (!Number.isInteger(this.maxLength) || this.maxLength < Math.max(64, this.minLength)) {
      throw new Error('password maxLength must be an integer >= 64 and >= minLength');
    }
    this.blocklist = options.blocklist
      ? new Set([...options.blocklist].map((w) => w.normalize('NFKC').toLowerCase()))
      : shippedBlocklist();
    this.serviceWords = (options.serviceWords ?? ['bulwark']).map((w) => w.normalize('NFKC').toLowerCase());
  }

  /** Checks a new password; on success returns the normalised form to hash. */
  check(password: string, context: PasswordContext = {}): PasswordCheck {
    const normalized = normalizePassword(password);
    const length = codePoints(normalized);
    if (CONTROL_RE.test(normalized)) return { ok: false, reason: 'invalid-characters' };
    if (length < this.minLength) return { ok: false, reason: 'too-short' };
    if (length > this.maxLength) return { ok: false, reason: 'too-long' };
    const lower = normalized.toLowerCase();
    if (this.isBlocklisted(lower)) return { ok: false, reason: 'breached' };
    if (this.containsContextWord(lower, context)) return { ok: false, reason: 'context' };
    return { ok: true, normalized };
  }

  /**
   * "Commonly used, expected, or compromised" (§3.1.1.2): the value itself, the value with digits
   * and symbols trimmed from its ends ("password2024!!!!"), a short unit or a listed word repeated
   * ("passwordpassword"), too few distinct characters, or a walk along a keyboard row or alphabet.
   */
  private isBlocklisted(lower: string): boolean {
    if (this.blocklist.has(lower)) return true;
    const core = lower.replace(EDGE_NON_LETTERS_RE, '');
    if (core.length > 0 && core !== lower && this.blocklist.has(core)) return true;
    const chars = [...lower];
    if (new Set(chars).size < MIN_DISTINCT) return true;
    const unit = repeatedUnit(core.length > 0 ? core : lower);
    if (unit !== undefined && (codePoints(unit) < MIN_DISTINCT || this.blocklist.has(unit))) return true;
    return SEQUENCES.some((seq) => seq.includes(lower) || [...seq].reverse().join('').includes(lower));
  }

  private containsContextWord(lower: string, context: PasswordContext): boolean {
    const words = new Set<string>(this.serviceWords);
    for (const raw of context.words ?? []) {
      if (!raw) continue;
      const w = raw.normalize('NFKC').toLowerCase().trim();
      words.add(w);
      // An e-mail address contributes its local part; names contribute each word.
      const at = w.indexOf('@');
      if (at > 0) words.add(w.slice(0, at));
      for (const part of w.split(/[^\p{L}\p{N}]+/u)) words.add(part);
    }
    for (const w of words) {
      if (codePoints(w) >= MIN_CONTEXT_WORD && lower.includes(w)) return true;
    }
    return false;
  }
}

/** The shortest string whose repetition makes `s` ("abcabcabc" -> "abc"), if there is one. */
function repeatedUnit(s: string): string | undefined {
  const n = s.length;
  for (let size = 1; size <= n / 2; size++) {
    if (n % size !== 0) continue;
    const unit = s.slice(0, size);
    if (unit.repeat(n / size) === s) return unit;
  }
  return undefined;
}
