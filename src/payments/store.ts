/**
 * Payments' persistence: every query names its tenant (RLS is the second wall). Rows come back
 * with their sealed fields; the service opens them.
 */
import { and, eq, gt, isNotNull, lte, type SQL, sql } from 'drizzle-orm';
import { rows } from '../platform/db/rows.ts';
import { apps, partners } from '../platform/db/schema.ts';
import type { Tx } from '../platform/db/types.ts';
import { paymentDailyUsage, paymentLimits, paymentMandates, payments } from './schema.ts';

export type MandateRow = typeof paymentMandates.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;
export type LimitRow = typeof paymentLimits.$inferSelect;
export type Direction = 'collection' | 'payout';

/** The environment of the app a token was issued to (`sandbox` | `live`). */
export async function appEnvironment(tx: Tx, tenantId: string, clientId: string) {
  const [row] = await tx
    .select({ environment: apps.environment })
    .from(apps)
    .where(and(eq(apps.tenantId, tenantId), eq(apps.clientId, clientId)));
  return row?.environment;
}

export async function partnerExists(tx: Tx, tenantId: string, partnerId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: partners.id })
    .from(partners)
    .where(and(eq(partners.tenantId, tenantId), eq(partners.id, partnerId)));
  return row !== undefined;
}

export async function insertMandate(tx: Tx, row: typeof paymentMandates.$inferInsert): Promise<MandateRow> {
  const [inserted] = await tx.insert(paymentMandates).values(row).returning();
  return inserted!;
}

export async function findMandate(tx: Tx, tenantId: string, id: string, forUpdate = false) {
  const q = tx
    .select()
    .from(paymentMandates)
    .where(and(eq(paymentMandates.tenantId, tenantId), eq(paymentMandates.id, id)));
  const [row] = forUpdate ? await q.for('update') : await q;
  return row;
}

export async function revokeMandate(tx: Tx, tenantId: string, id: string, at: Date): Promise<MandateRow> {
  const [row] = await tx
    .update(paymentMandates)
    .set({ status: 'revoked', revokedAt: at })
    .where(and(eq(paymentMandates.tenantId, tenantId), eq(paymentMandates.id, id)))
    .returning();
  return row!;
}

export interface ListScope {
  /** A partner app sees its partner's objects only. */
  readonly partnerId?: string | undefined;
  /** A policyholder sees their own only. */
  readonly ownerUserId?: string | undefined;
  readonly sandbox: boolean;
  readonly limit: number;
  readonly after?: string | undefined;
}

export async function listMandates(tx: Tx, tenantId: string, scope: ListScope & { customerId?: string }) {
  const where: SQL[] = [eq(paymentMandates.tenantId, tenantId), eq(paymentMandates.sandbox, scope.sandbox)];
  if (scope.partnerId) where.push(eq(paymentMandates.partnerId, scope.partnerId));
  if (scope.customerId) where.push(eq(paymentMandates.customerId, scope.customerId));
  if (scope.after) where.push(gt(paymentMandates.id, scope.after));
  return tx
    .select()
    .from(paymentMandates)
    .where(and(...where))
    .orderBy(paymentMandates.id)
    .limit(scope.limit);
}

export async function insertPayment(tx: Tx, row: typeof payments.$inferInsert): Promise<PaymentRow> {
  const [inserted] = await tx.insert(payments).values(row).returning();
  return inserted!;
}

export async function findPayment(tx: Tx, tenantId: string, id: string, forUpdate = false) {
  const q = tx
    .select()
    .from(payments)
    .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id)));
  const [row] = forUpdate ? await q.for('update') : await q;
  return row;
}

export async function updatePayment(
  tx: Tx,
  tenantId: string,
  id: string,
  patch: Partial<typeof payments.$inferInsert>,
): Promise<PaymentRow> {
  const [row] = await tx
    .update(payments)
    .set(patch)
    .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id)))
    .returning();
  return row!;
}

