import {
  type CryptoKey,
  errors,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { SIGNING_ALGS, type SigningAlg } from '../../platform/crypto/index.ts';
import { AppError, HttpErrors } from '../../platform/errors/index.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { ExpiringLru } from './cache.ts';
import { DpopKeyCache, dpopReplayKey, sha256Base64url, verifyDpopProof } from './dpop.ts';
import { AuthErrors } from './errors.ts';
import type { AuthorizationDetail, Principal } from './principal.ts';

/** A JWK Set (RFC 7517 §5) of public keys; checked member by member when loaded. */
export interface PublicJwks {
  readonly keys: readonly object[];
}

export interface TokenVerifierOptions {
  /** `config.publicUrl`: the `iss` of every access token (RFC 9068 §4 step 3). */
  readonly issuer: string;
  /** Bulwark's resource indicator, `${publicUrl}/v1` (RFC 8707): the token's `aud` must name it. */
  readonly audience: string;
  /** The authorization server's public signing keys, e.g. `() => signing.publicJwks('oauth')`. */
  readonly keys: () => Promise<PublicJwks> | PublicJwks;
  /** Replay cache of DPoP proofs and revoked token ids; Redis when instances must share them. */
  readonly kv: Kv;
  /** Allowed clock skew for `exp`, `nbf` and the proof's `iat`, in seconds. Default 5, at most 60. */
  readonly clockToleranceSec?: number;
  readonly dpop: {
    /** How long after its `iat` a proof is accepted, in seconds (RFC 9449 §11.1). 1 to 300. */
    readonly iatWindowSec: number;
    /**
     * Server-provided nonces (RFC 9449 §9) are not implemented yet; the type admits only `false`
     * so that no deployment believes they are enforced.
     */
    readonly requireNonce?: false;
  };
  /**
   * Whether a token id has been revoked. Default: a KV lookup of the key `markRevoked` writes.
   * Runs on every request, cached token or not.
   */
  readonly isRevoked?: (jti: string) => Promise<boolean>;
  /** Signature algorithms accepted for tokens and proofs; a subset of ES256, EdDSA, PS256 (all by default). */
  readonly algorithms?: readonly SigningAlg[];
  /** Least time between two key reloads caused by an unknown `kid`, in seconds. Default 30. */
  readonly keysRefreshIntervalSec?: number;
  /**
   * Keys are reloaded when older than this, in seconds, and no verification is cached for longer,
   * so a signing key revoked at the authorization server stops being trusted within it. Default 300.
   */
  readonly keysMaxAgeSec?: number;
  /** How many verified tokens to keep. Default 10 000. */
  readonly cacheSize?: number;
  /** A key reload failed while older keys were still usable (they stay in use). For logging. */
  readonly onKeysError?: (err: unknown) => void;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

/** The credentials of one request, independent of the HTTP framework. */
export interface AuthenticationInput {
  /** The Authorization header, verbatim. */
  readonly authorization: string | undefined;
  /** The DPoP header, verbatim. */
  readonly dpop: string | readonly string[] | undefined;
  readonly method: string;
  /**
   * The absolute URI of the request without query and fragment, as clients reach this server: the
   * configured public URL plus the request path, never the Host header (the client sets that).
   */
  readonly uri: string;
  /** The client certificate (DER) of the connection; asked only for a certificate-bound token. */
  readonly clientCertificate?: () => Uint8Array | undefined;
}

export interface TokenVerifier {
  /** The accepted signature algorithms, for the `algs` of `WWW-Authenticate: DPoP` (RFC 9449 §7.1). */
  readonly algorithms: readonly SigningAlg[];
  /**
   * Verifies the access token (cached by its hash until `exp`), its sender binding (a fresh DPoP
   * proof, or the client certificate) and that it is not revoked. Throws AppError with one of
   * `AUTH_REQUIRED` or the `AuthErrors` codes; other errors (KV or key source unreachable) are internal.
   */
  authenticate(input: AuthenticationInput): Promise<Principal>;
  /** Reloads the keys now (on a `crypto.signing_key.*` event) and forgets tokens of removed keys. */
  refreshKeys(): Promise<void>;
  /** Forgets every cached verification and imported key. */
  clear(): void;
}

/** Token claims every access token must have (RFC 9068 §2.2, plus `client_id` and `jti` we rely on). */
const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'client_id'];
/** RFC 9068 §2.1 and §4: the `typ` that tells an access token from an ID token or other JWT. */
const ACCESS_TOKEN_TYPE = 'at+jwt';
const MAX_TOKEN_LENGTH = 8192;
const MAX_ID_LENGTH = 255;
const MAX_CLOCK_TOLERANCE_SEC = 60;
/** RFC 7638 thumbprints and RFC 8705 §3.1 `x5t#S256`: base64url of a SHA-256 digest. */
const SHA256_B64URL = /^[A-Za-z0-9_-]{43}$/;
/** RFC 9110 §11.1: the scheme is case-insensitive; RFC 9449 §7.1 and RFC 6750 §2.1: token68. */
const AUTHORIZATION = /^(DPoP|Bearer) +([A-Za-z0-9\-._~+/]+=*) *$/i;

interface VerifiedToken {
  readonly principal: Principal;
  readonly jkt: string | undefined;
  readonly x5t: string | undefined;
  readonly kid: string;
  /** When this verification stops being reused, in ms. */
  readonly cacheUntil: number;
}

/** The KV key that marks a token id as revoked. */
function revokedKey(jti: string): string {
  return `authn:revoked:${jti}`;
}

/**
 * Marks an access token as revoked on every instance sharing `kv`, until it would have expired
 * anyway (plus the largest clock tolerance a verifier may use). For the revocation endpoint
 * (RFC 7009) and incident response. `exp` is the token's, in seconds.
 */
/** Whether `jti` is on the shared revocation list (what the authorization server's revocation wrote). */
export async function isRevokedJti(kv: Kv, jti: string): Promise<boolean> {
  return (await kv.get(revokedKey(jti))) !== undefined;
}

export async function markRevoked(kv: Kv, jti: string, exp: number, nowMs = Date.now()): Promise<void> {
  const ttlMs = Math.ceil((exp + MAX_CLOCK_TOLERANCE_SEC) * 1000 - nowMs);
  // A token past that point is refused as expired by every verifier: nothing to remember.
  if (ttlMs <= 0) return;
  await kv.set(revokedKey(jti), '1', { ttlMs });
}

const tokenInvalid = (detail?: string) => new AppError(AuthErrors.AUTH_TOKEN_INVALID, detail);
const bindingMismatch = (detail: string) => new AppError(AuthErrors.AUTH_TOKEN_BINDING_MISMATCH, detail);

/** A `kid` we cannot use: unknown, or its key does not fit the token's algorithm. */
class UnusableKey extends Error {}

/**
 * The resource-server side of Bulwark's OAuth: verifies RFC 9068 JWT access tokens and their
 * sender binding (RFC 9449 DPoP or RFC 8705 mTLS) for every non-public request.
 *
 * The work per request is arranged so that only what must be is repeated: a token is verified with
 * `jose` once and then found by the SHA-256 of its text (one hash, which is also the proof's
 * `ath`, and one map lookup) until it expires; the revocation check and the DPoP proof — its
 * signature is the one unavoidable public-key operation per request — run every time.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const clockToleranceSec = options.clockToleranceSec ?? 5;
  const iatWindowSec = options.dpop.iatWindowSec;
  const algorithms = options.algorithms ?? SIGNING_ALGS;
  const refreshIntervalMs = (options.keysRefreshIntervalSec ?? 30) * 1000;
  const keysMaxAgeMs = (options.keysMaxAgeSec ?? 300) * 1000;
  if (!options.issuer || !options.audience) throw new Error('token verifier needs an issuer and an audience');
  if (
    !Number.isInteger(clockToleranceSec) ||
    clockToleranceSec < 0 ||
    clockToleranceSec > MAX_CLOCK_TOLERANCE_SEC
  ) {
    throw new Error(`clockToleranceSec must be an integer from 0 to ${MAX_CLOCK_TOLERANCE_SEC}`);
  }
  if (!Number.isInteger(iatWindowSec) || iatWindowSec < 1 || iatWindowSec > 300) {
    // A long window means a long replay cache and a long life for a stolen proof (RFC 9449 §11.1).
    throw new Error('dpop.iatWindowSec must be an integer from 1 to 300');
  }
  if (algorithms.length === 0 || algorithms.some((a) => !SIGNING_ALGS.includes(a))) {
    throw new Error(`algorithms must be a non-empty subset of ${SIGNING_ALGS.join(', ')}`);
  }
  if (!(refreshIntervalMs >= 0) || !(keysMaxAgeMs > 0))
    throw new Error('key refresh intervals must be positive');

  const allowedAlgs: ReadonlySet<SigningAlg> = new Set(algorithms);
  const { kv } = options;
  const isRevoked = options.isRevoked ?? ((jti: string) => isRevokedJti(kv, jti));
  // A proof is accepted from its arrival until iat + window (+ tolerance), where iat may lie up to
  // the tolerance ahead: its jti must be remembered at least that long (RFC 9449 §11.1).
  const replayTtlMs = (iatWindowSec + 2 * clockToleranceSec + 1) * 1000;

  const tokens = new ExpiringLru<string, VerifiedToken>(options.cacheSize ?? 10_000);
  const inflight = new Map<string, Promise<VerifiedToken>>();
  const proofKeys = new DpopKeyCache();
  const keys = createKeyStore({
    source: options.keys,
    now,
    refreshIntervalMs,
    maxAgeMs: keysMaxAgeMs,
    onError: options.onKeysError,
    onRemoved: (kids) => tokens.deleteWhere((t) => kids.has(t.kid)),
  });
  const verifyOptions = {
    algorithms: [...algorithms],
    typ: ACCESS_TOKEN_TYPE,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: clockToleranceSec,
    requiredClaims: REQUIRED_CLAIMS,
  };

  async function verifyJwt(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, keys.resolve, {
        ...verifyOptions,
        currentDate: new Date(now()),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AppError(AuthErrors.AUTH_TOKEN_EXPIRED);
      // Everything jose refuses — `alg: none`, HS256 (not in the allow-list, so a public key can
      // never be used as an HMAC secret), bad signature, wrong typ/iss/aud — and unusable kids.
      if (err instanceof errors.JOSEError || err instanceof UnusableKey) throw tokenInvalid();
      throw err;
    }
    const verified = toVerifiedToken(payload, header.kid as string);
    // Never reused past exp (plus the tolerance jose allowed) nor past the key set's max age.
    const cacheUntil = Math.min(
      (verified.principal.expiresAt + clockToleranceSec) * 1000,
      now() + keysMaxAgeMs,
    );
    return { ...verified, cacheUntil };
  }

  /** The verified token for `digest`, from the cache or verified once however many ask at a time. */
  async function verifiedToken(token: string, digest: string): Promise<VerifiedToken> {
    const hit = tokens.get(digest, now());
    if (hit) return hit;
    let pending = inflight.get(digest);
    if (!pending) {
      pending = verifyJwt(token).finally(() => inflight.delete(digest));
      inflight.set(digest, pending);
    }
    const verified = await pending;
    tokens.set(digest, verified, verified.cacheUntil);
    return verified;
  }

  return {
    algorithms: Object.freeze([...algorithms]),

    async authenticate(input) {
      const { authorization } = input;
      if (authorization === undefined || authorization === '') throw new AppError(HttpErrors.AUTH_REQUIRED);
      const match = authorization.length <= MAX_TOKEN_LENGTH ? AUTHORIZATION.exec(authorization) : null;
      if (!match) {
        // RFC 6750 §3.1: credentials of another scheme are no credentials for us (no error code).
        if (!/^(DPoP|Bearer)(?: |$)/i.test(authorization)) throw new AppError(HttpErrors.AUTH_REQUIRED);
        throw tokenInvalid('The Authorization header does not carry a well-formed token');
      }
      const scheme = match[1]!.toLowerCase();
      const token = match[2]!;
      // One hash serves as the cache key and as the `ath` the DPoP proof must carry.
      const digest = sha256Base64url(token);
      const verified = await verifiedToken(token, digest);
      const { principal } = verified;

      let replayKey: string | undefined;
      if (verified.jkt !== undefined) {
        // RFC 9449 §7.1-7.2: a DPoP-bound token is only ever accepted with the DPoP scheme and a
        // proof; presented as a bearer token it would be usable by whoever stole it.
        if (scheme !== 'dpop')
          throw bindingMismatch('A DPoP-bound access token must be sent with the DPoP scheme');
        if (typeof input.dpop !== 'string') {
          throw new AppError(AuthErrors.AUTH_DPOP_PROOF_INVALID, 'Exactly one DPoP header is required');
        }
        const proof = verifyDpopProof(
          {
            proof: input.dpop,
            method: input.method,
            uri: input.uri,
            ath: digest,
            jkt: verified.jkt,
            nowSec: Math.floor(now() / 1000),
            iatWindowSec,
            clockToleranceSec,
            algorithms: allowedAlgs,
          },
          proofKeys,
        );
        replayKey = dpopReplayKey(verified.jkt, proof.jti);
      } else {
        // RFC 8705 §3: a certificate-bound token travels as a Bearer token over the mutual-TLS
        // connection whose certificate it names; a DPoP scheme would claim a binding it lacks.
        if (scheme !== 'bearer') throw bindingMismatch('The access token is not bound to a DPoP key');
        const certificate = input.clientCertificate?.();
        if (!certificate || sha256Base64url(certificate) !== verified.x5t) {
          throw bindingMismatch('The access token is bound to another client certificate');
        }
      }

      // Revocation every time, cached token or not. The replay check last, after every local check
      // passed, so a proof refused for another reason consumes no jti (a revoked token's proof may:
      // harmless). The two run together: one round trip of latency to Redis, not two.
      const [revoked, fresh] = await Promise.all([
        isRevoked(principal.tokenId),
        replayKey === undefined ? true : kv.setIfAbsent(replayKey, '1', replayTtlMs),
      ]);
      if (revoked) {
        tokens.delete(digest);
        throw new AppError(AuthErrors.AUTH_TOKEN_REVOKED);
      }
      if (!fresh) throw new AppError(AuthErrors.AUTH_DPOP_PROOF_REPLAYED);
      return principal;
    },

    refreshKeys: () => keys.refresh(),

    clear() {
      tokens.clear();
      proofKeys.clear();
      keys.clear();
    },
  };
}

