import { createHmac, type X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../../platform/log.ts';
import type { Services } from '../../platform/services.ts';
import type { PeopleService } from '../people/index.ts';
import { detailProblem, PAYMENT_INITIATION } from '../sca/details.ts';
import { adapterFactory } from './adapter.ts';
import { clientLookup, EXTRA_CLIENT_METADATA } from './clients.ts';
import { structuredTokenEndpoints } from './structured-tokens.ts';

/** Scopes of the partner API (`/v1`). Each route names the scopes it needs. */
export const API_SCOPES = [
  'parties:read',
  'parties:write',
  'kyc:read',
  'kyc:write',
  'accounts:read',
  'accounts:write',
  'payments:read',
  'payments:write',
  'policies:read',
  'policies:write',
  'claims:read',
  'claims:write',
  'webhooks:manage',
] as const;

/** Only asymmetric algorithms: no `none`, no HMAC (FAPI 2.0 §5.4; RFC 8725 §3.1). */
export const SIGNING_ALGS = ['ES256', 'PS256', 'EdDSA'];
export const ACCESS_TOKEN_TTL_SEC = 300;

/** The resource indicator (RFC 8707) and audience of Bulwark's partner API. */
export function apiAudience(config: Config): string {
  return `${config.publicUrl}/v1`;
}

/** The resource indicator and audience of the admin API: operators' tokens, never partners'. */
export function adminAudience(config: Config): string {
  return `${config.publicUrl}/admin`;
}

/**
 * Cookie signing keys derived from the master keys (HKDF-like, one-way), so they rotate with them
 * and no separate secret has to be configured.
 */
function cookieKeys(config: Config): string[] {
  return config.masterKeys.map((k) =>
    createHmac('sha256', Buffer.from(k, 'base64')).update('bulwark/oidc-cookies/v1').digest('base64url'),
  );
}

function peerCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>;
  const raw = socket.getPeerX509Certificate?.();
  return raw ?? undefined;
}

export interface OAuthServerDeps {
  readonly config: Config;
  readonly services: Services;
  readonly logger: Logger;
  /** People who sign in through the authorization code flow (policyholders, staff). */
  readonly people: PeopleService;
  /** Token endpoint outcomes, for metrics. */
  readonly onTokenRequest?: (grant: string, result: string) => void;
  /**
   * The tenant whose people are the platform's operators, once bootstrapped: only its clients
   * may ask for the admin resource.
   */
  readonly operatorTenant?: () => Promise<string | undefined>;
}

/**
 * oidc-provider configured to the FAPI 2.0 security profile: PAR required, PKCE S256, only `code`,
 * sender-constrained tokens (DPoP or mTLS), JWT access tokens for the `/v1` resource signed by the
 * key ring, private_key_jwt or mTLS client authentication (no client secrets), introspection and
 * revocation. Codes live 60 s and are single use.
 */
