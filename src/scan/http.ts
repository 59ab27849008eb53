/**
 * How the scanner talks to a deployment: plain `fetch` (no redirects followed, bounded time), DPoP
 * proofs it signs itself (so probes can send wrong, stale or replayed ones), and real OAuth clients
 * (`openid-client`) that obtain sender-constrained tokens the way partners and people do:
 * client_credentials with private_key_jwt for partner apps, PAR + PKCE + password (+ TOTP) for a
 * person signed in through a partner web app.
 */
import { createHash, randomUUID, type webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { totpCode } from '../identity/people/totp.ts';
import type { PartnerCredential, PolicyholderCredential } from './credentials.ts';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/** One request, redirects not followed; a network failure throws. */
async function sendOnce(url: string, options: SendOptions): Promise<HttpResponse> {
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    redirect: 'manual',
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

const MAX_RETRY_WAIT_S = 15;
/**
 * The scanner's own traffic may hit the deployment's rate limits (it should!); a 429 is waited out
 * (Retry-After, at most 15 s) and the request sent again, twice at most, so later probes still see
 * the behaviour they test. `attempt` rebuilds per-attempt headers (a DPoP proof is single use).
 */
export async function withRetryAfter(attempt: () => Promise<HttpResponse>, tries = 3): Promise<HttpResponse> {
  for (let i = 1; ; i++) {
    const res = await attempt();
    if (res.status !== 429 || i >= tries) return res;
    const wait = Math.min(Number(res.headers.get('retry-after')) || 1, MAX_RETRY_WAIT_S);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
}

/** One request (a 429 is waited out and retried, see `withRetryAfter`). */
export function send(url: string, options: SendOptions = {}): Promise<HttpResponse> {
  return withRetryAfter(() => sendOnce(url, options));
}

/** `404 application/problem+json code=CUSTOMER_NOT_FOUND`: what evidence records of an answer. */
export function summarize(res: HttpResponse): string {
  const type = (res.headers.get('content-type') ?? '').split(';')[0] || 'no content-type';
  const code = (res.json as { code?: unknown } | undefined)?.code;
  return `${res.status} ${type}${typeof code === 'string' ? ` code=${code}` : ''}`;
}

export const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
export const sha256b64url = (s: string) => createHash('sha256').update(s).digest('base64url');

export interface DpopKey {
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: webcrypto.CryptoKey;
  readonly publicJwk: JWK;
}

export async function newDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  return { privateKey, publicKey, publicJwk: { kty, crv, x, y } as JWK };
}

/** A DPoP proof (RFC 9449 §4.2) for `method url`, bound to `accessToken` by `ath`. */
export function dpopProof(
  key: DpopKey,
  method: string,
  url: string,
  accessToken?: string,
  overrides: { iat?: number } = {},
): Promise<string> {
  const u = new URL(url);
  return new SignJWT({
    jti: randomUUID(),
    htm: method,
    htu: `${u.origin}${u.pathname}`,
    iat: overrides.iat ?? Math.floor(Date.now() / 1000),
    ...(accessToken ? { ath: sha256b64url(accessToken) } : {}),
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk })
    .sign(key.privateKey);
}

export interface CallOptions {
  readonly body?: unknown;
  /** A raw body (e.g. oversized or deeply nested JSON); sent as application/json. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  /** Another token than the session's (tampered, forged). */
  readonly token?: string;
  /** `fresh` (default): a new proof for this request; `none`: no DPoP header; or a given proof. */
  readonly proof?: 'fresh' | 'none' | string;
  /** Authorization scheme; default DPoP. */
  readonly scheme?: 'DPoP' | 'Bearer';
  readonly timeoutMs?: number;
}

/** A caller of the partner API holding a DPoP-bound access token of its own. */
export class ApiSession {
  private cached: { value: string; at: number } | undefined;
  constructor(
    readonly target: string,
    /** Who this is, in evidence: `partner app of tenant A`. */
    readonly label: string,
    readonly key: DpopKey,
    private readonly obtain: () => Promise<string>,
    readonly ids: { tenantId: string; partnerId?: string; clientId: string; userId?: string },
  ) {}

  async token(): Promise<string> {
    if (!this.cached || Date.now() - this.cached.at > 120_000)
      this.cached = { value: await this.obtain(), at: Date.now() };
    return this.cached.value;
  }

  url(path: string): string {
    return new URL(path, this.target).href;
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<HttpResponse> {
    const token = options.token ?? (await this.token());
    const url = this.url(path);
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    return withRetryAfter(async () => {
      const headers: Record<string, string> = { ...options.headers };
      headers.authorization = `${options.scheme ?? 'DPoP'} ${token}`;
      const proof = options.proof ?? 'fresh';
      if (proof === 'fresh') headers.dpop = await dpopProof(this.key, method, url, token);
      else if (proof !== 'none') headers.dpop = proof;
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      return sendOnce(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    });
  }
}

// openid-client is loaded only when a scan runs (the server never needs it).
type Oidc = typeof import('openid-client');
let oidcModule: Promise<Oidc> | undefined;
const loadOidc = () => {
  oidcModule ??= import('openid-client');
  return oidcModule;
};

async function discover(oidc: Oidc, target: string, clientId: string, privateJwk: JWK) {
  const key = (await importJWK(privateJwk, privateJwk.alg ?? 'ES256')) as webcrypto.CryptoKey;
  const insecure = new URL(target).protocol === 'http:';
  return oidc.discovery(
    new URL(target),
    clientId,
    {},
    oidc.PrivateKeyJwt({ key, ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) }),
    insecure ? { execute: [oidc.allowInsecureRequests] } : undefined,
  );
}

/** A partner app's session: client_credentials + private_key_jwt, DPoP-bound tokens. */
export async function partnerSession(
  target: string,
  label: string,
  cred: PartnerCredential,
): Promise<ApiSession> {
  const oidc = await loadOidc();
  const config = await discover(oidc, target, cred.clientId, cred.privateJwk);
  const key = await newDpopKey();
  const dpop = oidc.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: key.publicKey });
  return new ApiSession(
    target,
    label,
    key,
    async () =>
      (await oidc.clientCredentialsGrant(config, cred.scope ? { scope: cred.scope } : {}, { DPoP: dpop }))
        .access_token,
    { tenantId: cred.tenantId, partnerId: cred.partnerId, clientId: cred.clientId },
  );
}

/** A browser in miniature: follows redirects by hand and keeps cookies. */
class Browser {
  private readonly cookies = new Map<string, string>();
  async request(url: string, form?: Record<string, string>) {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (name) this.cookies.set(name.trim(), value.join('='));
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const actionOf = (html: string) => /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '';

/**
 * A person's session: signs in through the partner web app named in the credentials (PAR + PKCE
 * S256, password, TOTP when the account has it, consent) and holds their DPoP-bound token.
 */
export async function policyholderSession(
  target: string,
  label: string,
  cred: PolicyholderCredential,
): Promise<ApiSession> {
  const oidc = await loadOidc();
  const config = await discover(oidc, target, cred.clientId, cred.privateJwk);
  const key = await newDpopKey();
  const dpop = oidc.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: key.publicKey });
  const scope = `openid ${cred.scope}`.trim();
  const step = async (b: Browser, url: string | null, what: string) => {
    if (!url) throw new Error(`sign-in stopped before ${what}`);
    return b.request(new URL(url, target).href);
  };
  const signIn = async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = await oidc.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: cred.redirectUri,
        scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      },
      { DPoP: dpop },
    );
    const browser = new Browser();
    const start = await browser.request(authUrl.href);
    const login = await step(browser, start.location, 'the login page');
    let page = await browser.request(new URL(actionOf(login.body), target).href, {
      csrf: csrfOf(login.body),
      username: cred.username,
      password: cred.password,
    });
    if (page.status === 200 && /second-factor/.test(actionOf(page.body))) {
      if (!cred.totpSecret)
        throw new Error('the policyholder has a second factor but no totpSecret was given');
      page = await browser.request(new URL(actionOf(page.body), target).href, {
        csrf: csrfOf(page.body),
        method: 'code',
        code: await totpCode(cred.totpSecret, Date.now()),
      });
    }
    if (page.status !== 303) throw new Error(`sign-in refused (${page.status})`);
    let next = await step(browser, page.location, 'consent');
    if (next.status !== 200) next = await step(browser, next.location, 'consent');
    if (actionOf(next.body)) {
      const consented = await browser.request(new URL(actionOf(next.body), target).href, {
        csrf: csrfOf(next.body),
        decision: 'approve',
      });
      next = await step(browser, consented.location, 'the authorization code');
    }
    if (!next.location) throw new Error(`no authorization code (${next.status})`);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(next.location),
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP: dpop },
    );
    return tokens.access_token;
  };
  return new ApiSession(target, label, key, signIn, {
    tenantId: cred.tenantId,
    partnerId: cred.partnerId,
    clientId: cred.clientId,
    ...(cred.userId ? { userId: cred.userId } : {}),
  });
}

/** base64url JSON segments of a compact JWT (no verification). */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')),
  };
}
