/**
 * The Bulwark partner API client: client_credentials tokens obtained with private_key_jwt and bound
 * to a DPoP key the client generates (RFC 9449), a DPoP proof (with `ath`) on every call, an
 * Idempotency-Key on money-moving POSTs, RFC 9421 signatures on payment initiation, and every
 * problem+json answer thrown as a typed `BulwarkProblem`.
 */
import {
  base64url,
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import { IDEMPOTENT_OPERATIONS, type OperationKey, type Operations } from './schema.ts';

export type { OperationKey, Operations } from './schema.ts';

/** Operations Bulwark refuses without an RFC 9421 message signature (docs/payload-protection.md). */
export const SIGNED_OPERATIONS: ReadonlySet<OperationKey> = new Set<OperationKey>([
  'POST /v1/collections',
  'POST /v1/payouts',
  'POST /v1/payments/{id}/authorize',
]);

export interface BulwarkClientOptions {
  /** The API's public URL (also the OAuth issuer), e.g. `https://api.insurer.example`. */
  readonly baseUrl: string;
  /** The app's `clientId`, as returned when the app was registered. */
  readonly clientId: string;
  /** The private half of a key in the app's registered JWKS (EC P-256, Ed25519 or RSA), with `kid`. */
  readonly privateJwk: JWK;
  /** Space-separated scopes to ask for, e.g. `parties:write kyc:write payments:write`. */
  readonly scope: string;
  /**
   * Key that signs payment initiation (RFC 9421); it must be in the app's JWKS. Default: `privateJwk`.
   * `false`: never sign (payment initiation is then refused with SIGNATURE_MISSING).
   */
  readonly signingJwk?: JWK | false;
  /** Take a new token this many seconds before the current one expires (default 30). */
  readonly refreshBeforeSeconds?: number;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** An RFC 9457 problem+json answer (or an OAuth error from the token endpoint). */
export class BulwarkProblem extends Error {
  /** The stable error code (docs/errors.md), or the OAuth `error` for token failures. */
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  readonly errors: readonly { path: string; message: string }[] | undefined;
  /** The whole problem document. */
  readonly body: Readonly<Record<string, unknown>>;
  constructor(status: number, body: Record<string, unknown>) {
    const code = String(body.code ?? body.error ?? `HTTP_${status}`);
    const title = String(body.title ?? body.error_description ?? body.error ?? `HTTP ${status}`);
    super(`${code}: ${String(body.detail ?? title)}`);
    this.name = 'BulwarkProblem';
    this.code = code;
    this.status = status;
    this.title = title;
    this.detail = typeof body.detail === 'string' ? body.detail : undefined;
    this.requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
    this.errors = Array.isArray(body.errors)
      ? (body.errors as { path: string; message: string }[])
      : undefined;
    this.body = body;
  }
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
}

interface Signer {
  readonly kid: string;
  readonly alg: 'ecdsa-p256-sha256' | 'ed25519';
  readonly key: CryptoKey;
}

const JWS_ALG: Record<string, string> = { EC: 'ES256', OKP: 'EdDSA', RSA: 'PS256' };

async function sha256(data: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(data)));
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export class BulwarkClient {
  private readonly baseUrl: string;
  private readonly options: BulwarkClientOptions;
  private readonly doFetch: typeof fetch;
  private token: Token | undefined;
  private pendingToken: Promise<Token> | undefined;
  private metadata: { issuer: string; tokenEndpoint: string } | undefined;
  private dpopKey: { privateKey: CryptoKey; publicJwk: JWK } | undefined;
  private clientKey: CryptoKey | Uint8Array | undefined;
  private signer: Signer | null | undefined;
  /** Latest DPoP-Nonce per origin+role (authorization server, resource server). */
  private readonly nonces = new Map<string, string>();

  constructor(options: BulwarkClientOptions) {
    if (!options.privateJwk.kid) throw new TypeError('privateJwk needs a kid (the one registered)');
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.doFetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Calls an operation: `client.request('POST /v1/customers', { body: {...} })`. Path parameters go
   * in `path`, query parameters in `query`. Resolves to the typed success body; throws
   * `BulwarkProblem` for any error answer.
   */
  async request<K extends OperationKey>(
    operation: K,
    ...args: Operations[K]['args']
  ): Promise<Operations[K]['response']> {
    const input = (args[0] ?? {}) as {
      path?: Record<string, string>;
      query?: Record<string, unknown>;
      body?: unknown;
      idempotencyKey?: string;
      headers?: Record<string, string>;
    };
    const space = operation.indexOf(' ');
    const method = operation.slice(0, space);
    const template = operation.slice(space + 1);
    const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = input.path?.[name];
      if (value === undefined) throw new TypeError(`${operation}: path parameter '${name}' is missing`);
      return encodeURIComponent(value);
    });
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(input.query ?? {})) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...input.headers };
    if (IDEMPOTENT_OPERATIONS.has(operation))
      headers['idempotency-key'] = input.idempotencyKey ?? crypto.randomUUID();
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.send(method, url, headers, body, SIGNED_OPERATIONS.has(operation));
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      throw new BulwarkProblem(res.status, (parsed ?? {}) as Record<string, unknown>);
    }
    return parsed as Operations[K]['response'];
  }

  /** A current access token (DPoP-bound), obtained or refreshed as needed. */
  async accessToken(): Promise<string> {
    const skew = (this.options.refreshBeforeSeconds ?? 30) * 1000;
    if (this.token && this.token.expiresAt - skew > Date.now()) return this.token.value;
    this.pendingToken ??= this.obtainToken().finally(() => {
      this.pendingToken = undefined;
    });
    this.token = await this.pendingToken;
    return this.token.value;
  }

  private async send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
    sign: boolean,
  ): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.accessToken();
      const h = new Headers(headers);
      h.set('authorization', `DPoP ${token}`);
      h.set('dpop', await this.proof(method, url, 'rs', token));
      if (sign) await this.sign(method, url, h, body);
      const res = await this.doFetch(url, { method, headers: h, ...(body !== undefined ? { body } : {}) });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonces.set(`rs ${url.origin}`, nonce);
      if (
        attempt === 0 &&
        res.status === 401 &&
        nonce &&
        /use_dpop_nonce/.test(res.headers.get('www-authenticate') ?? '')
      )
        continue;
      return res;
    }
  }

  private async obtainToken(): Promise<Token> {
    const { issuer, tokenEndpoint } = await this.discover();
    this.clientKey ??= await importJWK(
      this.options.privateJwk,
      this.options.privateJwk.alg ?? JWS_ALG[this.options.privateJwk.kty ?? ''],
    );
    for (let attempt = 0; ; attempt += 1) {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({
          alg: this.options.privateJwk.alg ?? JWS_ALG[this.options.privateJwk.kty ?? ''] ?? 'ES256',
          kid: this.options.privateJwk.kid!,
        })
        .setIssuer(this.options.clientId)
        .setSubject(this.options.clientId)
        .setAudience(issuer)
        .setJti(crypto.randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(this.clientKey);
      const url = new URL(tokenEndpoint);
      const res = await this.doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          dpop: await this.proof('POST', url, 'as'),
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: this.options.scope,
          client_id: this.options.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }).toString(),
      });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonces.set(`as ${url.origin}`, nonce);
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) {
        if (attempt === 0 && nonce && json.error === 'use_dpop_nonce') continue;
        throw new BulwarkProblem(res.status, json);
      }
      if (String(json.token_type).toLowerCase() !== 'dpop') {
        throw new BulwarkProblem(res.status, {
          error: 'token_not_dpop_bound',
          title: 'token is not DPoP-bound',
        });
      }
      const expiresIn = Number(json.expires_in ?? 300);
      return { value: String(json.access_token), expiresAt: Date.now() + expiresIn * 1000 };
    }
  }

  private async discover(): Promise<{ issuer: string; tokenEndpoint: string }> {
    if (this.metadata) return this.metadata;
    const res = await this.doFetch(`${this.baseUrl}/.well-known/openid-configuration`, {
      headers: { accept: 'application/json' },
    });
    if (!res.ok)
      throw new BulwarkProblem(res.status, { error: 'discovery_failed', title: 'OpenID discovery failed' });
    const meta = (await res.json()) as { issuer?: string; token_endpoint?: string };
    if (!meta.token_endpoint || !meta.issuer)
      throw new BulwarkProblem(500, { error: 'discovery_failed', title: 'no issuer or token_endpoint' });
    this.metadata = { issuer: meta.issuer, tokenEndpoint: meta.token_endpoint };
    return this.metadata;
  }

  /** A DPoP proof (RFC 9449 §4.2) for one request; `ath` when presenting an access token. */
  private async proof(method: string, url: URL, role: 'as' | 'rs', accessToken?: string): Promise<string> {
    if (!this.dpopKey) {
      const pair = await generateKeyPair('ES256');
      this.dpopKey = { privateKey: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) };
    }
    const nonce = this.nonces.get(`${role} ${url.origin}`);
    return new SignJWT({
      htm: method,
      htu: `${url.origin}${url.pathname}`,
      ...(accessToken ? { ath: base64url.encode(await sha256(accessToken)) } : {}),
      ...(nonce ? { nonce } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: this.dpopKey.publicJwk })
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .sign(this.dpopKey.privateKey);
  }

  /** RFC 9421 signature (label sig1) over method, target URI and, with a body, type and digest. */
  private async sign(method: string, url: URL, headers: Headers, body: string | undefined): Promise<void> {
    const signer = await this.signerKey();
    if (!signer) return;
    const components = ['@method', '@target-uri'];
    if (body !== undefined) {
      headers.set('content-digest', `sha-256=:${b64(await sha256(body))}:`);
      components.push('content-type', 'content-digest');
    }
    const nonce = base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
    const params =
      `(${components.map((c) => `"${c}"`).join(' ')});created=${Math.floor(Date.now() / 1000)}` +
      `;keyid="${signer.kid}";alg="${signer.alg}";nonce="${nonce}"`;
    const value = (c: string) =>
      c === '@method' ? method : c === '@target-uri' ? url.href : (headers.get(c) ?? '');
    const base = [...components.map((c) => `"${c}": ${value(c)}`), `"@signature-params": ${params}`].join(
      '\n',
    );
    const algorithm = signer.alg === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
    // WebCrypto ECDSA signatures are r || s, as RFC 9421 §3.3.4 wants.
    const sig = new Uint8Array(
      await crypto.subtle.sign(algorithm, signer.key, new TextEncoder().encode(base)),
    );
    headers.set('signature-input', `sig1=${params}`);
    headers.set('signature', `sig1=:${b64(sig)}:`);
  }

  private async signerKey(): Promise<Signer | null> {
    if (this.signer !== undefined) return this.signer;
    const jwk = this.options.signingJwk === undefined ? this.options.privateJwk : this.options.signingJwk;
    if (jwk === false) {
      this.signer = null;
      return null;
    }
    const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
    const { kty, crv, x, y, d } = jwk;
    if (kty === 'EC' && crv === 'P-256') {
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty, crv, x, y, d },
        { name: 'ECDSA', namedCurve: 'P-256' },
        false,
        ['sign'],
      );
      this.signer = { kid, alg: 'ecdsa-p256-sha256', key };
    } else if (kty === 'OKP' && crv === 'Ed25519') {
      const key = await crypto.subtle.importKey('jwk', { kty, crv, x, d }, { name: 'Ed25519' }, false, [
        'sign',
      ]);
      this.signer = { kid, alg: 'ed25519', key };
    } else {
      throw new TypeError('signingJwk: EC P-256 or Ed25519 keys only');
    }
    return this.signer;
  }
}
