/**
 * The delivery worker: claims due deliveries from the database (any instance, `SKIP LOCKED`
 * leases), POSTs each through the SSRF guard with both signatures, records the attempt, and
 * schedules a retry with exponential backoff and jitter until the delivery's `give_up_at`
 * (3 days), after which it is dead-lettered for manual redelivery.
 *
 * Nothing is held open during the HTTP call: the claim, and the recording of its outcome, are two
 * short transactions. A worker that dies mid-attempt leaves a lease that runs out (`leaseMs`),
 * and the delivery is tried again (receivers de-duplicate by the webhook id).
 */
import { performance } from 'node:perf_hooks';
import type { Envelope, SigningKeyRing } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { type EventLogger, silentLogger } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { previousSecretAad, secretAad } from './service.ts';
import { addMessageSignature, hmacHeader, SIGNATURE_HEADER, WEBHOOK_ID_HEADER } from './signature.ts';
import { guardedRequest, type Resolver, type SsrfPolicy, TransportError } from './ssrf.ts';
import * as store from './store.ts';

export interface DeliveryWorkerOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly signing: Pick<SigningKeyRing, 'sign'>;
  readonly policy: SsrfPolicy;
  readonly resolver?: Resolver;
  readonly now?: () => number;
  /** For the jitter; default Math.random. */
  readonly random?: () => number;
  /** Deliveries claimed (and sent in parallel) per round. Default 16. */
  readonly batchSize?: number;
  /** Idle poll interval. Default 1 s. */
  readonly pollMs?: number;
  /** How long a claimed delivery stays invisible to other workers. Default 60 s. */
  readonly leaseMs?: number;
  /** Per-request deadline. Default 10 s. */
  readonly timeoutMs?: number;
  readonly logger?: EventLogger;
}

export type AttemptOutcome = 'succeeded' | 'retry' | 'dead';

/** First retry after 30 s, doubling, capped at 6 h: about 20 attempts over 3 days. */
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_CAP_MS = 6 * 3_600_000;

/**
 * Delay before retry number `attempts` (1 = after the first failure): exponential, capped, with
 * "equal jitter" (half fixed, half random) so receivers recovering from an outage are not hit by
 * every retry at once while the schedule still grows.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const exp = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(Math.max(attempts - 1, 0), 20));
  return Math.floor(exp / 2 + random() * (exp / 2));
}

const USER_AGENT = 'Bulwark-Webhooks/1.0';

export class DeliveryWorker {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly logger: EventLogger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private again = false;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.batchSize = opts.batchSize ?? 16;
    this.pollMs = opts.pollMs ?? 1_000;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.logger = opts.logger ?? silentLogger;
  }

  /** Claims what is due now and attempts it; resolves with the number of attempts made. */
  async runDue(): Promise<number> {
    const now = this.now();
    const claimed = await this.opts.db.asSystem((tx) =>
      store.claimDue(tx, new Date(now), new Date(now + this.leaseMs), this.batchSize),
    );
    await Promise.all(
      claimed.map((d) =>
        this.attempt(d).catch((err) =>
          this.logger.error({ deliveryId: d.id, err: String(err).slice(0, 200) }, 'webhook attempt failed'),
        ),
      ),
    );
    return claimed.length;
  }

  /** Runs rounds until nothing is due (tests, and after a nudge). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runDue();
      total += n;
      if (n < this.batchSize) return total;
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.pollMs);
  }

  /** Look now (new deliveries were just written). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.again = false;
      this.running = this.drain()
        .catch((err) => this.logger.error({ err: String(err).slice(0, 200) }, 'webhook worker round failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.again ? 0 : this.pollMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One attempt of one claimed delivery. */
  async attempt(d: store.DeliveryRow): Promise<AttemptOutcome> {
    const { db, envelope } = this.opts;
    const owner = { tenantId: d.tenantId, partnerId: null };
    const now = this.now();
    const target = await db.withTenant(d.tenantId, async (tx) => {
      const sub = await store.findSubscription(tx, owner, d.subscriptionId);
      if (!sub?.active) return undefined;
      const sealed = await store.secretsOf(tx, d.tenantId, d.subscriptionId);
      if (!sealed) return undefined;
      const secrets = [
        await envelope.decryptField(d.tenantId, sealed.secretEnc, { aad: secretAad(sub.id), tx }),
      ];
      if (sealed.previousSecretEnc && (sealed.previousSecretExpiresAt?.getTime() ?? 0) > now) {
        secrets.push(
          await envelope.decryptField(d.tenantId, sealed.previousSecretEnc, {
            aad: previousSecretAad(sub.id),
            tx,
          }),
        );
      }
      return { url: sub.url, secrets };
    });
    if (!target) {
      // Paused or deleted meanwhile: dead-lettered at once, so it can be replayed once reactivated.
      await db.withTenant(d.tenantId, (tx) =>
        store.updateDelivery(tx, d.tenantId, d.id, {
          status: 'dead',
          deadAt: new Date(now),
          lastError: 'subscription_inactive',
        }),
      );
      return 'dead';
    }

    const body = JSON.stringify({
      id: d.eventId,
      type: d.eventType,
      occurredAt: d.occurredAt.toISOString(),
      tenantId: d.tenantId,
      data: d.data,
    });
    const seconds = Math.floor(now / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      [WEBHOOK_ID_HEADER]: d.eventId,
      [SIGNATURE_HEADER]: hmacHeader(target.secrets, seconds, body),
    };
    await addMessageSignature(
      this.opts.signing,
      { method: 'POST', targetUri: target.url, headers, body },
      seconds,
    );

    const started = performance.now();
    let statusCode: number | null = null;
    let errorClass: string | null = null;
    try {
      const res = await guardedRequest(
        {
          method: 'POST',
          url: target.url,
          headers,
          body,
          ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
        },
        this.opts.policy,
        this.opts.resolver,
      );
      statusCode = res.status;
      if (res.status >= 300 && res.status < 400) errorClass = 'redirect';
      else if (res.status < 200 || res.status >= 300) errorClass = 'http_status';
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      errorClass = err.kind;
    }
    const latencyMs = Math.round(performance.now() - started);
    const at = new Date(this.now());
    let outcome: AttemptOutcome;
    let patch: Parameters<typeof store.updateDelivery>[3];
    if (errorClass === null) {
      outcome = 'succeeded';
      patch = { status: 'succeeded', deliveredAt: at, lastError: null };
    } else {
      const next = at.getTime() + retryDelayMs(d.attempts, this.random);
      outcome = next > d.giveUpAt.getTime() ? 'dead' : 'retry';
      patch =
        outcome === 'dead'
          ? { status: 'dead', deadAt: at, lastError: errorClass }
          : { nextAttemptAt: new Date(next), lastError: errorClass };
    }
    await db.withTenant(d.tenantId, async (tx) => {
      await store.insertAttempt(tx, {
        id: uuidv7(at.getTime()),
        tenantId: d.tenantId,
        deliveryId: d.id,
        attemptedAt: at,
        statusCode,
        latencyMs,
        errorClass,
      });
      await store.updateDelivery(tx, d.tenantId, d.id, {
        ...patch,
        lastAttemptAt: at,
        lastStatusCode: statusCode,
      });
    });
    if (outcome !== 'succeeded') {
      this.logger.warn(
        {
          deliveryId: d.id,
          subscriptionId: d.subscriptionId,
          attempts: d.attempts,
          statusCode,
          errorClass,
          outcome,
        },
        'webhook delivery failed',
      );
    }
    return outcome;
  }
}
