/**
 * Ledger throughput (not part of the test suite):
 *
 *   npx tsx bench/ledger.ts
 *   BENCH_SECONDS=10 BENCH_WORKERS=16 BENCH_ACCOUNTS=200 DATABASE_URL=postgres://… npx tsx bench/ledger.ts
 *
 * Balanced two-posting transactions per second through `LedgerService.post` (each in its own
 * `db.withTenant` transaction: tenant setting, lock of both balance rows in id order, checks, one
 * write statement for transaction + entries + balances), against a bare SQL insert baseline in the
 * same run: the same workers, pool and `withTenant` transaction, inserting one row. On PostgreSQL
 * (a throwaway database on DATABASE_URL, default postgres://root@127.0.0.1:5432/test) and PGlite.
 * At the end the balances are verified exact: each equals the sum of its entries, all sum to zero,
 * and the number of transactions equals the number of successful posts.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { LedgerService } from '../src/ledger/index.ts';
import { type Database, openDatabase, rows } from '../src/platform/db/index.ts';
import { tenants } from '../src/platform/db/schema.ts';
import { uuidv7 } from '../src/platform/ids.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const workers = Number(process.env.BENCH_WORKERS ?? 16);
const accounts = Number(process.env.BENCH_ACCOUNTS ?? 200);
const pgUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

async function throwawayPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bulwark_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Runs `op` from `workers` loops for `seconds`; returns operations per second. */
async function run(op: () => Promise<void>): Promise<{ perSecond: number; done: number; cpuUs: number }> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        await op();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  // This process's CPU per operation (client side; for PGlite it includes the database).
  const cpuUs = (used.user + used.system) / done;
  return { perSecond: done / ((performance.now() - start) / 1000), done, cpuUs };
}

async function bench(name: string, db: Database): Promise<void> {
  await db.migrate();
  const tenant = uuidv7();
  await db.asSystem(async (tx) => {
    await tx.insert(tenants).values({ id: tenant, slug: `bench-${tenant}`, name: 'Bench' });
    await tx.execute(sql`CREATE TABLE bench_baseline (id uuid PRIMARY KEY, tenant_id uuid NOT NULL,
                         from_id uuid NOT NULL, to_id uuid NOT NULL, amount bigint NOT NULL)`);
    await tx.execute(sql`GRANT SELECT, INSERT ON bench_baseline TO bulwark_app`);
  });
  const ledger = new LedgerService({ db });
  const ids = await db.withTenant(tenant, async (tx) => {
    const external = await ledger.systemAccount(tx, tenant, 'external', 'EUR');
    const out: string[] = [];
    for (let i = 0; i < accounts; i++) {
      const a = await ledger.openAccount(tx, tenant, { kind: 'wallet', currency: 'EUR', name: `bench ${i}` });
      await ledger.post(tx, tenant, {
        id: uuidv7(),
        postings: [
          { accountId: external.id, amount: 1_000_000_000n, direction: 'debit' },
          { accountId: a.id, amount: 1_000_000_000n, direction: 'credit' },
        ],
      });
      out.push(a.id);
    }
    return out;
  });
  const pair = () => {
    const a = Math.floor(Math.random() * ids.length);
    let b = Math.floor(Math.random() * (ids.length - 1));
    if (b >= a) b++;
    return [ids[a]!, ids[b]!] as const;
  };

  const baseline = await run(async () => {
    const [from, to] = pair();
    await db.withTenant(tenant, async (tx) => {
      await tx.execute(
        sql`INSERT INTO bench_baseline (id, tenant_id, from_id, to_id, amount) VALUES (${uuidv7()}, ${tenant}, ${from}, ${to}, 1)`,
      );
    });
  });
  const posted = await run(async () => {
    const [from, to] = pair();
    const amount = BigInt(1 + Math.floor(Math.random() * 1000));
    await db.withTenant(tenant, (tx) =>
      ledger.post(tx, tenant, {
        id: uuidv7(),
        postings: [
          { accountId: from, amount, direction: 'debit' },
          { accountId: to, amount, direction: 'credit' },
        ],
      }),
    );
  });

  // Exact balances: each stored balance equals the sum of its entries; all sum to zero; one
  // transaction per successful post (plus the funding ones).
  const [check] = await db.asSystem((tx) =>
    rows<{ mismatched: number; total: string; transactions: number }>(
      tx,
      sql`SELECT
            (SELECT count(*)::int FROM ledger_balances b
              WHERE b.posted <> (SELECT coalesce(sum(CASE WHEN e.direction = 'credit' THEN e.amount ELSE -e.amount END), 0)
                                 FROM ledger_entries e WHERE e.account_id = b.account_id)) AS mismatched,
            (SELECT sum(posted)::text FROM ledger_balances) AS total,
            (SELECT count(*)::int FROM ledger_transactions) AS transactions`,
    ),
  );
  const exact =
    check!.mismatched === 0 && check!.total === '0' && check!.transactions === posted.done + accounts;
  console.log(
    `${name.padEnd(10)} ledger ${posted.perSecond.toFixed(0).padStart(6)} tx/s (${posted.done} tx)   ` +
      `bare insert ${baseline.perSecond.toFixed(0).padStart(6)} tx/s   ratio ${(posted.perSecond / baseline.perSecond).toFixed(2)}   ` +
      `balances ${exact ? 'exact' : `WRONG ${JSON.stringify(check)}`}   ` +
      `client CPU/tx ${posted.cpuUs.toFixed(0)} µs (bare ${baseline.cpuUs.toFixed(0)} µs)`,
  );
  if (!exact) process.exitCode = 1;
}

console.log(`${workers} workers, ${seconds} s per phase, ${accounts} accounts, random pairs`);
const target = await throwawayPostgres();
try {
  const db = await openDatabase({ url: target.url, dataDir: 'memory://', poolSize: workers });
  try {
    await bench('postgres', db);
  } finally {
    await db.close();
  }
} finally {
  await target.drop();
}
const lite = await openDatabase({ dataDir: 'memory://' });
try {
  await bench('pglite', lite);
} finally {
  await lite.close();
}
