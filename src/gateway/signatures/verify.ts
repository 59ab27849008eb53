/**
 * Bulwark's RFC 9421 profile for requests partners sign: what a signature must cover, how fresh
 * it must be, which keys and algorithms count, and the nonce replay cache. No Fastify here: the
 * hooks (hooks.ts) hand in the message as received and the client's registered keys.
 */
import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { AppError } from '../../platform/errors/index.ts';
import {
  algorithmOfKey,
  ComponentError,
  checkContentDigest,
  type HttpMessage,
  parseSignatures,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  type SignatureEntry,
  signatureBase,
  verifyBase,
} from '../../platform/http/message-signatures.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { SignatureErrors } from './errors.ts';

/** How old a signature's `created` may be, in seconds (and how long its nonce is remembered). */
export const SIGNATURE_WINDOW_SEC = 300;
/** How far in the future `created` may lie (clock skew), in seconds. */
export const SIGNATURE_SKEW_SEC = 30;
const NONCE_RE = /^[\x21-\x7e]{8,256}$/;

/**
 * What a partner's request signature must cover (RFC 9421 §1.4 leaves this to the application):
 * the method and the whole target — `@target-uri`, or `@authority` + `@path` + `@query` — and,
 * when there is a body, `content-digest` (RFC 9530), so the body is signed through its digest.
 */
export const REQUIRED_COMPONENTS = Object.freeze({
  always: ['"@method"'],
  target: [['"@target-uri"'], ['"@authority"', '"@path"', '"@query"']],
  withBody: ['"content-digest"'],
});

/** `Accept-Signature` (RFC 9421 §5.1) telling a caller what we expect: sent with every refusal. */
export const ACCEPT_SIGNATURE =
  'sig1=("@method" "@target-uri" "content-type" "content-digest");created;nonce;keyid;alg="ecdsa-p256-sha256"';

export interface VerifiedSignature {
  readonly label: string;
  readonly keyid: string;
  readonly alg: SignatureAlgorithm;
  readonly created: number;
  readonly nonce: string;
  readonly covered: readonly string[];
}

export interface SignedRequest extends HttpMessage {
  readonly method: string;
  readonly targetUri: string;
  /** The body bytes exactly as received; undefined or empty when there is none. */
  readonly body: Uint8Array | undefined;
}

export interface VerifierOptions {
  /** Nonce replay cache: shared by every instance (Redis) in a scale-out deployment. */
  readonly kv: Kv;
  readonly now?: () => number;
  readonly windowSec?: number;
  readonly skewSec?: number;
}

const fail = (code: keyof typeof SignatureErrors, detail?: string): never => {
  throw new AppError(SignatureErrors[code], detail);
};

/** Imported keys, by the JWK object they came from (the client-key cache hands out the same objects). */
const imported = new WeakMap<object, KeyObject | null>();

/** The client's public signing key `kid` (a JWKS member without `use`, or `use: sig`). */
function keyFor(jwks: readonly Record<string, unknown>[], kid: string): KeyObject | undefined {
  const jwk = jwks.find((k) => k.kid === kid && (k.use === undefined || k.use === 'sig'));
  if (!jwk) return undefined;
  let key = imported.get(jwk);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      key = null;
    }
    imported.set(jwk, key);
  }
  return key ?? undefined;
}

