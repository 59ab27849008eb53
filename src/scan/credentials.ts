/**
 * The credentials file `bulwark scan --credentials FILE` reads (docs/scan.md), and `scan setup`,
 * which creates such fixtures through the admin API of a fresh deployment: two tenants, three
 * partner apps (two partners in tenant A, one in tenant B), a partner web app and a policyholder
 * who signs in through it. Private keys are generated here and never sent; only public JWKs are
 * registered.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { send } from './http.ts';

export interface PartnerCredential {
  readonly tenantId: string;
  readonly partnerId: string;
  readonly clientId: string;
  /** The app's private ES256 (or PS256/EdDSA) JWK for private_key_jwt, with its `kid`. */
  readonly privateJwk: JWK;
  /** Scopes to ask for; the app must be registered with them. */
  readonly scope?: string;
}

export interface PolicyholderCredential {
  readonly tenantId: string;
  readonly partnerId: string;
  /** The partner web app (authorization_code) the person signs in through. */
  readonly clientId: string;
  readonly privateJwk: JWK;
  readonly redirectUri: string;
  readonly scope: string;
  readonly username: string;
  readonly password: string;
  /** Base32 TOTP secret, when the account has an authenticator app. */
  readonly totpSecret?: string;
  readonly userId?: string;
}

export interface ScanCredentials {
  readonly version: 1;
  /** Partner app of tenant A (the scan's main actor; creates the objects the probes attack). */
  readonly partnerA?: PartnerCredential;
  /** Another partner's app in tenant A (cross-partner access). */
  readonly partnerA2?: PartnerCredential;
  /** A partner app of another tenant (cross-tenant access). */
  readonly partnerB?: PartnerCredential;
  /** A policyholder of tenant A, signing in through a web app of partner A. */
  readonly policyholder?: PolicyholderCredential;
}

export class CredentialsError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function need(o: Record<string, unknown>, where: string, keys: readonly string[]) {
  for (const k of keys)
    if (typeof o[k] !== 'string' || !o[k])
      throw new CredentialsError(`${where}.${k} must be a non-empty string`);
}

/** Checks a parsed credentials document; unknown top-level keys are refused. */
export function parseCredentials(doc: unknown): ScanCredentials {
  if (!isObj(doc) || doc.version !== 1) throw new CredentialsError('credentials: "version": 1 is required');
  const known = new Set(['version', 'partnerA', 'partnerA2', 'partnerB', 'policyholder']);
  for (const k of Object.keys(doc))
    if (!known.has(k)) throw new CredentialsError(`credentials: unknown key ${k}`);
  for (const name of ['partnerA', 'partnerA2', 'partnerB'] as const) {
    const p = doc[name];
    if (p === undefined) continue;
    if (!isObj(p)) throw new CredentialsError(`${name} must be an object`);
    need(p, name, ['tenantId', 'partnerId', 'clientId']);
    if (!isObj(p.privateJwk) || typeof p.privateJwk.d !== 'string')
      throw new CredentialsError(`${name}.privateJwk must be a private JWK`);
  }
  const h = doc.policyholder;
  if (h !== undefined) {
    if (!isObj(h)) throw new CredentialsError('policyholder must be an object');
    need(h, 'policyholder', ['tenantId', 'partnerId', 'clientId', 'redirectUri', 'username', 'password']);
    if (typeof h.scope !== 'string') throw new CredentialsError('policyholder.scope must be a string');
    if (!isObj(h.privateJwk) || typeof h.privateJwk.d !== 'string')
      throw new CredentialsError('policyholder.privateJwk must be a private JWK');
  }
  return doc as unknown as ScanCredentials;
}

/** What the scan's partner apps are registered with (docs/scan.md): enough for every probe. */
export const PARTNER_SCOPE = 'parties:read parties:write accounts:read accounts:write webhooks:manage';
export const POLICYHOLDER_SCOPE = 'parties:read';
const REDIRECT_URI = 'https://scan.bulwark.invalid/callback';

async function appKey(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const kid = `scan-${randomBytes(6).toString('hex')}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  };
}

/**
 * Creates the scan's fixtures through the admin API (`adminToken`: a bootstrap admin token while
 * the bootstrap is open). Writes only new tenants (slugs `scan-…`); nothing existing is touched.
 */
export async function setupFixtures(target: string, adminToken: string): Promise<ScanCredentials> {
  const admin = async (path: string, body: object) => {
    const res = await send(new URL(path, target).href, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.json as Record<string, unknown>;
  };
  const run = randomBytes(4).toString('hex');
  const tenant = async (x: string) =>
    (await admin('/admin/tenants', { slug: `scan-${run}-${x}`, name: `Scan ${x.toUpperCase()} ${run}` }))
      .id as string;
  const partner = async (tenantId: string, name: string) =>
    (await admin(`/admin/tenants/${tenantId}/partners`, { name })).id as string;
  const app = async (tenantId: string, partnerId: string): Promise<PartnerCredential> => {
    const key = await appKey();
    const created = await admin(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'scan backend',
      jwks: { keys: [key.publicJwk] },
      scope: PARTNER_SCOPE,
    });
    return {
      tenantId,
      partnerId,
      clientId: created.clientId as string,
      privateJwk: key.privateJwk,
      scope: PARTNER_SCOPE,
    };
  };
  const tenantA = await tenant('a');
  const tenantB = await tenant('b');
  const partnerA = await partner(tenantA, 'Scan partner A');
  const partnerA2 = await partner(tenantA, 'Scan partner A2');
  const partnerB = await partner(tenantB, 'Scan partner B');

  const webKey = await appKey();
  const web = await admin(`/admin/tenants/${tenantA}/partners/${partnerA}/apps`, {
    name: 'scan web app',
    jwks: { keys: [webKey.publicJwk] },
    grantTypes: ['authorization_code'],
    redirectUris: [REDIRECT_URI],
    scope: `openid ${POLICYHOLDER_SCOPE}`,
  });
  const username = `scan-holder-${run}`;
  const password = `${randomBytes(18).toString('base64url')} ${randomBytes(6).toString('hex')}`;
  const user = await admin(`/admin/tenants/${tenantA}/users`, {
    username,
    password,
    roles: ['policyholder'],
  });
  return {
    version: 1,
    partnerA: await app(tenantA, partnerA),
    partnerA2: await app(tenantA, partnerA2),
    partnerB: await app(tenantB, partnerB),
    policyholder: {
      tenantId: tenantA,
      partnerId: partnerA,
      clientId: web.clientId as string,
      privateJwk: webKey.privateJwk,
      redirectUri: REDIRECT_URI,
      scope: POLICYHOLDER_SCOPE,
      username,
      password,
      userId: (user.user as { id: string }).id,
    },
  };
}
