/**
 * Calling the partner API the way a partner does: a listening app, real OAuth clients
 * (`openid-client`), DPoP-bound access tokens — for partner apps (client_credentials +
 * private_key_jwt) and for people (authorization code + PAR + PKCE + password + TOTP).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import * as oidc from 'openid-client';
import { PeopleService } from '../../src/identity/people/index.ts';
import { totpCode } from '../../src/identity/people/totp.ts';
import {
  contentDigest,
  signatureBase,
  signatureFields,
  signatureParams,
} from '../../src/platform/http/message-signatures.ts';
import { adminHeaders, testApp } from './app.ts';
import { freePort } from './process.ts';

export interface Listening {
  readonly app: FastifyInstance;
  /** `http://127.0.0.1:<port>`: the issuer and the API's base URL. */
  readonly issuer: string;
}

/** A test app listening on a free port, as `publicUrl` says (DPoP proofs name that URL). */
export async function listeningApp(env: Record<string, string> = {}): Promise<Listening> {
  const port = await freePort();
  const app = await testApp({ BULWARK_PORT: String(port), ...env });
  await app.listen({ port, host: '127.0.0.1' });
  return { app, issuer: `http://127.0.0.1:${port}` };
}

export async function admin(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: object,
) {
  const res = await app.inject({ method, url, headers: adminHeaders, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

let slugCounter = 0;
/** A new tenant (insurer) and one partner under it. */
export async function tenantWithPartner(app: FastifyInstance, name = 'Test') {
  slugCounter += 1;
  const slug = `t${process.pid}-${Date.now().toString(36)}-${slugCounter}`;
  const tenantId: string = (await admin(app, 'POST', '/admin/tenants', { slug, name: `${name} Insurer` })).id;
  const partnerId: string = (await admin(app, 'POST', `/admin/tenants/${tenantId}/partners`, { name })).id;
  return { tenantId, partnerId };
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are read loosely
  readonly body: any;
}

/** RFC 9421 signing of a call (src/gateway/signatures) with the app's registered private key. */
export interface SignOptions {
  /** `created`, in seconds (default: now). */
  readonly created?: number;
  /** Default: a fresh random one. */
  readonly nonce?: string;
  /** Covered components. Default: @method @target-uri, and content-type content-digest with a body. */
  readonly components?: readonly string[];
  /** Runs after signing, before sending: where a test changes the message (say, the body). */
  readonly tamper?: (message: { headers: Headers; body: string | undefined }) => string | undefined;
}

export interface CallOptions {
  readonly body?: unknown;
  /** A body sent as is (with its content type in `headers`), e.g. a compact JWE. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  /** Signs the request (RFC 9421, ecdsa-p256-sha256, Content-Digest) with the caller's app key. */
  readonly sign?: boolean | SignOptions;
}

/** Something that calls `/v1` with a DPoP-bound access token of its own. */
export interface ApiCaller {
  readonly clientId: string;
  readonly tenantId: string;
  readonly partnerId: string;
  /** The user's id, for a person's caller. */
  readonly userId?: string;
  /** `path` is under the issuer, e.g. `/v1/me`. */
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** The current access token (for tests that tamper with it). */
  accessToken(): Promise<string>;
}

async function clientKeyPair(kid: string) {
  const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y, kid, alg: 'ES256' } };
}

function discover(issuer: string, clientId: string, key: webcrypto.CryptoKey, kid: string) {
  return oidc.discovery(new URL(issuer), clientId, {}, oidc.PrivateKeyJwt({ key, kid }), {
    execute: [oidc.allowInsecureRequests],
  });
}

/** Adds Content-Digest, Signature-Input and Signature (label sig1) to a request about to be sent. */
async function signRequest(
  signer: { kid: string; privateKey: webcrypto.CryptoKey },
  message: { method: string; url: string; headers: Headers; body: string | undefined },
  options: SignOptions,
): Promise<void> {
  if (message.body !== undefined) message.headers.set('content-digest', contentDigest(message.body));
  const components = options.components ?? [
    '@method',
    '@target-uri',
    ...(message.body !== undefined ? ['content-type', 'content-digest'] : []),
  ];
  const params = signatureParams(components, {
    created: options.created ?? Math.floor(Date.now() / 1000),
    keyid: signer.kid,
    alg: 'ecdsa-p256-sha256',
    nonce: options.nonce ?? randomBytes(16).toString('base64url'),
  });
  const base = signatureBase(
    { method: message.method, targetUri: message.url, headers: Object.fromEntries(message.headers) },
    params,
  );
  // WebCrypto ECDSA signatures are already r || s, as RFC 9421 §3.3.4 wants.
  const sig = await webcrypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    signer.privateKey,
    Buffer.from(base, 'utf8'),
  );
  const fields = signatureFields('sig1', params, new Uint8Array(sig));
  message.headers.set('signature-input', fields.signatureInput);
  message.headers.set('signature', fields.signature);
}

