import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import { uuidv7 } from '../ids.ts';
import type { Database } from './database.ts';
import { rows } from './rows.ts';
import { partners, tenants } from './schema.ts';

describe.each(dbBackends)('database on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  const tenantA = uuidv7();
  const tenantB = uuidv7();

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem(async (tx) => {
      await tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA}`, name: 'A' },
        { id: tenantB, slug: `b-${tenantB}`, name: 'B' },
      ]);
      await tx.insert(partners).values([
        { id: uuidv7(), tenantId: tenantA, name: 'Partner of A' },
        { id: uuidv7(), tenantId: tenantB, name: 'Partner of B' },
      ]);
    });
  });
  afterAll(() => dispose?.());

  it('applies the migrations once and reports none pending', async () => {
    expect(await db.migrationStatus()).toMatchObject({ pending: [] });
    expect((await db.migrate()).applied).toEqual([]);
  });

  // Regression guard for DESIGN invariant 2: the store forgets its tenant filter, RLS still holds.
  it('hides other tenants rows from a query that forgets the tenant filter', async () => {
    const seen = await db.withTenant(tenantA, (tx) => tx.select().from(partners));
    expect(seen.map((p) => p.name)).toEqual(['Partner of A']);
    const tenantRows = await db.withTenant(tenantA, (tx) => tx.select().from(tenants));
    expect(tenantRows.map((t) => t.id)).toEqual([tenantA]);
  });

  it('hides them from raw SQL too, and runs as the unprivileged role', async () => {
    const result = await db.withTenant(tenantB, (tx) =>
      rows<{ name: string; who: string }>(tx, sql`SELECT name, current_user AS who FROM partners`),
    );
    expect(result).toEqual([{ name: 'Partner of B', who: 'bulwark_app' }]);
  });

  it('refuses to write a row into another tenant', async () => {
    await expect(
      db.withTenant(tenantA, (tx) =>
        tx.insert(partners).values({ id: uuidv7(), tenantId: tenantB, name: 'sneaky' }),
      ),
    ).rejects.toThrow();
    const count = await db.asSystem((tx) => tx.select().from(partners).where(eq(partners.name, 'sneaky')));
    expect(count).toHaveLength(0);
  });

  it('cannot update or delete another tenants rows', async () => {
    const updated = await db.withTenant(tenantA, (tx) =>
      tx.update(partners).set({ name: 'hijacked' }).where(eq(partners.tenantId, tenantB)).returning(),
    );
    expect(updated).toHaveLength(0);
    const deleted = await db.withTenant(tenantA, (tx) =>
      tx.delete(partners).where(eq(partners.tenantId, tenantB)).returning(),
    );
    expect(deleted).toHaveLength(0);
  });

  it('sees no rows at all when the tenant setting is cleared', async () => {
    const none = await db.withTenant(tenantA, async (tx) => {
      await tx.execute(sql`SELECT set_config('bulwark.tenant_id', '', true)`);
      return tx.select().from(partners);
    });
    expect(none).toHaveLength(0);
  });

  it('rolls back everything when the transaction fails', async () => {
    const id = uuidv7();
    await expect(
      db.withTenant(tenantA, async (tx) => {
        await tx.insert(partners).values({ id, tenantId: tenantA, name: 'half-written' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const found = await db.asSystem((tx) => tx.select().from(partners).where(eq(partners.id, id)));
    expect(found).toHaveLength(0);
  });

  it('rejects a tenant id that is not a uuid', async () => {
    await expect(db.withTenant("x'; drop table partners; --", async () => 1)).rejects.toThrow('tenant uuid');
  });
});
