import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { isUuid } from '../ids.ts';
import { type MigrationStatus, migrate, migrationStatus } from './migrate.ts';
import * as schema from './schema.ts';
import type { Db, Tx } from './types.ts';

export interface DatabaseOptions {
  /** PostgreSQL URL; absent means embedded PGlite. */
  readonly url?: string | undefined;
  /** PGlite data directory, or `memory://`. */
  readonly dataDir: string;
  readonly poolSize?: number;
}

/**
 * The storage kernel. Domain code never holds a bare connection: it runs in `withTenant` (row-level
 * security on, tenant set for the transaction) or, for the few cross-tenant system jobs (migrations,
 * the outbox relay, the bootstrap admin), in `asSystem`.
 */
export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /** A transaction in which only `tenantId`'s rows exist (RLS as `bulwark_app`). */
  withTenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** A transaction as the owning role, across tenants. For system jobs only. */
  asSystem<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  migrate(): Promise<{ applied: readonly string[] }>;
  migrationStatus(): Promise<MigrationStatus>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

class DrizzleDatabase implements Database {
  constructor(
    readonly kind: 'pglite' | 'postgres',
    private readonly db: Db,
    private readonly onClose: () => Promise<void>,
  ) {}

  withTenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    // Checked here as well as by the caller's schema: the id is also a setting value.
    if (!isUuid(tenantId)) return Promise.reject(new Error('withTenant needs a tenant uuid'));
    return this.db.transaction(async (tx) => {
      // One round trip: setting the `role` parameter for the transaction is SET LOCAL ROLE.
      await tx.execute(
        sql`SELECT set_config('bulwark.tenant_id', ${tenantId}, true), set_config('role', 'bulwark_app', true)`,
      );
      return fn(tx);
    });
  }

  asSystem<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(tx));
  }

  migrate() {
    return migrate(this.db);
  }

  migrationStatus() {
    return migrationStatus(this.db);
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`SELECT 1`);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** One process at a time may open an embedded data directory (PGlite has no multi-process access). */
function lockDataDir(dir: string): () => void {
  const file = join(dir, 'bulwark.pid');
  const take = () => {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, String(process.pid));
    closeSync(fd);
  };
  try {
    take();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(file, 'utf8'));
    let alive = false;
    try {
      alive = pid > 0 && pid !== process.pid && process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) {
      throw new Error(
        `data directory ${dir} is in use by process ${pid}; use PostgreSQL to run several instances`,
      );
    }
    rmSync(file, { force: true });
    take();
  }
  return () => rmSync(file, { force: true });
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      application_name: 'bulwark',
      statement_timeout: 30_000,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = drizzlePg({ client: pool, schema }) as unknown as Db;
    return new DrizzleDatabase('postgres', db, () => pool.end());
  }
  let unlock = () => {};
  let client: PGlite;
  if (options.dataDir === 'memory://') {
    client = await PGlite.create();
  } else {
    const dir = resolve(options.dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    unlock = lockDataDir(dir);
    try {
      client = await PGlite.create(join(dir, 'pgdata'));
    } catch (err) {
      unlock();
      throw err;
    }
  }
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return new DrizzleDatabase('pglite', db, async () => {
    await client.close();
    unlock();
  });
}
