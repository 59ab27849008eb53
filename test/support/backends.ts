/**
 * Storage, KV and events tests run the same bodies on the embedded backends always, and on real
 * PostgreSQL / Redis / NATS when DATABASE_URL / REDIS_URL / NATS_URL are set (as CI sets them).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/platform/db/index.ts';

export interface DbBackend {
  readonly name: 'pglite' | 'postgres';
  readonly url?: string;
}

export const dbBackends: readonly DbBackend[] = [
  { name: 'pglite' },
  ...(process.env.DATABASE_URL ? [{ name: 'postgres' as const, url: process.env.DATABASE_URL }] : []),
];

export const redisUrl = process.env.REDIS_URL || undefined;
export const natsUrl = process.env.NATS_URL || undefined;

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/**
 * A brand-new empty database: an in-memory PGlite, or a throwaway database on the PostgreSQL server
 * (dropped by `dispose`). Returns its URL so child processes can share it.
 */
export async function freshDatabaseUrl(
  backend: DbBackend,
): Promise<{ url?: string; dispose: () => Promise<void> }> {
  if (!backend.url) return { dispose: async () => {} };
  const name = uniqueName('bulwark_t');
  const admin = new pg.Client({ connectionString: backend.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(backend.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dispose: async () => {
      const c = new pg.Client({ connectionString: backend.url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A migrated database on the backend, and a disposer. */
export async function migratedDatabase(
  backend: DbBackend,
): Promise<{ db: Database; dispose: () => Promise<void> }> {
  const fresh = await freshDatabaseUrl(backend);
  const db = await openDatabase({ url: fresh.url, dataDir: 'memory://' });
  await db.migrate();
  return {
    db,
    dispose: async () => {
      await db.close();
      await fresh.dispose();
    },
  };
}
