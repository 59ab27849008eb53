/**
 * RFC 9421 HTTP Message Signatures and RFC 9530 Content-Digest: the protocol pieces both sides of
 * Bulwark share — the signature base of a request or response (§2.5), Signature-Input / Signature
 * parsing (§4), the three asymmetric algorithms we accept (§3.3), signing with a key of the
 * platform key ring — so webhooks (which sign what they send) and the gateway (which verifies what
 * partners send and signs its answers) build the same bytes the same way.
 *
 * No policy lives here (which components must be covered, how fresh `created` must be, where keys
 * come from): that is the caller's.
 */
import {
  createHash,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  timingSafeEqual,
} from 'node:crypto';
import {
  type InnerList,
  type Item,
  type Member,
  type Params,
  param,
  parseDictionary,
  parseItem,
  StructuredFieldError,
  serializeInnerList,
  serializeItem,
  sf,
} from './structured-fields.ts';

export { StructuredFieldError } from './structured-fields.ts';

/** The RFC 9421 §6.2.2 algorithms Bulwark accepts: asymmetric only, no rsa-v1_5, no HMAC. */
export type SignatureAlgorithm = 'ed25519' | 'ecdsa-p256-sha256' | 'rsa-pss-sha512';
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = Object.freeze([
  'ed25519',
  'ecdsa-p256-sha256',
  'rsa-pss-sha512',
]);

/** A message as the signature base sees it (§2). Header names are lower-case. */
export interface HttpMessage {
  /** Requests: the method as sent (case-sensitive, §2.2.1). */
  readonly method?: string;
  /** Requests: the absolute target URI (§2.2.2). */
  readonly targetUri?: string;
  /** Responses: the status code (§2.2.9). */
  readonly status?: number;
  readonly headers: Readonly<Record<string, string | readonly string[] | number | undefined>>;
  /** Responses: the request they answer, for components with the `req` flag (§2.4). */
  readonly request?: HttpMessage;
}

/** A component that cannot be produced for this message: the signature cannot verify. */
export class ComponentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComponentError';
  }
}

// ---- RFC 9530 Content-Digest --------------------------------------------------------------------

const DIGESTS: Readonly<Record<string, string>> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** `sha-256=:<base64>:` (RFC 9530 §2) of the exact bytes sent. */
export function contentDigest(body: string | Uint8Array, alg: 'sha-256' | 'sha-512' = 'sha-256'): string {
  return `${alg}=:${createHash(DIGESTS[alg]!).update(body).digest('base64')}:`;
}

export type DigestVerdict = 'ok' | 'mismatch' | 'unsupported' | 'malformed';

/**
 * Checks a Content-Digest field against the body bytes: at least one algorithm we know (sha-256,
 * sha-512) must be present, and every one we know must match (RFC 9530 §2: unknown ones are ignored).
 */
export function checkContentDigest(field: string, body: Uint8Array): DigestVerdict {
  let dict: Map<string, Member>;
  try {
    dict = parseDictionary(field);
  } catch {
    return 'malformed';
  }
  let known = 0;
  for (const [alg, member] of dict) {
    const hash = DIGESTS[alg];
    if (!hash) continue;
    if (member.kind !== 'item' || member.value.type !== 'bytes') return 'malformed';
    known++;
    const expected = createHash(hash).update(body).digest();
    const given = member.value.value;
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'mismatch';
  }
  return known ? 'ok' : 'unsupported';
}

// ---- components and the signature base (§2) -----------------------------------------------------

function fieldValue(message: HttpMessage, name: string): string {
  const raw = message.headers[name];
  if (raw === undefined) throw new ComponentError(`covered field ${name} is absent`);
  const values = Array.isArray(raw) ? raw : [String(raw)];
  // §2.1: each field line's value trimmed of leading and trailing whitespace, combined with ", ".
  return values.map((v: string) => v.trim()).join(', ');
}

function targetUrl(message: HttpMessage): URL {
  if (!message.targetUri) throw new ComponentError('request components need a request');
  try {
    return new URL(message.targetUri);
  } catch {
    throw new ComponentError('the target URI is not absolute');
  }
}

/** §2.2.8: names and values form-decoded, then percent-encoded again. */
function reencode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function queryParam(url: URL, name: string): string {
  const found: string[] = [];
  for (const [k, v] of new URLSearchParams(url.search)) if (reencode(k) === name) found.push(reencode(v));
  if (found.length !== 1)
    throw new ComponentError(found.length ? `query parameter ${name} repeats` : `no query parameter ${name}`);
  return found[0]!;
}

