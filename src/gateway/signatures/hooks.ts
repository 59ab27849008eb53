/**
 * The message-signature step of the partner API face, as Fastify hooks (see index.ts for the contract).
 */
import { pipeline, type Readable, Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../../platform/errors/index.ts';
import {
  component,
  componentValue,
  contentDigest,
  type HttpMessage,
  type SignatureParameters,
  signatureFields,
  signatureParams,
  signWithRing,
} from '../../platform/http/message-signatures.ts';
import { type Item, param, parseDictionary, serializeItem } from '../../platform/http/structured-fields.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { ACCEPT_SIGNATURE, createSignatureVerifier, type VerifiedSignature } from './verify.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * RFC 9421 signature on requests: `required` refuses an unsigned request, `optional` verifies
     * one when present (and refuses it if it does not verify).
     */
    messageSignature?: 'required' | 'optional';
    /** Sign every response of the route (otherwise only when the caller sends Accept-Signature). */
    signResponses?: boolean;
  }
  interface FastifyRequest {
    /** The verified request signature, on routes that take one. */
    messageSignature?: VerifiedSignature;
  }
}

/** Key ring purpose of the platform's response signatures (published with the payload keys). */
export const MESSAGE_KEY_PURPOSE = 'message';
/** `tag` of Bulwark's response signatures (RFC 9421 §2.3), so they serve no other protocol. */
export const RESPONSE_SIGNATURE_TAG = 'bulwark-response';
/** What every response signature covers; the caller's Accept-Signature may add to it. */
const RESPONSE_COMPONENTS = [
  '@status',
  'content-type',
  'content-digest',
  '"@method";req',
  '"@target-uri";req',
];

const kRaw = Symbol('bulwark.rawBody');
type WithRaw = FastifyRequest & { [kRaw]?: Buffer[] };

/** The request body bytes exactly as received, on routes that keep them (messageSignature). */
export function rawBodyOf(req: FastifyRequest): Buffer | undefined {
  const chunks = (req as WithRaw)[kRaw];
  return chunks ? Buffer.concat(chunks) : undefined;
}

export interface MessageSignatureOptions {
  /** Nonce replay cache (memory, or Redis shared by every instance). */
  readonly kv: Kv;
  /** The calling client's registered JWKS members (the apps table), or undefined for none. */
  readonly clientKeys: (clientId: string) => Promise<readonly Record<string, unknown>[] | undefined>;
  /** `config.publicUrl`: the target URI is this plus the request target, never the Host header. */
  readonly publicUrl: string;
  /** Signs responses with the active key of MESSAGE_KEY_PURPOSE. */
  readonly signing: {
    sign(
      purpose: string,
      payload: Uint8Array | string,
    ): Promise<{ kid: string; alg: string; signature: Buffer }>;
  };
  readonly now?: () => number;
  readonly windowSec?: number;
}

