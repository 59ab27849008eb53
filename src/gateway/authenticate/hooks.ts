import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError, HttpErrors } from '../../platform/errors/index.ts';
import { setContextAccess } from '../../platform/http/route-guard.ts';
import { AuthErrors } from './errors.ts';
import type { Principal } from './principal.ts';
import type { TokenVerifier } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access-token authenticator; absent on public and bootstrap-admin routes. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Scopes the access token must all carry (RFC 6749 §3.3); `[]` for any valid token. */
    scopes?: readonly string[];
  }
}

export interface AuthenticateOptions {
  /**
   * `config.publicUrl`. The URI a DPoP proof must name (`htu`, RFC 9449 §4.3) is this plus the
   * request path — never built from the Host header, which is the client's to choose.
   */
  readonly publicUrl: string;
  /**
   * The client certificate (DER) of the request, for certificate-bound tokens (RFC 8705 §3).
   * Default: the peer certificate of the TLS connection. Supply another only where TLS ends at a
   * trusted proxy that forwards the certificate, and never read it from a header the client sets.
   */
  readonly clientCertificate?: (req: FastifyRequest) => Uint8Array | undefined;
}

export type AuthenticateHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. Safe inside a quoted string. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The preValidation hook of access-token routes: verifies the token and its binding, sets
 * `req.principal`, then requires the route's `config.scopes`. Refusals carry the challenge RFC 9449
 * §7.1 and RFC 6750 §3 describe.
 */
export function authenticateRequest(verifier: TokenVerifier, options: AuthenticateOptions): AuthenticateHook {
  const base = baseUri(options.publicUrl);
  const certificateOf = options.clientCertificate ?? peerCertificate;
  const challenge = challenges(verifier.algorithms);

  return async function authenticateAccessToken(req, reply) {
    let principal: Principal;
    try {
      principal = await verifier.authenticate({
        authorization: req.headers.authorization,
        dpop: req.headers.dpop,
        method: req.method,
        uri: base + pathOf(req.url),
        clientCertificate: () => certificateOf(req),
      });
    } catch (err) {
      if (err instanceof AppError && err.status === 401) {
        reply.header(
          'www-authenticate',
          challenge(err.code, /^bearer /i.test(req.headers.authorization ?? '')),
        );
      }
      throw err;
    }
    req.principal = principal;
    const required = req.routeOptions.config.scopes;
    if (required !== undefined && required.length > 0) {
      for (const scope of required) {
        if (!principal.scopes.has(scope)) {
          // RFC 6750 §3.1 (RFC 9449 §7.1 for DPoP): name every scope the route needs.
          const scheme = principal.binding === 'mtls' ? 'Bearer' : 'DPoP';
          reply.header(
            'www-authenticate',
            `${scheme} error="insufficient_scope", scope="${required.join(' ')}"`,
          );
          throw new AppError(
            AuthErrors.AUTH_INSUFFICIENT_SCOPE,
            `This route requires the scopes: ${required.join(' ')}`,
          );
        }
      }
    }
  };
}

/**
 * Makes `app` (an encapsulated context, such as the partner API) an access-token face: every route
 * registered in it is marked `access: 'access-token'` for the route guard, must declare its
 * `config.scopes` (boot fails otherwise: no route silently needs no scope), and is authenticated
 * in preValidation.
 */
export function accessTokenContext(
  app: FastifyInstance,
  verifier: TokenVerifier,
  options: AuthenticateOptions,
): void {
  setContextAccess(app, 'access-token');
  app.addHook('onRoute', (route: RouteOptions) => {
    const scopes = route.config?.scopes;
    const where = `${String(route.method)} ${route.url}`;
    if (scopes === undefined) throw new Error(`route ${where} declares no config.scopes`);
    for (const scope of scopes) {
      if (!SCOPE_TOKEN.test(scope)) throw new Error(`route ${where} declares an invalid scope`);
    }
  });
  // Declared up front so every request object keeps one shape (fastify's decorator guidance).
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);
  app.addHook('preValidation', authenticateRequest(verifier, options));
}

/**
 * The `WWW-Authenticate` value for a refusal (RFC 9449 §7.1): always a DPoP challenge naming the
 * algorithms, with `invalid_token` or `invalid_dpop_proof` as the case may be, and no error code
 * when no credentials came (RFC 6750 §3.1). A request that used the Bearer scheme (mTLS-bound
 * tokens, RFC 8705 §3) also gets a Bearer challenge.
 */
function challenges(algorithms: readonly string[]): (code: string, bearer: boolean) => string {
  const algs = `algs="${[...algorithms].sort().join(' ')}"`;
  const required = `DPoP ${algs}`;
  const invalidToken = `DPoP error="invalid_token", ${algs}`;
  const invalidProof = `DPoP error="invalid_dpop_proof", ${algs}`;
  return (code, bearer) => {
    switch (code) {
      case HttpErrors.AUTH_REQUIRED:
        return required;
      case AuthErrors.AUTH_DPOP_PROOF_INVALID:
      case AuthErrors.AUTH_DPOP_PROOF_REPLAYED:
        return invalidProof;
      default:
        return bearer ? `${invalidToken}, Bearer error="invalid_token"` : invalidToken;
    }
  };
}

/** `scheme://host[:port][/base]` of the public URL, without a trailing slash. */
function baseUri(publicUrl: string): string {
  const url = new URL(publicUrl);
  if (url.search !== '' || url.hash !== '') throw new Error('publicUrl must not have a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The path of a request target, without query (RFC 9449 §4.2: htu excludes query and fragment). */
function pathOf(url: string): string {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return url.slice(0, i);
  }
  return url;
}

/** The peer certificate of a TLS connection (`{}` when the client sent none); none over plain HTTP. */
function peerCertificate(req: FastifyRequest): Uint8Array | undefined {
  const socket = req.raw.socket as Partial<TLSSocket>;
  const raw = socket.getPeerCertificate?.()?.raw;
  return raw !== undefined && raw.length > 0 ? raw : undefined;
}
