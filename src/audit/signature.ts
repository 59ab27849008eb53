/**
 * Signatures of checkpoints and bundles: compact JWS (RFC 7515 §7.1) made by the key ring's
 * `audit` key (Ed25519, 'EdDSA', RFC 8037), checked against the key that made them — looked up by
 * `kid` whatever its state today (`keyInfo`), or taken from a JWKS the verifier trusts.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { PublicJwk, SigningAlg } from '../platform/crypto/index.ts';
import { isSigningAlg, jwkThumbprint } from '../platform/crypto/index.ts';
import { verifyBytes } from '../platform/crypto/jwk.ts';
import { findSigningKey } from '../platform/crypto/store.ts';
import type { Database } from '../platform/db/index.ts';

export const AUDIT_KEY_PURPOSE = 'audit';
export const CHECKPOINT_TYP = 'bulwark-audit-checkpoint+jws';
export const BUNDLE_TYP = 'bulwark-audit-bundle+jws';

/** A public verification key as the verifier knows it. */
export interface AuditKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly publicJwk: PublicJwk;
  /** Key-ring purpose; anything but 'audit' does not verify audit signatures. */
  readonly purpose: string;
  /** A key revoked at this time verifies nothing signed at or after it (it may have leaked). */
  readonly revokedAt: Date | null;
}

/** Where keys come from: the key ring (`SigningKeyRing#keyInfo` fits), the table, or a trusted JWKS. */
export interface AuditKeyLookup {
  keyInfo(kid: string): Promise<AuditKey | undefined>;
}

/** Keys read from the `signing_keys` table: public halves only, so verifying needs no master key. */
export function databaseKeys(db: Database): AuditKeyLookup {
  return {
    async keyInfo(kid) {
      const row = await db.asSystem((tx) => findSigningKey(tx, kid));
      if (!row) return undefined;
      return {
        kid: row.kid,
        alg: row.alg,
        publicJwk: row.publicJwk as PublicJwk,
        purpose: row.purpose,
        revokedAt: row.revokedAt,
      };
    },
  };
}

/**
 * Keys from a JWKS the verifier obtained independently (the published audit keys): only these
 * verify. Each key's `kid` must be its RFC 7638 thumbprint, as the key ring names keys, so a key
 * cannot be passed off under another's id.
 */
export function trustedKeys(jwks: unknown): AuditKeyLookup {
  const keys = new Map<string, AuditKey>();
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new TypeError('a JWKS is an object with a "keys" array');
  for (const k of list as Record<string, unknown>[]) {
    if (typeof k !== 'object' || k === null || 'd' in k) continue; // never a private key
    let kid: string;
    try {
      kid = jwkThumbprint(k as JsonWebKey);
    } catch {
      continue;
    }
    if (k.kid !== undefined && k.kid !== kid) continue;
    const alg = isSigningAlg(k.alg) ? k.alg : k.kty === 'OKP' && k.crv === 'Ed25519' ? 'EdDSA' : undefined;
    if (!alg) continue;
    // `revoked_at` (an extra member, RFC 7517 §4) as AuditService#publicKeys publishes it.
    const revokedAt = typeof k.revoked_at === 'string' ? new Date(k.revoked_at) : null;
    const { revoked_at: _r, ...jwk } = k;
    keys.set(kid, {
      kid,
      alg,
      publicJwk: { ...jwk, kid, alg, use: 'sig' } as unknown as PublicJwk,
      purpose: AUDIT_KEY_PURPOSE,
      // An unreadable date counts as revoked since forever: nothing it signed verifies.
      revokedAt: revokedAt && Number.isNaN(revokedAt.getTime()) ? new Date(0) : revokedAt,
    });
  }
  return { keyInfo: async (kid) => keys.get(kid) };
}

/** Caches public KeyObjects by kid for one verification run. */
export class KeyCache {
  private readonly cache = new Map<string, { key: AuditKey; object: KeyObject } | null>();
  constructor(private readonly lookup: AuditKeyLookup) {}

  async get(kid: string): Promise<{ key: AuditKey; object: KeyObject } | undefined> {
    if (!this.cache.has(kid)) {
      const key = await this.lookup.keyInfo(kid);
      let entry: { key: AuditKey; object: KeyObject } | null = null;
      if (key) {
        try {
          entry = {
            key,
            object: createPublicKey({ key: key.publicJwk as unknown as JsonWebKey, format: 'jwk' }),
          };
        } catch {
          entry = null;
        }
      }
      this.cache.set(kid, entry);
    }
    return this.cache.get(kid) ?? undefined;
  }
}

export interface ParsedJws {
  readonly header: Record<string, unknown>;
  readonly payload: Buffer;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

export function parseJws(jws: unknown): ParsedJws | undefined {
  if (typeof jws !== 'string' || jws.length > 65_536) return undefined;
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  if (!B64URL.test(h) || !B64URL.test(p) || !B64URL.test(s)) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
  return {
    header: header as Record<string, unknown>,
    payload: Buffer.from(p, 'base64url'),
    signingInput: Buffer.from(`${h}.${p}`, 'ascii'),
    signature: Buffer.from(s, 'base64url'),
  };
}

export type SignatureProblem =
  | 'malformed'
  | 'unknown_key'
  | 'wrong_key'
  | 'key_revoked'
  | 'payload_mismatch'
  | 'signature_invalid';

/**
 * Checks a JWS made by an audit key: well formed, `typ` as expected, no `crit` (RFC 7515
 * §4.1.11), `kid` known, `alg` the key's own (never the one the header claims alone), the key not
 * revoked before `signedAt`, the payload exactly `expectedPayload`, and the signature valid.
 */
export async function checkJws(
  jws: unknown,
  opts: {
    readonly keys: KeyCache;
    readonly typ: string;
    readonly expectedPayload: string;
    readonly expectedKid?: string;
    readonly signedAt?: Date;
  },
): Promise<{ ok: true; kid: string; alg: SigningAlg } | { ok: false; problem: SignatureProblem }> {
  const parsed = parseJws(jws);
  if (!parsed) return { ok: false, problem: 'malformed' };
  const { header } = parsed;
  if (typeof header.kid !== 'string' || header.typ !== opts.typ || 'crit' in header)
    return { ok: false, problem: 'malformed' };
  if (opts.expectedKid !== undefined && header.kid !== opts.expectedKid)
    return { ok: false, problem: 'wrong_key' };
  const found = await opts.keys.get(header.kid);
  if (!found) return { ok: false, problem: 'unknown_key' };
  const { key, object } = found;
  if (key.purpose !== AUDIT_KEY_PURPOSE || header.alg !== key.alg) return { ok: false, problem: 'wrong_key' };
  if (key.revokedAt && (!opts.signedAt || opts.signedAt.getTime() >= key.revokedAt.getTime()))
    return { ok: false, problem: 'key_revoked' };
  if (!parsed.payload.equals(Buffer.from(opts.expectedPayload, 'utf8')))
    return { ok: false, problem: 'payload_mismatch' };
  if (!verifyBytes(key.alg, object, parsed.signingInput, parsed.signature))
    return { ok: false, problem: 'signature_invalid' };
  return { ok: true, kid: key.kid, alg: key.alg };
}
