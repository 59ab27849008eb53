import { and, asc, eq, gt, inArray, ne, sql } from 'drizzle-orm';
import { users } from '../identity/people/schema.ts';
import type { Tx } from '../platform/db/index.ts';
import {
  insuranceAdjusterAuthorities,
  insuranceClaimDocuments,
  insuranceClaimPayouts,
  insuranceClaims,
  insuranceInstalments,
  insurancePolicies,
  insuranceProducts,
} from './schema.ts';

/**
 * Persistence of products, policies, claims and authorities. Every function takes the caller's
 * transaction (`db.withTenant`), filters by tenant itself (row-level security is the second wall)
 * and returns rows as stored: encrypted columns stay encrypted until the service opens them.
 */
export type ProductRow = typeof insuranceProducts.$inferSelect;
export type PolicyRow = typeof insurancePolicies.$inferSelect;
export type InstalmentRow = typeof insuranceInstalments.$inferSelect;
export type ClaimRow = typeof insuranceClaims.$inferSelect;
export type DocumentRow = typeof insuranceClaimDocuments.$inferSelect;
export type AuthorityRow = typeof insuranceAdjusterAuthorities.$inferSelect;

export interface Page {
  readonly limit: number;
  readonly after?: string | undefined;
}

/** Which slice of a list the caller may see (the object-level policies' partner / owner). */
export interface Scope {
  readonly partnerId?: string | undefined;
  readonly ownerUserId?: string | undefined;
}

// --- products ------------------------------------------------------------------------------

export async function insertProduct(tx: Tx, row: typeof insuranceProducts.$inferInsert): Promise<ProductRow> {
  const [created] = await tx.insert(insuranceProducts).values(row).returning();
  return created!;
}

export async function findProduct(tx: Tx, tenantId: string, id: string): Promise<ProductRow | undefined> {
  const [row] = await tx
    .select()
    .from(insuranceProducts)
    .where(and(eq(insuranceProducts.tenantId, tenantId), eq(insuranceProducts.id, id)));
  return row;
}

