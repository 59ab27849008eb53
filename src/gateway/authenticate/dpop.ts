import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isSigningAlg, jwkThumbprint, type SigningAlg } from '../../platform/crypto/index.ts';
import { verifyBytes } from '../../platform/crypto/jwk.ts';
import { AppError } from '../../platform/errors/index.ts';
import { ExpiringLru } from './cache.ts';
import { AuthErrors } from './errors.ts';

/** A proof carries one public JWK and a few claims; anything far larger is not a DPoP proof. */
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const MAX_HTU_LENGTH = 4096;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037
 * §2). RFC 9449 §4.3 step 7: the proof's `jwk` must not contain a private key.
 */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** RSA below 2048 bits is refused (RFC 7518 §3.5 floor; FAPI 2.0 §5.4.1). */
const MIN_RSA_BITS = 2048;

export interface DpopProofCheck {
  /** The `DPoP` request header, verbatim. */
  readonly proof: string;
  /** The request method (RFC 9449 §4.2 `htm`; methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The request's absolute URI without query and fragment, as this server is reached (`htu`). */
  readonly uri: string;
  /** base64url(SHA-256(access token)): the proof must carry it as `ath` (RFC 9449 §4.2). */
  readonly ath: string;
  /** The token's `cnf.jkt`: the thumbprint the proof's key must have (RFC 9449 §6.1). */
  readonly jkt: string;
  readonly nowSec: number;
  /** How old (or, within `clockToleranceSec`, how far ahead) `iat` may be. */
  readonly iatWindowSec: number;
  readonly clockToleranceSec: number;
  readonly algorithms: ReadonlySet<SigningAlg>;
}

/** What the replay cache needs of a proof that passed every other check. */
export interface VerifiedProof {
  readonly jti: string;
  readonly iat: number;
}

const invalidProof = (detail: string) => new AppError(AuthErrors.AUTH_DPOP_PROOF_INVALID, detail);

/**
 * Public keys of DPoP proofs, imported once and reused: clients sign every request with the same
 * key, and importing a P-256 JWK (point validation) costs as much as verifying the signature.
 * Keyed by RFC 7638 thumbprint, which is a function of exactly the members the import reads, so
 * one thumbprint always stands for one key. Only keys whose thumbprint matched a verified token's
 * `cnf.jkt` are imported, so callers cannot fill it with keys of their choosing.
 */
export class DpopKeyCache {
  private readonly keys: ExpiringLru<string, KeyObject>;

  constructor(max = 10_000) {
    this.keys = new ExpiringLru(max);
  }

  keyFor(jkt: string, jwk: Readonly<Record<string, unknown>>): KeyObject {
    let key = this.keys.get(jkt, 0);
    if (key) return key;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      throw invalidProof('The DPoP proof key is not a valid public key');
    }
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (key.asymmetricKeyType === 'rsa' && (bits === undefined || bits < MIN_RSA_BITS)) {
      throw invalidProof('The DPoP proof key is too weak');
    }
    this.keys.set(jkt, key, Number.POSITIVE_INFINITY);
    return key;
  }

  clear(): void {
    this.keys.clear();
  }
}

/**
 * Verifies a DPoP proof for one request, RFC 9449 §4.3, except the `jti` replay check, which the
 * caller makes last against the shared replay cache. Cheap checks come first, the signature last:
 * a proof made for another request, or with a key the token is not bound to, is refused without
 * paying for a signature verification. The `nonce` claim is not checked: Bulwark issues no
 * server nonces yet (§9), and §4.3 step 10 applies only when the server provided one.
 */
