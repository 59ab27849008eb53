import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { rows } from '../platform/db/rows.ts';
import { privacyConsents, privacyLegalHolds, privacyRequests, privacySettings } from './schema.ts';

export type RequestRow = typeof privacyRequests.$inferSelect;
export type ConsentRow = typeof privacyConsents.$inferSelect;
export type HoldRow = typeof privacyLegalHolds.$inferSelect;
export type SettingsRow = typeof privacySettings.$inferSelect;

/** Who a customer is (no personal data): its partner and policyholder user. */
export async function customerRef(
  tx: Tx,
  tenantId: string,
  customerId: string,
): Promise<{ id: string; partnerId: string; ownerUserId: string | null } | undefined> {
  const [r] = await rows<{ id: string; partner_id: string; owner_user_id: string | null }>(
    tx,
    sql`SELECT id, partner_id, owner_user_id FROM customers WHERE tenant_id = ${tenantId} AND id = ${customerId}`,
  );
  return r ? { id: r.id, partnerId: r.partner_id, ownerUserId: r.owner_user_id } : undefined;
}

export async function userExists(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const [r] = await rows<{ id: string }>(
    tx,
    sql`SELECT id FROM users WHERE tenant_id = ${tenantId} AND id = ${userId}`,
  );
  return r !== undefined;
}

/** The customer a user is the policyholder of (the first one, when several). */
export async function customerOfUser(tx: Tx, tenantId: string, userId: string) {
  const [r] = await rows<{ id: string; partner_id: string }>(
    tx,
    sql`SELECT id, partner_id FROM customers WHERE tenant_id = ${tenantId} AND owner_user_id = ${userId} ORDER BY id LIMIT 1`,
  );
  return r;
}

export async function accountRef(tx: Tx, tenantId: string, accountId: string) {
  const [r] = await rows<{ id: string; customer_id: string | null }>(
    tx,
    sql`SELECT id, customer_id FROM ledger_accounts WHERE tenant_id = ${tenantId} AND id = ${accountId}`,
  );
  return r;
}

// ---- requests --------------------------------------------------------------------------------

export async function insertRequest(tx: Tx, row: typeof privacyRequests.$inferInsert): Promise<RequestRow> {
  const [r] = await tx.insert(privacyRequests).values(row).returning();
  return r!;
}

export async function updateRequest(
  tx: Tx,
  tenantId: string,
  id: string,
  set: Partial<typeof privacyRequests.$inferInsert>,
): Promise<RequestRow> {
  const [r] = await tx
    .update(privacyRequests)
    .set({ ...set, updatedAt: new Date() })
    .where(and(eq(privacyRequests.tenantId, tenantId), eq(privacyRequests.id, id)))
    .returning();
  return r!;
}

