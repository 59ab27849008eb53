import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import type { Database } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/index.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { DeprecatedUsage } from './usage.ts';

describe.each(dbBackends)('deprecated usage on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
  });
  afterAll(() => dispose());

  it('adds the counts of every instance (flushes add, never overwrite) and keeps first/last seen', async () => {
    const tenantId = uuidv7();
    const partnerId = uuidv7();
    const a = new DeprecatedUsage(db);
    const b = new DeprecatedUsage(db);
    const caller = { tenantId, clientId: 'app-1', partnerId };
    const t0 = Date.parse('2026-05-01T10:00:00Z');
    a.record(caller, 'GET', '/v1/me', t0 + 5_000, false);
    a.record(caller, 'HEAD', '/v1/me', t0, false);
    b.record(caller, 'GET', '/v1/me', t0 + 60_000, true);
    b.record({ tenantId, clientId: 'app-2' }, 'GET', '/v1/me', t0 + 1_000, false);
    await Promise.all([a.flush(), b.flush()]);
    a.record(caller, 'GET', '/v1/me', t0 + 120_000, false);
    await a.flush();
    await a.flush(); // nothing pending: no change

    const listed = await a.list({ tenantId, limit: 10 });
    expect(listed).toEqual([
      {
        tenantId,
        partnerId,
        clientId: 'app-1',
        method: 'GET',
        route: '/v1/me',
        calls: 3,
        refused: 1,
        firstSeen: new Date(t0).toISOString(),
        lastSeen: new Date(t0 + 120_000).toISOString(),
      },
      {
        tenantId,
        partnerId: null,
        clientId: 'app-2',
        method: 'GET',
        route: '/v1/me',
        calls: 1,
        refused: 0,
        firstSeen: new Date(t0 + 1_000).toISOString(),
        lastSeen: new Date(t0 + 1_000).toISOString(),
      },
    ]);
    expect(await a.list({ tenantId, clientId: 'app-2', limit: 10 })).toHaveLength(1);
    expect(await a.list({ tenantId, route: '/v1/other', limit: 10 })).toEqual([]);
  });

  it('rows are tenant-owned: another tenant sees none of them', async () => {
    const tenantId = uuidv7();
    const usage = new DeprecatedUsage(db);
    usage.record({ tenantId, clientId: 'app-x' }, 'GET', '/v1/me', Date.now(), false);
    await usage.flush();
    const own = await db.withTenant(tenantId, (tx) =>
      rows<{ client_id: string }>(tx, sql`SELECT client_id FROM api_deprecated_usage`),
    );
    expect(own.map((r) => r.client_id)).toEqual(['app-x']);
    const other = await db.withTenant(uuidv7(), (tx) =>
      rows<{ client_id: string }>(tx, sql`SELECT client_id FROM api_deprecated_usage`),
    );
    expect(other).toEqual([]);
  });
});
