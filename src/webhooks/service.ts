/**
 * Webhook subscriptions (per partner), the fan-out of bus events into deliveries, and the
 * dead-letter list. No HTTP here: routes.ts maps WebhookError to problems.
 */
import { appendAudit } from '../audit/index.ts';
import { type Envelope, fieldAad } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import type { Tx } from '../platform/db/types.ts';
import type { BusEvent } from '../platform/events/index.ts';
import { isUuid, randomToken, uuidv7 } from '../platform/ids.ts';
import { WebhookError } from './errors.ts';
import { isWebhookEventType, type WebhookEventType } from './events.ts';
import type { DeliveryStatus } from './schema.ts';
import { checkUrl, type Resolver, resolveTarget, SsrfError, type SsrfPolicy } from './ssrf.ts';
import * as store from './store.ts';

export const MAX_DELIVERY_AGE_MS = 3 * 86_400_000;
export const DEFAULT_ROTATION_OVERLAP_SEC = 86_400;
export const MAX_ROTATION_OVERLAP_SEC = 7 * 86_400;

export interface Actor {
  readonly actor: {
    readonly type: 'user' | 'client' | 'operator' | 'system';
    readonly id: string;
    readonly clientId?: string;
  };
  readonly requestId?: string | undefined;
}

export type Subscription = store.SubscriptionView;
export type Delivery = store.DeliveryRow;
export type Attempt = store.AttemptRow;
export type Owner = store.Owner;

export interface SubscriptionInput {
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly description?: string | undefined;
  readonly active?: boolean | undefined;
}

export type SubscriptionPatch = Partial<SubscriptionInput>;

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface WebhookServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly policy: SsrfPolicy;
  /** DNS for the subscription-time address check (tests inject one). */
  readonly resolver?: Resolver;
  readonly now?: () => number;
  /** Default 25. */
  readonly maxSubscriptionsPerPartner?: number;
}

const SECRET_PREFIX = 'whsec_';

export const secretAad = (id: string) => fieldAad('webhook_subscriptions', 'secret_enc', id);
export const previousSecretAad = (id: string) => fieldAad('webhook_subscriptions', 'previous_secret_enc', id);

function page<T extends { id: string }>(items: T[], limit: number): Page<T> {
  return { items, nextCursor: items.length === limit ? (items.at(-1)?.id ?? null) : null };
}

export class WebhookService {
  private readonly now: () => number;
  private readonly maxSubscriptions: number;

