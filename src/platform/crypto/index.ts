import type { Database } from '../db/database.ts';
import { Envelope, type EnvelopeOptions } from './envelope.ts';
import { type KeyEncryptionProvider, localMasterKeys } from './keyring.ts';
import { SigningKeyRing, type SigningOptions } from './signing.ts';
import * as store from './store.ts';

export {
  type DecryptOptions,
  type EncryptOptions,
  Envelope,
  type EnvelopeOptions,
  fieldAad,
  isEncryptedField,
  type KeyScope,
  subjectScope,
} from './envelope.ts';
export { CryptoError, type CryptoErrorCode, CryptoErrors, isKeyDestroyed } from './errors.ts';
export { isSigningAlg, jwkThumbprint, type PublicJwk, SIGNING_ALGS, type SigningAlg } from './jwk.ts';
export { type KeyEncryptionProvider, kekIdOf, localMasterKeys, type WrappedKey } from './keyring.ts';
export {
  type Signature,
  type SigningKeyInfo,
  SigningKeyRing,
  type SigningKeyState,
  type SigningOptions,
  type SigningPurpose,
} from './signing.ts';

export interface CryptoOptions {
  readonly db: Database;
  /** `config.masterKeys` (base64, first wraps, all unwrap), or a provider backed by a KMS. */
  readonly masterKeys: readonly string[] | KeyEncryptionProvider;
  readonly envelope?: EnvelopeOptions;
  readonly signing?: SigningOptions;
}

export interface KekUsage {
  /** The master key that wraps new keys. */
  readonly current: string;
  /** Configured master keys, current first. */
  readonly configured: readonly string[];
  /** Live keys wrapped by each master key (data keys, signing private keys). */
  readonly wrapped: Readonly<Record<string, { dataKeys: number; signingKeys: number }>>;
  /** Master keys that wrap keys but are not configured: those keys cannot be used (fix at once). */
  readonly missing: readonly string[];
  /** Configured, not current, wrapping nothing: safe to remove from BULWARK_MASTER_KEYS. */
  readonly removable: readonly string[];
}

/** The crypto kernel: master keys, envelope encryption and the signing key ring. */
export interface Crypto {
  readonly kek: KeyEncryptionProvider;
  readonly envelope: Envelope;
  readonly signing: SigningKeyRing;
  /**
   * Master-key rotation: after a new key is put first in BULWARK_MASTER_KEYS, re-wraps every data
   * key and signing key under it, while requests keep being served (old keys still unwrap). No
   * field is re-encrypted. Afterwards `kekUsage().removable` lists the keys that may go.
   */
  rotateKek(): Promise<{
    dataKeys: { rewrapped: number; failed: number };
    signingKeys: { rewrapped: number; failed: number };
  }>;
  kekUsage(): Promise<KekUsage>;
}

export function createCrypto(options: CryptoOptions): Crypto {
  const kek = isProvider(options.masterKeys) ? options.masterKeys : localMasterKeys(options.masterKeys);
  const envelope = new Envelope(options.db, kek, options.envelope);
  const signing = new SigningKeyRing(options.db, kek, options.signing);
  return {
    kek,
    envelope,
    signing,
    async rotateKek() {
      return { dataKeys: await envelope.rewrapAll(), signingKeys: await signing.rewrapAll() };
    },
    async kekUsage() {
      const usage = await options.db.asSystem((tx) => store.kekUsage(tx));
      const configured = kek.kekIds;
      return {
        current: kek.currentKekId,
        configured,
        wrapped: Object.fromEntries(usage),
        missing: [...usage.keys()].filter((id) => !configured.includes(id)),
        removable: configured.filter((id) => id !== kek.currentKekId && !usage.has(id)),
      };
    },
  };
}

function isProvider(k: readonly string[] | KeyEncryptionProvider): k is KeyEncryptionProvider {
  return !Array.isArray(k);
}
