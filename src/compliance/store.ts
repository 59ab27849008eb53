/** Persistence of the risk register: the only SQL of the module besides the read-only facts. */
import { and, asc, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Tx } from '../platform/db/types.ts';
import { complianceRisks } from './schema.ts';

export type RiskRow = typeof complianceRisks.$inferSelect;
export type RiskInsert = typeof complianceRisks.$inferInsert;

export async function insertRisk(tx: Tx, row: RiskInsert): Promise<RiskRow> {
  const [r] = await tx.insert(complianceRisks).values(row).returning();
  return r!;
}

export async function getRisk(
  tx: Tx,
  tenantId: string,
  id: string,
  lock = false,
): Promise<RiskRow | undefined> {
  const q = tx
    .select()
    .from(complianceRisks)
    .where(and(eq(complianceRisks.tenantId, tenantId), eq(complianceRisks.id, id)));
  const [r] = lock ? await q.for('update') : await q;
  return r;
}

export interface RiskFilter {
  readonly tenantId: string;
  readonly limit: number;
  readonly after?: string | undefined;
  readonly status?: RiskRow['status'] | undefined;
  /** Only risks whose review is due before this instant (and not closed). */
  readonly dueBefore?: Date | undefined;
}

export function listRisks(tx: Tx, f: RiskFilter): Promise<RiskRow[]> {
  return tx
    .select()
    .from(complianceRisks)
    .where(
      and(
        eq(complianceRisks.tenantId, f.tenantId),
        f.after ? gt(complianceRisks.id, f.after) : undefined,
        f.status ? eq(complianceRisks.status, f.status) : undefined,
        f.dueBefore
          ? and(lt(complianceRisks.reviewDue, f.dueBefore), ne(complianceRisks.status, 'closed'))
          : undefined,
      ),
    )
    .orderBy(asc(complianceRisks.id))
    .limit(f.limit);
}

export async function updateRisk(
  tx: Tx,
  tenantId: string,
  id: string,
  set: Partial<Omit<RiskInsert, 'id' | 'tenantId' | 'createdAt' | 'createdBy'>>,
): Promise<RiskRow | undefined> {
  const [r] = await tx
    .update(complianceRisks)
    .set({ ...set, updatedAt: sql`now()` })
    .where(and(eq(complianceRisks.tenantId, tenantId), eq(complianceRisks.id, id)))
    .returning();
  return r;
}

export async function deleteRisk(tx: Tx, tenantId: string, id: string): Promise<RiskRow | undefined> {
  const [r] = await tx
    .delete(complianceRisks)
    .where(and(eq(complianceRisks.tenantId, tenantId), eq(complianceRisks.id, id)))
    .returning();
  return r;
}

/**
 * System job: open risks past their review date not yet alerted for that date, claimed in the same
 * statement (so two instances never alert twice for one missed date).
 */
export function claimOverdue(tx: Tx, now: Date, limit: number): Promise<RiskRow[]> {
  const due = tx
    .select({ id: complianceRisks.id })
    .from(complianceRisks)
    .where(
      and(
        ne(complianceRisks.status, 'closed'),
        lt(complianceRisks.reviewDue, now),
        or(
          isNull(complianceRisks.overdueAlertedFor),
          ne(complianceRisks.overdueAlertedFor, complianceRisks.reviewDue),
        ),
      ),
    )
    .orderBy(asc(complianceRisks.reviewDue))
    .limit(limit)
    .for('update', { skipLocked: true });
  return tx
    .update(complianceRisks)
    .set({ overdueAlertedFor: sql`${complianceRisks.reviewDue}` })
    .where(inArray(complianceRisks.id, due))
    .returning();
}