/** Checks the claims jose leaves to us (types, binding) and builds the shared, frozen principal. */
function toVerifiedToken(p: JWTPayload, kid: string): Omit<VerifiedToken, 'cacheUntil'> {
  const { sub, client_id: clientId, jti, tenant_id: tenantId, exp } = p;
  if (!isId(sub) || !isId(clientId) || !isId(jti) || !isId(tenantId) || typeof exp !== 'number') {
    throw tokenInvalid('The access token lacks a required claim');
  }
  // Optional claims: absent, or JSON null (the authorization server writes `partner_id: null` for a
  // tenant's own app), or of the right type.
  const partnerId = optional(p.partner_id, isId, 'partner_id');
  const scope = optional(p.scope, isString, 'scope');
  const roles = optional(p.roles, isStringArray, 'roles');
  const acr = optional(p.acr, isString, 'acr');
  const amr = optional(p.amr, isStringArray, 'amr');
  const details = optional(p.authorization_details, isAuthorizationDetails, 'authorization_details');

  // Exactly one sender constraint (RFC 9449 §6.1 `jkt` or RFC 8705 §3.1 `x5t#S256`): FAPI 2.0
  // §5.3.2.2 accepts no bearer tokens, and the authorization server never issues both.
  const cnf = p.cnf;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) {
    throw tokenInvalid('The access token is not sender-constrained');
  }
  const { jkt, 'x5t#S256': x5t } = cnf as Readonly<Record<string, unknown>>;
  const hasJkt = jkt !== undefined;
  if (hasJkt === (x5t !== undefined)) throw tokenInvalid('The access token must have exactly one binding');
  if (hasJkt ? !isThumbprint(jkt) : !isThumbprint(x5t)) throw tokenInvalid('The token binding is malformed');

  const principal: Principal = Object.freeze({
    kind: sub === clientId ? 'client' : 'user',
    subject: sub,
    clientId,
    tenantId,
    partnerId,
    roles: Object.freeze([...(roles ?? [])]),
    // RFC 6749 §3.3: space-delimited.
    scopes: new Set((scope ?? '').split(' ').filter((s) => s !== '')),
    acr,
    amr: amr === undefined ? undefined : Object.freeze([...amr]),
    authorizationDetails: details === undefined ? undefined : deepFreeze(structuredClone(details)),
    tokenId: jti,
    binding: hasJkt ? 'dpop' : 'mtls',
    expiresAt: exp,
  });
  return {
    principal,
    jkt: hasJkt ? (jkt as string) : undefined,
    x5t: hasJkt ? undefined : (x5t as string),
    kid,
  };
}

