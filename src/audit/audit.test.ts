import { randomBytes } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { type Crypto, createCrypto } from '../platform/crypto/index.ts';
import { type Database, rows, sqlState } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { uuidv7 } from '../platform/ids.ts';
import { type AuditInput, appendAudit, appendAuditAsync } from './append.ts';
import { exportAudit, verifyBundle } from './bundle.ts';
import { canonicalJson, recordCanonical, recordHash } from './canonical.ts';
import { createCheckpoint, startAuditCheckpointer } from './checkpoint.ts';
import { AuditError } from './errors.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { AuditService } from './service.ts';
import * as store from './store.ts';
import { type AuditVerifyProgress, verifyAudit } from './verify.ts';
import { startAuditWriter } from './writer.ts';

const event = (overrides: Partial<AuditInput> = {}): AuditInput => ({
  actor: { type: 'user', id: uuidv7(), clientId: 'client-1' },
  action: 'auth.signin.failed',
  object: { type: 'user', id: uuidv7() },
  tenantId: null,
  outcome: 'failure',
  requestId: uuidv7(),
  details: { reason: 'password', attempt: 2 },
  ...overrides,
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof AuditError) return err.code;
    return sqlState(err) ?? `unexpected: ${String(err)}`;
  }
}

describe.each(dbBackends)('audit trail on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let crypto: Crypto;
  let service: AuditService;
  const tenantA = uuidv7();
  const tenantB = uuidv7();

  /** Runs `change` as the owner with the audit triggers off, as an attacker with DB access could. */
  const tamper = (...statements: SQL[]) =>
    db.asSystem(async (tx) => {
      await tx.execute(sql`ALTER TABLE audit_log DISABLE TRIGGER USER`);
      await tx.execute(sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`);
      for (const s of statements) await tx.execute(s);
      await tx.execute(sql`ALTER TABLE audit_log ENABLE TRIGGER USER`);
      await tx.execute(sql`ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`);
    });
  const verify = (fromSeq?: number) => verifyAudit({ db, batchSize: 7, ...(fromSeq ? { fromSeq } : {}) });
  const append = (input: AuditInput = event()) => db.asSystem((tx) => appendAudit(tx, input));

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    crypto = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    await crypto.signing.ensureKeys('audit', 'EdDSA');
    service = new AuditService({ db, signing: crypto.signing });
    await db.asSystem((tx) =>
      tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA}`, name: 'Acme Mutual' },
        { id: tenantB, slug: `b-${tenantB}`, name: 'Bravo Life' },
      ]),
    );
  });
  afterAll(() => dispose?.());

  it('appends a chain in seq order, in the callers transactions, and verifies it intact', async () => {
    expect((await verify()).ok).toBe(true); // empty
    const first = await append();
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe('0'.repeat(64));
    const second = await db.withTenant(tenantA, (tx) =>
      appendAudit(tx, event({ tenantId: tenantA, action: 'admin.partner.created', outcome: 'success' })),
    );
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash, tenantId: tenantA });
    for (let i = 0; i < 18; i++) {
      const tenantId = i % 3 === 0 ? tenantA : i % 3 === 1 ? tenantB : null;
      if (tenantId) await db.withTenant(tenantId, (tx) => appendAudit(tx, event({ tenantId })));
      else await append(event({ action: 'waf.blocked', outcome: 'blocked', actor: { type: 'anonymous' } }));
    }
    const report = await verify();
    expect(report).toMatchObject({
      ok: true,
      records: 20,
      lastGoodSeq: 20,
      firstBadRecord: null,
      firstBadCheckpoint: null,
    });
    expect(report.head.hash).toBe((await db.asSystem((tx) => store.recordAt(tx, 20)))?.hash);
  });

  it('hashes the JCS (RFC 8785) of the record: the fast serialiser equals the generic one', async () => {
    const [r] = await db.asSystem((tx) => store.recordsBetween(tx, 2, 2));
    const { hash, ...body } = r!;
    expect(recordCanonical(body)).toBe(canonicalJson({ ...body, v: 1 }));
    expect(recordHash(body)).toBe(hash);
    // The fast read path of verification gives exactly the records drizzle's mapping does.
    const mapped = await db.asSystem((tx) => store.recordsBetween(tx, 1, 1_000));
    expect(await db.asSystem((tx) => store.recordsAfter(tx, 0, 1_000))).toEqual(mapped);
  });

  it('rolls the record back with the callers transaction, leaving no gap', async () => {
    const before = await db.asSystem((tx) => store.headSeq(tx));
    await expect(
      db.asSystem(async (tx) => {
        await appendAudit(tx, event());
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await db.asSystem((tx) => store.headSeq(tx))).toBe(before);
    expect((await append()).seq).toBe(before + 1);
  });

  it('tenants read their own records only; platform records and checkpoints are the systems', async () => {
    const seen = await db.withTenant(tenantA, (tx) =>
      rows<{ tenant_id: string | null }>(tx, sql`SELECT tenant_id FROM audit_log`),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.tenant_id === tenantA)).toBe(true);
    expect(
      await codeOf(db.withTenant(tenantA, (tx) => tx.execute(sql`SELECT * FROM audit_checkpoints`))),
    ).toBe('42501');
    // Writing another tenant's record, or a platform record, from a tenant transaction: refused.
    expect(await codeOf(db.withTenant(tenantA, (tx) => appendAudit(tx, event({ tenantId: tenantB }))))).toBe(
      '42501',
    );
    expect(await codeOf(db.withTenant(tenantA, (tx) => appendAudit(tx, event({ tenantId: null }))))).toBe(
      '42501',
    );
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE — to the tenant role and to the owner', async () => {
    const asTenant = (q: SQL) => codeOf(db.withTenant(tenantA, (tx) => tx.execute(q)));
    const asOwner = (q: SQL) => codeOf(db.asSystem((tx) => tx.execute(q)));
    expect(await asTenant(sql`UPDATE audit_log SET action = 'x.y' WHERE tenant_id = ${tenantA}`)).toBe(
      '42501',
    );
    expect(await asTenant(sql`DELETE FROM audit_log WHERE tenant_id = ${tenantA}`)).toBe('42501');
    expect(await asTenant(sql`TRUNCATE audit_log`)).toBe('42501');
    expect(await asOwner(sql`UPDATE audit_log SET action = 'x.y' WHERE seq = 1`)).toBe('BWA01');
    expect(await asOwner(sql`DELETE FROM audit_log WHERE seq = 1`)).toBe('BWA01');
    expect(await asOwner(sql`TRUNCATE audit_log`)).toBe('BWA01');
    expect(await asOwner(sql`DELETE FROM audit_checkpoints`)).toBe('BWA01');
    expect(await asOwner(sql`TRUNCATE audit_checkpoints`)).toBe('BWA01');
    // An INSERT that does not extend the head (a forged record out of place) is refused too.
    expect(
      await asOwner(
        sql`INSERT INTO audit_log (seq, occurred_at, actor_type, action, outcome, details, prev_hash, hash)
            VALUES (1000, now(), 'system', 'forged.record', 'success', '{}', ${'0'.repeat(64)}, ${'1'.repeat(64)})`,
      ),
    ).toBe('BWA02');
    expect((await verify()).ok).toBe(true);
  });

  it('refuses personal data and secrets in details, actor and object ids', async () => {
    const bad = (details: Record<string, unknown>) => codeOf(append(event({ details })));
    expect(await bad({ password: 'hunter2' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ clientSecret: 'x' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ nested: { Email: 'x' } })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ note: 'contact ada@example.com' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ iban: 'DE89 3704 0044 0532 0130 00' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ payee: 'DE89370400440532013000' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ card: '4111 1111 1111 1111' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ header: 'Bearer abcdefghijklmnopqrstuvwxyz' })).toBe('AUDIT_DETAILS_PII');
    expect(await bad({ big: 'x'.repeat(600) })).toBe('AUDIT_DETAILS_INVALID');
    expect(await codeOf(append(event({ actor: { type: 'user', id: 'ada@example.com' } })))).toBe(
      'AUDIT_DETAILS_PII',
    );
    expect(await codeOf(append(event({ action: 'Not An Action' })))).toBe('AUDIT_RECORD_INVALID');
    // Ordinary facts pass: ids, codes, counts, a millisecond timestamp, an IP address.
    const ok = await append(
      event({
        details: { code: 'AUTH_FAILED', rule: 'sqli-942100', at: '1795628575860', ip: '203.0.113.7' },
      }),
    );
    expect(ok.details).toEqual({
      code: 'AUTH_FAILED',
      rule: 'sqli-942100',
      at: '1795628575860',
      ip: '203.0.113.7',
    });
  });

  /**
   * Tampers with rows `seqs` of `table` (triggers off, as an attacker with the owner's rights
   * could), runs `check`, then puts the original rows back exactly.
   */
  async function tampered(
    table: 'audit_log' | 'audit_checkpoints',
    seqs: readonly number[],
    change: SQL[],
    check: () => Promise<void>,
  ): Promise<void> {
    const list = sql.join(
      seqs.map((n) => sql`${n}`),
      sql`, `,
    );
    const saved = await db.asSystem((tx) =>
      rows<{ j: unknown }>(
        tx,
        sql`SELECT to_jsonb(t) AS j FROM ${sql.identifier(table)} t WHERE seq IN (${list})`,
      ),
    );
    await tamper(...change);
    try {
      await check();
    } finally {
      await tamper(
        sql`DELETE FROM ${sql.identifier(table)} WHERE seq IN (${list})`,
        ...saved.map(
          (r) =>
            sql`INSERT INTO ${sql.identifier(table)} SELECT * FROM jsonb_populate_record(null::${sql.identifier(table)}, ${JSON.stringify(r.j)}::jsonb)`,
        ),
      );
    }
    expect((await verify()).ok).toBe(true);
  }

  describe('tampering is detected and the first bad record named', () => {
    it('an edited record (content changed, hash left)', async () => {
      await tampered(
        'audit_log',
        [5],
        [sql`UPDATE audit_log SET action = 'auth.signin.succeeded' WHERE seq = 5`],
        async () => {
          const r = await verify();
          expect(r.ok).toBe(false);
          expect(r.firstBadRecord).toMatchObject({ seq: 5, reason: 'hash_mismatch' });
          expect(r.lastGoodSeq).toBe(4);
        },
      );
    });

    it('a deleted record', async () => {
      await tampered('audit_log', [7], [sql`DELETE FROM audit_log WHERE seq = 7`], async () => {
        expect((await verify()).firstBadRecord).toMatchObject({ seq: 7, reason: 'missing' });
      });
    });

    it('two records swapped', async () => {
      const swap = [
        sql`UPDATE audit_log SET seq = 1000000009 WHERE seq = 9`,
        sql`UPDATE audit_log SET seq = 9 WHERE seq = 12`,
        sql`UPDATE audit_log SET seq = 12 WHERE seq = 1000000009`,
      ];
      await tampered('audit_log', [9, 12], swap, async () => {
        expect((await verify()).firstBadRecord).toMatchObject({ seq: 9, reason: 'hash_mismatch' });
      });
    });

    it('a record rewritten with a recomputed hash: the link breaks, and the signed root no longer matches', async () => {
      await append();
      const cp = await createCheckpoint({ db, signing: crypto.signing });
      expect(cp).toBeDefined();
      const { hash: _h, ...body } = (await db.asSystem((tx) => store.recordAt(tx, 6)))!;
      const forged = recordHash({ ...body, action: 'auth.signin.succeeded' });
      await tampered(
        'audit_log',
        [6],
        [sql`UPDATE audit_log SET action = 'auth.signin.succeeded', hash = ${forged} WHERE seq = 6`],
        async () => {
          const r = await verify();
          expect(r.firstBadRecord).toMatchObject({ seq: 7, reason: 'chain_broken' });
          expect(r.firstBadCheckpoint).toMatchObject({ seq: cp!.seq, reason: 'root_mismatch' });
          const range = r.firstBadCheckpoint!.records!;
          expect(range.from <= 6 && 6 <= range.to).toBe(true);
        },
      );
    });

    it('a record inserted in the middle (the later ones renumbered)', async () => {
      const head = await db.asSystem((tx) => store.headSeq(tx));
      const prev = (await db.asSystem((tx) => store.recordAt(tx, 9)))!;
      const forgedBody = { ...prev, seq: 10, prevHash: prev.hash, action: 'admin.user.created' };
      const { hash: _p, ...body } = forgedBody;
      const all = Array.from({ length: head - 9 }, (_, i) => i + 10);
      await tampered(
        'audit_log',
        [...all, head + 1],
        [
          sql`UPDATE audit_log SET seq = seq + 1000000000 WHERE seq >= 10`,
          sql`UPDATE audit_log SET seq = seq - 1000000000 + 1 WHERE seq >= 1000000000`,
          sql`INSERT INTO audit_log (seq, occurred_at, tenant_id, actor_type, actor_id, client_id, action, object_type,
                object_id, outcome, request_id, details, prev_hash, hash)
              VALUES (10, ${body.occurredAt}, ${body.tenantId}, ${body.actorType}, ${body.actorId}, ${body.clientId},
                ${body.action}, ${body.objectType}, ${body.objectId}, ${body.outcome}, ${body.requestId},
                ${JSON.stringify(body.details)}::jsonb, ${body.prevHash}, ${recordHash(body)})`,
        ],
        async () => {
          // Record 10 is a forgery that links well to 9; the chain stops verifying at 11, and the
          // report names the insertion point.
          const r = await verify();
          expect(r.firstBadRecord).toMatchObject({ seq: 11, reason: 'hash_mismatch' });
          expect(r.firstBadRecord!.message).toContain('inserted before it');
          expect(r.firstBadCheckpoint).toMatchObject({ reason: 'root_mismatch' });
        },
      );
    });

    it('the checkpointer refuses to sign over an altered record', async () => {
      const r = await append();
      await tampered(
        'audit_log',
        [r.seq],
        [sql`UPDATE audit_log SET outcome = 'denied' WHERE seq = ${r.seq}`],
        async () => {
          expect(await codeOf(createCheckpoint({ db, signing: crypto.signing }))).toBe('AUDIT_CHAIN_BROKEN');
        },
      );
    });

    it('the newest records deleted under a checkpoint', async () => {
      await append();
      const cp = (await createCheckpoint({ db, signing: crypto.signing }))!;
      const gone = [cp.treeSize - 1, cp.treeSize];
      await tampered('audit_log', gone, [sql`DELETE FROM audit_log WHERE seq >= ${gone[0]}`], async () => {
        const r = await verify();
        expect(r.firstBadRecord).toMatchObject({ seq: cp.treeSize - 1, reason: 'missing' });
        expect(r.firstBadCheckpoint).toMatchObject({ seq: cp.seq, reason: 'records_missing' });
      });
    });

    it('a checkpoint edited or deleted', async () => {
      await append();
      const cp = (await createCheckpoint({ db, signing: crypto.signing }))!;
      const edit = sql`UPDATE audit_checkpoints SET tree_size = tree_size - 1 WHERE seq = ${cp.seq}`;
      await tampered('audit_checkpoints', [cp.seq], [edit], async () => {
        const r = await verify();
        expect(r.firstBadRecord).toBeNull();
        expect(r.firstBadCheckpoint).toMatchObject({ seq: cp.seq, reason: 'hash_mismatch' });
      });
      await tampered(
        'audit_checkpoints',
        [1],
        [sql`DELETE FROM audit_checkpoints WHERE seq = 1`],
        async () => {
          expect((await verify()).firstBadCheckpoint).toMatchObject({ seq: 1, reason: 'missing' });
        },
      );
    });

    it('a checkpoint re-signed by a key that is not an audit key, or not trusted', async () => {
      const other = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
      await other.signing.ensureKeys('webhook', 'EdDSA');
      const cp = (await db.asSystem((tx) => store.latestCheckpoint(tx)))!;
      const payload = Buffer.from(cp.jws.split('.')[1]!, 'base64url');
      const forged = await other.signing.signJws('webhook', payload, { typ: 'bulwark-audit-checkpoint+jws' });
      const kid = JSON.parse(Buffer.from(forged.split('.')[0]!, 'base64url').toString()).kid as string;
      const resign = sql`UPDATE audit_checkpoints SET jws = ${forged}, kid = ${kid} WHERE seq = ${cp.seq}`;
      await tampered('audit_checkpoints', [cp.seq], [resign], async () => {
        expect((await verify()).firstBadCheckpoint).toMatchObject({ seq: cp.seq, reason: 'wrong_key' });
      });
      // Verifying against an independently obtained JWKS that lacks the key: not trusted.
      const r = await verifyAudit({ db, keys: { keyInfo: async () => undefined } });
      expect(r.firstBadCheckpoint).toMatchObject({ seq: 1, reason: 'unknown_key' });
    });
  });

  it('resumes from a seq with progress reports, and still checks later roots', async () => {
    const head = await db.asSystem((tx) => store.headSeq(tx));
    const progress: AuditVerifyProgress[] = [];
    const r = await verifyAudit({ db, fromSeq: 10, batchSize: 4, onProgress: (p) => progress.push(p) });
    expect(r).toMatchObject({ ok: true, fromSeq: 10, records: head - 9, lastGoodSeq: head });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ verified: head - 9, total: head - 9, seq: head });
    expect(progress.map((p) => p.verified)).toEqual(
      [...progress.map((p) => p.verified)].sort((a, b) => a - b),
    );
    // A tampered record after the resume point is still found; one before it is not re-read.
    await tampered(
      'audit_log',
      [12],
      [sql`UPDATE audit_log SET action = 'auth.signin.ok' WHERE seq = 12`],
      async () => {
        expect((await verifyAudit({ db, fromSeq: 10 })).firstBadRecord).toMatchObject({ seq: 12 });
        expect((await verifyAudit({ db, fromSeq: 13 })).firstBadRecord).toBeNull();
      },
    );
  });

  it('proves a record against the latest checkpoint; a wrong record does not verify', async () => {
    await append();
    await createCheckpoint({ db, signing: crypto.signing });
    const p = await service.proof(3);
    expect(p.leafIndex).toBe(2);
    const root = Buffer.from(p.checkpoint.rootHash, 'hex');
    const path = p.path.map((h) => Buffer.from(h, 'hex'));
    const leafOf = (hash: string) => leafHash(Buffer.from(hash, 'hex'));
    expect(verifyInclusion(p.leafIndex, p.treeSize, leafOf(p.record.hash), path, root)).toBe(true);
    const other = await service.proof(4);
    expect(verifyInclusion(p.leafIndex, p.treeSize, leafOf(other.record.hash), path, root)).toBe(false);
    expect(verifyInclusion(p.leafIndex + 1, p.treeSize, leafOf(p.record.hash), path, root)).toBe(false);
    await append();
    expect(await codeOf(service.proof(await db.asSystem((tx) => store.headSeq(tx))))).toBe(
      'AUDIT_NOT_CHECKPOINTED',
    );
    expect(await codeOf(service.proof(999_999))).toBe('AUDIT_RECORD_NOT_FOUND');
  });

  it('exports a signed bundle that verifies offline, and fails after any change', async () => {
    const records = await db.asSystem((tx) => store.recordsBetween(tx, 1, 1_000));
    const from = new Date(records[3]!.occurredAt);
    const to = new Date(Date.parse(records.at(-1)!.occurredAt) + 1);
    const bundle = await exportAudit({ db, signing: crypto.signing, from, to });
    // The newest record had no checkpoint: the export signed one.
    expect(bundle.checkpoints.at(-1)!.treeSize).toBeGreaterThanOrEqual(records.at(-1)!.seq);
    const text = JSON.stringify(bundle);
    const published = await service.publicKeys();
    const good = await verifyBundle(JSON.parse(text), published);
    expect(good).toMatchObject({ ok: true, keysTrusted: true, signatureValid: true, problems: [] });
    expect(good.records).toBe(bundle.records.length);
    expect((await verifyBundle(JSON.parse(text))).keysTrusted).toBe(false);

    // One changed record: named precisely, and the bundle signature fails.
    const changed = JSON.parse(text) as { records: { seq: number; outcome: string }[] };
    changed.records[2]!.outcome = changed.records[2]!.outcome === 'success' ? 'failure' : 'success';
    const bad = await verifyBundle(changed, published);
    expect(bad.ok).toBe(false);
    expect(bad.firstBadRecord).toMatchObject({ seq: changed.records[2]!.seq, reason: 'hash_mismatch' });
    expect(bad.signatureValid).toBe(false);

    // A single byte changed anywhere in a hash: caught.
    const flipped = text.replace(
      bundle.records[1]!.hash,
      `${bundle.records[1]!.hash.slice(0, -1)}${bundle.records[1]!.hash.endsWith('0') ? '1' : '0'}`,
    );
    expect((await verifyBundle(JSON.parse(flipped), published)).ok).toBe(false);
    // Keys the verifier does not trust: nothing verifies.
    const stranger = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    await stranger.signing.ensureKeys('stranger', 'EdDSA');
    const untrusted = await verifyBundle(JSON.parse(text), await stranger.signing.publicJwks('stranger'));
    expect(untrusted.ok).toBe(false);
    expect(untrusted.firstBadCheckpoint).toMatchObject({ reason: 'unknown_key' });
    // Not a bundle at all.
    expect((await verifyBundle({ hello: 'world' })).malformed).toMatch(/not an/);
    await expect(exportAudit({ db, signing: crypto.signing, from: to, to: from })).rejects.toThrow(
      AuditError,
    );
  });

  it('chains queued (asynchronous) records once, in order, through the writer', async () => {
    const before = await db.asSystem((tx) => store.headSeq(tx));
    await db.withTenant(tenantB, async (tx) => {
      for (let i = 0; i < 7; i++)
        await appendAuditAsync(
          tx,
          event({ tenantId: tenantB, action: 'waf.blocked', outcome: 'blocked', details: { i } }),
        );
    });
    expect(
      await codeOf(db.withTenant(tenantB, (tx) => appendAuditAsync(tx, event({ details: { token: 'x' } })))),
    ).toBe('AUDIT_DETAILS_PII');
    const writer = startAuditWriter({ db, batchSize: 3, pollMs: 60_000 });
    try {
      expect(await writer.drain()).toBe(7);
      expect(await writer.drain()).toBe(0);
    } finally {
      await writer.stop();
    }
    const added = await db.asSystem((tx) => store.recordsBetween(tx, before + 1, before + 7));
    expect(added.map((r) => r.details.i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await db.asSystem((tx) => store.queueLength(tx))).toBe(0);
    expect((await verify()).ok).toBe(true);
  });

  it('the scheduler checkpoints every N records', async () => {
    const checkpointer = await startAuditCheckpointer({
      db,
      crypto,
      everyRecords: 3,
      everyMs: 3_600_000,
      pollMs: 25,
    });
    try {
      const before = (await db.asSystem((tx) => store.latestCheckpoint(tx)))?.seq ?? 0;
      for (let i = 0; i < 3; i++) await append();
      const head = await db.asSystem((tx) => store.headSeq(tx));
      for (let i = 0; i < 200; i++) {
        const latest = await db.asSystem((tx) => store.latestCheckpoint(tx));
        if (latest && latest.seq > before && latest.treeSize === head) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const latest = await db.asSystem((tx) => store.latestCheckpoint(tx));
      expect(latest?.treeSize).toBe(head);
      expect(await checkpointer.checkpointNow()).toBeUndefined(); // nothing new
    } finally {
      await checkpointer.stop();
    }
    expect((await verify()).ok).toBe(true);
  });

  it('runs one verification at a time and records that it ran', async () => {
    const [a, b] = await Promise.allSettled([service.verify(), service.verify()]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as AuditError).code).toBe('AUDIT_VERIFICATION_RUNNING');
    const [last] = await db.asSystem((tx) => store.search(tx, { actionPrefix: 'audit.verification' }, 1));
    expect(last).toMatchObject({ action: 'audit.verification.completed', outcome: 'success' });
  });
});
