/**
 * Micro-benchmark of the audit trail: appends per second (one per transaction, concurrent, queued
 * through the writer), verification records per second, checkpoint, proof and export cost.
 * Embedded PGlite in memory, or PostgreSQL when DATABASE_URL is set; not part of the test suite.
 *
 *   npx tsx bench/audit-micro.ts [records]          (default 100,000 records for verification)
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import {
  type AuditInput,
  appendAudit,
  appendAuditAsync,
  auditEntry,
  chainEntries,
} from '../src/audit/append.ts';
import { exportAudit } from '../src/audit/bundle.ts';
import { recordHash } from '../src/audit/canonical.ts';
import { createCheckpoint } from '../src/audit/checkpoint.ts';
import { MerkleTree } from '../src/audit/merkle.ts';
import { AuditService } from '../src/audit/service.ts';
import * as store from '../src/audit/store.ts';
import { verifyAudit } from '../src/audit/verify.ts';
import { writeQueuedBatch } from '../src/audit/writer.ts';
import { createCrypto } from '../src/platform/crypto/index.ts';
import { type Database, openDatabase } from '../src/platform/db/index.ts';
import { tenants } from '../src/platform/db/schema.ts';
import { enqueue } from '../src/platform/events/index.ts';
import { uuidv7 } from '../src/platform/ids.ts';

const total = Number(process.argv[2] ?? 100_000);
const url = process.env.DATABASE_URL || undefined;

const input = (i: number, tenantId: string | null = null): AuditInput => ({
  actor: { type: 'user', id: uuidv7(), clientId: 'client-bench' },
  action: i % 2 ? 'auth.signin.failed' : 'payment.payout.approved',
  object: { type: 'claim', id: uuidv7() },
  tenantId,
  outcome: i % 2 ? 'failure' : 'success',
  requestId: uuidv7(),
  details: { attempt: i % 7, rule: 'sqli-942100', amountMinor: 125_000, currency: 'EUR' },
});

function line(name: string, value: string): void {
  console.log(`${name.padEnd(52)} ${value}`);
}

async function rate(
  name: string,
  n: number,
  op: (i: number) => Promise<unknown>,
  concurrency = 1,
): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  const perSec = n / ((performance.now() - start) / 1000);
  line(name, `${Math.round(perSec).toLocaleString('en-US').padStart(10)} /s  (${n} ops)`);
  return perSec;
}

/** A throwaway database: in-memory PGlite, or a fresh database on the PostgreSQL server. */
async function scratch(): Promise<{ db: Database; dispose: () => Promise<void> }> {
  if (!url) {
    const db = await openDatabase({ dataDir: 'memory://' });
    return { db, dispose: () => db.close() };
  }
  const name = `bulwark_bench_${Date.now().toString(36)}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const db = await openDatabase({ url: u.toString(), dataDir: 'memory://', poolSize: 20 });
  return {
    db,
    dispose: async () => {
      await db.close();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const { db, dispose } = await scratch();
try {
  await db.migrate();
  const tenantId = uuidv7();
  await db.asSystem((tx) => tx.insert(tenants).values({ id: tenantId, slug: 'bench', name: 'Bench' }));
  const { signing } = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
  await signing.ensureKeys('audit', 'EdDSA');
  console.log(
    `node ${process.version}, ${db.kind}, ${total.toLocaleString('en-US')} records for verification\n`,
  );

  // ---- CPU floor ---------------------------------------------------------------------------------
  const sample = chainEntries({ seq: 0, hash: '0'.repeat(64) }, [auditEntry(input(1))])[0]!;
  const hashN = 200_000;
  let t = performance.now();
  for (let i = 0; i < hashN; i++) recordHash(sample);
  line(
    'record hash (JCS + SHA-256), CPU only',
    `${Math.round(hashN / ((performance.now() - t) / 1000))
      .toLocaleString('en-US')
      .padStart(10)} /s`,
  );

  // ---- appends -----------------------------------------------------------------------------------
  const n = url ? 2_000 : 1_000;
  await rate('baseline: tx with one outbox insert (unaudited)', n, (i) =>
    db.asSystem((tx) => enqueue(tx, { topic: 'bench.done', tenantId: null, payload: { i } })),
  );
  await rate('appendAudit, one per tx, as system', n, (i) => db.asSystem((tx) => appendAudit(tx, input(i))));
  await rate('appendAudit, one per tx, tenant (RLS)', n, (i) =>
    db.withTenant(tenantId, (tx) => appendAudit(tx, input(i, tenantId))),
  );
  if (url) {
    await rate(
      'baseline: outbox insert, 16 concurrent txs',
      n,
      (i) => db.asSystem((tx) => enqueue(tx, { topic: 'bench.done', tenantId: null, payload: { i } })),
      16,
    );
    await rate(
      'appendAudit, 16 concurrent txs (chain lock)',
      n,
      (i) => db.asSystem((tx) => appendAudit(tx, input(i))),
      16,
    );
    await rate(
      'appendAudit, 16 concurrent, 1 ms of work after it',
      n / 4,
      (i) =>
        db.asSystem(async (tx) => {
          await appendAudit(tx, input(i));
          await tx.execute(sql`SELECT pg_sleep(0.001)`);
        }),
      16,
    );
  }
  await rate('appendAuditAsync (queue insert), one per tx', n, (i) =>
    db.withTenant(tenantId, (tx) => appendAuditAsync(tx, input(i, tenantId))),
  );
  t = performance.now();
  let moved = 0;
  for (;;) {
    const r = await writeQueuedBatch(db, 500);
    moved += r.appended;
    if (!r.full) break;
  }
  line(
    'writer: queued records chained, batches of 500',
    `${Math.round(moved / ((performance.now() - t) / 1000))
      .toLocaleString('en-US')
      .padStart(10)} /s  (${moved} records)`,
  );

  // ---- fill up to `total` quickly: batched chain appends (as the writer does) --------------------
  t = performance.now();
  const fill = total - (await db.asSystem((tx) => store.headSeq(tx)));
  for (let done = 0; done < fill; ) {
    const k = Math.min(1_000, fill - done);
    const entries = Array.from({ length: k }, (_, i) => auditEntry(input(done + i)));
    await db.asSystem(async (tx) => {
      const head = await store.lockChainHead(tx);
      await store.insertRecords(tx, chainEntries(head, entries));
    });
    done += k;
  }
  line(
    'batched chain appends (1,000 per tx)',
    `${Math.round(fill / ((performance.now() - t) / 1000))
      .toLocaleString('en-US')
      .padStart(10)} /s  (${fill} records)`,
  );

  // ---- checkpoints, verification, proofs, export -----------------------------------------------
  t = performance.now();
  const cp = await createCheckpoint({ db, signing });
  line(
    'first checkpoint over all records (re-verify + sign)',
    `${(performance.now() - t).toFixed(0).padStart(10)} ms  (${cp?.treeSize} records)`,
  );
  await db.asSystem(async (tx) => {
    const head = await store.lockChainHead(tx);
    await store.insertRecords(
      tx,
      chainEntries(
        head,
        Array.from({ length: 1_000 }, (_, i) => auditEntry(input(i))),
      ),
    );
  });
  t = performance.now();
  await createCheckpoint({ db, signing });
  line('incremental checkpoint (+1,000 records)', `${(performance.now() - t).toFixed(1).padStart(10)} ms`);

  for (const batchSize of [5_000, 20_000]) {
    const report = await verifyAudit({ db, batchSize });
    const perSec = report.records / (report.durationMs / 1000);
    line(
      `verifyAudit, batches of ${batchSize.toLocaleString('en-US')}`,
      `${Math.round(perSec).toLocaleString('en-US').padStart(10)} records/s  (${report.records} in ${report.durationMs} ms, ok=${report.ok})`,
    );
  }

  const hashes = await db.asSystem((tx) => store.hashesBetween(tx, 1, Number.MAX_SAFE_INTEGER));
  t = performance.now();
  const tree = new MerkleTree(hashes.map((h) => Buffer.from(h.hash, 'hex')));
  line(
    'Merkle tree build in memory (proof cache)',
    `${(performance.now() - t).toFixed(0).padStart(10)} ms  (${tree.size} leaves)`,
  );
  t = performance.now();
  for (let i = 0; i < 10_000; i++) tree.inclusionProof((i * 7919) % tree.size);
  line(
    'inclusion proof from the built tree',
    `${(((performance.now() - t) * 1000) / 10_000).toFixed(1).padStart(10)} µs`,
  );
  const service = new AuditService({ db, signing });
  t = performance.now();
  await service.proof(12_345 % tree.size || 1);
  line(
    'GET /audit/:seq/proof, cold (reads every hash)',
    `${(performance.now() - t).toFixed(0).padStart(10)} ms`,
  );
  t = performance.now();
  await service.proof(54_321 % tree.size || 2);
  line('GET /audit/:seq/proof, warm (cached tree)', `${(performance.now() - t).toFixed(2).padStart(10)} ms`);

  const head = await db.asSystem((tx) => store.headSeq(tx));
  const first = await db.asSystem((tx) => store.recordAt(tx, Math.max(1, head - 9_999)));
  t = performance.now();
  const bundle = await exportAudit({
    db,
    signing,
    from: new Date(first!.occurredAt),
    to: new Date(Date.now() + 1_000),
    maxRecords: 1_000_000,
  });
  line(
    'exportAudit of the newest ~10,000 records',
    `${(performance.now() - t).toFixed(0).padStart(10)} ms  (${bundle.records.length} records, ${(JSON.stringify(bundle).length / 1e6).toFixed(1)} MB)`,
  );
} finally {
  await dispose();
}
