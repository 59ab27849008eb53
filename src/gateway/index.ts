import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { AppError } from '../platform/errors/index.ts';
import type { Logger } from '../platform/log.ts';
import type { Services } from '../platform/services.ts';
import type { GatewayDecisions } from './decisions.ts';
import { cors, limitHeaderCount, refuseUnknownMethods } from './edges.ts';
import { type IpRulesEngine, ipRulesHook } from './ip-rules/index.ts';
import {
  createRateLimiter,
  createRateLimitHooks,
  DEFAULT_POLICIES,
  type PolicyTable,
  type RateLimitHooks,
} from './rate-limit/index.ts';
import { compileWaf, installWaf, WafErrors, type WafExclusion } from './waf/index.ts';

/**
 * Fields that legitimately look like attacks. OAuth clients send URLs (redirect URIs, RFC 8252
 * loopback ones included) that the SSRF and remote-inclusion rules would otherwise judge.
 */
const WAF_EXCLUSIONS: WafExclusion[] = [
  { route: '/oauth/*', placement: 'query', key: 'redirect_uri', families: ['ssrf', 'rfi'] },
  { route: '/oauth/*', placement: 'body', key: 'redirect_uri', families: ['ssrf', 'rfi'] },
  // RFC 8707 resource indicators are URLs the authorization server only compares with its own.
  { route: '/oauth/*', placement: 'query', key: 'resource', families: ['ssrf', 'rfi'] },
  { route: '/oauth/*', placement: 'body', key: 'resource', families: ['ssrf', 'rfi'] },
  // App registration carries the app's redirect URIs (validated: https or loopback only).
  {
    route: '/admin/tenants/:tenantId/partners/:partnerId/apps',
    placement: 'body',
    key: 'redirectUris',
    families: ['ssrf', 'rfi'],
  },
  // Webhook receiver URLs: the webhooks SSRF guard checks them after DNS resolution (and again
  // before every delivery), answering each refusal with its own code.
  { route: '/v1/webhooks/subscriptions', placement: 'body', key: 'url', families: ['ssrf', 'rfi'] },
  { route: '/v1/webhooks/subscriptions/:id', placement: 'body', key: 'url', families: ['ssrf', 'rfi'] },
];

export interface GatewayDeps {
  readonly ipRules: IpRulesEngine;
  /** Where refusals are recorded (audit trail + log), for investigation and detection. */
  readonly decisions: GatewayDecisions;
  readonly config: Config;
  readonly services: Services;
  readonly logger: Logger;
}

export interface Gateway {
  /** Per-principal limits, for each authenticated face to add right after its authenticator. */
  readonly rateLimit: RateLimitHooks;
  /**
   * The WAF's verdict on a body it could not read on the way in (a decrypted JWE, gateway/jwe):
   * the whole request judged again with that body; throws WAF_BLOCKED as the preParsing step would.
   */
  readonly inspectBody: (req: FastifyRequest, contentType: string, text: string) => void;
}

/**
 * The security pipeline, in the order requests meet it (DESIGN "The request path"). Cheap
 * rejections come first; each step is one small function. Read top to bottom:
 *
 *   onRequest     method allow-list -> IP rules (platform lists, temporary blocks) -> header count
 *                 -> CORS (preflight answered here) -> per-IP rate limit (IPv6 per /64)
 *                 -> WAF on line, headers, cookies
 *   preParsing    WAF on the raw body (JSON, form, multipart, XML, text), before any parser
 *   (parsing)     JSON only, structural limits, duplicate and __proto__ keys (platform/http/json-body)
 *   preValidation authenticate (installed per face: admin, OAuth, partner API)
 *                 -> tenant / app IP rules -> per-client / per-user / per-tenant rate limit and
 *                 monthly quota (per face)
 *   (validation)  strict schemas: closed objects, no coercion
 *   preHandler    [authorize -> idempotency -> SCA]
 *   onSend        request id, security headers (app.ts)
 *
 * Steps in brackets arrive with the rest of the gateway, identity and domain work.
 */
export function installGateway(
  app: FastifyInstance,
  { config, services, logger, ipRules, decisions }: GatewayDeps,
): Gateway {
  const policies = config.rateLimitsFile
    ? (JSON.parse(readFileSync(config.rateLimitsFile, 'utf8')) as PolicyTable)
    : DEFAULT_POLICIES;
  const limiter = createRateLimiter({ kv: services.kv, logger, policies, onDecision: decisions.rateLimit });
  const rateLimit = createRateLimitHooks(limiter);
  app.addHook('onClose', async () => limiter.close());
  // Route declarations (`config.rateLimit`) are checked as routes register: a bad one fails boot.
  app.addHook('onRoute', rateLimit.checkRoute);

  app.addHook('onRequest', refuseUnknownMethods);
  app.addHook('onRequest', ipRulesHook(ipRules));
  app.addHook('onRequest', limitHeaderCount(config.maxHeaders));
  if (config.corsOrigins.length) app.addHook('onRequest', cors(config.corsOrigins));
  app.addHook('onRequest', rateLimit.perIpHook);
  // Before authentication, as a WAF in front of an API is: anonymous attacks are stopped and seen too.
  const waf = compileWaf({
    paranoia: config.wafParanoia as 1 | 2 | 3 | 4,
    mode: config.wafMode,
    exclusions: WAF_EXCLUSIONS,
  });
  installWaf(app, waf, { onDecision: decisions.waf });
  const inspectBody = (req: FastifyRequest, contentType: string, text: string): void => {
    const raw = req.raw;
    const head = {
      method: raw.method ?? '',
      httpVersion: raw.httpVersion,
      url: raw.url ?? '/',
      rawHeaders: raw.rawHeaders,
    };
    const decision = waf.evaluate(head, { contentType, text }, req.routeOptions.url ?? '');
    if (decision.matches.length > 0) decisions.waf(req, decision);
    if (decision.action === 'block')
      throw new AppError(WafErrors.WAF_BLOCKED, undefined, { ruleIds: decision.ruleIds });
  };
  return { rateLimit, inspectBody };
}