export function messageSignatureHooks(options: MessageSignatureOptions) {
  const verifier = createSignatureVerifier({
    kv: options.kv,
    ...(options.now ? { now: options.now } : {}),
    ...(options.windowSec ? { windowSec: options.windowSec } : {}),
  });
  const now = options.now ?? Date.now;
  const url = new URL(options.publicUrl);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const targetUri = (req: FastifyRequest) => `${base}${req.url}`;

  return {
    /** onRoute: only the two documented values. */
    checkRoute(route: RouteOptions): void {
      const mode = route.config?.messageSignature;
      if (mode !== undefined && mode !== 'required' && mode !== 'optional')
        throw new Error(`messageSignature on ${route.url}: 'required' or 'optional'`);
    },

    /**
     * preParsing: on routes that verify signatures, a copy of the body bytes as they stream to the
     * parser (Content-Digest is over the bytes sent, not over a re-serialisation of parsed JSON).
     */
    async preParsing(req: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) {
      if (!req.routeOptions.config.messageSignature) return payload;
      const chunks: Buffer[] = [];
      (req as WithRaw)[kRaw] = chunks;
      // A pass-through that keeps what flows by: Fastify's parser reads (and bounds) the same stream.
      const tee = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done(null, chunk);
        },
      });
      pipeline(payload as Readable, tee, () => {});
      return tee;
    },

    /** preValidation, after authentication: verifies the signature with the client's keys. */
    async preValidation(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const mode = req.routeOptions.config.messageSignature;
      if (!mode) return;
      const p = req.principal;
      if (!p) throw new Error(`messageSignature on ${req.url} needs an authenticated principal`);
      const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
      if (mode === 'optional' && !signed) return;
      try {
        req.messageSignature = await verifier.verify(
          { method: req.method, targetUri: targetUri(req), headers: req.headers, body: rawBodyOf(req) },
          { clientId: p.clientId, keys: (await options.clientKeys(p.clientId)) ?? [] },
        );
      } catch (err) {
        if (err instanceof AppError && err.status === 401) {
          // RFC 9421 §5.1: say what a signature must look like.
          reply.header('accept-signature', ACCEPT_SIGNATURE);
          reply.header('www-authenticate', 'HTTPSig');
        }
        if (err instanceof AppError) req.log.warn({ signature: err.code }, 'message signature refused');
        throw err;
      }
    },

    /**
     * onSend (last, after anything that changes the payload, e.g. JWE): signs the response when the
     * caller asked (Accept-Signature, RFC 9421 §5) or the route always does. Content-Digest is over
     * the bytes sent.
     */
    async onSend(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
      const asked = req.headers['accept-signature'];
      if (asked === undefined && !req.routeOptions.config.signResponses) return payload;
      if (
        payload !== null &&
        payload !== undefined &&
        typeof payload !== 'string' &&
        !Buffer.isBuffer(payload)
      )
        return payload; // a stream: not signed (no route streams today)
      const body = payload ?? '';
      reply.header('content-digest', contentDigest(body as string | Buffer));
      const wanted = typeof asked === 'string' ? acceptedSignature(asked) : undefined;
      const message: HttpMessage = {
        status: reply.statusCode,
        headers: reply.getHeaders() as HttpMessage['headers'],
        request: { method: req.method, targetUri: targetUri(req), headers: req.headers },
      };
      const components = RESPONSE_COMPONENTS.filter(
        (c) => c !== 'content-type' || reply.hasHeader('content-type'),
      ).map(component);
      const ids = new Set(components.map(serializeItem));
      // Extra components the caller asked for, as far as this response has them.
      for (const item of wanted?.components ?? []) {
        const id = serializeItem(item);
        if (ids.has(id)) continue;
        try {
          componentValue(message, item);
          components.push(item);
          ids.add(id);
        } catch {
          // Not producible for this response (absent field, unsupported parameter): left out.
        }
      }
      const created = Math.floor(now() / 1000);
      const signed = await signWithRing(options.signing, MESSAGE_KEY_PURPOSE, message, (keyid, alg) =>
        signatureParams(components, {
          created,
          keyid,
          alg,
          ...(wanted?.nonce ? { nonce: wanted.nonce } : {}),
          tag: wanted?.tag ?? RESPONSE_SIGNATURE_TAG,
        } satisfies SignatureParameters),
      );
      const fields = signatureFields(wanted?.label ?? 'sig1', signed.params, signed.signature);
      reply.header('signature-input', fields.signatureInput);
      reply.header('signature', fields.signature);
      return payload;
    },
  };
}

/** The first signature asked for in Accept-Signature (RFC 9421 §5.1), or undefined if unreadable. */
function acceptedSignature(
  field: string,
): { label: string; components: Item[]; nonce?: string; tag?: string } | undefined {
  try {
    const [first] = parseDictionary(field);
    if (!first) return undefined;
    const [label, member] = first;
    if (member.kind !== 'inner') return undefined;
    const nonce = param(member.params, 'nonce');
    const tag = param(member.params, 'tag');
    return {
      label,
      components: member.items.filter((i) => i.value.type === 'string'),
      ...(nonce?.type === 'string' ? { nonce: nonce.value } : {}),
      ...(tag?.type === 'string' ? { tag: tag.value } : {}),
    };
  } catch {
    return undefined;
  }
}