export async function listPayments(
  tx: Tx,
  tenantId: string,
  scope: ListScope & { status?: string; kind?: string; claimId?: string; mandateId?: string },
) {
  const where: SQL[] = [eq(payments.tenantId, tenantId), eq(payments.sandbox, scope.sandbox)];
  if (scope.partnerId) where.push(eq(payments.partnerId, scope.partnerId));
  if (scope.ownerUserId) where.push(eq(payments.ownerUserId, scope.ownerUserId));
  if (scope.status) where.push(eq(payments.status, scope.status));
  if (scope.kind) where.push(eq(payments.kind, scope.kind as 'collection'));
  if (scope.claimId) where.push(eq(payments.claimId, scope.claimId));
  if (scope.mandateId) where.push(eq(payments.mandateId, scope.mandateId));
  if (scope.after) where.push(gt(payments.id, scope.after));
  return tx
    .select()
    .from(payments)
    .where(and(...where))
    .orderBy(payments.id)
    .limit(scope.limit);
}

/** Payouts of a claim that are in flight (awaiting SCA or on the rail), in minor units. */
export async function claimInFlight(tx: Tx, tenantId: string, claimId: string): Promise<bigint> {
  const [row] = await rows<{ total: string | null }>(
    tx,
    sql`SELECT coalesce(sum(amount), 0)::text AS total FROM payments
        WHERE tenant_id = ${tenantId} AND claim_id = ${claimId} AND kind = 'claim_payout'
          AND status IN ('awaiting_sca', 'submitted')`,
  );
  return BigInt(row?.total ?? '0');
}

export async function scheduledOfMandate(tx: Tx, tenantId: string, mandateId: string) {
  return tx
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.tenantId, tenantId),
        eq(payments.mandateId, mandateId),
        eq(payments.status, 'scheduled'),
      ),
    )
    .for('update');
}

/** Collections whose attempt is due, across tenants (a system query). */
export async function dueCollections(tx: Tx, now: Date, limit: number) {
  return tx
    .select({ id: payments.id, tenantId: payments.tenantId })
    .from(payments)
    .where(
      and(
        eq(payments.status, 'scheduled'),
        isNotNull(payments.nextAttemptAt),
        lte(payments.nextAttemptAt, now),
      ),
    )
    .orderBy(payments.nextAttemptAt)
    .limit(limit);
}

export async function findLimit(
  tx: Tx,
  tenantId: string,
  partnerId: string,
  direction: Direction,
  currency: string,
) {
  const [row] = await tx
    .select()
    .from(paymentLimits)
    .where(
      and(
        eq(paymentLimits.tenantId, tenantId),
        eq(paymentLimits.partnerId, partnerId),
        eq(paymentLimits.direction, direction),
        eq(paymentLimits.currency, currency),
      ),
    );
  return row;
}

export async function listLimits(tx: Tx, tenantId: string, partnerId: string) {
  return tx
    .select()
    .from(paymentLimits)
    .where(and(eq(paymentLimits.tenantId, tenantId), eq(paymentLimits.partnerId, partnerId)))
    .orderBy(paymentLimits.direction, paymentLimits.currency);
}

export async function upsertLimit(tx: Tx, row: typeof paymentLimits.$inferInsert): Promise<LimitRow> {
  const [saved] = await tx
    .insert(paymentLimits)
    .values(row)
    .onConflictDoUpdate({
      target: [
        paymentLimits.tenantId,
        paymentLimits.partnerId,
        paymentLimits.direction,
        paymentLimits.currency,
      ],
      set: { maxPerPayment: row.maxPerPayment, maxPerDay: row.maxPerDay, updatedAt: row.updatedAt },
    })
    .returning();
  return saved!;
}

/**
 * Adds `amount` to the partner's usage of `day` if the total stays within `maxPerDay`, in one
 * statement (the row lock orders concurrent payments). Returns false, having written nothing,
 * when it would not.
 */
export async function addDailyUsage(
  tx: Tx,
  key: { tenantId: string; partnerId: string; direction: Direction; currency: string; day: string },
  amount: bigint,
  maxPerDay: bigint,
): Promise<boolean> {
  if (amount > maxPerDay) return false;
  const done = await tx
    .insert(paymentDailyUsage)
    .values({ ...key, total: amount })
    .onConflictDoUpdate({
      target: [
        paymentDailyUsage.tenantId,
        paymentDailyUsage.partnerId,
        paymentDailyUsage.direction,
        paymentDailyUsage.currency,
        paymentDailyUsage.day,
      ],
      set: { total: sql`${paymentDailyUsage.total} + excluded.total` },
      setWhere: sql`${paymentDailyUsage.total} + excluded.total <= ${maxPerDay}`,
    })
    .returning({ total: paymentDailyUsage.total });
  return done.length > 0;
}
