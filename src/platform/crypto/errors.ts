import { defineErrors } from '../errors/index.ts';

/**
 * The one crypto failure a caller may see: the data it asks for was erased by destroying its key
 * (crypto-shredding, GDPR Art. 17). Routes map it to a 410 problem.
 */
export const CryptoErrors = defineErrors({
  CRYPTO_KEY_DESTROYED: { status: 410, title: 'This data was erased: its encryption key has been destroyed' },
});

/**
 * Failures that are never described to a caller. Each means tampering, corruption, a wrong binding
 * or a misconfiguration (a master key removed too early); they become the generic 500 and are only
 * logged, with this code.
 */
export type InternalCryptoErrorCode =
  /** Authentication of a field failed: tampered, truncated, or copied from another row (AAD). */
  | 'CRYPTO_DECRYPT_FAILED'
  /** The value is not an encrypted field of a known format version. */
  | 'CRYPTO_MALFORMED_CIPHERTEXT'
  /** No data key with this id in this tenant (another tenant's ciphertext, or a deleted row). */
  | 'CRYPTO_KEY_NOT_FOUND'
  /** The key was wrapped by a master key that is no longer configured. */
  | 'CRYPTO_KEK_UNAVAILABLE'
  /** A wrapped key failed authentication under its master key (tampered or moved row). */
  | 'CRYPTO_UNWRAP_FAILED'
  /** No active signing key for the purpose (ensureKeys not run, or the active key was revoked). */
  | 'CRYPTO_NO_SIGNING_KEY'
  /** A signature or JWS did not verify against the published keys. */
  | 'CRYPTO_SIGNATURE_INVALID'
  /** A programming error: bad scope, purpose, algorithm or AAD. */
  | 'CRYPTO_INVALID_ARGUMENT';

export type CryptoErrorCode = keyof typeof CryptoErrors | InternalCryptoErrorCode;

/** Domain failure of the crypto kernel, free of HTTP. Messages never carry key material or plaintext. */
export class CryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode,
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'CryptoError';
  }

  /** Whether the code is registered for callers (otherwise it must surface as a generic 500). */
  get public(): boolean {
    return this.code in CryptoErrors;
  }
}

export function isKeyDestroyed(err: unknown): boolean {
  return err instanceof CryptoError && err.code === CryptoErrors.CRYPTO_KEY_DESTROYED;
}
