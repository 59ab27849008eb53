import helmet from '@fastify/helmet';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { type Authorizer, compileAuthorizer } from './access/index.ts';
import { AuditService, auditAdminRoutes, startAuditCheckpointer, startAuditWriter } from './audit/index.ts';
import {
  complianceReportRoutes,
  detectionRiskAlerts,
  RiskService,
  riskAdminRoutes,
  startRiskReviewCheck,
} from './compliance/index.ts';
import type { Config } from './config/index.ts';
import { detectionAdminRoutes, startDetection } from './detection/index.ts';
import { apiDescriptionRoutes, registerApiDescription } from './docs/index.ts';
import { adminAuthenticator } from './gateway/admin-auth.ts';
import {
  accessTokenContext,
  authenticateRequest,
  createTokenVerifier,
} from './gateway/authenticate/index.ts';
import { gatewayDecisions } from './gateway/decisions.ts';
import { applyServerLimits, httpsOptions, serverLimits } from './gateway/edges.ts';
import { idempotencyHooks, pruneIdempotencyKeys } from './gateway/idempotency/index.ts';
import { installGateway } from './gateway/index.ts';
import {
  createIpRulesEngine,
  databaseRuleSource,
  IpRulesService,
  ipRulesAdminRoutes,
  principalIpRulesHook,
  trustProxyOption,
} from './gateway/ip-rules/index.ts';
import {
  ENCRYPTION_KEY_PURPOSE,
  jweHooks,
  payloadKeyRoutes,
  platformEncryptionKeys,
} from './gateway/jwe/index.ts';
import {
  MESSAGE_KEY_PURPOSE,
  messageSignatureHooks,
  registeredClientKeys,
} from './gateway/signatures/index.ts';
import {
  apiLifecycleAdminRoutes,
  apiLifecyclePublicRoutes,
  DeprecatedUsage,
  installGovernance,
  v2Routes,
} from './gateway/versioning/index.ts';
import { healthRoutes } from './health/index.ts';
import { adminAudience, apiAudience, oauthRoutes, startOAuthServer } from './identity/oauth/index.ts';
import { interactionRoutes } from './identity/oauth/interactions.ts';
import { OperatorBootstrap, operatorBootstrapRoutes } from './identity/operators/index.ts';
import {
  LoginSessions,
  PeopleService,
  peopleAdminRoutes,
  peopleAssetRoutes,
} from './identity/people/index.ts';
import { ScaService, scaAdminRoutes } from './identity/sca/index.ts';
import { whoamiRoutes } from './identity/whoami.ts';
import { customersTableLookup } from './insurance/customers.ts';
import {
  claimPayoutPort,
  InsuranceService,
  insuranceAdminRoutes,
  insuranceRoutes,
} from './insurance/index.ts';
import { kycRoutes, kycServiceFor, startKycWorker } from './kyc/index.ts';
import { LedgerService, ledgerRoutes } from './ledger/index.ts';
import {
  kycCustomers,
  PaymentsService,
  paymentAdminRoutes,
  paymentRoutes,
  SimulatedRail,
  startPaymentsWorker,
} from './payments/index.ts';
import { AppError, HttpErrors, PROBLEM_CONTENT_TYPE, problemFor } from './platform/errors/index.ts';
import { installJsonBodyParser } from './platform/http/json-body.ts';
import { clientErrorHandler, installProblemHandlers } from './platform/http/problems.ts';
import { REQUEST_ID_HEADER, requestId } from './platform/http/request-id.ts';
import { guardRoutes, type RegisteredRoute, setContextAccess } from './platform/http/route-guard.ts';
import { validatorCompiler } from './platform/http/validation.ts';
import { createLogger, type Logger } from './platform/log.ts';
import { createMetrics } from './platform/metrics.ts';
import { openServices, type Services } from './platform/services.ts';
import { createOtlpTracer, installTracing, NOOP_TRACER, parseOtlpHeaders } from './platform/tracing.ts';
import { PrivacyService, privacyAdminRoutes, privacyRoutes, startPrivacyRetention } from './privacy/index.ts';
import { PRODUCT_VERSION, startSiemExport } from './siem/index.ts';
import { TenantService, tenantRoutes } from './tenants/index.ts';
import {
  startWebhooks,
  webhookAdminRoutes,
  webhookKeyRoutes,
  webhookPolicy,
  webhookRoutes,
} from './webhooks/index.ts';

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
  /** The clock deprecation and sunset are judged by (tests move it past a sunset); default: now. */
  readonly apiClock?: () => number;
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
    // A URL that cannot be decoded is answered as problem+json like every other error (found by
    // `bulwark scan`: Fastify's own answer was plain JSON naming FST_ERR_BAD_URL).
    frameworkErrors: (_err, req, reply: FastifyReply) => {
      const problem = problemFor(HttpErrors.REQUEST_INVALID, req.id);
      reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
    },
    ...(https ? { https } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (ownServices) app.addHook('onClose', () => services.close());
  app.decorate('config', config);
  app.decorate('services', services);
  app.decorate('routeTable', guardRoutes(app));
  // API lifecycle (docs/api-lifecycle.md): every route documented with a lifecycle, or boot fails;
  // deprecated routes answer Deprecation/Sunset/Link headers and, past their sunset, 410.
  const deprecatedUsage = new DeprecatedUsage(services.db);
  const governance = installGovernance(app, {
    publicUrl: config.publicUrl,
    usage: deprecatedUsage,
    ...(options.apiClock ? { now: options.apiClock } : {}),
  });
  const flushUsage = () =>
    deprecatedUsage.flush().catch((err: unknown) => logger.warn({ err }, 'deprecated-usage flush failed'));
  const usageTimer = setInterval(flushUsage, 60_000);
  usageTimer.unref();
  app.addHook('preClose', async () => {
    clearInterval(usageTimer);
    await flushUsage();
  });
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
  // W3C trace context on every request (traceId in the logs); spans only with an OTLP endpoint.
  const tracer = config.otelEndpoint
    ? createOtlpTracer({
        endpoint: config.otelEndpoint,
        headers: parseOtlpHeaders(config.otelHeaders),
        serviceName: config.otelServiceName,
        serviceVersion: PRODUCT_VERSION,
        onError: (err) => logger.debug({ err: (err as Error).message }, 'span export failed'),
      })
    : NOOP_TRACER;
  installTracing(app, tracer);

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
  // Webhooks: durable bus subscription (fan-out to deliveries) and the delivery worker.
  const webhooks = await startWebhooks({
    db: services.db,
    bus: services.bus,
    crypto: services.crypto,
    policy: webhookPolicy(config),
    logger,
  });
  app.addHook('onClose', async () => webhooks.stop());
  const nudgeWebhooks = () => webhooks.worker.nudge();
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
  // Threat detection: fed by every response, the WAF's verdicts, sign-ins and business events.
  const detection = await startDetection({
    services,
    ipRules: new IpRulesService({ db: services.db, kv: services.kv, engine: ipRules }),
    metrics,
    logger,
  });
  app.addHook('onClose', async () => detection.close());
  app.addHook('onResponse', detection.onResponse);
  const gateway = installGateway(app, {
    config,
    services,
    logger,
    ipRules,
    decisions: detection.observeGateway(decisions),
  });
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    strictTransportSecurity: { maxAge: 63_072_000, includeSubDomains: true },
  });
  await registerApiDescription(app, config);

  // Payload protection (docs/payload-protection.md): RFC 9421 message signatures and JWE bodies.
  await services.crypto.signing.ensureKeys(MESSAGE_KEY_PURPOSE, 'EdDSA');
  await services.crypto.signing.ensureKeys(ENCRYPTION_KEY_PURPOSE, 'ES256');
  const encryptionKeys = platformEncryptionKeys(services.crypto.signing);
  const clientKeys = registeredClientKeys(services.db);
  const signatures = messageSignatureHooks({
    kv: services.kv,
    clientKeys,
    publicUrl: config.publicUrl,
    signing: services.crypto.signing,
  });
  const jwe = jweHooks({
    keys: encryptionKeys,
    clientKeys,
    inspectPlaintext: gateway.inspectBody,
    jsonLimits: {
      maxDepth: config.jsonMaxDepth,
      maxKeys: config.jsonMaxKeys,
      maxItems: config.jsonMaxItems,
      maxStringLength: config.jsonMaxStringLength,
    },
  });

  // Public face: health and the API description, deliberately open.
  await app.register(async (pub) => {
    setContextAccess(pub, 'public');
    await pub.register(healthRoutes, { services });
    await apiDescriptionRoutes(pub, config);
    await pub.register(apiLifecyclePublicRoutes, { governance });
    await pub.register(peopleAssetRoutes);
    await pub.register(webhookKeyRoutes, { signing: services.crypto.signing });
    await pub.register(payloadKeyRoutes, { encryption: encryptionKeys, signing: services.crypto.signing });
  });

  // Authorization server: OAuth 2.0 / OIDC at FAPI 2.0 (`/oauth/*`, discovery at the root).
  const publicOrigin = new URL(config.publicUrl);
  const people = new PeopleService({
    db: services.db,
    envelope: services.crypto.envelope,
    kv: services.kv,
    webauthn: { rpId: publicOrigin.hostname, rpName: 'Bulwark', origins: [publicOrigin.origin] },
  });
  // Strong customer authentication for payments (PSD2 dynamic linking; payments use it as ScaPort).
  const sca = new ScaService(services.db);
  const loginSessions = new LoginSessions({
    kv: services.kv,
    secureCookie: publicOrigin.protocol === 'https:',
  });
  const tenants = new TenantService(services.db);
  const operators = new OperatorBootstrap({ db: services.db, people, tenants });
  const oauth = await startOAuthServer({
    config,
    services,
    logger,
    people,
    onTokenRequest: metrics.token,
    operatorTenant: async () => (await operators.state()).platformTenantId,
  });
  app.addHook('onClose', async () => oauth.close());
  await app.register(oauthRoutes, { handle: oauth.handle });
  await app.register(interactionRoutes, {
    provider: oauth.provider,
    people,
    sessions: loginSessions,
    onSignIn: detection.signIn,
  });

  // Partner API face (`/v1`): every route needs a sender-constrained access token and its scopes.
  const verifier = createTokenVerifier({
    issuer: config.publicUrl,
    audience: apiAudience(config),
    keys: () => services.crypto.signing.publicJwks('oauth'),
    kv: services.kv,
    dpop: { iatWindowSec: 60 },
    onKeysError: (err) => logger.warn({ err }, 'oauth key reload failed'),
  });
  // Ledger: one service for every module that moves money (payments, insurance) and the /v1 routes.
  const ledger = new LedgerService({ db: services.db });
  // Parties and identity verification: screening lists loaded once at boot; the worker decides
  // submitted cases (BULWARK_KYC_WORKER_POLL_MS=0 turns it off, e.g. for tests that drive it).
  const kyc = kycServiceFor(services, config, { logger });
  const kycWorker = startKycWorker({ service: kyc, pollMs: config.kycWorkerPollMs, logger });
  app.addHook('onClose', async () => kycWorker.stop());
  // Insurance: products, policies, claims. Customers come from KYC (swap in `kyc.customerRef` once
  // KycService is built here); payments gets the claims side of payouts from `claimPayoutPort`.
  const insurance = new InsuranceService({
    db: services.db,
    envelope: services.crypto.envelope,
    authz: app.authz,
    customers: customersTableLookup,
  });
  // Payments: mandates, collections, claim payouts over the simulated SEPA-like rail; the worker
  // submits due collections and applies the rail's reports (BULWARK_PAYMENTS_WORKER_POLL_MS=0: off).
  const payments = new PaymentsService({
    db: services.db,
    envelope: services.crypto.envelope,
    authz: app.authz,
    rail: new SimulatedRail({ db: services.db }),
    ledger,
    sca,
    customers: kycCustomers(kyc),
    claims: claimPayoutPort(services.crypto.envelope),
  });
  if (config.paymentsWorkerPollMs > 0) {
    const paymentsWorker = startPaymentsWorker(payments, { everyMs: config.paymentsWorkerPollMs, logger });
    app.addHook('onClose', async () => paymentsWorker.stop());
  }
  // Privacy: data-subject requests across modules, consents (gating partners' account reads),
  // retention purges every hour (docs/privacy.md). Rectification goes to the customer's owner, kyc.
  const privacy = new PrivacyService({
    db: services.db,
    envelope: services.crypto.envelope,
    rectifier: async (ctx, customerId, changes) => {
      await kyc.updateCustomer(
        {
          tenantId: ctx.tenantId,
          clientId: ctx.actor.clientId ?? ctx.actor.id ?? 'operator',
          actor: ctx.actor as Parameters<typeof kyc.updateCustomer>[0]['actor'],
          requestId: ctx.requestId,
        },
        customerId,
        changes,
        (o) => ctx.access?.(o),
      );
      return Object.keys(changes);
    },
  });
  const privacyRetention = startPrivacyRetention(privacy, { everyMs: 3_600_000, logger });
  app.addHook('onClose', async () => privacyRetention.stop());
  // Idempotency-Key for money-moving routes (`config.idempotency`); expired keys pruned every 15 min.
  const idempotency = idempotencyHooks(services.db, { sealer: services.crypto.envelope });
  const pruneKeys = setInterval(() => {
    pruneIdempotencyKeys(services.db).catch((err: unknown) =>
      logger.warn({ err }, 'idempotency prune failed'),
    );
  }, 15 * 60_000);
  pruneKeys.unref();
  app.addHook('onClose', async () => clearInterval(pruneKeys));
  // The partner API pipeline, the same for every version (/v1, /v2): sender-constrained access
  // token and its scopes, tenant/app IP rules, per-principal rate limits, detection's guard,
  // idempotency keys, message signatures and JWE payloads.
  const partnerApiPipeline = (api: FastifyInstance) => {
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
    // Detection's responses: a throttled client's reduced allowance, a user's required step-up.
    api.addHook('preValidation', detection.guard);
    // preHandler: claims the key before the handler runs (object-level checks run in the handlers).
    api.addHook('onRoute', idempotency.checkRoute);
    api.addHook('preHandler', idempotency.preHandler);
    api.addHook('onSend', idempotency.onSend);
    // Payload protection: signature verified (raw body kept on opted-in routes), then the JWE body
    // decrypted; on the way out the response is encrypted first, then signed over what is sent.
    api.addHook('onRoute', signatures.checkRoute);
    api.addHook('onRoute', jwe.checkRoute);
    jwe.installParser(api);
    api.addHook('preParsing', signatures.preParsing);
    api.addHook('preValidation', signatures.preValidation);
    api.addHook('preValidation', jwe.preValidation);
    api.addHook('onSend', jwe.onSend);
    api.addHook('onSend', signatures.onSend);
  };
  await app.register(
    async (api) => {
      partnerApiPipeline(api);
      await api.register(whoamiRoutes);
      await api.register(webhookRoutes, { service: webhooks.service, onRedeliver: nudgeWebhooks });
      await api.register(ledgerRoutes, {
        ledger,
        assertCustomerVerified: (tx, tenantId, customerId) => kyc.assertVerified(tx, tenantId, customerId),
        accountReadCheck: (tx, caller, account) => privacy.accountReadCheck(tx, caller, account),
      });
      await api.register(kycRoutes, { service: kyc });
      await api.register(insuranceRoutes, { service: insurance });
      await api.register(paymentRoutes, { service: payments });
      await api.register(privacyRoutes, { service: privacy });
    },
    { prefix: '/v1' },
  );
  // Partner API v2, side by side with v1 through the same pipeline (docs/api-lifecycle.md).
  await app.register(
    async (api) => {
      partnerApiPipeline(api);
      await api.register(v2Routes);
    },
    { prefix: '/v2' },
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
  // SIEM export of the audit trail (every sink off unless configured; docs/siem.md).
  const siem = startSiemExport({ config, db: services.db, logger, tracer, metrics });
  app.addHook('onClose', async () => siem.stop());
  // Risk register; overdue reviews are audited and raised as detection alerts (hourly check).
  const risks = new RiskService({ db: services.db, alerts: detectionRiskAlerts(detection.service) });
  const riskReviews = startRiskReviewCheck({ db: services.db, alerts: risks.alerts, logger });
  app.addHook('onClose', async () => riskReviews.stop());

  // Admin face: everything behind the bootstrap admin credential (until OAuth + MFA replaces it).
  // Operators' tokens are for the admin resource only: a /v1 token is refused here and vice versa.
  const adminVerifier = createTokenVerifier({
    issuer: config.publicUrl,
    audience: adminAudience(config),
    keys: () => services.crypto.signing.publicJwks('oauth'),
    kv: services.kv,
    dpop: { iatWindowSec: 60 },
    onKeysError: (err) => logger.warn({ err }, 'oauth key reload failed'),
  });
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);
  app.decorateRequest('operator', undefined);
  await app.register(
    async (admin) => {
      setContextAccess(admin, 'bootstrap-admin');
      admin.addHook(
        'preValidation',
        adminAuthenticator({
          bootstrapTokens: config.bootstrapAdminTokens,
          bootstrap: operators,
          authenticateToken: authenticateRequest(adminVerifier, { publicUrl: config.publicUrl }),
          authz: app.authz,
        }),
      );
      admin.addHook(
        'preValidation',
        gateway.rateLimit.perPrincipalHook((req) => ({
          clientId: req.operator?.clientId ?? 'bootstrap-admin',
        })),
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
      await admin.register(detectionAdminRoutes, { prefix: '/detection', service: detection.service });
      await admin.register(peopleAdminRoutes, { prefix: '/tenants/:tenantId/users', service: people });
      await admin.register(insuranceAdminRoutes, { service: insurance });
      await admin.register(paymentAdminRoutes, { service: payments });
      await admin.register(webhookAdminRoutes, {
        prefix: '/tenants/:tenantId/webhooks',
        service: webhooks.service,
        onRedeliver: nudgeWebhooks,
      });
      await admin.register(operatorBootstrapRoutes, { prefix: '/bootstrap', service: operators });
      await admin.register(scaAdminRoutes, { prefix: '/tenants/:tenantId/sca', service: sca, tenants });
      await admin.register(privacyAdminRoutes, {
        prefix: '/tenants/:tenantId/privacy',
        service: privacy,
        tenants,
      });
      await admin.register(apiLifecycleAdminRoutes, { prefix: '/api', governance, usage: deprecatedUsage });
      await admin.register(complianceReportRoutes, {
        prefix: '/compliance',
        sources: () => ({
          config,
          db: services.db,
          crypto: services.crypto,
          routes: app.routeTable,
          runtime: { kv: services.kv.kind, bus: services.bus.kind },
        }),
      });
      await admin.register(riskAdminRoutes, { prefix: '/tenants/:tenantId/risks', service: risks, tenants });
    },
    { prefix: '/admin' },
  );

  await app.ready();
  return app;
}