export async function findRequest(
  tx: Tx,
  tenantId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<RequestRow | undefined> {
  const q = tx
    .select()
    .from(privacyRequests)
    .where(and(eq(privacyRequests.tenantId, tenantId), eq(privacyRequests.id, id)));
  const [r] = opts.forUpdate ? await q.for('update') : await q;
  return r;
}

export function listRequests(
  tx: Tx,
  tenantId: string,
  filter: {
    partnerId?: string | undefined;
    customerId?: string | undefined;
    ownerUserId?: string | undefined;
  },
  page: { after?: string | undefined; limit: number },
): Promise<RequestRow[]> {
  return tx
    .select()
    .from(privacyRequests)
    .where(
      and(
        eq(privacyRequests.tenantId, tenantId),
        filter.partnerId ? eq(privacyRequests.partnerId, filter.partnerId) : undefined,
        filter.customerId ? eq(privacyRequests.customerId, filter.customerId) : undefined,
        filter.ownerUserId ? eq(privacyRequests.userId, filter.ownerUserId) : undefined,
        page.after ? gt(privacyRequests.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(privacyRequests.id))
    .limit(page.limit);
}

export function dueScheduled(tx: Tx, tenantId: string, now: Date): Promise<RequestRow[]> {
  return tx
    .select()
    .from(privacyRequests)
    .where(
      and(
        eq(privacyRequests.tenantId, tenantId),
        eq(privacyRequests.status, 'scheduled'),
        lte(privacyRequests.scheduledFor, now),
      ),
    )
    .orderBy(asc(privacyRequests.id))
    .for('update', { skipLocked: true });
}

export async function purgeClosedRequests(tx: Tx, tenantId: string, before: Date): Promise<number> {
  const done = await tx
    .delete(privacyRequests)
    .where(
      and(
        eq(privacyRequests.tenantId, tenantId),
        inArray(privacyRequests.status, ['completed', 'partially_completed', 'refused']),
        lt(privacyRequests.completedAt, before),
      ),
    )
    .returning({ id: privacyRequests.id });
  return done.length;
}

// ---- consents --------------------------------------------------------------------------------

export async function insertConsent(tx: Tx, row: typeof privacyConsents.$inferInsert): Promise<ConsentRow> {
  const [r] = await tx.insert(privacyConsents).values(row).returning();
  return r!;
}

export async function findConsent(tx: Tx, tenantId: string, id: string, forUpdate = false) {
  const q = tx
    .select()
    .from(privacyConsents)
    .where(and(eq(privacyConsents.tenantId, tenantId), eq(privacyConsents.id, id)));
  const [r] = forUpdate ? await q.for('update') : await q;
  return r;
}

export function listConsents(
  tx: Tx,
  tenantId: string,
  filter: { customerId?: string | undefined; partnerId?: string | undefined },
  page: { after?: string | undefined; limit: number },
): Promise<ConsentRow[]> {
  return tx
    .select()
    .from(privacyConsents)
    .where(
      and(
        eq(privacyConsents.tenantId, tenantId),
        filter.customerId ? eq(privacyConsents.customerId, filter.customerId) : undefined,
        filter.partnerId ? eq(privacyConsents.partnerId, filter.partnerId) : undefined,
        page.after ? gt(privacyConsents.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(privacyConsents.id))
    .limit(page.limit);
}

export async function withdrawConsent(
  tx: Tx,
  tenantId: string,
  id: string,
  at: Date,
  evidence: Record<string, string | null>,
): Promise<ConsentRow> {
  const [r] = await tx
    .update(privacyConsents)
    .set({ status: 'withdrawn', withdrawnAt: at, withdrawalEvidence: evidence })
    .where(and(eq(privacyConsents.tenantId, tenantId), eq(privacyConsents.id, id)))
    .returning();
  return r!;
}

export async function withdrawAllOfCustomer(tx: Tx, tenantId: string, customerId: string, at: Date) {
  const done = await tx
    .update(privacyConsents)
    .set({ status: 'withdrawn', withdrawnAt: at, withdrawalEvidence: { method: 'erasure' } })
    .where(
      and(
        eq(privacyConsents.tenantId, tenantId),
        eq(privacyConsents.customerId, customerId),
        eq(privacyConsents.status, 'granted'),
      ),
    )
    .returning({ id: privacyConsents.id });
  return done.length;
}

/** An active account-information consent of the account's customer to the partner, covering the account. */
export async function activeAccountConsent(
  tx: Tx,
  tenantId: string,
  partnerId: string,
  customerId: string,
  accountId: string,
  now: Date,
): Promise<boolean> {
  const [r] = await tx
    .select({ id: privacyConsents.id })
    .from(privacyConsents)
    .where(
      and(
        eq(privacyConsents.tenantId, tenantId),
        eq(privacyConsents.partnerId, partnerId),
        eq(privacyConsents.customerId, customerId),
        eq(privacyConsents.purpose, 'account_information'),
        eq(privacyConsents.status, 'granted'),
        or(isNull(privacyConsents.expiresAt), gt(privacyConsents.expiresAt, now)),
        sql`(cardinality(${privacyConsents.accountIds}) = 0 OR ${accountId}::uuid = ANY(${privacyConsents.accountIds}))`,
      ),
    )
    .limit(1);
  return r !== undefined;
}

/** Withdrawn consents, and expired ones, whose end lies before `before`: evidence kept long enough. */
export async function purgeEndedConsents(tx: Tx, tenantId: string, before: Date): Promise<number> {
  const done = await tx
    .delete(privacyConsents)
    .where(
      and(
        eq(privacyConsents.tenantId, tenantId),
        or(
          and(eq(privacyConsents.status, 'withdrawn'), lt(privacyConsents.withdrawnAt, before)),
          lt(privacyConsents.expiresAt, before),
        ),
      ),
    )
    .returning({ id: privacyConsents.id });
  return done.length;
}

// ---- legal holds -----------------------------------------------------------------------------

export async function insertHold(tx: Tx, row: typeof privacyLegalHolds.$inferInsert): Promise<HoldRow> {
  const [r] = await tx.insert(privacyLegalHolds).values(row).returning();
  return r!;
}

export function activeHolds(tx: Tx, tenantId: string, customerId: string): Promise<HoldRow[]> {
  return tx
    .select()
    .from(privacyLegalHolds)
    .where(
      and(
        eq(privacyLegalHolds.tenantId, tenantId),
        eq(privacyLegalHolds.customerId, customerId),
        isNull(privacyLegalHolds.releasedAt),
      ),
    );
}

export function listHolds(tx: Tx, tenantId: string): Promise<HoldRow[]> {
  return tx
    .select()
    .from(privacyLegalHolds)
    .where(eq(privacyLegalHolds.tenantId, tenantId))
    .orderBy(desc(privacyLegalHolds.placedAt))
    .limit(500);
}

export async function releaseHold(tx: Tx, tenantId: string, id: string, at: Date) {
  const [r] = await tx
    .update(privacyLegalHolds)
    .set({ releasedAt: at })
    .where(
      and(
        eq(privacyLegalHolds.tenantId, tenantId),
        eq(privacyLegalHolds.id, id),
        isNull(privacyLegalHolds.releasedAt),
      ),
    )
    .returning();
  return r;
}

// ---- settings --------------------------------------------------------------------------------

export async function findSettings(tx: Tx, tenantId: string): Promise<SettingsRow | undefined> {
  const [r] = await tx.select().from(privacySettings).where(eq(privacySettings.tenantId, tenantId));
  return r;
}

export async function putSettings(
  tx: Tx,
  row: { tenantId: string; accountConsentRequired: boolean; retentionDays: Record<string, number> },
): Promise<SettingsRow> {
  const [r] = await tx
    .insert(privacySettings)
    .values({ ...row, updatedAt: new Date() })
    .onConflictDoUpdate({
      target: privacySettings.tenantId,
      set: {
        accountConsentRequired: row.accountConsentRequired,
        retentionDays: row.retentionDays,
        updatedAt: new Date(),
      },
    })
    .returning();
  return r!;
}

/** Customers never verified, created before `before`, with nothing that must be kept. */
export async function staleUnverifiedCustomers(tx: Tx, tenantId: string, before: Date) {
  return rows<{ id: string; owner_user_id: string | null }>(
    tx,
    sql`SELECT c.id, c.owner_user_id FROM customers c
        WHERE c.tenant_id = ${tenantId} AND c.kyc_status IN ('unverified', 'rejected')
          AND c.created_at < ${before.toISOString()}::timestamptz
          AND NOT EXISTS (SELECT 1 FROM insurance_policies p WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id)
          AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.tenant_id = c.tenant_id AND a.customer_id = c.id)
          AND NOT EXISTS (SELECT 1 FROM payments y WHERE y.tenant_id = c.tenant_id AND y.customer_id = c.id)
          AND NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.tenant_id = c.tenant_id
                            AND k.scope = 'subject:' || c.id::text AND k.status = 'destroyed')
          AND NOT EXISTS (SELECT 1 FROM privacy_legal_holds h WHERE h.tenant_id = c.tenant_id
                            AND h.customer_id = c.id AND h.released_at IS NULL)
        ORDER BY c.id LIMIT 500`,
  );
}