function caller(
  issuer: string,
  ids: { clientId: string; tenantId: string; partnerId: string; userId?: string },
  config: oidc.Configuration,
  dpop: oidc.DPoPHandle,
  obtain: () => Promise<string>,
  signer?: { kid: string; privateKey: webcrypto.CryptoKey },
): ApiCaller {
  let token: { value: string; at: number } | undefined;
  const current = async () => {
    // Access tokens live 300 s; take a fresh one well before that.
    if (!token || Date.now() - token.at > 200_000) token = { value: await obtain(), at: Date.now() };
    return token.value;
  };
  return {
    ...ids,
    accessToken: current,
    async call(method, path, options = {}) {
      const headers = new Headers(options.headers);
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(options.body);
      }
      if (options.sign) {
        if (!signer) throw new Error('this caller has no signing key');
        const signOptions = options.sign === true ? {} : options.sign;
        const url = new URL(path, issuer).href;
        await signRequest(signer, { method, url, headers, body }, signOptions);
        if (signOptions.tamper) body = signOptions.tamper({ headers, body });
      }
      const res = await oidc
        .fetchProtectedResource(config, await current(), new URL(path, issuer), method, body, headers, {
          DPoP: dpop,
        })
        // openid-client throws on a 401 challenge; the response rides on the error
        .catch((e: { response?: Response }) => {
          if (e.response) return e.response;
          throw e;
        });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: res.status, headers: res.headers, body: parsed };
    },
  };
}

/**
 * A partner app with its own key (private_key_jwt) acting for itself: client_credentials tokens,
 * DPoP-bound, with `scope`.
 */
export async function partnerApi(
  { app, issuer }: Listening,
  options: {
    tenantId: string;
    partnerId: string;
    scope: string;
    name?: string;
    /** More public keys for the app's JWKS, e.g. an encryption key (`use: enc`) for JWE responses. */
    extraKeys?: readonly Record<string, unknown>[];
  },
): Promise<ApiCaller> {
  const kid = `app-${Math.random().toString(36).slice(2, 10)}`;
  const key = await clientKeyPair(kid);
  const registered = await admin(
    app,
    'POST',
    `/admin/tenants/${options.tenantId}/partners/${options.partnerId}/apps`,
    {
      name: options.name ?? 'backend',
      jwks: { keys: [key.jwk, ...(options.extraKeys ?? [])] },
      scope: options.scope,
    },
  );
  const clientId: string = registered.clientId;
  const config = await discover(issuer, clientId, key.privateKey, kid);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  return caller(
    issuer,
    { clientId, tenantId: options.tenantId, partnerId: options.partnerId },
    config,
    dpop,
    async () => {
      const tokens = await oidc.clientCredentialsGrant(config, { scope: options.scope }, { DPoP: dpop });
      return tokens.access_token;
    },
    { kid, privateKey: key.privateKey },
  );
}

/** A browser in miniature: follows redirects by hand and keeps cookies. */
export class Browser {
  private readonly cookies = new Map<string, string>();
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, ...value] = pair!.split('=');
      this.cookies.set(name!.trim(), value.join('='));
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }
}

export const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
export const actionOf = (html: string) => /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '';

export interface Person {
  readonly userId: string;
  readonly username: string;
  readonly password: string;
  readonly totpSecret: string;
}

