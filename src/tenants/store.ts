import { and, asc, eq, gt } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import { apps, partners, tenants } from '../platform/db/schema.ts';

/**
 * Persistence of tenants, partners and apps. Every function takes the caller's transaction, so
 * the change and its outbox event commit together; the tenant filter is applied here even though
 * row-level security would also enforce it. Secret hashes never leave this file.
 */
export type TenantRow = Omit<typeof tenants.$inferSelect, never>;
export type PartnerRow = typeof partners.$inferSelect;
export type AppRow = typeof apps.$inferSelect;

export interface Page {
  readonly limit: number;
  readonly after?: string | undefined;
}

export async function insertTenant(tx: Tx, row: typeof tenants.$inferInsert): Promise<TenantRow> {
  const [created] = await tx.insert(tenants).values(row).returning();
  return created!;
}

/** Cross-tenant listing: only for the system (bootstrap admin) transaction. */
export function listTenants(tx: Tx, page: Page): Promise<TenantRow[]> {
  return tx
    .select()
    .from(tenants)
    .where(page.after ? gt(tenants.id, page.after) : undefined)
    .orderBy(asc(tenants.id))
    .limit(page.limit);
}

export async function findTenant(tx: Tx, tenantId: string): Promise<TenantRow | undefined> {
  const [row] = await tx.select().from(tenants).where(eq(tenants.id, tenantId));
  return row;
}

export async function findTenantBySlug(tx: Tx, slug: string): Promise<TenantRow | undefined> {
  const [row] = await tx.select().from(tenants).where(eq(tenants.slug, slug));
  return row;
}

export async function insertPartner(tx: Tx, row: typeof partners.$inferInsert): Promise<PartnerRow> {
  const [created] = await tx.insert(partners).values(row).returning();
  return created!;
}

export function listPartners(tx: Tx, tenantId: string, page: Page): Promise<PartnerRow[]> {
  return tx
    .select()
    .from(partners)
    .where(and(eq(partners.tenantId, tenantId), page.after ? gt(partners.id, page.after) : undefined))
    .orderBy(asc(partners.id))
    .limit(page.limit);
}

export async function findPartner(
  tx: Tx,
  tenantId: string,
  partnerId: string,
): Promise<PartnerRow | undefined> {
  const [row] = await tx
    .select()
    .from(partners)
    .where(and(eq(partners.tenantId, tenantId), eq(partners.id, partnerId)));
  return row;
}

export async function findPartnerByName(
  tx: Tx,
  tenantId: string,
  name: string,
): Promise<PartnerRow | undefined> {
  const [row] = await tx
    .select()
    .from(partners)
    .where(and(eq(partners.tenantId, tenantId), eq(partners.name, name)));
  return row;
}

const appColumns = {
  id: apps.id,
  tenantId: apps.tenantId,
  partnerId: apps.partnerId,
  name: apps.name,
  clientId: apps.clientId,
  environment: apps.environment,
  status: apps.status,
  authMethod: apps.authMethod,
  jwks: apps.jwks,
  tlsSubjectDn: apps.tlsSubjectDn,
  redirectUris: apps.redirectUris,
  grantTypes: apps.grantTypes,
  scope: apps.scope,
  createdAt: apps.createdAt,
};

export async function insertApp(tx: Tx, row: typeof apps.$inferInsert): Promise<AppRow> {
  const [created] = await tx.insert(apps).values(row).returning(appColumns);
  return created!;
}

export function listApps(tx: Tx, tenantId: string, partnerId: string, page: Page): Promise<AppRow[]> {
  return tx
    .select(appColumns)
    .from(apps)
    .where(
      and(
        eq(apps.tenantId, tenantId),
        eq(apps.partnerId, partnerId),
        page.after ? gt(apps.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(apps.id))
    .limit(page.limit);
}

export async function findApp(
  tx: Tx,
  tenantId: string,
  partnerId: string,
  appId: string,
): Promise<AppRow | undefined> {
  const [row] = await tx
    .select(appColumns)
    .from(apps)
    .where(and(eq(apps.tenantId, tenantId), eq(apps.partnerId, partnerId), eq(apps.id, appId)));
  return row;
}

export async function updateAppCredentials(
  tx: Tx,
  tenantId: string,
  appId: string,
  set: Pick<typeof apps.$inferInsert, 'jwks' | 'tlsSubjectDn'>,
): Promise<AppRow | undefined> {
  const [row] = await tx
    .update(apps)
    .set(set)
    .where(and(eq(apps.tenantId, tenantId), eq(apps.id, appId)))
    .returning(appColumns);
  return row;
}
