/**
 * Webhook signatures. Every delivery carries two independent signatures:
 *
 * 1. `Bulwark-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]` — HMAC-SHA256 with the
 *    subscription's secret over `<t>.<raw body>` (the Stripe / Standard Webhooks scheme). The key
 *    is the secret string exactly as shown at creation (`whsec_…`), as UTF-8 bytes. During a
 *    secret rotation's overlap window there is one `v1` per live secret (newest first); a receiver
 *    accepts the message if any of them matches a secret it holds. Receivers must refuse a `t`
 *    more than `TIMESTAMP_TOLERANCE_SEC` (5 minutes) away from their clock (replay window) and
 *    compare in constant time.
 *
 * 2. RFC 9421 HTTP Message Signatures with the platform key ring (purpose `webhook`, Ed25519),
 *    verifiable with the public JWKS Bulwark publishes (`GET /.well-known/webhook-keys.json`):
 *      Content-Digest: sha-256=:<base64>:                                        (RFC 9530 §2)
 *      Signature-Input: wh=("@method" "@target-uri" "content-type" "content-digest"
 *                           "bulwark-webhook-id" "bulwark-signature");created=…;keyid="…";
 *                           alg="ed25519";tag="bulwark-webhook"
 *      Signature: wh=:<base64>:
 *    The digest binds the body; covering `bulwark-signature` binds the HMAC timestamp too.
 */
import { createHmac, createPublicKey, type JsonWebKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { SigningKeyRing } from '../platform/crypto/index.ts';
import {
  algorithmOfKey,
  checkContentDigest,
  contentDigest,
  parseSignatures,
  type SignatureEntry,
  signatureBase,
  signatureFields,
  signatureParams,
  signWithRing,
  verifyBase,
} from '../platform/http/message-signatures.ts';

export const TIMESTAMP_TOLERANCE_SEC = 300;
export const SIGNATURE_HEADER = 'bulwark-signature';
export const WEBHOOK_ID_HEADER = 'bulwark-webhook-id';
export const SIGNATURE_LABEL = 'wh';
export const SIGNATURE_TAG = 'bulwark-webhook';
export const WEBHOOK_KEY_PURPOSE = 'webhook';

const COVERED = [
  '@method',
  '@target-uri',
  'content-type',
  'content-digest',
  WEBHOOK_ID_HEADER,
  SIGNATURE_HEADER,
];

// ---- HMAC ---------------------------------------------------------------------------------------

export function hmacHex(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.${body}`).digest('hex');
}

/** The `Bulwark-Signature` value for `secrets` (newest first). */
export function hmacHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmacHex(s, timestamp, body)}`)].join(',');
}

export type HmacVerdict = 'ok' | 'malformed' | 'stale' | 'mismatch';

/**
 * Receiver side (reference implementation): checks a `Bulwark-Signature` header against the raw
 * body with any of the receiver's secrets, within the timestamp tolerance.
 */
export function verifyHmacHeader(
  header: string,
  body: string,
  secrets: readonly string[],
  nowSec: number,
  toleranceSec = TIMESTAMP_TOLERANCE_SEC,
): HmacVerdict {
  let t: number | undefined;
  const sigs: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(Buffer.from(v, 'hex'));
  }
  if (t === undefined || sigs.length === 0) return 'malformed';
  if (Math.abs(nowSec - t) > toleranceSec) return 'stale';
  for (const secret of secrets) {
    const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
    if (sigs.some((s) => timingSafeEqual(s, expected))) return 'ok';
  }
  return 'mismatch';
}

// ---- RFC 9530 / RFC 9421 (the shared construction: platform/http/message-signatures.ts) -----------

export { contentDigest };

export interface SignedRequestParts {
  readonly method: string;
  /** The full target URI as sent (RFC 9421 §2.2.2). */
  readonly targetUri: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Adds `content-digest`, `signature-input` and `signature` to `headers` (which must already hold
 * `content-type`, the webhook id and the HMAC header): signed by the ring's active webhook key.
 */
export async function addMessageSignature(
  ring: Pick<SigningKeyRing, 'sign'>,
  req: { method: string; targetUri: string; headers: Record<string, string>; body: string },
  createdSec: number,
): Promise<void> {
  req.headers['content-digest'] = contentDigest(req.body);
  const signed = await signWithRing(
    ring,
    WEBHOOK_KEY_PURPOSE,
    { method: req.method.toUpperCase(), targetUri: req.targetUri, headers: req.headers },
    (keyid, alg) => signatureParams(COVERED, { created: createdSec, keyid, alg, tag: SIGNATURE_TAG }),
  );
  const fields = signatureFields(SIGNATURE_LABEL, signed.params, signed.signature);
  req.headers['signature-input'] = fields.signatureInput;
  req.headers.signature = fields.signature;
}

export type MessageVerdict =
  | 'ok'
  | 'malformed'
  | 'digest_mismatch'
  | 'unknown_key'
  | 'stale'
  | 'bad_signature';

/**
 * Receiver side (reference implementation) of RFC 9421 verification for a Bulwark webhook: parses
 * `signature-input`, requires the covered components and tag above, checks the content digest
 * against the raw body, finds the key by `keyid` in the published JWKS and verifies with the key's
 * own algorithm (never the one the message claims).
 */
export function verifyMessageSignature(
  parts: SignedRequestParts,
  body: string | Buffer,
  jwks: { keys: readonly Record<string, unknown>[] },
  nowSec: number,
  toleranceSec = TIMESTAMP_TOLERANCE_SEC,
): MessageVerdict {
  const input = parts.headers['signature-input'];
  const signature = parts.headers.signature;
  const digest = parts.headers['content-digest'];
  if (!input || !signature || !digest) return 'malformed';
  let entry: SignatureEntry | undefined;
  try {
    entry = parseSignatures(input, signature).find((e) => e.label === SIGNATURE_LABEL);
  } catch {
    return 'malformed';
  }
  if (!entry) return 'malformed';
  if (COVERED.some((c) => !entry.covered.includes(`"${c}"`))) return 'malformed';
  const { keyid, created } = entry;
  if (!keyid || created === undefined || entry.tag !== SIGNATURE_TAG) return 'malformed';
  if (Math.abs(nowSec - created) > toleranceSec) return 'stale';
  if (checkContentDigest(digest, typeof body === 'string' ? Buffer.from(body) : body) !== 'ok')
    return 'digest_mismatch';
  const jwk = jwks.keys.find((k) => k.kid === keyid);
  if (!jwk) return 'unknown_key';
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return 'unknown_key';
  }
  const alg = algorithmOfKey(key);
  if (!alg) return 'unknown_key';
  let base: string;
  try {
    base = signatureBase(parts, entry.params);
  } catch {
    return 'bad_signature';
  }
  return verifyBase(alg, key, base, entry.signature) ? 'ok' : 'bad_signature';
}
