import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import { cors, limitHeaderCount, refuseUnknownMethods } from './edges.ts';

export interface GatewayDeps {
  readonly config: Config;
}

/**
 * The security pipeline, in the order requests meet it (DESIGN "The request path"). Cheap
 * rejections come first; each step is one small function. Read top to bottom:
 *
 *   onRequest     method allow-list -> header count -> CORS (preflight answered here)
 *                 [IP rules -> per-IP rate limit -> WAF on line, headers, cookies: issue 5]
 *   preParsing    [WAF on the raw body]
 *   (parsing)     JSON only, structural limits, duplicate and __proto__ keys (platform/http/json-body)
 *   preValidation authenticate (installed per face: admin, partner API)
 *                 [per-client rate limit / quota]
 *   (validation)  strict schemas: closed objects, no coercion
 *   preHandler    [authorize -> idempotency -> SCA]
 *   onSend        request id, security headers (app.ts)
 *
 * Steps in brackets arrive with the gateway, identity and domain issues.
 */
export function installGateway(app: FastifyInstance, { config }: GatewayDeps): void {
  app.addHook('onRequest', refuseUnknownMethods);
  app.addHook('onRequest', limitHeaderCount(config.maxHeaders));
  if (config.corsOrigins.length) app.addHook('onRequest', cors(config.corsOrigins));
}