export async function createProvider({
  config,
  services,
  logger,
  people,
  onTokenRequest,
  operatorTenant,
}: OAuthServerDeps): Promise<Provider> {
  const { db, crypto } = services;
  await crypto.signing.ensureKeys('oauth', 'ES256');
  const jwks = await crypto.signing.exportPrivateJwks('oauth');
  const audience = apiAudience(config);
  const adminResource = adminAudience(config);

  const configuration: Configuration = {
    adapter: adapterFactory(db, clientLookup(db)),
    jwks: jwks as Configuration['jwks'],
    clientAuthMethods: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    enabledJWA: {
      clientAuthSigningAlgValues: SIGNING_ALGS as never,
      dPoPSigningAlgValues: SIGNING_ALGS as never,
      idTokenSigningAlgValues: SIGNING_ALGS as never,
      requestObjectSigningAlgValues: SIGNING_ALGS as never,
      userinfoSigningAlgValues: SIGNING_ALGS as never,
      introspectionSigningAlgValues: SIGNING_ALGS as never,
      authorizationSigningAlgValues: SIGNING_ALGS as never,
    },
    responseTypes: ['code'],
    clientDefaults: { id_token_signed_response_alg: 'ES256', authorization_signed_response_alg: 'ES256' },
    scopes: ['openid', 'offline_access', 'admin', ...API_SCOPES],
    extraClientMetadata: { properties: EXTRA_CLIENT_METADATA },
    pkce: { required: () => true },
    cookies: { keys: cookieKeys(config) },
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      jwks: '/oauth/jwks',
      pushed_authorization_request: '/oauth/par',
      introspection: '/oauth/introspect',
      revocation: '/oauth/revoke',
      userinfo: '/oauth/userinfo',
      end_session: '/oauth/session/end',
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SEC,
      ClientCredentials: ACCESS_TOKEN_TTL_SEC,
      AuthorizationCode: 60,
      IdToken: ACCESS_TOKEN_TTL_SEC,
      Interaction: 600,
      Session: 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      fapi: { enabled: true, profile: '2.0' },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      dPoP: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx) => peerCertificate(ctx)?.toString(),
        certificateAuthorized: (ctx) => Boolean((ctx.req.socket as Partial<TLSSocket>).authorized),
        certificateSubjectMatches: (ctx, property, expected) => {
          if (property !== 'tls_client_auth_subject_dn') return false;
          return peerCertificate(ctx)?.subject.replace(/\n/g, ',') === expected;
        },
      },
      // RFC 9396: a person approves one payment (PSD2 dynamic linking). Only the details they
      // consented to reach the code, and from it the access token; client_credentials never carry any.
      richAuthorizationRequests: {
        enabled: true,
        types: {
          [PAYMENT_INITIATION]: {
            validate: async (_ctx, detail) => {
              const problem = detailProblem(detail);
              if (problem) throw new errors.InvalidAuthorizationDetails(problem);
            },
          },
        },
        authorizationDetailsForGrantSource: async (ctx) => ctx.oidc.grant?.rar,
        authorizationDetailsForAccessToken: async (_ctx, _token, source) =>
          source && 'rar' in source ? (source.rar as never) : undefined,
        authorizationDetailsForIntrospection: async (_ctx, token) => token.rar,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator, client) => {
          if (resourceIndicator === adminResource) {
            // Operators only: a partner's app never gets a token for the admin API, even when an
            // admin signs in through it.
            const tenantId = (client.metadata() as { tenant_id?: string }).tenant_id;
            const operators = await operatorTenant?.();
            if (!operators || tenantId !== operators) throw new errors.InvalidTarget();
            return {
              scope: 'admin',
              audience: adminResource,
              accessTokenTTL: ACCESS_TOKEN_TTL_SEC,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          }
          if (resourceIndicator !== audience) throw new errors.InvalidTarget();
          return {
            scope: API_SCOPES.join(' '),
            audience,
            accessTokenTTL: ACCESS_TOKEN_TTL_SEC,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Tenant, partner and roles travel in the access token, so the resource server needs no lookup.
    // A person's token carries their roles and how they signed in (acr/amr, RFC 9068 §2.2.1).
    extraTokenClaims: async (ctx, token) => {
      const meta = ctx.oidc.client?.metadata() as Record<string, unknown> | undefined;
      if (!meta?.tenant_id) return undefined;
      const accountId = 'accountId' in token ? token.accountId : undefined;
      if (!accountId)
        return { tenant_id: meta.tenant_id, partner_id: meta.partner_id, roles: ['partner_app'] };
      const user = await people.getUser(String(meta.tenant_id), accountId);
      // At the token endpoint there is no session: the sign-in is recorded on the code (or refresh token).
      const source = (ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken) as
        | { acr?: string; amr?: string[] }
        | undefined;
      return {
        tenant_id: meta.tenant_id,
        partner_id: meta.partner_id,
        roles: user.roles,
        ...(source?.acr ? { acr: source.acr } : {}),
        ...(source?.amr ? { amr: source.amr } : {}),
      };
    },
    // Accounts are the users of the tenant whose client asks; unknown or other-tenant ids do not exist.
    findAccount: async (ctx, sub) => {
      const tenantId = (ctx.oidc.client?.metadata() as Record<string, unknown> | undefined)?.tenant_id;
      if (typeof tenantId !== 'string') return undefined;
      const user = await people.getUser(tenantId, sub).catch(() => undefined);
      if (user?.status !== 'active') return undefined;
      return { accountId: user.id, claims: () => ({ sub: user.id }) };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = { error: out.error, error_description: out.error_description };
    },
  };

  const provider = new Provider(config.publicUrl, configuration);
  provider.proxy = config.behindTlsProxy;
  structuredTokenEndpoints(provider, {
    issuer: config.publicUrl,
    algorithms: SIGNING_ALGS,
    jwks: () => crypto.signing.publicJwks('oauth'),
    kv: services.kv,
    onRevoked: (jti, clientId) => logger.info({ jti, clientId }, 'access token revoked'),
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'authorization server error'));
  const grantOf = (ctx: KoaContextWithOIDC) => String(ctx.oidc?.params?.grant_type ?? 'unknown');
  provider.on('grant.success', (ctx) => onTokenRequest?.(grantOf(ctx), 'issued'));
  provider.on('grant.error', (ctx, err) =>
    onTokenRequest?.(grantOf(ctx), String((err as { error?: string }).error ?? 'error')),
  );
  provider.on('grant.error', (_ctx, err) =>
    logger.info({ error: (err as { error?: string }).error }, 'token request refused'),
  );
  return provider;
}