function optional<T>(value: unknown, is: (v: unknown) => v is T, name: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (!is(value)) throw tokenInvalid(`The access token claim ${name} is malformed`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
const isThumbprint = (v: unknown): v is string => typeof v === 'string' && SHA256_B64URL.test(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

/** RFC 9396 §2: an array of objects, each with a string `type`. */
function isAuthorizationDetails(v: unknown): v is AuthorizationDetail[] {
  return (
    Array.isArray(v) &&
    v.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d) && typeof d.type === 'string')
  );
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

// ---- signing keys ------------------------------------------------------------------------------

interface KeyStoreOptions {
  readonly source: () => Promise<PublicJwks> | PublicJwks;
  readonly now: () => number;
  readonly refreshIntervalMs: number;
  readonly maxAgeMs: number;
  readonly onError: ((err: unknown) => void) | undefined;
  readonly onRemoved: (kids: ReadonlySet<string>) => void;
}

interface KnownKey {
  /** The public members only, as loaded; compared to notice a kid whose key changed. */
  readonly jwk: JWK;
  readonly json: string;
  /** Imported once per algorithm and reused: importing costs as much as a verification. */
  readonly imported: Map<string, Promise<CryptoKey>>;
}

/** Public members per key type (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2). Anything else is ignored. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
};

/**
 * The authorization server's public keys by `kid`, imported once each. An unknown `kid` reloads the
 * set at most once per `refreshIntervalMs` (a flood of made-up kids cannot turn into a flood of
 * reloads); the set is also reloaded once older than `maxAgeMs`. Reloads are single-flight.
 */
function createKeyStore(options: KeyStoreOptions) {
  let known = new Map<string, KnownKey>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  async function load(): Promise<void> {
    lastAttempt = options.now();
    const jwks = await options.source();
    const next = new Map<string, KnownKey>();
    for (const candidate of Array.isArray(jwks?.keys) ? jwks.keys : []) {
      const parsed = publicKeyOf(candidate as Readonly<Record<string, unknown>>);
      if (!parsed) continue;
      const json = JSON.stringify(parsed.jwk);
      const previous = known.get(parsed.kid);
      next.set(
        parsed.kid,
        previous?.json === json ? previous : { jwk: parsed.jwk, json, imported: new Map() },
      );
    }
    const removed = new Set([...known.keys()].filter((kid) => next.get(kid) !== known.get(kid)));
    known = next;
    loadedAt = options.now();
    if (removed.size > 0) options.onRemoved(removed);
  }

  function refresh(): Promise<void> {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  const resolve = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    const { kid, alg } = header;
    if (typeof kid !== 'string' || typeof alg !== 'string') throw new UnusableKey();
    const t = options.now();
    if (loadedAt === Number.NEGATIVE_INFINITY) {
      await refresh();
    } else if (t - loadedAt >= options.maxAgeMs && t - lastAttempt >= options.refreshIntervalMs) {
      // Stale keys still verify if the reload fails: an outage of the key source must not turn
      // into an outage of the API; the reload is retried after the refresh interval.
      await refresh().catch((err: unknown) => options.onError?.(err));
    }
    let entry = known.get(kid);
    if (!entry && options.now() - lastAttempt >= options.refreshIntervalMs) {
      await refresh();
      entry = known.get(kid);
    }
    if (!entry) throw new UnusableKey();
    // A key that names its algorithm is used with that one only (RFC 7517 §4.4; RFC 8725 §3.1).
    if (entry.jwk.alg !== undefined && entry.jwk.alg !== alg) throw new UnusableKey();
    let imported = entry.imported.get(alg);
    if (!imported) {
      imported = importJWK({ ...entry.jwk, alg }, alg).then((key) => {
        // Only asymmetric keys were loaded, so this is never a secret; refuse one all the same.
        if (key instanceof Uint8Array) throw new UnusableKey();
        return key;
      });
      entry.imported.set(alg, imported);
    }
    try {
      return await imported;
    } catch {
      // A key that does not fit the algorithm (an RSA key under ES256, say): forget the failed
      // import so the cache does not hold a rejected promise, and refuse the token.
      entry.imported.delete(alg);
      throw new UnusableKey();
    }
  };

  return {
    resolve,
    refresh,
    clear() {
      known = new Map();
      loadedAt = Number.NEGATIVE_INFINITY;
      lastAttempt = Number.NEGATIVE_INFINITY;
    },
  };
}

/** The public part of a signing JWK with a `kid`, or undefined for anything else (private, symmetric, encryption). */
function publicKeyOf(jwk: Readonly<Record<string, unknown>>): { kid: string; jwk: JWK } | undefined {
  const members = typeof jwk.kty === 'string' ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  if (!members || typeof jwk.kid !== 'string' || jwk.kid === '') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.alg !== undefined && !(SIGNING_ALGS as readonly unknown[]).includes(jwk.alg)) return undefined;
  const out: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== 'string') return undefined;
    out[m] = jwk[m];
  }
  if (jwk.alg !== undefined) out.alg = jwk.alg;
  return { kid: jwk.kid, jwk: out as JWK };
}
