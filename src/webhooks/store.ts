/**
 * Persistence of the webhooks module. Every tenant query names its tenant (and, for partner
 * callers, its partner) explicitly; RLS is the second wall. Secrets leave this file only as the
 * encrypted column values, and only through `secretsOf` (the delivery worker's privileged read).
 */
import { and, asc, desc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import { rows } from '../platform/db/rows.ts';
import type { Tx } from '../platform/db/types.ts';
import { type DeliveryStatus, webhookAttempts, webhookDeliveries, webhookSubscriptions } from './schema.ts';

export type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** A subscription as callers may see it: no secret columns. */
export type SubscriptionView = Omit<SubscriptionRow, 'secretEnc' | 'previousSecretEnc'>;

const viewColumns = {
  id: webhookSubscriptions.id,
  tenantId: webhookSubscriptions.tenantId,
  partnerId: webhookSubscriptions.partnerId,
  url: webhookSubscriptions.url,
  eventTypes: webhookSubscriptions.eventTypes,
  description: webhookSubscriptions.description,
  active: webhookSubscriptions.active,
  previousSecretExpiresAt: webhookSubscriptions.previousSecretExpiresAt,
  createdAt: webhookSubscriptions.createdAt,
  updatedAt: webhookSubscriptions.updatedAt,
};

/** Scope of a read or write: a partner sees its own; an operator (`partnerId: null`) the tenant's. */
export interface Owner {
  readonly tenantId: string;
  readonly partnerId: string | null;
}

const ownerOf = (o: Owner) =>
  and(
    eq(webhookSubscriptions.tenantId, o.tenantId),
    o.partnerId === null ? undefined : eq(webhookSubscriptions.partnerId, o.partnerId),
  );

export async function insertSubscription(
  tx: Tx,
  row: typeof webhookSubscriptions.$inferInsert,
): Promise<SubscriptionView> {
  const [created] = await tx.insert(webhookSubscriptions).values(row).returning(viewColumns);
  return created!;
}

export async function countSubscriptions(tx: Tx, tenantId: string, partnerId: string): Promise<number> {
  const [r] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(webhookSubscriptions)
    .where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.partnerId, partnerId)));
  return r?.n ?? 0;
}

export async function findSubscription(
  tx: Tx,
  owner: Owner,
  id: string,
): Promise<SubscriptionView | undefined> {
  const [row] = await tx
    .select(viewColumns)
    .from(webhookSubscriptions)
    .where(and(ownerOf(owner), eq(webhookSubscriptions.id, id)));
  return row;
}

/** PRIVILEGED: the encrypted secrets of one subscription, locked against a concurrent rotation. */
export async function secretsOf(
  tx: Tx,
  tenantId: string,
  id: string,
  lock = false,
): Promise<Pick<SubscriptionRow, 'secretEnc' | 'previousSecretEnc' | 'previousSecretExpiresAt'> | undefined> {
  const q = tx
    .select({
      secretEnc: webhookSubscriptions.secretEnc,
      previousSecretEnc: webhookSubscriptions.previousSecretEnc,
      previousSecretExpiresAt: webhookSubscriptions.previousSecretExpiresAt,
    })
    .from(webhookSubscriptions)
    .where(and(eq(webhookSubscriptions.tenantId, tenantId), eq(webhookSubscriptions.id, id)));
  const [row] = lock ? await q.for('update') : await q;
  return row;
}

export async function listSubscriptions(
  tx: Tx,
  owner: Owner,
  limit: number,
  after?: string,
): Promise<SubscriptionView[]> {
  return tx
    .select(viewColumns)
    .from(webhookSubscriptions)
    .where(and(ownerOf(owner), after ? gt(webhookSubscriptions.id, after) : undefined))
    .orderBy(asc(webhookSubscriptions.id))
    .limit(limit);
}

export async function updateSubscription(
  tx: Tx,
  owner: Owner,
  id: string,
  patch: Partial<typeof webhookSubscriptions.$inferInsert>,
): Promise<SubscriptionView | undefined> {
  const [row] = await tx
    .update(webhookSubscriptions)
    .set(patch)
    .where(and(ownerOf(owner), eq(webhookSubscriptions.id, id)))
    .returning(viewColumns);
  return row;
}

export async function deleteSubscription(tx: Tx, owner: Owner, id: string): Promise<boolean> {
  const gone = await tx
    .delete(webhookSubscriptions)
    .where(and(ownerOf(owner), eq(webhookSubscriptions.id, id)))
    .returning({ id: webhookSubscriptions.id });
  return gone.length > 0;
}

