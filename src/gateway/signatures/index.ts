/**
 * RFC 9421 HTTP Message Signatures (with RFC 9530 Content-Digest) on the partner API.
 *
 * Requests. A route opts in with `config: { messageSignature: 'required' | 'optional' }`. The
 * caller signs with a key of its app's registered JWKS (`keyid` = the JWK's `kid`); the algorithm
 * comes from the key: ecdsa-p256-sha256 (EC P-256), ed25519 (OKP Ed25519) or rsa-pss-sha512 (RSA
 * >= 2048 bits). The signature must cover `@method`, `@target-uri` (or `@authority` + `@path` +
 * `@query`) and, when there is a body, `content-digest`; its parameters must include `created`
 * (at most 300 s old, 30 s ahead), `keyid` and a `nonce` (8-256 characters, usable once: the
 * replay cache lives in the KV store, Redis-shared across instances). Refusals, in the order the
 * checks run: SIGNATURE_MISSING, SIGNATURE_MALFORMED, SIGNATURE_COVERAGE_INSUFFICIENT,
 * SIGNATURE_KEY_UNKNOWN, SIGNATURE_ALGORITHM_UNSUPPORTED, SIGNATURE_EXPIRED, SIGNATURE_INVALID,
 * CONTENT_DIGEST_MISSING / CONTENT_DIGEST_MISMATCH (the body changed after signing),
 * SIGNATURE_REPLAYED. 401s carry `Accept-Signature` (§5.1).
 *
 * Responses. Signed when the caller sends `Accept-Signature` (or the route says `signResponses:
 * true`): `Content-Digest` of the bytes sent, and a signature by the platform key ring (purpose
 * `message`, Ed25519) over `@status`, `content-type`, `content-digest`, `"@method";req`,
 * `"@target-uri";req` plus whatever else the caller asked for that the response has, with the
 * caller's label, nonce and tag when given. The public keys: `GET /.well-known/payload-keys.json`.
 *
 * Wiring (app.ts, /v1 face, after authentication): checkRoute on onRoute, preParsing (keeps the
 * raw body only on opted-in routes), preValidation, and onSend AFTER any hook that changes the
 * payload (JWE).
 */

import { clientLookup } from '../../identity/oauth/clients.ts';
import { LruCache } from '../../platform/crypto/lru.ts';
import type { Database } from '../../platform/db/index.ts';

export { SignatureErrors } from './errors.ts';
export {
  MESSAGE_KEY_PURPOSE,
  type MessageSignatureOptions,
  messageSignatureHooks,
  RESPONSE_SIGNATURE_TAG,
  rawBodyOf,
} from './hooks.ts';
export {
  ACCEPT_SIGNATURE,
  createSignatureVerifier,
  REQUIRED_COMPONENTS,
  SIGNATURE_SKEW_SEC,
  SIGNATURE_WINDOW_SEC,
  type SignatureVerifier,
  type VerifiedSignature,
} from './verify.ts';

/**
 * The registered JWKS of an active app, by client id, cached for `ttlMs` (a key added or removed
 * takes effect within that time on every instance).
 */
export function registeredClientKeys(db: Database, ttlMs = 60_000) {
  const lookup = clientLookup(db);
  const cache = new LruCache<string, readonly Record<string, unknown>[] | null>(10_000, ttlMs);
  return async (clientId: string): Promise<readonly Record<string, unknown>[] | undefined> => {
    const hit = cache.get(clientId);
    if (hit !== undefined) return hit ?? undefined;
    const keys = (await lookup(clientId))?.jwks?.keys ?? null;
    cache.set(clientId, keys);
    return keys ?? undefined;
  };
}
