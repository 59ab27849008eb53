import helmet from '@fastify/helmet';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type Authorizer, compileAuthorizer } from './access/index.ts';
import { AuditService, auditAdminRoutes, startAuditCheckpointer, startAuditWriter } from './audit/index.ts';
import type { Config } from './config/index.ts';
import { apiDescriptionRoutes, registerApiDescription } from './docs/index.ts';
import { accessTokenContext, createTokenVerifier } from './gateway/authenticate/index.ts';
import { bootstrapAdminAuthenticator } from './gateway/bootstrap-admin.ts';
import { gatewayDecisions } from './gateway/decisions.ts';
import { applyServerLimits, httpsOptions, serverLimits } from './gateway/edges.ts';
import { installGateway } from './gateway/index.ts';
import {
  createIpRulesEngine,
  databaseRuleSource,
  IpRulesService,
  ipRulesAdminRoutes,
  principalIpRulesHook,
  trustProxyOption,
} from './gateway/ip-rules/index.ts';
import { healthRoutes } from './health/index.ts';
import { apiAudience, oauthRoutes, startOAuthServer } from './identity/oauth/index.ts';
import { interactionRoutes } from './identity/oauth/interactions.ts';
import {
  LoginSessions,
  PeopleService,
  peopleAdminRoutes,
  peopleAssetRoutes,
} from './identity/people/index.ts';
import { whoamiRoutes } from './identity/whoami.ts';
import { AppError, HttpErrors } from './platform/errors/index.ts';
import { installJsonBodyParser } from './platform/http/json-body.ts';
import { clientErrorHandler, installProblemHandlers } from './platform/http/problems.ts';
import { REQUEST_ID_HEADER, requestId } from './platform/http/request-id.ts';
import { guardRoutes, type RegisteredRoute, setContextAccess } from './platform/http/route-guard.ts';
import { validatorCompiler } from './platform/http/validation.ts';
import { createLogger, type Logger } from './platform/log.ts';
import { createMetrics } from './platform/metrics.ts';
import { openServices, type Services } from './platform/services.ts';
import { TenantService, tenantRoutes } from './tenants/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readonly config: Config;
    readonly services: Services;
    /** Every registered route with its declared access (for the invariant test and the console). */
    readonly routeTable: () => RegisteredRoute[];
    /** Cedar policies (base + per tenant), compiled once at boot. */
    readonly authz: Authorizer;
  }
}

export interface BuildOptions {
  /** A ready logger (tests pass a silent or capturing one). */
  readonly logger?: Logger;
  /** Services opened by the caller, who then also closes them; otherwise opened (and closed) here. */
  readonly services?: Services;
}

