import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import { isRevokedJti, markRevoked } from '../../gateway/authenticate/index.ts';
import type { Kv } from '../../platform/kv/index.ts';

interface Deps {
  readonly issuer: string;
  readonly algorithms: string[];
  readonly jwks: () => Promise<{ keys: unknown[] }>;
  readonly kv: Kv;
  readonly onRevoked?: (jti: string, clientId: string) => void;
}

/**
 * oidc-provider does not keep JWT access tokens, so its introspection and revocation endpoints
 * refuse them (`unsupported_token_type`). After the endpoint has authenticated the calling client,
 * this middleware answers for our own structured tokens instead: it verifies the JWT, requires it
 * to have been issued to the caller (RFC 7009 §2.1; RFC 7662 §2.1 leaves the policy to us), and
 * keeps revocations in a shared revocation list (KV, through Redis across instances) that the
 * resource server checks on every request.
 */
export function structuredTokenEndpoints(provider: Provider, deps: Deps): void {
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (route !== 'introspection' && route !== 'revocation') return;
    const body = ctx.body as { error?: string } | undefined;
    const client = ctx.oidc?.client;
    const token = ctx.oidc?.params?.token;
    if (body?.error !== 'unsupported_token_type' || !client || typeof token !== 'string') return;
    let payload: { jti?: string; client_id?: unknown; exp?: number; [k: string]: unknown };
    try {
      const keys = createLocalJWKSet((await deps.jwks()) as JSONWebKeySet);
      ({ payload } = await jwtVerify(token, keys, {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: deps.algorithms,
      }));
    } catch {
      payload = {};
    }
    const ours = typeof payload.jti === 'string' && payload.client_id === client.clientId && payload.exp;
    ctx.status = 200;
    ctx.type = 'application/json';
    if (route === 'revocation') {
      // RFC 7009 §2.2: an invalid or foreign token is answered 200 all the same.
      if (ours) {
        await markRevoked(deps.kv, payload.jti as string, payload.exp as number);
        deps.onRevoked?.(payload.jti as string, client.clientId);
      }
      ctx.body = '';
      return;
    }
    if (!ours || (await isRevokedJti(deps.kv, payload.jti as string))) {
      ctx.body = { active: false };
      return;
    }
    const { iss, aud, exp, iat, jti, scope, client_id, sub, tenant_id, partner_id, cnf } = payload;
    ctx.body = {
      active: true,
      token_type: cnf && typeof cnf === 'object' && 'jkt' in cnf ? 'DPoP' : 'Bearer',
      ...{ iss, aud, exp, iat, jti, scope, client_id, sub, tenant_id, partner_id, cnf },
    };
  });
}
