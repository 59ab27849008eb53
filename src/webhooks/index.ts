/**
 * Webhooks: partners subscribe to event types; events from the outbox (via the bus) become
 * deliveries in the database; a worker POSTs them signed (HMAC + RFC 9421), retries with backoff
 * for 3 days, then dead-letters them for manual redelivery. Outbound requests pass the SSRF guard.
 *
 *   startWebhooks(...)       at boot: signing key, durable bus subscription, delivery worker
 *   webhookRoutes            /v1/webhooks/...      (scope webhooks:manage, partner apps)
 *   webhookAdminRoutes       /admin/tenants/:tenantId/webhooks/...
 *   webhookKeyRoutes         /.well-known/webhook-keys.json (public JWKS)
 */
import type { Config } from '../config/index.ts';
import type { Crypto } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { type BusEvent, type EventBus, type EventLogger, silentLogger } from '../platform/events/index.ts';
import { DeliveryWorker } from './delivery.ts';
import { isWebhookEventType } from './events.ts';
import { WebhookService } from './service.ts';
import { WEBHOOK_KEY_PURPOSE } from './signature.ts';
import { type Resolver, type SsrfPolicy, ssrfPolicyFor } from './ssrf.ts';
import * as store from './store.ts';

export {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  DeliveryWorker,
  type DeliveryWorkerOptions,
  retryDelayMs,
} from './delivery.ts';
export { WebhookError, type WebhookErrorCode, WebhookErrors } from './errors.ts';
export { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events.ts';
export { webhookAdminRoutes, webhookKeyRoutes, webhookRoutes } from './routes.ts';
export { MAX_DELIVERY_AGE_MS, WebhookService } from './service.ts';
export * from './signature.ts';
export {
  addressRefusal,
  checkUrl,
  guardedRequest,
  resolveTarget,
  SsrfError,
  type SsrfPolicy,
  STRICT_SSRF_POLICY,
  ssrfPolicyFor,
  TransportError,
} from './ssrf.ts';

/** Durable bus subscription name: instances share it, each event goes to one of them. */
export const WEBHOOK_SUBSCRIPTION_NAME = 'webhooks';

/** The SSRF policy from the settings; throws (refusing to boot) on relaxations in production. */
export function webhookPolicy(
  config: Pick<Config, 'env' | 'webhookAllowHttp' | 'webhookAllowedCidrs'>,
): SsrfPolicy {
  return ssrfPolicyFor({
    production: config.env === 'production',
    allowHttp: config.webhookAllowHttp,
    allowedCidrs: config.webhookAllowedCidrs,
  });
}

export interface StartWebhooksOptions {
  readonly db: Database;
  readonly bus: EventBus;
  readonly crypto: Crypto;
  readonly policy: SsrfPolicy;
  readonly logger?: EventLogger;
  readonly resolver?: Resolver;
  readonly now?: () => number;
  /** Start the delivery worker's timer (default true; tests drive `worker.drain()` themselves). */
  readonly runWorker?: boolean;
  readonly pollMs?: number;
}

export interface Webhooks {
  readonly service: WebhookService;
  readonly worker: DeliveryWorker;
  /** Pending deliveries across tenants (the backlog gauge). */
  backlog(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * At boot: makes sure the webhook signing key exists (Ed25519), subscribes the fan-out to the bus
 * with a durable subscription (at least once; de-duplicated by (event, subscription) in the DB),
 * and starts the delivery worker.
 */
export async function startWebhooks(opts: StartWebhooksOptions): Promise<Webhooks> {
  const logger = opts.logger ?? silentLogger;
  await opts.crypto.signing.ensureKeys(WEBHOOK_KEY_PURPOSE, 'EdDSA');
  const service = new WebhookService({
    db: opts.db,
    envelope: opts.crypto.envelope,
    policy: opts.policy,
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const worker = new DeliveryWorker({
    db: opts.db,
    envelope: opts.crypto.envelope,
    signing: opts.crypto.signing,
    policy: opts.policy,
    logger,
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
  });
  const handle = async (event: BusEvent) => {
    if (!isWebhookEventType(event.topic)) return;
    // The memory bus does not redeliver a failed handler: retry a transient database failure here
    // (NATS redelivers on top of this). The (event, subscription) key makes repeats harmless.
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await service.fanOut(event);
        if (created.length) worker.nudge();
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  };
  const unsubscribe = await opts.bus.subscribe('>', handle, { durable: WEBHOOK_SUBSCRIPTION_NAME });
  if (opts.runWorker !== false) worker.start();
  return {
    service,
    worker,
    backlog: () => opts.db.asSystem((tx) => store.pendingCount(tx)),
    async stop() {
      await unsubscribe();
      await worker.stop();
    },
  };
}
