import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_ID_HEADER } from '../../platform/http/request-id.ts';
import { setContextAccess } from '../../platform/http/route-guard.ts';

/** oidc-provider bounds bodies at 56 KiB itself; we keep the form smaller still. */
const FORM_LIMIT = 32 * 1024;

/**
 * Hands the authorization server's endpoints (`/oauth/*`) and the discovery document to
 * oidc-provider. They are `public` to our bearer-token authentication because oidc-provider
 * authenticates clients itself (private_key_jwt or mTLS) on every endpoint that needs it. The
 * request has already passed the gateway's edge checks; its form body is read once by Fastify and
 * handed over as a string (oidc-provider accepts an upstream-parsed body).
 */
export async function oauthRoutes(
  app: FastifyInstance,
  opts: { handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> },
): Promise<void> {
  setContextAccess(app, 'public');
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_LIMIT },
    (_req, body, done) => done(null, body),
  );

  const handOver = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    reply.raw.setHeader(REQUEST_ID_HEADER, req.id);
    (req.raw as typeof req.raw & { body?: unknown }).body = req.body;
    await opts.handle(req.raw, reply.raw);
  };

  const hide = { schema: { hide: true } };
  app.get('/.well-known/openid-configuration', hide, handOver);
  // Token, PAR and authorization endpoints get the stricter `token` limits (fail closed).
  app.route({
    method: ['GET', 'POST'],
    url: '/oauth/*',
    ...hide,
    config: { rateLimit: { class: 'token' } },
    handler: handOver,
  });
}
