import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { AppError, HttpErrors } from '../platform/errors/index.ts';

/** Methods Bulwark serves. TRACE (cross-site tracing) and CONNECT are never among them. */
const ALLOWED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Refuse TRACE, CONNECT and unknown methods before any other work (405, RFC 9110 §15.5.6). */
export async function refuseUnknownMethods(req: FastifyRequest): Promise<void> {
  if (!ALLOWED_METHODS.has(req.method)) throw new AppError(HttpErrors.METHOD_NOT_ALLOWED);
}

/**
 * Node keeps at most `maxHeadersCount` headers and silently drops the rest, which would let a
 * request hide headers from us; count the raw list instead and refuse (431, RFC 6585 §5).
 */
export function limitHeaderCount(maxHeaders: number) {
  return async function headerCount(req: FastifyRequest): Promise<void> {
    if (req.raw.rawHeaders.length / 2 > maxHeaders) throw new AppError(HttpErrors.REQUEST_HEADERS_TOO_LARGE);
  };
}

const PREFLIGHT_MAX_AGE = '600';
const CORS_ALLOWED_HEADERS = 'authorization, content-type, dpop, idempotency-key, x-request-id';
const CORS_EXPOSED_HEADERS =
  'x-request-id, retry-after, ratelimit, ratelimit-policy, deprecation, sunset, link';

/**
 * CORS for configured origins only (exact match; no wildcard, no credentials by reflection).
 * Preflights from allowed origins are answered here, before routing; other origins get no CORS
 * headers at all, so browsers refuse to expose the answer.
 */
export function cors(origins: readonly string[]) {
  const allowed = new Set(origins);
  return async function corsHook(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const origin = req.headers.origin;
    if (!origin || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('vary', 'Origin');
    reply.header('access-control-expose-headers', CORS_EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      reply
        .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
        .header('access-control-allow-headers', CORS_ALLOWED_HEADERS)
        .header('access-control-max-age', PREFLIGHT_MAX_AGE)
        .code(204)
        .send();
    }
  };
}

/** Node server limits against slow or oversized requests (slowloris, header floods, too many sockets). */
export function serverLimits(config: Config) {
  return {
    connectionTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node checks the timeouts above on this interval (default 30 s, which would blunt them).
    http: {
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
  } as const;
}

/** Apply what cannot be passed at construction. */
export function applyServerLimits(app: FastifyInstance, config: Config): void {
  app.server.maxConnections = config.maxConnections;
  app.server.maxHeadersCount = config.maxHeaders + 1;
}

/**
 * The HTTPS listener: TLS 1.2 or later only (RFC 9325 §3.1.1; FAPI 2.0 §5.2.1 also requires
 * TLS 1.2+), and — when a client CA is configured — client certificates requested for mTLS. An
 * unverified (self-signed) certificate is not refused by the handshake, because
 * `self_signed_tls_client_auth` and certificate-bound tokens check the certificate itself; the
 * authorization server and the token verifier decide what a certificate is worth.
 */
export function httpsOptions(config: Config) {
  if (!config.tlsCertFile || !config.tlsKeyFile) return undefined;
  return {
    cert: readFileSync(config.tlsCertFile),
    key: readFileSync(config.tlsKeyFile),
    minVersion: 'TLSv1.2' as const,
    ...(config.tlsClientCaFile
      ? { ca: readFileSync(config.tlsClientCaFile), requestCert: true, rejectUnauthorized: false }
      : {}),
  };
}