/** Active subscriptions of a partner that receive `eventType`. */
export async function matchingSubscriptions(
  tx: Tx,
  tenantId: string,
  partnerId: string,
  eventType: string,
): Promise<{ id: string }[]> {
  return tx
    .select({ id: webhookSubscriptions.id })
    .from(webhookSubscriptions)
    .where(
      and(
        eq(webhookSubscriptions.tenantId, tenantId),
        eq(webhookSubscriptions.partnerId, partnerId),
        eq(webhookSubscriptions.active, true),
        sql`${webhookSubscriptions.eventTypes} @> ARRAY[${eventType}]::text[]`,
      ),
    );
}

/** Inserts deliveries; one per (event, subscription) ever — a repeated event adds nothing. */
export async function insertDeliveries(
  tx: Tx,
  values: (typeof webhookDeliveries.$inferInsert)[],
): Promise<string[]> {
  if (values.length === 0) return [];
  const created = await tx
    .insert(webhookDeliveries)
    .values(values)
    .onConflictDoNothing({ target: [webhookDeliveries.eventId, webhookDeliveries.subscriptionId] })
    .returning({ id: webhookDeliveries.id });
  return created.map((r) => r.id);
}

/**
 * SYSTEM (across tenants): claims up to `limit` due deliveries by moving their next attempt to
 * `leaseUntil` and counting the attempt. `SKIP LOCKED` lets workers of several instances claim
 * side by side without taking the same row; if a worker dies mid-attempt, the lease runs out and
 * the delivery is due again.
 */
export async function claimDue(tx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<DeliveryRow[]> {
  const due = await tx
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  if (due.length === 0) return [];
  return tx
    .update(webhookDeliveries)
    .set({ nextAttemptAt: leaseUntil, attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(
      inArray(
        webhookDeliveries.id,
        due.map((d) => d.id),
      ),
    )
    .returning();
}

export async function insertAttempt(tx: Tx, row: typeof webhookAttempts.$inferInsert): Promise<void> {
  await tx.insert(webhookAttempts).values(row);
}

export async function updateDelivery(
  tx: Tx,
  tenantId: string,
  id: string,
  patch: Partial<typeof webhookDeliveries.$inferInsert>,
): Promise<void> {
  await tx
    .update(webhookDeliveries)
    .set(patch)
    .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.id, id)));
}

export interface DeliveryFilter {
  readonly subscriptionId?: string | undefined;
  readonly status?: DeliveryStatus | undefined;
}

const deliveryOwner = (o: Owner) =>
  and(
    eq(webhookDeliveries.tenantId, o.tenantId),
    o.partnerId === null ? undefined : eq(webhookDeliveries.partnerId, o.partnerId),
  );

export async function listDeliveries(
  tx: Tx,
  owner: Owner,
  filter: DeliveryFilter,
  limit: number,
  after?: string,
): Promise<DeliveryRow[]> {
  return tx
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        deliveryOwner(owner),
        filter.subscriptionId ? eq(webhookDeliveries.subscriptionId, filter.subscriptionId) : undefined,
        filter.status ? eq(webhookDeliveries.status, filter.status) : undefined,
        after ? gt(webhookDeliveries.id, after) : undefined,
      ),
    )
    .orderBy(asc(webhookDeliveries.id))
    .limit(limit);
}

export async function findDelivery(tx: Tx, owner: Owner, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx
    .select()
    .from(webhookDeliveries)
    .where(and(deliveryOwner(owner), eq(webhookDeliveries.id, id)));
  return row;
}

export async function attemptsOf(
  tx: Tx,
  tenantId: string,
  deliveryId: string,
  limit = 50,
): Promise<AttemptRow[]> {
  return tx
    .select()
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.tenantId, tenantId), eq(webhookAttempts.deliveryId, deliveryId)))
    .orderBy(desc(webhookAttempts.attemptedAt))
    .limit(limit);
}

/** Puts a dead delivery back in line; undefined when it is not dead (or not the owner's). */
export async function redeliver(
  tx: Tx,
  owner: Owner,
  id: string,
  now: Date,
  giveUpAt: Date,
): Promise<DeliveryRow | undefined> {
  const [row] = await tx
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: now, giveUpAt, deadAt: null })
    .where(and(deliveryOwner(owner), eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'dead')))
    .returning();
  return row;
}

/** SYSTEM: deliveries waiting (pending), for the backlog gauge. */
export async function pendingCount(tx: Tx): Promise<number> {
  const [r] = await rows<{ n: number }>(
    tx,
    sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`,
  );
  return Number(r?.n ?? 0);
}
