/**
 * What an audit record's `details` may hold: a small JSON object of ids and facts — never personal
 * data or secrets (DESIGN invariant 6). The audit trail cannot be erased (it is append-only and
 * hash-chained), so anything personal written into it would survive a GDPR Art. 17 erasure: name
 * people by their ids (which crypto-shredding makes meaningless), never by e-mail, name or IBAN.
 *
 * `checkDetails` refuses a value that breaks these rules (appendAudit calls it); `redactDetails`
 * strips the offending members instead, for callers that pass through data they do not control
 * (e.g. a WAF match) and would rather keep the record than fail.
 */
import { AuditError } from './errors.ts';
import type { AuditJson } from './schema.ts';

export const DETAILS_LIMITS = Object.freeze({
  /** Canonical JSON bytes of the whole object. */
  maxBytes: 4096,
  maxDepth: 4,
  maxKeys: 64,
  maxKeyLength: 64,
  maxStringLength: 512,
  maxItems: 64,
});

/**
 * Member names (lower-cased, with `_`, `-` and `.` removed: `client_secret`, `clientSecret` and
 * `Client-Secret` are one name) that carry secrets or personal data.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  // secrets
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'newpassword',
  'oldpassword',
  'currentpassword',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'bearer',
  'authorization',
  'cookie',
  'setcookie',
  'apikey',
  'privatekey',
  'otp',
  'totp',
  'totpsecret',
  'recoverycode',
  'recoverycodes',
  'invitetoken',
  'authcode',
  'authorizationcode',
  'codeverifier',
  'assertion',
  'clientassertion',
  'dpop',
  'cvv',
  'cvc',
  'pin',
  // personal data
  'email',
  'emailaddress',
  'phone',
  'phonenumber',
  'mobile',
  'name',
  'fullname',
  'firstname',
  'lastname',
  'givenname',
  'familyname',
  'displayname',
  'username',
  'address',
  'street',
  'postcode',
  'zipcode',
  'birthdate',
  'dateofbirth',
  'dob',
  'iban',
  'bic',
  'accountnumber',
  'cardnumber',
  'pan',
  'ssn',
  'nationalid',
  'taxid',
  'passport',
  'passportnumber',
]);

/** Values that are personal data or secrets whatever their member is called. */
const FORBIDDEN_VALUES: readonly { what: string; re: RegExp }[] = [
  { what: 'an e-mail address', re: /[^\s@]+@[^\s@]+\.[a-z]{2,}/i },
  { what: 'a JWT', re: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./ },
  { what: 'a bearer credential', re: /\b(?:bearer|basic|dpop)\s+[A-Za-z0-9._~+/-]{16,}/i },
  { what: 'an IBAN', re: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/ },
];
const CARD_RE = /\b(?:\d[ -]?){13,19}\b/g;

export function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[_.-]/g, '');
}

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(normaliseKey(key));
}

/**
 * A payment card number: 15-19 digits from a card network's range (2-6) passing the Luhn check
 * (ISO/IEC 7812-1 Annex B). 13- and 14-digit numbers are left alone: millisecond timestamps.
 */
function looksLikeCard(value: string): boolean {
  for (const m of value.matchAll(CARD_RE)) {
    const digits = m[0].replace(/\D/g, '');
    if (digits.length < 15 || digits.length > 19 || digits[0]! < '2' || digits[0]! > '6') continue;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    if (sum % 10 === 0) return true;
  }
  return false;
}

/** Why a string value may not be stored, or undefined. */
export function forbiddenValue(value: string): string | undefined {
  for (const { what, re } of FORBIDDEN_VALUES) if (re.test(value)) return what;
  if (looksLikeCard(value)) return 'a payment card number';
  return undefined;
}

const KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Control characters (tab, LF and CR allowed with `allowLines`), DEL, or a lone UTF-16 surrogate,
 * which PostgreSQL text and jsonb cannot hold.
 */
export function unprintable(s: string, allowLines = false): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      if (allowLines && (c === 0x09 || c === 0x0a || c === 0x0d)) continue;
      return true;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

interface Walk {
  /** Called for a rule broken at `path`; returns true to drop the member and carry on. */
  readonly onForbidden: (path: string, why: string) => boolean;
}

