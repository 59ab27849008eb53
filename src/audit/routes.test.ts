import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { installProblemHandlers } from '../platform/http/problems.ts';
import { validatorCompiler } from '../platform/http/validation.ts';
import { uuidv7 } from '../platform/ids.ts';
import { appendAudit } from './append.ts';
import { createCheckpoint } from './checkpoint.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { auditAdminRoutes } from './routes.ts';
import { AuditService } from './service.ts';

describe.each(dbBackends)('audit admin API on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let app: FastifyInstance;
  const tenantA = uuidv7();
  const tenantB = uuidv7();
  const get = (url: string) => app.inject({ method: 'GET', url });

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    const { signing } = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    await signing.ensureKeys('audit', 'EdDSA');
    const t0 = Date.UTC(2031, 0, 1);
    for (let i = 0; i < 12; i++) {
      await db.asSystem((tx) =>
        appendAudit(tx, {
          actor: { type: i % 2 ? 'user' : 'client', id: i % 2 ? 'user-1' : 'client-9', clientId: 'client-9' },
          action: ['auth.signin.failed', 'auth.token.issued', 'admin.tenant.created'][i % 3]!,
          object: { type: 'tenant', id: i % 4 === 0 ? tenantA : tenantB },
          tenantId: i % 4 === 0 ? tenantA : i % 4 === 1 ? tenantB : null,
          outcome: i % 3 === 0 ? 'failure' : 'success',
          details: { i },
          at: new Date(t0 + i * 60_000),
        }),
      );
    }
    await createCheckpoint({ db, signing });
    app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
    app.setValidatorCompiler(validatorCompiler());
    installProblemHandlers(app);
    await app.register(auditAdminRoutes, { prefix: '/admin', service: new AuditService({ db, signing }) });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await dispose?.();
  });

  it('searches newest first with filters and cursor pagination', async () => {
    const all = await get('/admin/audit?limit=200');
    expect(all.statusCode).toBe(200);
    expect(all.json().items.map((r: { seq: number }) => r.seq)).toEqual([
      12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
    ]);

    const auth = (await get('/admin/audit?action=auth.&limit=200')).json().items as { action: string }[];
    expect(auth).toHaveLength(8);
    expect(auth.every((r) => r.action.startsWith('auth.'))).toBe(true);
    // The prefix is literal: `_` is not a wildcard.
    expect((await get('/admin/audit?action=auth_')).json().items).toEqual([]);

    const tenant = (await get(`/admin/audit?tenantId=${tenantA}`)).json().items as { tenantId: string }[];
    expect(tenant.map((r) => r.tenantId)).toEqual([tenantA, tenantA, tenantA]);
    expect((await get('/admin/audit?actorId=user-1&outcome=failure')).json().items).toHaveLength(2);
    expect((await get(`/admin/audit?objectType=tenant&objectId=${tenantA}`)).json().items).toHaveLength(3);
    const window = await get('/admin/audit?from=2031-01-01T00:02:00Z&to=2031-01-01T00:05:00Z');
    expect(window.json().items.map((r: { seq: number }) => r.seq)).toEqual([5, 4, 3]);

    const page1 = (await get('/admin/audit?limit=5')).json();
    expect(page1.nextCursor).toBe(8);
    const page2 = (await get(`/admin/audit?limit=5&cursor=${page1.nextCursor}`)).json();
    expect(page2.items.map((r: { seq: number }) => r.seq)).toEqual([7, 6, 5, 4, 3]);
    const page3 = (await get('/admin/audit?limit=5&cursor=3')).json();
    expect(page3).toMatchObject({ nextCursor: null });
    expect(page3.items).toHaveLength(2);
  });

  it('refuses unknown or malformed parameters, and a reversed range', async () => {
    expect((await get('/admin/audit?bogus=1')).json().code).toBe('REQUEST_VALIDATION_FAILED');
    expect((await get('/admin/audit?action=AUTH%25')).statusCode).toBe(400);
    expect((await get('/admin/audit?limit=500')).statusCode).toBe(400);
    const reversed = await get('/admin/audit?from=2031-01-02T00:00:00Z&to=2031-01-01T00:00:00Z');
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().code).toBe('AUDIT_RANGE_INVALID');
  });

  it('answers an inclusion proof that verifies against the signed checkpoint', async () => {
    const res = await get('/admin/audit/5/proof');
    expect(res.statusCode).toBe(200);
    const p = res.json();
    expect(p).toMatchObject({ leafIndex: 4, treeSize: 12, checkpoint: { seq: 1, treeSize: 12 } });
    const ok = verifyInclusion(
      p.leafIndex,
      p.treeSize,
      leafHash(Buffer.from(p.record.hash, 'hex')),
      p.path.map((h: string) => Buffer.from(h, 'hex')),
      Buffer.from(p.checkpoint.rootHash, 'hex'),
    );
    expect(ok).toBe(true);
    expect((await get('/admin/audit/99/proof')).json().code).toBe('AUDIT_RECORD_NOT_FOUND');
    expect((await get('/admin/audit/0/proof')).statusCode).toBe(400);
  });

  it('says when a record is not yet under a checkpoint', async () => {
    await db.asSystem((tx) =>
      appendAudit(tx, {
        actor: { type: 'system' },
        action: 'test.uncovered',
        tenantId: null,
        outcome: 'success',
      }),
    );
    const res = await get('/admin/audit/13/proof');
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('AUDIT_NOT_CHECKPOINTED');
  });

  it('verifies on request and records who ran it', async () => {
    const res = await app.inject({ method: 'POST', url: '/admin/audit/verify', payload: {} });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, records: 13, firstBadRecord: null, unsigned: 1 });
    const resumed = await app.inject({
      method: 'POST',
      url: '/admin/audit/verify',
      payload: { fromSeq: 10 },
    });
    expect(resumed.json()).toMatchObject({ ok: true, fromSeq: 10 });
    const [last] = (await get('/admin/audit?action=audit.verification&limit=1')).json().items;
    expect(last).toMatchObject({ actorType: 'operator', actorId: 'bootstrap-admin', outcome: 'success' });
    expect(last.requestId).toBeTruthy();
    const bad = await app.inject({ method: 'POST', url: '/admin/audit/verify', payload: { fromSeq: '3' } });
    expect(bad.statusCode).toBe(400);
  });

  it('publishes the audit keys (public halves only)', async () => {
    const { keys } = (await get('/admin/audit/keys')).json();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });
});
