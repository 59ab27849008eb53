import {
  constants,
  createHash,
  generateKeyPair,
  type JsonWebKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';

/**
 * The JWS algorithms of the signing key ring (RFC 7518 §3.4, §3.5; RFC 8037 §3.1). Nothing
 * symmetric and no `none`: a verifier can only ever be given a public key.
 */
export type SigningAlg = 'ES256' | 'PS256' | 'EdDSA';
export const SIGNING_ALGS: readonly SigningAlg[] = Object.freeze(['ES256', 'PS256', 'EdDSA']);

export function isSigningAlg(value: unknown): value is SigningAlg {
  return typeof value === 'string' && (SIGNING_ALGS as readonly string[]).includes(value);
}

/** A public signing key as published in a JWKS (RFC 7517 §4). */
export interface PublicJwk {
  readonly kty: 'EC' | 'RSA' | 'OKP';
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly use: 'sig';
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/** RFC 7638 §3.2: the required members of each key type, which alone enter the thumbprint. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'], // RFC 8037 §2
};

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url): the key id. Derived from the public key alone, so
 * anyone can recompute it, and the same key always gets the same id. Also the `jkt` of DPoP
 * (RFC 9449 §6.1).
 */
export function jwkThumbprint(jwk: JsonWebKey | PublicJwk): string {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new Error(`no thumbprint for key type ${String(jwk.kty)}`);
  const source = jwk as Readonly<Record<string, unknown>>;
  // Members in lexicographic order, no whitespace (§3.3): JSON.stringify keeps insertion order.
  const canonical: Record<string, string> = {};
  for (const m of members) {
    const v = source[m];
    if (typeof v !== 'string') throw new Error(`JWK member ${m} is missing`);
    canonical[m] = v;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

export function generateSigningKeyPair(
  alg: SigningAlg,
): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(err) : resolve({ publicKey, privateKey });
    switch (alg) {
      case 'ES256':
        generateKeyPair('ec', { namedCurve: 'P-256' }, done);
        break;
      case 'PS256':
        // 2048 bits: the floor of RFC 7518 §3.5 and of FAPI 2.0; NIST SP 800-57 rates it to 2030.
        generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, done);
        break;
      case 'EdDSA':
        generateKeyPair('ed25519', undefined, done);
        break;
    }
  });
}

/**
 * A JWS signature (RFC 7515 §5.1 step 5) over `data`: ECDSA in the fixed-width R || S form of RFC
 * 7518 §3.4 (not DER), RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (§3.5), Ed25519.
 */
export function signBytes(alg: SigningAlg, key: KeyObject, data: Uint8Array): Buffer {
  switch (alg) {
    case 'ES256':
      return nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'PS256':
      return nodeSign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'EdDSA':
      return nodeSign(null, data, key);
  }
}

export function verifyBytes(
  alg: SigningAlg,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    switch (alg) {
      case 'ES256':
        return nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'PS256':
        return nodeVerify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          signature,
        );
      case 'EdDSA':
        return nodeVerify(null, data, key, signature);
    }
  } catch {
    return false;
  }
}

/** The public JWK of a key pair, with its thumbprint as `kid`. */
export function publicJwkOf(alg: SigningAlg, publicKey: KeyObject): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(jwk);
  const kty = jwk.kty as PublicJwk['kty'];
  switch (kty) {
    case 'EC':
      return { kty, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, kid, alg, use: 'sig' };
    case 'RSA':
      return { kty, n: jwk.n!, e: jwk.e!, kid, alg, use: 'sig' };
    default:
      return { kty: 'OKP', crv: jwk.crv!, x: jwk.x!, kid, alg, use: 'sig' };
  }
}