function derivedValue(message: HttpMessage, name: string, item: Item): string {
  switch (name) {
    case '@method':
      if (!message.method) throw new ComponentError('@method needs a request');
      return message.method;
    case '@target-uri':
      targetUrl(message);
      return message.targetUri!;
    case '@authority':
      return targetUrl(message).host;
    case '@scheme':
      return targetUrl(message).protocol.slice(0, -1);
    case '@request-target': {
      const u = targetUrl(message);
      return `${u.pathname || '/'}${u.search}`;
    }
    case '@path':
      return targetUrl(message).pathname || '/';
    case '@query':
      return targetUrl(message).search || '?';
    case '@query-param': {
      const n = param(item.params, 'name');
      if (n?.type !== 'string') throw new ComponentError('@query-param needs a name');
      return queryParam(targetUrl(message), n.value);
    }
    case '@status':
      if (message.status === undefined) throw new ComponentError('@status needs a response');
      return String(message.status);
    default:
      throw new ComponentError(`unknown derived component ${name}`);
  }
}

/** The value of one component identifier (§2.1, §2.2, §2.4) in `message`. */
export function componentValue(message: HttpMessage, item: Item): string {
  if (item.value.type !== 'string') throw new ComponentError('a component identifier is a string');
  const name = item.value.value;
  let target = message;
  for (const [k, v] of item.params) {
    if (k === 'req' && v.type === 'boolean' && v.value) {
      if (!message.request) throw new ComponentError('the req flag needs a response to a request');
      target = message.request;
    } else if (!(k === 'name' && name === '@query-param')) {
      // sf, bs, key, tr: not needed by Bulwark's profile, so not guessed at.
      throw new ComponentError(`component parameter ${k} is not supported`);
    }
  }
  if (name.startsWith('@')) return derivedValue(target, name, item);
  if (name !== name.toLowerCase()) throw new ComponentError('field names are lower-case');
  return fieldValue(target, name);
}

/** A component identifier from its serialized form: `@method`, `"@query-param";name="x"`. */
export function component(id: string): Item {
  return id.startsWith('"') ? parseItem(id) : { kind: 'item', value: sf.string(id), params: [] };
}

/**
 * The signature base (§2.5): one line per covered component, then `"@signature-params"`. The
 * parameters are the inner list exactly as it appears in Signature-Input (or will).
 */
export function signatureBase(message: HttpMessage, params: InnerList): string {
  const seen = new Set<string>();
  const lines = params.items.map((item) => {
    const id = serializeItem(item);
    if (seen.has(id)) throw new ComponentError(`component ${id} is covered twice`);
    seen.add(id);
    const value = componentValue(message, item);
    if (/[\r\n]/.test(value)) throw new ComponentError(`component ${id} spans lines`);
    return `${id}: ${value}`;
  });
  lines.push(`"@signature-params": ${serializeInnerList(params)}`);
  return lines.join('\n');
}

export interface SignatureParameters {
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly alg?: SignatureAlgorithm;
  readonly keyid?: string;
  readonly tag?: string;
}

/** The `@signature-params` inner list (§2.3) for `components` and `params`, in the usual order. */
export function signatureParams(components: readonly (string | Item)[], p: SignatureParameters): InnerList {
  const params: Array<readonly [string, ReturnType<typeof sf.string>]> = [];
  if (p.created !== undefined) params.push(['created', sf.integer(p.created)]);
  if (p.expires !== undefined) params.push(['expires', sf.integer(p.expires)]);
  if (p.keyid !== undefined) params.push(['keyid', sf.string(p.keyid)]);
  if (p.alg !== undefined) params.push(['alg', sf.string(p.alg)]);
  if (p.nonce !== undefined) params.push(['nonce', sf.string(p.nonce)]);
  if (p.tag !== undefined) params.push(['tag', sf.string(p.tag)]);
  return {
    kind: 'inner',
    items: components.map((c) => (typeof c === 'string' ? component(c) : c)),
    params,
  };
}

// ---- Signature-Input + Signature (§4) -----------------------------------------------------------

/** One signature of a message: its label, covered components, parameters and bytes. */
export interface SignatureEntry {
  readonly label: string;
  readonly params: InnerList;
  readonly signature: Buffer;
  /** Covered component identifiers, serialized (`"@method"`, `"@query-param";name="x"`). */
  readonly covered: readonly string[];
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly alg?: string;
  readonly keyid?: string;
  readonly tag?: string;
}

const intParam = (p: Params, n: string) => {
  const v = param(p, n);
  if (v === undefined) return undefined;
  if (v.type !== 'integer') throw new StructuredFieldError(`${n} must be an integer`);
  return v.value;
};
const strParam = (p: Params, n: string) => {
  const v = param(p, n);
  if (v === undefined) return undefined;
  if (v.type !== 'string') throw new StructuredFieldError(`${n} must be a string`);
  return v.value;
};

/**
 * The signatures that appear in both fields (a label in one only is ignored, §4.3). Throws a
 * StructuredFieldError when either field is not a valid Dictionary or a member has the wrong type.
 */