/** A user of the tenant with `roles`, a password and a confirmed TOTP authenticator. */
export async function createPerson(
  { app, issuer }: Listening,
  tenantId: string,
  roles: readonly string[],
  username = `u${Math.random().toString(36).slice(2, 10)}`,
): Promise<Person> {
  const password = `correct horse battery staple ${Math.random().toString(36).slice(2, 8)}`;
  const created = await admin(app, 'POST', `/admin/tenants/${tenantId}/users`, {
    username,
    password,
    roles,
  });
  const userId: string = created.user.id;
  const people = new PeopleService({
    db: app.services.db,
    envelope: app.services.crypto.envelope,
    kv: app.services.kv,
    webauthn: { rpId: '127.0.0.1', rpName: 'Bulwark', origins: [issuer] },
  });
  const totpSecret = (await people.beginTotpEnrolment(tenantId, userId)).secret;
  const now = Date.now();
  await people.confirmTotpEnrolment(tenantId, userId, await totpCode(totpSecret, now));
  lastTotpStep.set(totpSecret, Math.floor(now / 30_000));
  return { userId, username, password, totpSecret };
}

/** TOTP steps already spent per secret: each is accepted once, and only within ±1 step of now. */
const lastTotpStep = new Map<string, number>();
export async function freshTotpCode(secret: string): Promise<string> {
  for (;;) {
    const now = Math.floor(Date.now() / 30_000);
    const step = Math.max((lastTotpStep.get(secret) ?? now - 2) + 1, now - 1);
    if (step <= now + 1) {
      lastTotpStep.set(secret, step);
      return totpCode(secret, step * 30_000 + 15_000);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * Signs `person` in through a partner's web app (PAR + PKCE S256 + password + TOTP + consent) and
 * returns a caller holding their DPoP-bound token. `authorizationDetails` (RFC 9396) are pushed
 * with the request and shown on the consent page.
 */
export async function userApi(
  listening: Listening,
  options: {
    tenantId: string;
    partnerId: string;
    person: Person;
    scope: string;
    authorizationDetails?: readonly Record<string, unknown>[];
    /** RFC 8707 resource indicator; default the partner API. `<issuer>/admin` for operators. */
    resource?: string;
    /** Registers the web app (POST path, body) → the created app; default the bootstrap admin. */
    register?: (path: string, body: object) => Promise<{ clientId: string }>;
  },
): Promise<ApiCaller> {
  const { app, issuer } = listening;
  const kid = `web-${Math.random().toString(36).slice(2, 10)}`;
  const key = await clientKeyPair(kid);
  const redirectUri = 'http://127.0.0.1:9/cb';
  const register = options.register ?? ((path: string, body: object) => admin(app, 'POST', path, body));
  const registered = await register(`/admin/tenants/${options.tenantId}/partners/${options.partnerId}/apps`, {
    name: 'web app',
    jwks: { keys: [key.jwk] },
    grantTypes: ['authorization_code'],
    redirectUris: [redirectUri],
    scope: `openid ${options.scope}`,
  });
  const clientId: string = registered.clientId;
  const config = await discover(issuer, clientId, key.privateKey, kid);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  const signIn = async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = await oidc.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: redirectUri,
        scope: `openid ${options.scope}`,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...(options.authorizationDetails
          ? { authorization_details: JSON.stringify(options.authorizationDetails) }
          : {}),
        ...(options.resource ? { resource: options.resource } : {}),
      },
      { DPoP: dpop },
    );
    const browser = new Browser();
    const start = await browser.request(authUrl.href);
    const login = await browser.request(new URL(start.location!, issuer).href);
    const afterPassword = await browser.request(`${issuer}${actionOf(login.body)}`, {
      method: 'POST',
      form: {
        csrf: csrfOf(login.body),
        username: options.person.username,
        password: options.person.password,
      },
    });
    const code = await freshTotpCode(options.person.totpSecret);
    const afterTotp = await browser.request(`${issuer}${actionOf(afterPassword.body)}`, {
      method: 'POST',
      form: { csrf: csrfOf(afterPassword.body), method: 'code', code },
    });
    if (afterTotp.status !== 303) throw new Error(`second factor refused: ${afterTotp.body.slice(0, 200)}`);
    let next = await browser.request(new URL(afterTotp.location!, issuer).href);
    const consentPage = await browser.request(new URL(next.location!, issuer).href);
    const consented = await browser.request(`${issuer}${actionOf(consentPage.body)}`, {
      method: 'POST',
      form: { csrf: csrfOf(consentPage.body), decision: 'approve' },
    });
    next = await browser.request(new URL(consented.location!, issuer).href);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(next.location!),
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP: dpop },
    );
    return tokens.access_token;
  };
  return caller(
    issuer,
    { clientId, tenantId: options.tenantId, partnerId: options.partnerId, userId: options.person.userId },
    config,
    dpop,
    signIn,
    { kid, privateKey: key.privateKey },
  );
}
