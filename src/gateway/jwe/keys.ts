/**
 * The platform's encryption keys (what partners encrypt request bodies to) and the partners' own
 * (what responses are encrypted to).
 *
 * Platform keys live in the signing key ring under purpose `encryption` as P-256 EC keys: the ring
 * gives them rotation (published before use, retired keys still decrypt through the grace period),
 * wrapping under the master key and cross-instance refresh. They are never used to sign: they are
 * published with `use: enc` and `alg: ECDH-ES+A256KW` (RFC 7518 §4.6), and only decrypt.
 */
import { importJWK, type JWK } from 'jose';
import { LruCache } from '../../platform/crypto/lru.ts';

export const ENCRYPTION_KEY_PURPOSE = 'encryption';
/**
 * RFC 7518 key management: requests to us use ECDH-ES+A256KW (our keys are P-256); responses use
 * ECDH-ES+A256KW for a partner's P-256 key or RSA-OAEP-256 for its RSA key. No RSA1_5, no direct
 * encryption, no PBES2. One content cipher: A256GCM.
 */
export const REQUEST_KEY_MANAGEMENT = 'ECDH-ES+A256KW';
export const KEY_MANAGEMENT_ALGS = ['ECDH-ES+A256KW', 'RSA-OAEP-256'] as const;
export const CONTENT_ENCRYPTION = 'A256GCM';

type Importable = Awaited<ReturnType<typeof importJWK>>;

interface KeyRing {
  publicJwks(purpose: string): Promise<{ keys: ReadonlyArray<object> }>;
  exportPrivateJwks(purpose: string): Promise<{ keys: ReadonlyArray<object> }>;
}
type Members = Readonly<Record<string, unknown>>;

/** A published JWK as an encryption key: only the public members, `use: enc`. */
function asEncryptionJwk(k: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, use: 'enc', alg: 'ECDH-ES+A256KW' };
}

export function platformEncryptionKeys(
  ring: KeyRing,
  options: { cacheMs?: number; now?: () => number } = {},
) {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 60_000;
  let loaded: { at: number; keys: Map<string, Importable> } | undefined;
  let loading: Promise<Map<string, Importable>> | undefined;

  const load = async () => {
    const { keys } = await ring.exportPrivateJwks(ENCRYPTION_KEY_PURPOSE);
    const out = new Map<string, Importable>();
    for (const k of keys as Members[]) {
      const { alg: _alg, use: _use, key_ops: _ops, ...jwk } = k;
      out.set(String(k.kid), await importJWK(jwk as JWK, 'ECDH-ES+A256KW'));
    }
    loaded = { at: now(), keys: out };
    return out;
  };
  const reload = () => {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  };

  return {
    /** The public JWKS partners encrypt to. */
    async publicJwks(): Promise<{ keys: Record<string, unknown>[] }> {
      const { keys } = await ring.publicJwks(ENCRYPTION_KEY_PURPOSE);
      return { keys: (keys as Members[]).map(asEncryptionJwk) };
    },
    /**
     * The private key for `kid`, or undefined. An unknown kid reloads the set at most once per
     * second (a key published by another instance), so garbage kids cannot hammer the database.
     */
    async decryptionKey(kid: string): Promise<Importable | undefined> {
      const fresh = loaded && now() - loaded.at < cacheMs ? loaded.keys : await reload();
      const hit = fresh.get(kid);
      if (hit || !loaded || now() - loaded.at < 1000) return hit;
      return (await reload()).get(kid);
    },
  };
}

export type PlatformEncryptionKeys = ReturnType<typeof platformEncryptionKeys>;

/** A partner's key to encrypt responses to: the first `use: enc` key of its JWKS we can use. */
export interface ClientEncryptionKey {
  readonly kid: string | undefined;
  readonly alg: (typeof KEY_MANAGEMENT_ALGS)[number];
  readonly key: Importable;
}

const importedClientKeys = new LruCache<string, ClientEncryptionKey | null>(10_000, 60_000);

export async function clientEncryptionKey(
  clientId: string,
  jwks: readonly Record<string, unknown>[] | undefined,
): Promise<ClientEncryptionKey | undefined> {
  const cacheKey = `${clientId}\u0000${JSON.stringify(jwks ?? [])}`;
  const hit = importedClientKeys.get(cacheKey);
  if (hit !== undefined) return hit ?? undefined;
  let found: ClientEncryptionKey | null = null;
  for (const k of jwks ?? []) {
    if (k.use !== 'enc') continue;
    const alg =
      k.kty === 'EC' && k.crv === 'P-256' ? 'ECDH-ES+A256KW' : k.kty === 'RSA' ? 'RSA-OAEP-256' : undefined;
    if (!alg || (k.alg !== undefined && k.alg !== alg)) continue;
    try {
      const { alg: _a, use: _u, key_ops: _o, ...jwk } = k;
      found = {
        kid: typeof k.kid === 'string' ? k.kid : undefined,
        alg,
        key: await importJWK(jwk as JWK, alg),
      };
      break;
    } catch {}
  }
  importedClientKeys.set(cacheKey, found);
  return found ?? undefined;
}
