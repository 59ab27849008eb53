import { API_SCOPES } from '../identity/oauth/index.ts';
import { TenantError } from './errors.ts';

export type AuthMethod = 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth';
export type GrantType = 'client_credentials' | 'authorization_code' | 'refresh_token';
export interface Jwks {
  keys: Record<string, unknown>[];
}

/** Members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_KEYS = 10;
const MIN_RSA_BITS = 2048;

/**
 * A client's registered keys must be public signing keys of the algorithms we accept (ES256 on
 * P-256, EdDSA on Ed25519, PS256 on RSA ≥ 2048 bits), or public encryption keys (`use: enc`, for
 * JWE responses: P-256 for ECDH-ES+A256KW, RSA ≥ 2048 bits for RSA-OAEP-256; gateway/jwe). A
 * private member anywhere is refused: it would mean the partner leaked its key to us.
 */
export function checkPublicJwks(jwks: Jwks): void {
  if (!jwks.keys.length || jwks.keys.length > MAX_KEYS) throw new TenantError('APP_JWKS_INVALID');
  for (const key of jwks.keys) {
    if (PRIVATE_MEMBERS.some((m) => m in key)) throw new TenantError('APP_JWKS_INVALID');
    if (key.use === 'enc') {
      const encOk =
        (key.kty === 'EC' &&
          key.crv === 'P-256' &&
          typeof key.x === 'string' &&
          typeof key.y === 'string' &&
          (key.alg === undefined || key.alg === 'ECDH-ES+A256KW')) ||
        (key.kty === 'RSA' &&
          typeof key.n === 'string' &&
          typeof key.e === 'string' &&
          Buffer.from(key.n, 'base64url').length * 8 >= MIN_RSA_BITS &&
          (key.alg === undefined || key.alg === 'RSA-OAEP-256'));
      if (!encOk) throw new TenantError('APP_JWKS_INVALID');
      continue;
    }
    if (key.use !== undefined && key.use !== 'sig') throw new TenantError('APP_JWKS_INVALID');
    const ok =
      (key.kty === 'EC' && key.crv === 'P-256' && typeof key.x === 'string' && typeof key.y === 'string') ||
      (key.kty === 'OKP' && key.crv === 'Ed25519' && typeof key.x === 'string') ||
      (key.kty === 'RSA' &&
        typeof key.n === 'string' &&
        typeof key.e === 'string' &&
        Buffer.from(key.n, 'base64url').length * 8 >= MIN_RSA_BITS);
    if (!ok) throw new TenantError('APP_JWKS_INVALID');
  }
}

/** FAPI 2.0 requires https redirect URIs; loopback http is allowed for native and test clients. */
function redirectUriAllowed(uri: string): boolean {
  try {
    const u = new URL(uri);
    if (u.hash) return false;
    if (u.protocol === 'https:') return true;
    return (
      u.protocol === 'http:' &&
      (u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost')
    );
  } catch {
    return false;
  }
}

// `admin` is only ever granted for the admin resource, which only the platform tenant's clients may
// ask for (identity/oauth/provider.ts); elsewhere it is inert.
const ALLOWED_SCOPES = new Set<string>(['openid', 'offline_access', 'admin', ...API_SCOPES]);

export interface AppCredentials {
  authMethod: AuthMethod;
  jwks?: Jwks | undefined;
  tlsSubjectDn?: string | undefined;
  redirectUris: string[];
  grantTypes: GrantType[];
  scope: string;
}

/** Cross-field rules of a client registration; throws a TenantError naming what is wrong. */
export function checkAppCredentials(c: AppCredentials): void {
  if (c.jwks) checkPublicJwks(c.jwks);
  if (c.authMethod === 'private_key_jwt' && !c.jwks) throw new TenantError('APP_CREDENTIALS_MISSING');
  if (c.authMethod === 'self_signed_tls_client_auth' && !c.jwks?.keys.some((k) => Array.isArray(k.x5c))) {
    throw new TenantError('APP_CREDENTIALS_MISSING');
  }
  if (c.authMethod === 'tls_client_auth' && !c.tlsSubjectDn) throw new TenantError('APP_CREDENTIALS_MISSING');
  if (c.grantTypes.includes('authorization_code') !== c.redirectUris.length > 0) {
    throw new TenantError('APP_REDIRECT_URI_INVALID');
  }
  if (!c.redirectUris.every(redirectUriAllowed)) throw new TenantError('APP_REDIRECT_URI_INVALID');
  if (c.scope && !c.scope.split(' ').every((s) => ALLOWED_SCOPES.has(s)))
    throw new TenantError('APP_SCOPE_INVALID');
}
