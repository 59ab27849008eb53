import { createCipheriv, createDecipheriv, type KeyObject, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM, the one authenticated cipher of the kernel (fields, wrapped keys).
 *
 * - 96-bit nonces drawn at random: the IV length NIST SP 800-38D §5.2.1.1 recommends, built by the
 *   RBG-based construction of §8.2.2. With random nonces §8.3 caps one key at 2^32 invocations; data
 *   keys are per tenant/subject and rotate, which keeps every key far below that.
 * - Full 128-bit tags (§5.2.1.2). Decryption pins `authTagLength`: without it Node accepts a
 *   truncated tag, and a 4-byte tag is forgeable by brute force.
 *
 * Sealed layout: nonce (12) || ciphertext || tag (16).
 */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

export function seal(key: KeyObject, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/** Returns the plaintext, or undefined when the sealed value does not authenticate. */
export function open(key: KeyObject, sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(0, NONCE_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  const body = buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const head = decipher.update(body);
    return Buffer.concat([head, decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Encodes an associated-data context unambiguously: a JSON array of strings, so that no two
 * different contexts (`['a.b', 'c']` vs `['a', 'b.c']`) ever produce the same bytes.
 */
export function context(...parts: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify(parts), 'utf8');
}
