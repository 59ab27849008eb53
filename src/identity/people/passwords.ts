/**
 * Password hashing with Argon2id (RFC 9106), at the OWASP-recommended minimum m=19 MiB, t=2, p=1
 * (≈20 ms here). NIST SP 800-63B-4 §3.1.1.2 asks for a salted, memory-hard password hashing
 * scheme with a cost "as high as practical"; the PHC string keeps the parameters, so stored hashes
 * made with older ones are recognised and re-hashed at the next successful login.
 */
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify } from '@node-rs/argon2';

export interface Argon2Params {
  /** KiB. */
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** `Algorithm.Argon2id`: the package's const enum cannot be imported under isolatedModules. */
const ARGON2ID = 2;
/** `Version.V0x13`. */
const V0X13 = 1;

export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(readonly params: Argon2Params = DEFAULT_ARGON2) {}

  /** Hashes an already NFKC-normalised password (`normalizePassword`). */
  hash(password: string): Promise<string> {
    return hash(password, { ...this.params, algorithm: ARGON2ID, version: V0X13 });
  }

  /** False for a wrong password and for a malformed stored hash alike. */
  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /** True when the stored hash was made with other parameters (or another algorithm). */
  needsRehash(stored: string): boolean {
    try {
      const p = parseOptions(stored);
      return (
        p.algorithm !== ARGON2ID ||
        p.version !== V0X13 ||
        p.memoryCost !== this.params.memoryCost ||
        p.timeCost !== this.params.timeCost ||
        p.parallelism !== this.params.parallelism
      );
    } catch {
      return true;
    }
  }

  /**
   * Verifies `password` against a hash of a random password with the current parameters, so a
   * login for an unknown user (or one without a password) costs what a real one does and its
   * answer cannot be told apart by timing (NIST SP 800-63B-4 §3.2.2; PSD2 RTS Art. 4(3)(a)).
   */
  async burn(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(24).toString('base64url'));
    await this.verify(await this.dummy, password);
    return false;
  }
}
