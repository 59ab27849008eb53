/**
 * `bulwark audit …` as an operator and an auditor run it: a real child process against a data
 * directory (PGlite) or a throwaway PostgreSQL database, exit codes asserted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, freshDatabaseUrl } from '../../test/support/backends.ts';
import { runBulwark } from '../../test/support/process.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import { type Database, openDatabase } from '../platform/db/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { appendAudit } from './append.ts';
import { createCheckpoint } from './checkpoint.ts';

const SLOW = 180_000;

describe.each(dbBackends)('bulwark audit on $name', (backend) => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-audit-'));
  const masterKey = randomBytes(32).toString('base64');
  let url: string | undefined;
  let disposeDb: () => Promise<void> = async () => {};
  const env = () => ({
    BULWARK_DATA_DIR: dir,
    BULWARK_MASTER_KEYS: masterKey,
    BULWARK_LOG_LEVEL: 'silent',
    ...(url ? { DATABASE_URL: url } : {}),
  });
  const open = () => openDatabase({ url, dataDir: dir });
  const withDb = async <T>(fn: (db: Database) => Promise<T>): Promise<T> => {
    const db = await open();
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  };
  let firstTime = '';

  beforeAll(async () => {
    ({ url, dispose: disposeDb } = await freshDatabaseUrl(backend));
    await withDb(async (db) => {
      await db.migrate();
      const { signing } = createCrypto({ db, masterKeys: [masterKey] });
      await signing.ensureKeys('audit', 'EdDSA');
      for (let i = 0; i < 30; i++) {
        const r = await db.asSystem((tx) =>
          appendAudit(tx, {
            actor: { type: 'operator', id: 'ops-1' },
            action: i % 2 ? 'admin.tenant.created' : 'auth.signin.failed',
            object: { type: 'tenant', id: uuidv7() },
            tenantId: null,
            outcome: i % 2 ? 'success' : 'failure',
            details: { i },
          }),
        );
        if (i === 0) firstTime = r.occurredAt;
        if (i === 19) await createCheckpoint({ db, signing });
      }
    });
  }, SLOW);
  afterAll(() => disposeDb());

  it(
    'verifies an intact trail (exit 0), exports a bundle that verifies offline with the published key',
    async () => {
      const ok = await runBulwark(['audit', 'verify', '--data-dir', dir], env());
      expect(ok.output).toContain('Audit trail intact: records 1..30 verified');
      expect(ok.code, ok.output).toBe(0);
      // Not a terminal: progress comes as plain lines.
      expect(ok.output).toMatch(/verified 30\/30 records \(100%\)/);

      const keysFile = join(dir, 'audit-keys.json');
      const keys = await runBulwark(['audit', 'keys', '--out', keysFile], env());
      expect(keys.code, keys.output).toBe(0);

      const bundleFile = join(dir, 'bundle.json');
      const to = new Date(Date.now() + 60_000).toISOString();
      const exported = await runBulwark(
        ['audit', 'export', '--from', firstTime, '--to', to, '--out', bundleFile],
        env(),
      );
      expect(exported.code, exported.output).toBe(0);
      expect(exported.output).toContain('Exported 30 record(s) (1..30) with 1 checkpoint(s)');

      // Offline: no configuration, no database in the environment at all.
      const offline = await runBulwark(['audit', 'verify', '--bundle', bundleFile, '--public-key', keysFile]);
      expect(offline.code, offline.output).toBe(0);
      expect(offline.output).toContain('Bundle intact: records 1..30');

      // One byte changed: the record is named and the exit code is 1.
      const text = readFileSync(bundleFile, 'utf8');
      const tampered = text.replace('"i": 7', '"i": 8');
      expect(tampered).not.toBe(text);
      writeFileSync(bundleFile, tampered);
      const bad = await runBulwark(['audit', 'verify', '--bundle', bundleFile, '--public-key', keysFile]);
      expect(bad.code, bad.output).toBe(1);
      expect(bad.output).toContain('first bad record: 8 (hash_mismatch)');
    },
    SLOW,
  );

  it(
    'exits 1 naming the first bad record after an edit in the database, and 2 on bad usage',
    async () => {
      await withDb((db) =>
        db.asSystem(async (tx) => {
          await tx.execute(sql`ALTER TABLE audit_log DISABLE TRIGGER USER`);
          await tx.execute(sql`UPDATE audit_log SET outcome = 'denied' WHERE seq = 12`);
          await tx.execute(sql`ALTER TABLE audit_log ENABLE TRIGGER USER`);
        }),
      );
      const bad = await runBulwark(['audit', 'verify', '--data-dir', dir], env());
      expect(bad.code, bad.output).toBe(1);
      expect(bad.output).toContain('AUDIT TRAIL NOT INTACT');
      expect(bad.output).toContain('first bad record: 12 (hash_mismatch)');
      expect(bad.output).toContain('records 1..11 verified good');

      expect((await runBulwark(['audit', 'verify', '--from', 'twelve'], env())).code).toBe(2);
      expect((await runBulwark(['audit', 'frobnicate'], env())).code).toBe(2);
      expect((await runBulwark(['audit', 'export', '--from', 'yesterday', '--to', 'now'], env())).code).toBe(
        2,
      );
      const help = await runBulwark(['audit', '--help']);
      expect(help.code).toBe(0);
      expect(help.output).toContain('bulwark audit verify --bundle FILE');
    },
    SLOW,
  );
});