export function listProducts(tx: Tx, tenantId: string, page: Page): Promise<ProductRow[]> {
  return tx
    .select()
    .from(insuranceProducts)
    .where(
      and(
        eq(insuranceProducts.tenantId, tenantId),
        page.after ? gt(insuranceProducts.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(insuranceProducts.id))
    .limit(page.limit);
}

// --- policies ------------------------------------------------------------------------------

export async function insertPolicy(tx: Tx, row: typeof insurancePolicies.$inferInsert): Promise<PolicyRow> {
  const [created] = await tx.insert(insurancePolicies).values(row).returning();
  return created!;
}

export async function findPolicy(
  tx: Tx,
  tenantId: string,
  id: string,
  lock = false,
): Promise<PolicyRow | undefined> {
  const query = tx
    .select()
    .from(insurancePolicies)
    .where(and(eq(insurancePolicies.tenantId, tenantId), eq(insurancePolicies.id, id)));
  const [row] = lock ? await query.for('update') : await query;
  return row;
}

export function listPolicies(tx: Tx, tenantId: string, scope: Scope, page: Page): Promise<PolicyRow[]> {
  return tx
    .select()
    .from(insurancePolicies)
    .where(
      and(
        eq(insurancePolicies.tenantId, tenantId),
        scope.partnerId ? eq(insurancePolicies.partnerId, scope.partnerId) : undefined,
        scope.ownerUserId ? eq(insurancePolicies.ownerUserId, scope.ownerUserId) : undefined,
        page.after ? gt(insurancePolicies.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(insurancePolicies.id))
    .limit(page.limit);
}

/** Moves a policy from `from` only: a concurrent change makes this return undefined. */
export async function updatePolicy(
  tx: Tx,
  tenantId: string,
  id: string,
  from: string,
  set: Partial<typeof insurancePolicies.$inferInsert>,
): Promise<PolicyRow | undefined> {
  const [row] = await tx
    .update(insurancePolicies)
    .set({ ...set, updatedAt: sql`now()` })
    .where(
      and(
        eq(insurancePolicies.tenantId, tenantId),
        eq(insurancePolicies.id, id),
        eq(insurancePolicies.status, from),
      ),
    )
    .returning();
  return row;
}

/** Policies of the tenant in `statuses` (for the life-cycle job), locked, oldest first. */
export function policiesIn(
  tx: Tx,
  tenantId: string,
  statuses: string[],
  limit: number,
): Promise<PolicyRow[]> {
  return tx
    .select()
    .from(insurancePolicies)
    .where(and(eq(insurancePolicies.tenantId, tenantId), inArray(insurancePolicies.status, statuses)))
    .orderBy(asc(insurancePolicies.id))
    .limit(limit)
    .for('update', { skipLocked: true });
}

export async function insertInstalments(
  tx: Tx,
  rows: (typeof insuranceInstalments.$inferInsert)[],
): Promise<InstalmentRow[]> {
  if (!rows.length) return [];
  return tx.insert(insuranceInstalments).values(rows).returning();
}

export function instalmentsOf(tx: Tx, tenantId: string, policyIds: string[]): Promise<InstalmentRow[]> {
  if (!policyIds.length) return Promise.resolve([]);
  return tx
    .select()
    .from(insuranceInstalments)
    .where(
      and(eq(insuranceInstalments.tenantId, tenantId), inArray(insuranceInstalments.policyId, policyIds)),
    )
    .orderBy(asc(insuranceInstalments.policyId), asc(insuranceInstalments.seq));
}

/** Voids the unpaid instalments due after `after` (cover ended before them). */
export async function voidInstalmentsAfter(tx: Tx, tenantId: string, policyId: string, after: string) {
  await tx
    .update(insuranceInstalments)
    .set({ status: 'void' })
    .where(
      and(
        eq(insuranceInstalments.tenantId, tenantId),
        eq(insuranceInstalments.policyId, policyId),
        eq(insuranceInstalments.status, 'due'),
        gt(insuranceInstalments.dueDate, after),
      ),
    );
}

export async function markInstalmentPaid(
  tx: Tx,
  tenantId: string,
  instalmentId: string,
  paymentId: string,
): Promise<InstalmentRow | undefined> {
  const [row] = await tx
    .update(insuranceInstalments)
    .set({ status: 'paid', paymentId, paidAt: sql`now()` })
    .where(
      and(
        eq(insuranceInstalments.tenantId, tenantId),
        eq(insuranceInstalments.id, instalmentId),
        eq(insuranceInstalments.status, 'due'),
      ),
    )
    .returning();
  return row;
}

// --- claims --------------------------------------------------------------------------------

export async function insertClaim(tx: Tx, row: typeof insuranceClaims.$inferInsert): Promise<ClaimRow> {
  const [created] = await tx.insert(insuranceClaims).values(row).returning();
  return created!;
}

export async function findClaim(
  tx: Tx,
  tenantId: string,
  id: string,
  lock = false,
): Promise<ClaimRow | undefined> {
  const query = tx
    .select()
    .from(insuranceClaims)
    .where(and(eq(insuranceClaims.tenantId, tenantId), eq(insuranceClaims.id, id)));
  const [row] = lock ? await query.for('update') : await query;
  return row;
}

export function listClaims(
  tx: Tx,
  tenantId: string,
  scope: Scope & { policyId?: string | undefined },
  page: Page,
): Promise<ClaimRow[]> {
  return tx
    .select()
    .from(insuranceClaims)
    .where(
      and(
        eq(insuranceClaims.tenantId, tenantId),
        scope.partnerId ? eq(insuranceClaims.partnerId, scope.partnerId) : undefined,
        scope.ownerUserId ? eq(insuranceClaims.ownerUserId, scope.ownerUserId) : undefined,
        scope.policyId ? eq(insuranceClaims.policyId, scope.policyId) : undefined,
        page.after ? gt(insuranceClaims.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(insuranceClaims.id))
    .limit(page.limit);
}

export async function updateClaim(
  tx: Tx,
  tenantId: string,
  id: string,
  set: Partial<typeof insuranceClaims.$inferInsert>,
): Promise<ClaimRow> {
  const [row] = await tx
    .update(insuranceClaims)
    .set({ ...set, updatedAt: sql`now()` })
    .where(and(eq(insuranceClaims.tenantId, tenantId), eq(insuranceClaims.id, id)))
    .returning();
  return row!;
}

/** The other claims of a policy, as the duplicate and cover signals need them. */
export function siblingClaims(tx: Tx, tenantId: string, policyId: string, claimId: string) {
  return tx
    .select({
      id: insuranceClaims.id,
      incidentDate: insuranceClaims.incidentDate,
      amountClaimed: insuranceClaims.amountClaimed,
      status: insuranceClaims.status,
      approvedAmount: insuranceClaims.approvedAmount,
    })
    .from(insuranceClaims)
    .where(
      and(
        eq(insuranceClaims.tenantId, tenantId),
        eq(insuranceClaims.policyId, policyId),
        ne(insuranceClaims.id, claimId),
      ),
    )
    .limit(1000);
}

/** Other claims of the tenant paying to the same IBAN (by blind index). */
export function samePayeeClaims(tx: Tx, tenantId: string, ibanIdx: string, claimId: string) {
  return tx
    .select({ id: insuranceClaims.id, customerId: insuranceClaims.customerId })
    .from(insuranceClaims)
    .where(
      and(
        eq(insuranceClaims.tenantId, tenantId),
        eq(insuranceClaims.payeeIbanIdx, ibanIdx),
        ne(insuranceClaims.id, claimId),
      ),
    )
    .limit(1000);
}

// --- documents -----------------------------------------------------------------------------

export async function insertDocument(
  tx: Tx,
  row: typeof insuranceClaimDocuments.$inferInsert,
): Promise<DocumentRow> {
  const [created] = await tx.insert(insuranceClaimDocuments).values(row).returning();
  return created!;
}

export async function countDocuments(tx: Tx, tenantId: string, claimId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(insuranceClaimDocuments)
    .where(and(eq(insuranceClaimDocuments.tenantId, tenantId), eq(insuranceClaimDocuments.claimId, claimId)));
  return row?.n ?? 0;
}

export function listDocuments(tx: Tx, tenantId: string, claimId: string, page: Page): Promise<DocumentRow[]> {
  return tx
    .select()
    .from(insuranceClaimDocuments)
    .where(
      and(
        eq(insuranceClaimDocuments.tenantId, tenantId),
        eq(insuranceClaimDocuments.claimId, claimId),
        page.after ? gt(insuranceClaimDocuments.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(insuranceClaimDocuments.id))
    .limit(page.limit);
}

// --- payouts -------------------------------------------------------------------------------

/** Records a payout outcome once per payment and kind; false when it was already recorded. */
export async function recordPayout(tx: Tx, row: typeof insuranceClaimPayouts.$inferInsert): Promise<boolean> {
  const inserted = await tx
    .insert(insuranceClaimPayouts)
    .values(row)
    .onConflictDoNothing()
    .returning({ claimId: insuranceClaimPayouts.claimId });
  return inserted.length > 0;
}

export async function payoutSettledAmount(
  tx: Tx,
  tenantId: string,
  claimId: string,
  paymentId: string,
): Promise<bigint | undefined> {
  const [row] = await tx
    .select({ amount: insuranceClaimPayouts.amount })
    .from(insuranceClaimPayouts)
    .where(
      and(
        eq(insuranceClaimPayouts.tenantId, tenantId),
        eq(insuranceClaimPayouts.claimId, claimId),
        eq(insuranceClaimPayouts.paymentId, paymentId),
        eq(insuranceClaimPayouts.kind, 'settled'),
      ),
    );
  return row?.amount;
}

// --- adjuster authorities ------------------------------------------------------------------

export function authoritiesOf(tx: Tx, tenantId: string, userId: string): Promise<AuthorityRow[]> {
  return tx
    .select()
    .from(insuranceAdjusterAuthorities)
    .where(
      and(
        eq(insuranceAdjusterAuthorities.tenantId, tenantId),
        eq(insuranceAdjusterAuthorities.userId, userId),
      ),
    )
    .orderBy(asc(insuranceAdjusterAuthorities.currency));
}

export async function replaceAuthorities(
  tx: Tx,
  tenantId: string,
  userId: string,
  limits: { currency: string; singleLimit: bigint; multiLimit: bigint }[],
): Promise<AuthorityRow[]> {
  await tx
    .delete(insuranceAdjusterAuthorities)
    .where(
      and(
        eq(insuranceAdjusterAuthorities.tenantId, tenantId),
        eq(insuranceAdjusterAuthorities.userId, userId),
      ),
    );
  if (!limits.length) return [];
  return tx
    .insert(insuranceAdjusterAuthorities)
    .values(limits.map((l) => ({ tenantId, userId, ...l })))
    .returning();
}

/** The roles of a user of the tenant (people's table, read only), or undefined. */
export async function userRoles(tx: Tx, tenantId: string, userId: string): Promise<string[] | undefined> {
  const [row] = await tx
    .select({ roles: users.roles })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
  return row?.roles;
}