function walk(value: unknown, path: string, depth: number, w: Walk): AuditJson | undefined {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: not a finite number`);
    return value;
  }
  if (typeof value === 'string') {
    if (value.length > DETAILS_LIMITS.maxStringLength)
      throw new AuditError(
        'AUDIT_DETAILS_INVALID',
        `${path}: string longer than ${DETAILS_LIMITS.maxStringLength}`,
      );
    // jsonb refuses NUL, and control characters have no place in an audit detail.
    if (unprintable(value, true))
      throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: control character or lone surrogate`);
    const why = forbiddenValue(value);
    if (why && w.onForbidden(path, `looks like ${why}`)) return undefined;
    return value;
  }
  if (depth >= DETAILS_LIMITS.maxDepth)
    throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: nested deeper than ${DETAILS_LIMITS.maxDepth}`);
  if (Array.isArray(value)) {
    if (value.length > DETAILS_LIMITS.maxItems)
      throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: more than ${DETAILS_LIMITS.maxItems} items`);
    const out: AuditJson[] = [];
    value.forEach((item, i) => {
      const v = walk(item, `${path}[${i}]`, depth + 1, w);
      if (v !== undefined) out.push(v);
    });
    return out;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: not a plain object (Date, Buffer, class…)`);
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > DETAILS_LIMITS.maxKeys)
      throw new AuditError('AUDIT_DETAILS_INVALID', `${path}: more than ${DETAILS_LIMITS.maxKeys} members`);
    const out: { [key: string]: AuditJson } = {};
    for (const [k, v] of entries) {
      if (v === undefined) continue;
      const at = path ? `${path}.${k}` : k;
      if (!KEY_RE.test(k) || k.length > DETAILS_LIMITS.maxKeyLength)
        throw new AuditError('AUDIT_DETAILS_INVALID', `${at}: member names are letters, digits, _ . -`);
      if (isForbiddenKey(k) && w.onForbidden(at, 'names a secret or personal data')) continue;
      const inner = walk(v, at, depth + 1, w);
      if (inner !== undefined) out[k] = inner;
    }
    return out;
  }
  throw new AuditError('AUDIT_DETAILS_INVALID', `${path || 'details'}: ${typeof value} is not JSON`);
}

function sizeCheck(details: { [key: string]: AuditJson }): void {
  if (Buffer.byteLength(JSON.stringify(details)) > DETAILS_LIMITS.maxBytes)
    throw new AuditError('AUDIT_DETAILS_INVALID', `details larger than ${DETAILS_LIMITS.maxBytes} bytes`);
}

function rootObject(details: unknown): void {
  if (typeof details !== 'object' || details === null || Array.isArray(details))
    throw new AuditError('AUDIT_DETAILS_INVALID', 'details must be a JSON object');
}

/**
 * Validates `details` and returns a plain JSON copy. Refuses (AUDIT_DETAILS_PII) a member named
 * like a secret or personal datum, or a string that looks like one (e-mail, JWT, IBAN, card
 * number, bearer credential); refuses (AUDIT_DETAILS_INVALID) anything too big or not JSON.
 */
export function checkDetails(details: unknown = {}): { [key: string]: AuditJson } {
  rootObject(details);
  const out = walk(details, '', 0, {
    onForbidden: (path, why) => {
      throw new AuditError('AUDIT_DETAILS_PII', `details.${path} ${why}; record ids, not personal data`);
    },
  }) as { [key: string]: AuditJson };
  sizeCheck(out);
  return out;
}

/**
 * Like `checkDetails`, but drops the offending members (and array items) instead of refusing, and
 * lists their paths under `redacted` so the record says that something was removed.
 */
export function redactDetails(details: unknown = {}): { [key: string]: AuditJson } {
  rootObject(details);
  const removed: string[] = [];
  const out = walk(details, '', 0, {
    onForbidden: (path) => {
      removed.push(path);
      return true;
    },
  }) as { [key: string]: AuditJson };
  if (removed.length) out.redacted = removed.slice(0, DETAILS_LIMITS.maxItems);
  sizeCheck(out);
  return out;
}