export function createSignatureVerifier(options: VerifierOptions) {
  const now = options.now ?? Date.now;
  const windowSec = options.windowSec ?? SIGNATURE_WINDOW_SEC;
  const skewSec = options.skewSec ?? SIGNATURE_SKEW_SEC;

  function covers(entry: SignatureEntry, hasBody: boolean): boolean {
    const c = new Set(entry.covered);
    return (
      REQUIRED_COMPONENTS.always.every((x) => c.has(x)) &&
      REQUIRED_COMPONENTS.target.some((set) => set.every((x) => c.has(x))) &&
      (!hasBody || REQUIRED_COMPONENTS.withBody.every((x) => c.has(x)))
    );
  }

  return {
    /**
     * Verifies the request's signature against the calling client's keys, in this order: present
     * and well-formed -> covers what it must (with created, keyid, nonce) -> key known -> algorithm
     * -> fresh -> signature -> body matches the signed digest -> nonce unused. Throws an AppError
     * with the first failing step's code.
     */
    async verify(
      req: SignedRequest,
      client: { readonly clientId: string; readonly keys: readonly Record<string, unknown>[] },
    ): Promise<VerifiedSignature> {
      const input = req.headers['signature-input'];
      const signature = req.headers.signature;
      if (input === undefined && signature === undefined) return fail('SIGNATURE_MISSING');
      if (typeof input !== 'string' || typeof signature !== 'string') return fail('SIGNATURE_MALFORMED');
      let entries: SignatureEntry[];
      try {
        entries = parseSignatures(input, signature);
      } catch {
        return fail('SIGNATURE_MALFORMED');
      }
      if (entries.length === 0) return fail('SIGNATURE_MALFORMED', 'No label appears in both fields');
      // A message may carry several signatures (a proxy's, say): ours is one by a key of this client.
      const entry = entries.find((e) => e.keyid !== undefined && keyFor(client.keys, e.keyid)) ?? entries[0]!;

      const hasBody = (req.body?.length ?? 0) > 0;
      if (!covers(entry, hasBody) || entry.created === undefined || !entry.keyid || entry.nonce === undefined)
        return fail('SIGNATURE_COVERAGE_INSUFFICIENT');
      if (!NONCE_RE.test(entry.nonce))
        return fail('SIGNATURE_COVERAGE_INSUFFICIENT', 'The nonce must be 8 to 256 printable characters');
      const key = keyFor(client.keys, entry.keyid);
      if (!key) return fail('SIGNATURE_KEY_UNKNOWN');
      const alg = algorithmOfKey(key);
      if (!alg) return fail('SIGNATURE_ALGORITHM_UNSUPPORTED');
      if (entry.alg !== undefined) {
        if (!(SIGNATURE_ALGORITHMS as readonly string[]).includes(entry.alg))
          return fail('SIGNATURE_ALGORITHM_UNSUPPORTED');
        // §3.2: the algorithm named must be the one the key is for; never the message's choice.
        if (entry.alg !== alg) return fail('SIGNATURE_INVALID');
      }
      const nowSec = Math.floor(now() / 1000);
      if (entry.created < nowSec - windowSec || entry.created > nowSec + skewSec)
        return fail('SIGNATURE_EXPIRED');
      if (entry.expires !== undefined && entry.expires <= nowSec) return fail('SIGNATURE_EXPIRED');

      let base: string;
      try {
        base = signatureBase(req, entry.params);
      } catch (err) {
        if (err instanceof ComponentError) return fail('SIGNATURE_INVALID', err.message);
        throw err;
      }
      if (!verifyBase(alg, key, base, entry.signature)) return fail('SIGNATURE_INVALID');

      // The signature holds, so the Content-Digest header is the signer's: now the body must match it.
      if (entry.covered.includes('"content-digest"')) {
        const digest = req.headers['content-digest'];
        if (typeof digest !== 'string') return fail('CONTENT_DIGEST_MISSING');
        const verdict = checkContentDigest(digest, req.body ?? new Uint8Array());
        if (verdict !== 'ok')
          return fail(
            'CONTENT_DIGEST_MISMATCH',
            verdict === 'mismatch' ? undefined : `Content-Digest is ${verdict} (sha-256 or sha-512 expected)`,
          );
      } else if (hasBody) {
        return fail('CONTENT_DIGEST_MISSING');
      }

      // Last, so only a valid signature spends a nonce. Remembered while `created` stays acceptable.
      const slot = createHash('sha256').update(`${client.clientId}\u0000${entry.nonce}`).digest('base64url');
      const fresh = await options.kv.setIfAbsent(`sig-nonce:${slot}`, '1', (windowSec + skewSec) * 1000);
      if (!fresh) return fail('SIGNATURE_REPLAYED');
      return {
        label: entry.label,
        keyid: entry.keyid,
        alg,
        created: entry.created,
        nonce: entry.nonce,
        covered: entry.covered,
      };
    },
  };
}

export type SignatureVerifier = ReturnType<typeof createSignatureVerifier>;
