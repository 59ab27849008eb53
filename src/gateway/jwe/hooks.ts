/**
 * The JWE step of the partner API face, as Fastify hooks (see index.ts for the contract).
 */

import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { AppError } from '../../platform/errors/index.ts';
import { parseJsonText } from '../../platform/http/json-body.ts';
import type { JsonLimits } from '../../platform/http/json-shape.ts';
import { JweErrors } from './errors.ts';
import {
  type ClientEncryptionKey,
  CONTENT_ENCRYPTION,
  clientEncryptionKey,
  type PlatformEncryptionKeys,
  REQUEST_KEY_MANAGEMENT,
} from './keys.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * JWE (RFC 7516) payloads: `allowed` takes an encrypted body (application/jose) and encrypts
     * the response when asked (`Accept: application/jose`); `required` takes only encrypted
     * bodies and always encrypts successful responses.
     */
    jwe?: 'allowed' | 'required';
  }
}

export const JOSE_MEDIA_TYPE = 'application/jose';
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What the application/jose parser hands on: decrypted in preValidation, after authentication. */
class EncryptedBody {
  constructor(readonly compact: string) {}
}

const kEncryptTo = Symbol('bulwark.jwe.encryptTo');
type WithTarget = FastifyRequest & { [kEncryptTo]?: ClientEncryptionKey };

/** Does `Accept` list application/jose with a non-zero q (RFC 9110 §12.5.1)? */
function acceptsJose(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== JOSE_MEDIA_TYPE) return false;
    const q = params.find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}

export interface JweOptions {
  readonly keys: PlatformEncryptionKeys;
  /** The calling client's registered JWKS members (the apps table). */
  readonly clientKeys: (clientId: string) => Promise<readonly Record<string, unknown>[] | undefined>;
  /** The same structural limits as plain JSON bodies. */
  readonly jsonLimits: JsonLimits;
  /**
   * The WAF on the plaintext, which it could not read on the way in (Gateway.inspectBody); throws
   * to refuse. Without it, decrypted bodies meet only the JSON limits and the schema.
   */
  readonly inspectPlaintext?: (req: FastifyRequest, contentType: string, text: string) => void;
}

export function jweHooks(options: JweOptions) {
  return {
    /** onRoute: only the two documented values. */
    checkRoute(route: RouteOptions): void {
      const mode = route.config?.jwe;
      if (mode !== undefined && mode !== 'allowed' && mode !== 'required')
        throw new Error(`jwe on ${route.url}: 'allowed' or 'required'`);
    },

    /**
     * The application/jose body parser of the face. It only checks the compact shape: decryption
     * waits until the caller is authenticated (preValidation), so anonymous traffic costs no ECDH.
     */
    installParser(app: FastifyInstance): void {
      app.addContentTypeParser(JOSE_MEDIA_TYPE, { parseAs: 'string' }, (req, body: string, done) => {
        if (!req.routeOptions.config.jwe) return done(new AppError(JweErrors.JWE_NOT_ACCEPTED), undefined);
        const compact = body.trim();
        if (!COMPACT_JWE.test(compact)) return done(new AppError(JweErrors.JWE_INVALID), undefined);
        done(null, new EncryptedBody(compact));
      });
    },

    /**
     * preValidation, after authentication and the signature check: decrypts the body and runs the
     * plaintext through the JSON limits (schema validation follows as for any body); decides
     * whether the response is encrypted and to which key.
     */
    async preValidation(req: FastifyRequest): Promise<void> {
      const mode = req.routeOptions.config.jwe;
      if (!mode) return;
      const p = req.principal;
      if (!p) throw new Error(`jwe on ${req.url} needs an authenticated principal`);
      if (req.body instanceof EncryptedBody) {
        const text = await decrypt(options.keys, req.body.compact);
        options.inspectPlaintext?.(req, 'application/json', text);
        req.body = parseJsonText(text, options.jsonLimits);
      } else if (mode === 'required' && req.body !== undefined) {
        throw new AppError(JweErrors.JWE_REQUIRED);
      }
      if (mode === 'required' || acceptsJose(req.headers.accept)) {
        const key = await clientEncryptionKey(p.clientId, await options.clientKeys(p.clientId));
        if (!key) throw new AppError(JweErrors.JWE_CLIENT_KEY_MISSING);
        (req as WithTarget)[kEncryptTo] = key;
      }
    },

    /**
     * onSend (before the response is signed): a successful JSON answer, already serialized through
     * the route's response schema, is encrypted to the client's key. Problem documents stay
     * readable: they carry codes, never data.
     */
    async onSend(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
      const to = (req as WithTarget)[kEncryptTo];
      if (!to) return payload;
      reply.header('vary', 'Accept');
      if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;
      if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
      const plaintext = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
      const jwe = await new CompactEncrypt(plaintext)
        .setProtectedHeader({
          alg: to.alg,
          enc: CONTENT_ENCRYPTION,
          cty: 'json',
          ...(to.kid ? { kid: to.kid } : {}),
        })
        .encrypt(to.key);
      reply.header('content-type', JOSE_MEDIA_TYPE);
      return jwe;
    },
  };
}

/** The UTF-8 plaintext of a compact JWE encrypted to one of our keys, or an AppError. */
async function decrypt(keys: PlatformEncryptionKeys, compact: string): Promise<string> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(compact) as Record<string, unknown>;
  } catch {
    throw new AppError(JweErrors.JWE_INVALID);
  }
  if (header.alg !== REQUEST_KEY_MANAGEMENT || header.enc !== CONTENT_ENCRYPTION || 'zip' in header) {
    throw new AppError(JweErrors.JWE_ALGORITHM_UNSUPPORTED);
  }
  if (header.cty !== undefined && header.cty !== 'json' && header.cty !== 'application/json')
    throw new AppError(JweErrors.JWE_INVALID, 'The encrypted content must be JSON (cty "json")');
  let plaintext: Uint8Array;
  try {
    const out = await compactDecrypt(
      compact,
      async (h) => {
        const key = typeof h.kid === 'string' ? await keys.decryptionKey(h.kid) : undefined;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        keyManagementAlgorithms: [REQUEST_KEY_MANAGEMENT],
        contentEncryptionAlgorithms: [CONTENT_ENCRYPTION],
      },
    );
    plaintext = out.plaintext;
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw new AppError(JweErrors.JWE_INVALID);
    throw err;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    throw new AppError(JweErrors.JWE_INVALID, 'The encrypted content is not UTF-8');
  }
}