export function parseSignatures(signatureInput: string, signature: string): SignatureEntry[] {
  const inputs = parseDictionary(signatureInput);
  const sigs = parseDictionary(signature);
  const out: SignatureEntry[] = [];
  for (const [label, input] of inputs) {
    const sig = sigs.get(label);
    if (!sig) continue;
    if (input.kind !== 'inner')
      throw new StructuredFieldError(`${label}: Signature-Input member is not a list`);
    if (sig.kind !== 'item' || sig.value.type !== 'bytes')
      throw new StructuredFieldError(`${label}: Signature member is not a byte sequence`);
    if (input.items.some((i) => i.value.type !== 'string'))
      throw new StructuredFieldError(`${label}: a component identifier is not a string`);
    const p = input.params;
    const created = intParam(p, 'created');
    const expires = intParam(p, 'expires');
    const nonce = strParam(p, 'nonce');
    const alg = strParam(p, 'alg');
    const keyid = strParam(p, 'keyid');
    const tag = strParam(p, 'tag');
    out.push({
      label,
      params: input,
      signature: sig.value.value,
      covered: input.items.map(serializeItem),
      ...(created !== undefined ? { created } : {}),
      ...(expires !== undefined ? { expires } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(alg !== undefined ? { alg } : {}),
      ...(keyid !== undefined ? { keyid } : {}),
      ...(tag !== undefined ? { tag } : {}),
    });
  }
  return out;
}

/** `Signature-Input` and `Signature` values for one signature under `label`. */
export function signatureFields(
  label: string,
  params: InnerList,
  signature: Uint8Array,
): { signatureInput: string; signature: string } {
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(label)) throw new StructuredFieldError('bad signature label');
  return {
    signatureInput: `${label}=${serializeInnerList(params)}`,
    signature: `${label}=:${Buffer.from(signature).toString('base64')}:`,
  };
}

// ---- algorithms (§3.3) --------------------------------------------------------------------------

const MIN_RSA_BITS = 2048;

/** The one algorithm a key can be used with (§3.3.7: derived from the key, never from the message). */
export function algorithmOfKey(key: KeyObject): SignatureAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return 'ecdsa-p256-sha256';
  if (
    (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
    (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS
  )
    return 'rsa-pss-sha512';
  return undefined;
}

const RSA_PSS_SHA512 = { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 64 } as const;

/** Signs a signature base (§3.1) with `alg`: ECDSA as raw r||s (§3.3.4), PSS with SHA-512 and a 64-byte salt (§3.3.1). */
export function signBase(alg: SignatureAlgorithm, key: KeyObject, base: string): Buffer {
  const data = Buffer.from(base, 'utf8');
  switch (alg) {
    case 'ed25519':
      return nodeSign(null, data, key);
    case 'ecdsa-p256-sha256':
      return nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'rsa-pss-sha512':
      return nodeSign('sha512', data, { key, ...RSA_PSS_SHA512 });
  }
}

/** Verifies a signature over a base with `alg` and a public key; false for any failure. */
export function verifyBase(
  alg: SignatureAlgorithm,
  key: KeyObject,
  base: string,
  signature: Uint8Array,
): boolean {
  if (algorithmOfKey(key) !== alg) return false;
  const data = Buffer.from(base, 'utf8');
  try {
    switch (alg) {
      case 'ed25519':
        return nodeVerify(null, data, key, signature);
      case 'ecdsa-p256-sha256':
        return nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'rsa-pss-sha512':
        return nodeVerify('sha512', data, { key, ...RSA_PSS_SHA512 }, signature);
    }
  } catch {
    return false;
  }
}

// ---- signing with the platform key ring ---------------------------------------------------------

/** RFC 9421 names of the key ring's algorithms that sign the way RFC 9421 wants (PS256 does not). */
const RING_ALG: Readonly<Record<string, SignatureAlgorithm>> = {
  EdDSA: 'ed25519',
  ES256: 'ecdsa-p256-sha256',
};

interface RingSigner {
  sign(
    purpose: string,
    payload: Uint8Array | string,
  ): Promise<{ kid: string; alg: string; signature: Buffer }>;
}

/**
 * Signs a message with the active key of `purpose`: `paramsFor(keyid, alg)` gives the
 * `@signature-params` list for that key, from which the base is built. The ring decides the key,
 * so it is learnt with a first (empty) signature; if the active key changes between the two (a
 * promotion elsewhere), the work is done again with the new one.
 */
export async function signWithRing(
  ring: RingSigner,
  purpose: string,
  message: HttpMessage,
  paramsFor: (keyid: string, alg: SignatureAlgorithm) => InnerList,
  attempts = 3,
): Promise<{ params: InnerList; signature: Buffer; keyid: string }> {
  const probe = await ring.sign(purpose, Buffer.alloc(0));
  const alg = RING_ALG[probe.alg];
  if (!alg) throw new Error(`no RFC 9421 algorithm for ${probe.alg} keys`);
  const params = paramsFor(probe.kid, alg);
  const sig = await ring.sign(purpose, signatureBase(message, params));
  if (sig.kid !== probe.kid) {
    if (attempts <= 1) throw new Error(`the ${purpose} key keeps changing`);
    return signWithRing(ring, purpose, message, paramsFor, attempts - 1);
  }
  return { params, signature: sig.signature, keyid: sig.kid };
}
