import { and, asc, count, desc, eq, gt, isNull, lt, type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../../platform/db/index.ts';
import { apps, tenants } from '../../platform/db/schema.ts';
import { ipBlocks, ipRules } from './schema.ts';
import type { BlockRecord, IpRuleAction, IpScope, RuleRecord } from './types.ts';

/**
 * Persistence of IP rules and temporary blocks. Every function takes the caller's transaction:
 * `db.withTenant` for a tenant's rules (row-level security applies), `db.asSystem` for platform
 * rows, which no tenant transaction can see. The scope filter is written out here all the same.
 */
export type RuleRow = typeof ipRules.$inferSelect;
export type BlockRow = typeof ipBlocks.$inferSelect;

/** Arbitrary namespace of this module's transaction-scoped advisory locks (the second key hashes a name). */
const LOCK_NAMESPACE = 0x1b_07;

/**
 * Serialises the writers of one list (or of the block set) until the transaction ends, so a size
 * cap checked by counting cannot be overshot by two writers counting at once, and the block mirror
 * written under it is always the whole committed set. Advisory locks need no table privilege, so
 * tenant transactions can take them too.
 */
export async function lock(tx: Tx, name: string): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${name}))`);
}

function inScope(table: typeof ipRules | typeof ipBlocks, scope: IpScope): SQL | undefined {
  switch (scope.kind) {
    case 'platform':
      return isNull(table.tenantId);
    case 'tenant':
      return and(eq(table.tenantId, scope.tenantId), isNull(table.clientId));
    case 'app':
      return and(eq(table.tenantId, scope.tenantId), eq(table.clientId, scope.clientId));
  }
}

export async function tenantExists(tx: Tx, tenantId: string): Promise<boolean> {
  const [row] = await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
  return row !== undefined;
}

export async function appExists(tx: Tx, tenantId: string, clientId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: apps.id })
    .from(apps)
    .where(and(eq(apps.tenantId, tenantId), eq(apps.clientId, clientId)));
  return row !== undefined;
}

// ---- rules ------------------------------------------------------------------------------------

export async function insertRule(tx: Tx, row: typeof ipRules.$inferInsert): Promise<RuleRow> {
  const [created] = await tx.insert(ipRules).values(row).returning();
  return created!;
}

export async function countRules(tx: Tx, scope: IpScope, action: IpRuleAction): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(ipRules)
    .where(and(inScope(ipRules, scope), eq(ipRules.action, action)));
  return row?.n ?? 0;
}

/** The platform's rules, or all of one tenant's (tenant-wide and per app), or one app's. */
export function listRules(
  tx: Tx,
  filter: { readonly tenantId: string | null; readonly clientId?: string | undefined },
): Promise<RuleRow[]> {
  const where =
    filter.tenantId === null
      ? isNull(ipRules.tenantId)
      : and(
          eq(ipRules.tenantId, filter.tenantId),
          filter.clientId === undefined ? undefined : eq(ipRules.clientId, filter.clientId),
        );
  return tx.select().from(ipRules).where(where).orderBy(asc(ipRules.createdAt), asc(ipRules.id));
}

/** Deletes a rule of the platform (`tenantId` null) or of the tenant; returns it. */
export async function deleteRule(
  tx: Tx,
  tenantId: string | null,
  ruleId: string,
): Promise<RuleRow | undefined> {
  const [row] = await tx
    .delete(ipRules)
    .where(
      and(
        eq(ipRules.id, ruleId),
        tenantId === null ? isNull(ipRules.tenantId) : eq(ipRules.tenantId, tenantId),
      ),
    )
    .returning();
  return row;
}

/** What the engine compiles: the platform's rules (`tenantId` null) or one tenant's with its apps'. */
export async function ruleRecords(tx: Tx, tenantId: string | null): Promise<RuleRecord[]> {
  return tx
    .select({
      id: ipRules.id,
      tenantId: ipRules.tenantId,
      clientId: ipRules.clientId,
      action: ipRules.action,
      cidr: ipRules.cidr,
    })
    .from(ipRules)
    .where(tenantId === null ? isNull(ipRules.tenantId) : eq(ipRules.tenantId, tenantId));
}

// ---- temporary blocks -------------------------------------------------------------------------

export async function insertBlock(tx: Tx, row: typeof ipBlocks.$inferInsert): Promise<BlockRow> {
  const [created] = await tx.insert(ipBlocks).values(row).returning();
  return created!;
}

const active = (now: Date) => and(isNull(ipBlocks.revokedAt), gt(ipBlocks.expiresAt, now));

export async function countActiveBlocks(tx: Tx, scope: IpScope | 'all', now: Date): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(ipBlocks)
    .where(and(active(now), scope === 'all' ? undefined : inScope(ipBlocks, scope)));
  return row?.n ?? 0;
}

/** Revokes a block that is still active; returns it, or undefined when there is none such. */
export async function revokeBlock(
  tx: Tx,
  blockId: string,
  by: string,
  now: Date,
): Promise<BlockRow | undefined> {
  const [row] = await tx
    .update(ipBlocks)
    .set({ revokedAt: now, revokedBy: by })
    .where(and(eq(ipBlocks.id, blockId), active(now)))
    .returning();
  return row;
}

/** Newest first; `after` is the last id of the previous page. */
export function listBlocks(
  tx: Tx,
  filter: {
    readonly activeOnly: boolean;
    readonly now: Date;
    readonly limit: number;
    readonly after?: string | undefined;
  },
): Promise<BlockRow[]> {
  return tx
    .select()
    .from(ipBlocks)
    .where(
      and(
        filter.activeOnly ? active(filter.now) : undefined,
        filter.after ? lt(ipBlocks.id, filter.after) : undefined,
      ),
    )
    .orderBy(desc(ipBlocks.id))
    .limit(filter.limit);
}

/** Every active block of every scope: what the KV mirror holds. A system read. */
export async function activeBlockRecords(tx: Tx, now: Date): Promise<BlockRecord[]> {
  const rows = await tx
    .select({
      id: ipBlocks.id,
      tenantId: ipBlocks.tenantId,
      clientId: ipBlocks.clientId,
      cidr: ipBlocks.cidr,
      expiresAt: ipBlocks.expiresAt,
    })
    .from(ipBlocks)
    .where(active(now))
    .orderBy(asc(ipBlocks.id));
  return rows.map((r) => ({ ...r, expiresAt: r.expiresAt.getTime() }));
}