export function verifyDpopProof(check: DpopProofCheck, keys: DpopKeyCache): VerifiedProof {
  const { proof } = check;
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    // §4.3 step 2: one well-formed JWT. Also catches two DPoP headers, which Node joins with ", ".
    throw invalidProof('The DPoP proof is not a compact JWS');
  }
  const firstDot = proof.indexOf('.');
  const secondDot = proof.indexOf('.', firstDot + 1);
  const header = decodeJson(proof.slice(0, firstDot));
  const claims = decodeJson(proof.slice(firstDot + 1, secondDot));
  if (!header || !claims) throw invalidProof('The DPoP proof header or claims are not a JSON object');

  // §4.3 step 4: typ is dpop+jwt (a media type, so case-insensitive; RFC 7515 §4.1.9 allows the
  // "application/" prefix to be omitted).
  if (typeof header.typ !== 'string' || !isDpopType(header.typ)) {
    throw invalidProof('The DPoP proof typ is not dpop+jwt');
  }
  // §4.3 step 5: an asymmetric algorithm we allow; never none, never HMAC.
  const alg = header.alg;
  if (!isSigningAlg(alg) || !check.algorithms.has(alg)) {
    throw invalidProof('The DPoP proof algorithm is not allowed');
  }
  // RFC 7515 §4.1.11: we understand no extension, so a proof that declares one is refused.
  if (header.crit !== undefined) throw invalidProof('The DPoP proof uses an unsupported extension');
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw invalidProof('The DPoP proof carries no public key');
  }
  const key = jwk as Readonly<Record<string, unknown>>;
  // §4.3 step 7.
  for (const member of PRIVATE_MEMBERS) {
    if (key[member] !== undefined) throw invalidProof('The DPoP proof key must be a public key');
  }
  if (!keyFitsAlg(key, alg)) throw invalidProof('The DPoP proof key does not fit its algorithm');

  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalidProof('The DPoP proof has no valid jti');
  }
  if (nonce !== undefined && typeof nonce !== 'string')
    throw invalidProof('The DPoP proof nonce is malformed');
  // §4.3 step 8.
  if (htm !== check.method) throw invalidProof('The DPoP proof was made for another HTTP method');
  // §4.3 step 9.
  if (typeof htu !== 'string' || !sameHtu(htu, check.uri)) {
    throw invalidProof('The DPoP proof was made for another URI');
  }
  // §4.3 step 11 and §11.1: a proof is accepted only briefly after it was made.
  if (
    typeof iat !== 'number' ||
    !Number.isFinite(iat) ||
    iat < check.nowSec - check.iatWindowSec - check.clockToleranceSec ||
    iat > check.nowSec + check.clockToleranceSec
  ) {
    throw invalidProof('The DPoP proof is not fresh (iat)');
  }
  // §4.3 step 12, first half: the proof names this very access token.
  if (ath !== check.ath) throw invalidProof('The DPoP proof ath does not match the access token');

  // §4.3 step 12, second half: the token is bound to this key. Checked before the signature, so
  // a key the token is not bound to is never imported.
  let thumbprint: string;
  try {
    thumbprint = jwkThumbprint(key as JsonWebKey);
  } catch {
    throw invalidProof('The DPoP proof key is incomplete');
  }
  if (thumbprint !== check.jkt) {
    throw new AppError(
      AuthErrors.AUTH_TOKEN_BINDING_MISMATCH,
      'The access token is bound to another DPoP key than the one that signed the proof',
    );
  }

  // §4.3 step 6.
  const signed = Buffer.from(proof.slice(0, secondDot), 'ascii');
  const signature = Buffer.from(proof.slice(secondDot + 1), 'base64url');
  if (!verifyBytes(alg, keys.keyFor(thumbprint, key), signed, signature)) {
    throw invalidProof('The DPoP proof signature does not verify');
  }
  return { jti, iat };
}

/** base64url(SHA-256(value)), as `ath` (RFC 9449 §4.2) and the verification cache key. */
export function sha256Base64url(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * The replay-cache key of a proof: its `jti` within its key (RFC 9449 §11.1), hashed so that the
 * caller-chosen `jti` sets neither the length nor the characters of a Redis key.
 */
export function dpopReplayKey(jkt: string, jti: string): string {
  return `authn:dpop-jti:${sha256Base64url(`${jkt}\n${jti}`)}`;
}

/**
 * Whether a proof's `htu` names `expected`. Both are compared after RFC 3986 §6.2.2 syntax-based
 * and §6.2.3 scheme-based normalisation, as RFC 9449 §4.3 asks, so `HTTPS://API.example:443/a/./b`
 * names `https://api.example/a/b`; query and fragment are ignored (§4.2). The identical string,
 * what clients nearly always send, skips the parsing.
 */
export function sameHtu(htu: string, expected: string): boolean {
  if (htu === expected) return true;
  const a = normaliseUri(htu);
  return a !== undefined && a === normaliseUri(expected);
}

const PERCENT_ENCODED = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * `scheme://host[:port]/path` of an http(s) URI, normalised: scheme and host lower-cased, default
 * port dropped, dot segments removed (WHATWG URL parsing does these), percent-encodings of
 * unreserved characters decoded and the rest upper-cased (RFC 3986 §6.2.2.2) — decoded before the
 * dot segments are removed, as §6.2.2.3 orders. Undefined for anything else.
 */
export function normaliseUri(value: string): string | undefined {
  if (value.length > MAX_HTU_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(
      value.replace(PERCENT_ENCODED, (_, hex: string) => {
        const char = String.fromCharCode(Number.parseInt(hex, 16));
        return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
      }),
    );
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function decodeJson(part: string): Readonly<Record<string, unknown>> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    return value as Readonly<Record<string, unknown>>;
  } catch {
    return undefined;
  }
}

function isDpopType(typ: string): boolean {
  const t = typ.toLowerCase();
  return t === 'dpop+jwt' || t === 'application/dpop+jwt';
}

/** The key type and curve each algorithm takes (RFC 7518 §3.4–3.5, RFC 8037 §3.1). */
function keyFitsAlg(jwk: Readonly<Record<string, unknown>>, alg: SigningAlg): boolean {
  switch (alg) {
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256';
    case 'PS256':
      return jwk.kty === 'RSA';
    case 'EdDSA':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  }
}
