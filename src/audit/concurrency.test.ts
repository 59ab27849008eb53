/**
 * Writes from many instances stay one ordered, unforked chain (PostgreSQL only: an embedded
 * PGlite directory is opened by one process). Two Database instances with their own pools stand
 * for two Bulwark instances sharing one PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, freshDatabaseUrl } from '../../test/support/backends.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import { type Database, openDatabase, rows } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { uuidv7 } from '../platform/ids.ts';
import { appendAudit, appendAuditAsync } from './append.ts';
import { createCheckpoint } from './checkpoint.ts';
import * as store from './store.ts';
import { verifyAudit } from './verify.ts';
import { startAuditWriter } from './writer.ts';

const postgres = dbBackends.find((b) => b.name === 'postgres');

describe.runIf(postgres)('audit chain across instances on PostgreSQL', () => {
  let one: Database;
  let two: Database;
  let dispose: () => Promise<void>;
  const tenant = uuidv7();
  const masterKeys = [randomBytes(32).toString('base64')];

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl(postgres!);
    one = await openDatabase({ url: fresh.url, dataDir: 'memory://', poolSize: 8 });
    two = await openDatabase({ url: fresh.url, dataDir: 'memory://', poolSize: 8 });
    await Promise.all([one.migrate(), two.migrate()]);
    await one.asSystem((tx) => tx.insert(tenants).values({ id: tenant, slug: `t-${tenant}`, name: 'T' }));
    dispose = async () => {
      await one.close();
      await two.close();
      await fresh.dispose();
    };
  });
  afterAll(() => dispose?.());

  it('concurrent appends from two instances form one chain with no gap and no fork', async () => {
    const perInstance = 60;
    const work = (db: Database, who: string) =>
      Array.from({ length: perInstance }, (_, i) =>
        i % 2 === 0
          ? db.withTenant(tenant, async (tx) => {
              // Some work in the transaction before the append, as a real change would have.
              await tx.execute(sql`SELECT pg_sleep(0.001)`);
              return appendAudit(tx, {
                actor: { type: 'client', id: who },
                action: 'payment.initiated',
                tenantId: tenant,
                outcome: 'success',
                details: { i },
              });
            })
          : db.asSystem((tx) =>
              appendAudit(tx, {
                actor: { type: 'system', id: who },
                action: 'admin.config.changed',
                tenantId: null,
                outcome: 'success',
                details: { i },
              }),
            ),
      );
    const written = await Promise.all([...work(one, 'one'), ...work(two, 'two')]);
    const seqs = written.map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 2 * perInstance }, (_, i) => i + 1));
    // Each record links to the one before it: no two records share a predecessor.
    const prevs = new Set(written.map((r) => r.prevHash));
    expect(prevs.size).toBe(written.length);
    const report = await verifyAudit({ db: two });
    expect(report).toMatchObject({ ok: true, records: 2 * perInstance, lastGoodSeq: 2 * perInstance });
  });

  it('queued records drained by writers on both instances enter the chain exactly once', async () => {
    const before = await one.asSystem((tx) => store.headSeq(tx));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? one : two).withTenant(tenant, (tx) =>
          appendAuditAsync(tx, {
            actor: { type: 'anonymous' },
            action: 'waf.blocked',
            tenantId: tenant,
            outcome: 'blocked',
            details: { n: i },
          }),
        ),
      ),
    );
    const writers = [one, two].map((db) => startAuditWriter({ db, batchSize: 7, pollMs: 60_000 }));
    try {
      // Both drain at once; whichever holds the writer lock works, the other skips its turn.
      for (let round = 0; round < 20; round++) {
        await Promise.all(writers.map((w) => w.drain()));
        if ((await one.asSystem((tx) => store.queueLength(tx))) === 0) break;
      }
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
    }
    const added = await one.asSystem((tx) => store.recordsBetween(tx, before + 1, before + 1_000));
    expect(added).toHaveLength(40);
    expect(added.map((r) => r.details.n).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expect((await verifyAudit({ db: one })).ok).toBe(true);
  });

  it('checkpointers racing on two instances sign one checkpoint per tree size', async () => {
    const signers = [one, two].map((db) => createCrypto({ db, masterKeys }).signing);
    await signers[0]!.ensureKeys('audit', 'EdDSA');
    const made = await Promise.all([
      createCheckpoint({ db: one, signing: signers[0]! }),
      createCheckpoint({ db: two, signing: signers[1]! }),
    ]);
    expect(made.filter(Boolean)).toHaveLength(1);
    const all = await one.asSystem((tx) =>
      rows<{ seq: string; tree_size: string }>(tx, sql`SELECT seq, tree_size FROM audit_checkpoints`),
    );
    expect(all).toHaveLength(1);
    expect((await verifyAudit({ db: two })).ok).toBe(true);
  });
});