/**
 * The app factory: a ready Fastify instance with every face registered. It never listens
 * (server.ts does), so tests drive it with `inject()` or their own port.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const services = options.services ?? (await openServices(config, logger));
  const ownServices = !options.services;

  const https = httpsOptions(config);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: requestId,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.bodyLimit,
    // Our own 503 below answers in problem+json; Fastify's would not.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    trustProxy: trustProxyOption(config),
    ...serverLimits(config),
    clientErrorHandler,
    ...(https ? { https } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (ownServices) app.addHook('onClose', () => services.close());
  app.decorate('config', config);
  app.decorate('services', services);
  app.decorate('routeTable', guardRoutes(app));
  app.decorate('authz', compileAuthorizer());
  app.setValidatorCompiler(validatorCompiler());
  // JSON only: anything else is refused with 415 rather than half-understood.
  installJsonBodyParser(app, {
    maxDepth: config.jsonMaxDepth,
    maxKeys: config.jsonMaxKeys,
    maxItems: config.jsonMaxItems,
    maxStringLength: config.jsonMaxStringLength,
  });
  applyServerLimits(app, config);
  installProblemHandlers(app);

  // While draining for shutdown, requests still arriving on kept-alive connections are turned away
  // so the load balancer retries them elsewhere.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new AppError(HttpErrors.SERVICE_SHUTTING_DOWN);
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    // A request that was in flight when shutdown began is answered, then its kept-alive
    // connection is closed so the server can finish draining.
    if (closing) reply.header('connection', 'close');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
  const metrics = createMetrics(services.db);
  app.addHook('onResponse', async (req, reply) => {
    metrics.request(
      req.routeOptions.url ?? 'unmatched',
      req.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  const decisions = gatewayDecisions(services.db, logger, metrics);
  const ipRules = await createIpRulesEngine({
    source: databaseRuleSource(services.db, services.kv),
    kv: services.kv,
    bus: services.bus,
    logger,
    onDecision: (decision, req) => decisions.ipRule(decision, req),
  });
  app.addHook('onClose', async () => ipRules.close());
  const gateway = installGateway(app, { config, services, logger, ipRules, decisions });
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    strictTransportSecurity: { maxAge: 63_072_000, includeSubDomains: true },
  });
  await registerApiDescription(app, config);

  // Public face: health and the API description, deliberately open.
  await app.register(async (pub) => {
    setContextAccess(pub, 'public');
    await pub.register(healthRoutes, { services });
    await apiDescriptionRoutes(pub, config);
    await pub.register(peopleAssetRoutes);
  });

  // Authorization server: OAuth 2.0 / OIDC at FAPI 2.0 (`/oauth/*`, discovery at the root).
  const publicOrigin = new URL(config.publicUrl);
  const people = new PeopleService({
    db: services.db,
    envelope: services.crypto.envelope,
    kv: services.kv,
    webauthn: { rpId: publicOrigin.hostname, rpName: 'Bulwark', origins: [publicOrigin.origin] },
  });
  const loginSessions = new LoginSessions({
    kv: services.kv,
    secureCookie: publicOrigin.protocol === 'https:',
  });
  const oauth = await startOAuthServer({ config, services, logger, people, onTokenRequest: metrics.token });
  app.addHook('onClose', async () => oauth.close());
  await app.register(oauthRoutes, { handle: oauth.handle });
  await app.register(interactionRoutes, { provider: oauth.provider, people, sessions: loginSessions });

  // Partner API face (`/v1`): every route needs a sender-constrained access token and its scopes.
  const verifier = createTokenVerifier({
    issuer: config.publicUrl,
    audience: apiAudience(config),
    keys: () => services.crypto.signing.publicJwks('oauth'),
    kv: services.kv,
    dpop: { iatWindowSec: 60 },
    onKeysError: (err) => logger.warn({ err }, 'oauth key reload failed'),
  });
  await app.register(
    async (api) => {
      accessTokenContext(api, verifier, { publicUrl: config.publicUrl });
      api.addHook(
        'preValidation',
        principalIpRulesHook(ipRules, (req) => req.principal),
      );
      api.addHook(
        'preValidation',
        gateway.rateLimit.perPrincipalHook((req) =>
          req.principal
            ? {
                clientId: req.principal.clientId,
                tenantId: req.principal.tenantId,
                ...(req.principal.partnerId ? { partnerId: req.principal.partnerId } : {}),
                ...(req.principal.kind === 'user' ? { userId: req.principal.subject } : {}),
              }
            : undefined,
        ),
      );
      await api.register(whoamiRoutes);
    },
    { prefix: '/v1' },
  );

  // Audit trail: queued high-volume records are chained by one writer at a time; a signed
  // checkpoint (Ed25519, key ring purpose `audit`) every 1000 records or minute.
  const checkpointer = await startAuditCheckpointer({
    db: services.db,
    crypto: services.crypto,
    everyRecords: 1000,
    everyMs: 60_000,
    logger,
  });
  const auditWriter = startAuditWriter({ db: services.db, pollMs: 1000, logger });
  app.addHook('onClose', async () => {
    await auditWriter.stop();
    await checkpointer.stop();
  });

  // Admin face: everything behind the bootstrap admin credential (until OAuth + MFA replaces it).
  const tenants = new TenantService(services.db);
  await app.register(
    async (admin) => {
      setContextAccess(admin, 'bootstrap-admin');
      admin.addHook('preValidation', bootstrapAdminAuthenticator(config.bootstrapAdminTokens));
      admin.addHook(
        'preValidation',
        gateway.rateLimit.perPrincipalHook(() => ({ clientId: 'bootstrap-admin' })),
      );
      await admin.register(tenantRoutes, { service: tenants });
      admin.get(
        '/metrics',
        {
          schema: {
            tags: ['admin: operations'],
            summary: 'Prometheus metrics of this instance (text exposition format)',
            security: [{ bootstrapAdmin: [] }],
            response: { 200: { type: 'string' } },
          },
        },
        async (_req, reply) =>
          reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
      );
      await admin.register(auditAdminRoutes, {
        service: new AuditService({ db: services.db, signing: services.crypto.signing }),
      });
      await admin.register(ipRulesAdminRoutes, {
        service: new IpRulesService({ db: services.db, kv: services.kv, engine: ipRules }),
      });
      await admin.register(peopleAdminRoutes, { prefix: '/tenants/:tenantId/users', service: people });
    },
    { prefix: '/admin' },
  );

  await app.ready();
  return app;
}