  constructor(private readonly opts: WebhookServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.maxSubscriptions = opts.maxSubscriptionsPerPartner ?? 25;
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  /** Creates a subscription; the signing secret is returned here and never again. */
  async create(
    tenantId: string,
    partnerId: string,
    input: SubscriptionInput,
    who: Actor,
  ): Promise<{ subscription: Subscription; secret: string }> {
    const eventTypes = checkEventTypes(input.eventTypes);
    const url = await this.checkTarget(input.url);
    const secret = newSecret();
    const subscription = await this.opts.db.withTenant(tenantId, async (tx) => {
      if ((await store.countSubscriptions(tx, tenantId, partnerId)) >= this.maxSubscriptions) {
        throw new WebhookError('WEBHOOK_SUBSCRIPTION_LIMIT');
      }
      const id = uuidv7(this.now());
      const at = new Date(this.now());
      const created = await store.insertSubscription(tx, {
        id,
        tenantId,
        partnerId,
        url,
        eventTypes,
        description: input.description ?? null,
        active: input.active ?? true,
        secretEnc: await this.opts.envelope.encryptField(tenantId, secret, { aad: secretAad(id), tx }),
        createdAt: at,
        updatedAt: at,
      });
      await audit(tx, who, 'webhook.subscription.created', tenantId, id, { partnerId, eventTypes });
      return created;
    });
    return { subscription, secret };
  }

  async list(owner: Owner, limit: number, after?: string): Promise<Page<Subscription>> {
    const items = await this.opts.db.withTenant(owner.tenantId, (tx) =>
      store.listSubscriptions(tx, owner, limit, after),
    );
    return page(items, limit);
  }

  async get(owner: Owner, id: string): Promise<Subscription> {
    const row = await this.opts.db.withTenant(owner.tenantId, (tx) => store.findSubscription(tx, owner, id));
    if (!row) throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
    return row;
  }

  async update(owner: Owner, id: string, patch: SubscriptionPatch, who: Actor): Promise<Subscription> {
    const eventTypes = patch.eventTypes === undefined ? undefined : checkEventTypes(patch.eventTypes);
    const url = patch.url === undefined ? undefined : await this.checkTarget(patch.url);
    return this.opts.db.withTenant(owner.tenantId, async (tx) => {
      const row = await store.updateSubscription(tx, owner, id, {
        ...(url !== undefined ? { url } : {}),
        ...(eventTypes !== undefined ? { eventTypes } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.active !== undefined ? { active: patch.active } : {}),
        updatedAt: new Date(this.now()),
      });
      if (!row) throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
      await audit(tx, who, 'webhook.subscription.updated', owner.tenantId, id, {
        fields: Object.keys(patch).sort(),
      });
      return row;
    });
  }

  async remove(owner: Owner, id: string, who: Actor): Promise<void> {
    await this.opts.db.withTenant(owner.tenantId, async (tx) => {
      if (!(await store.deleteSubscription(tx, owner, id)))
        throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
      await audit(tx, who, 'webhook.subscription.deleted', owner.tenantId, id);
    });
  }

  /**
   * A new secret, returned once. The previous one keeps signing (a second `v1` in every delivery)
   * for `overlapSec`, so the receiver can deploy the new secret without dropping a delivery; 0 ends
   * the old secret at once (e.g. it leaked).
   */
  async rotateSecret(
    owner: Owner,
    id: string,
    overlapSec: number,
    who: Actor,
  ): Promise<{ subscription: Subscription; secret: string }> {
    if (!Number.isInteger(overlapSec) || overlapSec < 0 || overlapSec > MAX_ROTATION_OVERLAP_SEC) {
      throw new Error('overlapSec out of range');
    }
    const { envelope } = this.opts;
    const secret = newSecret();
    const subscription = await this.opts.db.withTenant(owner.tenantId, async (tx) => {
      const existing = await store.findSubscription(tx, owner, id);
      if (!existing) throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
      const sealed = await store.secretsOf(tx, owner.tenantId, id, true);
      if (!sealed) throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
      let previousSecretEnc: string | null = null;
      let previousSecretExpiresAt: Date | null = null;
      if (overlapSec > 0) {
        const current = await envelope.decryptField(owner.tenantId, sealed.secretEnc, {
          aad: secretAad(id),
          tx,
        });
        // Re-sealed for its new column: the associated data binds a ciphertext to its place.
        previousSecretEnc = await envelope.encryptField(owner.tenantId, current, {
          aad: previousSecretAad(id),
          tx,
        });
        previousSecretExpiresAt = new Date(this.now() + overlapSec * 1000);
      }
      const row = await store.updateSubscription(tx, owner, id, {
        secretEnc: await envelope.encryptField(owner.tenantId, secret, { aad: secretAad(id), tx }),
        previousSecretEnc,
        previousSecretExpiresAt,
        updatedAt: new Date(this.now()),
      });
      await audit(tx, who, 'webhook.secret.rotated', owner.tenantId, id, { overlapSec });
      return row!;
    });
    return { subscription, secret };
  }

  // ---- deliveries ------------------------------------------------------------------------------

  async listDeliveries(
    owner: Owner,
    filter: { subscriptionId?: string | undefined; status?: DeliveryStatus | undefined },
    limit: number,
    after?: string,
  ): Promise<Page<Delivery>> {
    const items = await this.opts.db.withTenant(owner.tenantId, async (tx) => {
      if (filter.subscriptionId && !(await store.findSubscription(tx, owner, filter.subscriptionId))) {
        throw new WebhookError('WEBHOOK_SUBSCRIPTION_NOT_FOUND');
      }
      return store.listDeliveries(tx, owner, filter, limit, after);
    });
    return page(items, limit);
  }

  async getDelivery(owner: Owner, id: string): Promise<{ delivery: Delivery; attempts: Attempt[] }> {
    return this.opts.db.withTenant(owner.tenantId, async (tx) => {
      const delivery = await store.findDelivery(tx, owner, id);
      if (!delivery) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
      return { delivery, attempts: await store.attemptsOf(tx, owner.tenantId, id) };
    });
  }

  /** Manual redelivery of a dead-lettered delivery: due now, with a fresh retry window. */
  async redeliver(owner: Owner, id: string, who: Actor): Promise<Delivery> {
    const now = this.now();
    return this.opts.db.withTenant(owner.tenantId, async (tx) => {
      const existing = await store.findDelivery(tx, owner, id);
      if (!existing) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
      const row = await store.redeliver(tx, owner, id, new Date(now), new Date(now + MAX_DELIVERY_AGE_MS));
      if (!row) throw new WebhookError('WEBHOOK_DELIVERY_NOT_DEAD');
      await audit(
        tx,
        who,
        'webhook.delivery.redelivered',
        owner.tenantId,
        id,
        { subscriptionId: row.subscriptionId },
        'webhook_delivery',
      );
      return row;
    });
  }

  // ---- fan-out ---------------------------------------------------------------------------------

  /**
   * Turns one bus event into one delivery per matching active subscription of the event's partner.
   * Idempotent: the bus delivers at least once, the (event, subscription) key makes it once.
   * Returns the ids of the deliveries created now.
   */
  async fanOut(event: BusEvent): Promise<string[]> {
    if (!isWebhookEventType(event.topic) || !event.tenantId) return [];
    const partnerId = event.payload.partnerId;
    if (typeof partnerId !== 'string' || !isUuid(partnerId)) return [];
    const tenantId = event.tenantId;
    const occurredAt = new Date(event.occurredAt);
    return this.opts.db.withTenant(tenantId, async (tx) => {
      const subs = await store.matchingSubscriptions(tx, tenantId, partnerId, event.topic);
      const now = this.now();
      return store.insertDeliveries(
        tx,
        subs.map((s) => ({
          id: uuidv7(now),
          tenantId,
          partnerId,
          subscriptionId: s.id,
          eventId: event.id,
          eventType: event.topic,
          occurredAt,
          data: event.payload,
          status: 'pending' as const,
          nextAttemptAt: new Date(now),
          giveUpAt: new Date(now + MAX_DELIVERY_AGE_MS),
          createdAt: new Date(now),
        })),
      );
    });
  }

  // ---- internals -------------------------------------------------------------------------------

  /** The SSRF guard at subscription time (checked again before every delivery). */
  private async checkTarget(raw: string): Promise<string> {
    try {
      const checked = checkUrl(raw, this.opts.policy);
      if (!checked.ip) await resolveTarget(raw, this.opts.policy, this.opts.resolver);
      return checked.url.href;
    } catch (err) {
      if (!(err instanceof SsrfError)) throw err;
      switch (err.reason) {
        case 'scheme':
          throw new WebhookError('WEBHOOK_URL_NOT_HTTPS');
        case 'host':
          throw new WebhookError('WEBHOOK_URL_FORBIDDEN_HOST');
        case 'address':
        case 'metadata':
          throw new WebhookError('WEBHOOK_URL_FORBIDDEN_ADDRESS');
        case 'dns':
          throw new WebhookError('WEBHOOK_URL_UNRESOLVABLE');
        default:
          throw new WebhookError('WEBHOOK_URL_INVALID');
      }
    }
  }
}

function newSecret(): string {
  return `${SECRET_PREFIX}${randomToken(32)}`;
}

function checkEventTypes(types: readonly string[]): WebhookEventType[] {
  const unknown = types.filter((t) => !isWebhookEventType(t));
  if (unknown.length || types.length === 0) {
    throw new WebhookError(
      'WEBHOOK_EVENT_TYPE_UNKNOWN',
      `Unknown event type ${unknown
        .slice(0, 5)
        .map((t) => JSON.stringify(t.slice(0, 64)))
        .join(', ')}`,
    );
  }
  return [...new Set(types)].sort() as WebhookEventType[];
}

/** Configuration changes are security-relevant: chained audit, last in the transaction. */
function audit(
  tx: Tx,
  who: Actor,
  action: string,
  tenantId: string,
  id: string,
  details?: Record<string, unknown>,
  objectType = 'webhook_subscription',
) {
  return appendAudit(tx, {
    actor: who.actor,
    action,
    tenantId,
    object: { type: objectType, id },
    outcome: 'success',
    requestId: who.requestId ?? null,
    ...(details ? { details } : {}),
  });
}
