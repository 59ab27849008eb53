/**
 * Webhook subscriptions, deliveries and delivery attempts. All three are tenant-owned (RLS
 * `tenant_isolation`); the delivery worker claims due deliveries across tenants as the system.
 *
 * A subscription's signing secrets are stored envelope-encrypted (they must be read back to sign;
 * a hash would not do), bound to their row and column. The previous secret stays during a
 * rotation's overlap window so receivers can switch at their pace.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { partners, tenantPolicy, tenants } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const webhookSubscriptions = pgTable(
  'webhook_subscriptions',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    partnerId: uuid('partner_id').notNull(),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().notNull(),
    description: text('description'),
    active: boolean('active').notNull().default(true),
    /** `whsec_…`, envelope-encrypted (aad: table, column, id). */
    secretEnc: text('secret_enc').notNull(),
    /** The secret before the last rotation, still signing until `previous_secret_expires_at`. */
    previousSecretEnc: text('previous_secret_enc'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ columns: [t.tenantId, t.partnerId], foreignColumns: [partners.tenantId, partners.id] }),
    unique('webhook_subscriptions_tenant_id_id_key').on(t.tenantId, t.id),
    index('webhook_subscriptions_partner_idx').on(t.tenantId, t.partnerId, t.id),
    check(
      'webhook_subscriptions_previous_check',
      sql`(${t.previousSecretEnc} is null) = (${t.previousSecretExpiresAt} is null)`,
    ),
    tenantPolicy(),
  ],
).enableRLS();

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    subscriptionId: uuid('subscription_id').notNull(),
    /** The outbox event id: also the webhook's `id` (receivers de-duplicate by it). */
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    occurredAt: ts('occurred_at').notNull(),
    data: jsonb('data').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** When the worker may (re)try; while an attempt runs, the end of its lease. */
    nextAttemptAt: ts('next_attempt_at').notNull(),
    /** Retries stop after this instant (3 days after the event, or after a manual redelivery). */
    giveUpAt: ts('give_up_at').notNull(),
    lastAttemptAt: ts('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: ts('delivered_at'),
    deadAt: ts('dead_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      columns: [t.tenantId, t.subscriptionId],
      foreignColumns: [webhookSubscriptions.tenantId, webhookSubscriptions.id],
    }).onDelete('cascade'),
    // At-least-once bus, exactly one delivery per event and subscription.
    unique('webhook_deliveries_event_subscription_key').on(t.eventId, t.subscriptionId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_subscription_idx').on(t.tenantId, t.subscriptionId, t.id),
    index('webhook_deliveries_dead_idx').on(t.tenantId, t.partnerId, t.id).where(sql`${t.status} = 'dead'`),
    check('webhook_deliveries_status_check', sql`${t.status} in ('pending', 'succeeded', 'dead')`),
    tenantPolicy(),
  ],
).enableRLS();

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    deliveryId: uuid('delivery_id').notNull(),
    attemptedAt: ts('attempted_at').notNull(),
    /** HTTP status of the answer; null when none came (network, timeout, refused by the guard). */
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** null on success; else `http_status`, `redirect`, `timeout`, `connect`, `tls`, `dns`, `ssrf_refused`, `network`. */
    errorClass: text('error_class'),
  },
  (t) => [
    foreignKey({ columns: [t.deliveryId], foreignColumns: [webhookDeliveries.id] }).onDelete('cascade'),
    index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attemptedAt),
    tenantPolicy(),
  ],
).enableRLS();
