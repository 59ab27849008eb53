/**
 * Persistence of customers and verification cases. Every function takes the caller's transaction
 * (`db.withTenant`) and filters by tenant although row-level security would too; the worker's
 * claim runs under `db.asSystem` (it looks across tenants) and does nothing but claim.
 */
import { and, asc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import { users } from '../identity/people/schema.ts';
import type { Tx } from '../platform/db/index.ts';
import { apps } from '../platform/db/schema.ts';
import { customers, kycCases } from './schema.ts';
import type { CaseStatus, Environment, KycStatus } from './types.ts';

export type CustomerRow = typeof customers.$inferSelect;
export type CaseRow = typeof kycCases.$inferSelect;

export interface Page {
  readonly limit: number;
  readonly after?: string | undefined;
}

export async function insertCustomer(tx: Tx, row: typeof customers.$inferInsert): Promise<CustomerRow> {
  const [created] = await tx.insert(customers).values(row).returning();
  return created!;
}

export async function findCustomer(
  tx: Tx,
  tenantId: string,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<CustomerRow | undefined> {
  const q = tx
    .select()
    .from(customers)
    .where(and(eq(customers.tenantId, tenantId), eq(customers.id, id)));
  const [row] = await (options.forUpdate ? q.for('update') : q);
  return row;
}

export interface CustomerFilter {
  readonly partnerId?: string | undefined;
  readonly ownerUserId?: string | undefined;
  readonly emailIdx?: string | undefined;
  readonly identifierIdx?: string | undefined;
}

export function listCustomers(tx: Tx, tenantId: string, filter: CustomerFilter, page: Page) {
  return tx
    .select()
    .from(customers)
    .where(
      and(
        eq(customers.tenantId, tenantId),
        filter.partnerId ? eq(customers.partnerId, filter.partnerId) : undefined,
        filter.ownerUserId ? eq(customers.ownerUserId, filter.ownerUserId) : undefined,
        filter.emailIdx ? eq(customers.emailIdx, filter.emailIdx) : undefined,
        filter.identifierIdx ? eq(customers.identifierIdx, filter.identifierIdx) : undefined,
        page.after ? gt(customers.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(customers.id))
    .limit(page.limit);
}

export async function updateCustomer(
  tx: Tx,
  tenantId: string,
  id: string,
  set: Partial<typeof customers.$inferInsert>,
): Promise<CustomerRow | undefined> {
  const [row] = await tx
    .update(customers)
    .set(set)
    .where(and(eq(customers.tenantId, tenantId), eq(customers.id, id)))
    .returning();
  return row;
}

export async function setCustomerStatus(
  tx: Tx,
  tenantId: string,
  id: string,
  set: {
    kycStatus: KycStatus;
    riskScore?: number | null;
    pep?: boolean;
    verifiedCaseId?: string | null;
    verifiedUntil?: Date | null;
    updatedAt: Date;
  },
): Promise<void> {
  await tx
    .update(customers)
    .set(set)
    .where(and(eq(customers.tenantId, tenantId), eq(customers.id, id)));
}

/** The environment (sandbox / live) of the app a token was issued to. */
export async function appEnvironment(
  tx: Tx,
  tenantId: string,
  clientId: string,
): Promise<Environment | undefined> {
  const [row] = await tx
    .select({ environment: apps.environment })
    .from(apps)
    .where(and(eq(apps.tenantId, tenantId), eq(apps.clientId, clientId)));
  return row?.environment;
}

export async function activeUserExists(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId), eq(users.status, 'active')));
  return row !== undefined;
}

// ---- cases ----------------------------------------------------------------------------------

export async function insertCase(tx: Tx, row: typeof kycCases.$inferInsert): Promise<CaseRow> {
  const [created] = await tx.insert(kycCases).values(row).returning();
  return created!;
}

export async function findCase(
  tx: Tx,
  tenantId: string,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<CaseRow | undefined> {
  const q = tx
    .select()
    .from(kycCases)
    .where(and(eq(kycCases.tenantId, tenantId), eq(kycCases.id, id)));
  const [row] = await (options.forUpdate ? q.for('update') : q);
  return row;
}

export function listCases(tx: Tx, tenantId: string, customerId: string, page: Page) {
  return tx
    .select()
    .from(kycCases)
    .where(
      and(
        eq(kycCases.tenantId, tenantId),
        eq(kycCases.customerId, customerId),
        page.after ? gt(kycCases.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(kycCases.id))
    .limit(page.limit);
}

export async function updateCase(
  tx: Tx,
  tenantId: string,
  id: string,
  where: { status: CaseStatus; attempts?: number },
  set: Partial<typeof kycCases.$inferInsert>,
): Promise<CaseRow | undefined> {
  const [row] = await tx
    .update(kycCases)
    .set(set)
    .where(
      and(
        eq(kycCases.tenantId, tenantId),
        eq(kycCases.id, id),
        eq(kycCases.status, where.status),
        where.attempts !== undefined ? eq(kycCases.attempts, where.attempts) : undefined,
      ),
    )
    .returning();
  return row;
}

export interface Claimed {
  readonly id: string;
  readonly tenantId: string;
  readonly attempts: number;
}

/**
 * Claims up to `limit` cases to check (system transaction): submitted ones, and running ones whose
 * lease ran out (a worker that died). SKIP LOCKED lets several instances claim side by side.
 */
export async function claimCases(tx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<Claimed[]> {
  const due = tx
    .select({ id: kycCases.id })
    .from(kycCases)
    .where(
      or(
        eq(kycCases.status, 'submitted'),
        and(eq(kycCases.status, 'checks_running'), lt(kycCases.leaseUntil, now)),
      ),
    )
    .orderBy(asc(kycCases.createdAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  return tx
    .update(kycCases)
    .set({
      status: 'checks_running',
      leaseUntil,
      attempts: sql`${kycCases.attempts} + 1`,
      updatedAt: now,
    })
    .where(inArray(kycCases.id, due))
    .returning({ id: kycCases.id, tenantId: kycCases.tenantId, attempts: kycCases.attempts });
}
