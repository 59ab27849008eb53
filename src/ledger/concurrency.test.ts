/**
 * Many concurrent transfers between a handful of accounts, through the Idempotency-Key step and the
 * ledger, with random duplicate keys and failures injected inside the transaction after the postings
 * were written. Whatever the interleaving: money is conserved (zero per currency), no key is applied
 * twice, no wallet goes negative, and every stored balance equals the sum of its entries.
 *
 * The app here is the real idempotency hooks, problem handlers and ledger service on a minimal
 * Fastify instance; the caller's identity is set directly (authentication is not under test).
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import type { Principal } from '../gateway/authenticate/principal.ts';
import { idempotencyHooks, idempotentTransaction } from '../gateway/idempotency/index.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import { type Database, rows } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { installProblemHandlers } from '../platform/http/problems.ts';
import { uuidv7 } from '../platform/ids.ts';
import { LedgerService } from './service.ts';
import type { Account } from './types.ts';

const REQUESTS = 300;
const DISTINCT_KEYS = 200;
const WALLETS = 5;
const FUNDING = 2_000n;

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe.each(dbBackends)('concurrent transfers on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let app: FastifyInstance;
  const tenant = uuidv7();
  const wallets: Account[] = [];
  let external: Account;

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem((tx) => tx.insert(tenants).values({ id: tenant, slug: `t-${tenant}`, name: 'T' }));
    const ledger = new LedgerService({ db });
    await db.withTenant(tenant, async (tx) => {
      external = await ledger.systemAccount(tx, tenant, 'external', 'EUR');
      for (let i = 0; i < WALLETS; i++) {
        const w = await ledger.openAccount(tx, tenant, { kind: 'wallet', currency: 'EUR', name: `w${i}` });
        await ledger.post(tx, tenant, {
          id: uuidv7(),
          postings: [
            { accountId: external.id, amount: FUNDING, direction: 'debit' },
            { accountId: w.id, amount: FUNDING, direction: 'credit' },
          ],
        });
        wallets.push(w);
      }
    });

    app = Fastify({ logger: false });
    installProblemHandlers(app);
    const principal = {
      kind: 'client',
      subject: 'client-1',
      clientId: 'client-1',
      tenantId: tenant,
      roles: ['partner_app'],
      scopes: new Set<string>(),
      tokenId: 'jti',
      binding: 'dpop',
      expiresAt: 0,
    } as unknown as Principal;
    app.addHook('onRequest', async (req) => {
      (req as { principal?: Principal }).principal = principal;
    });
    const sealer = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).envelope;
    const hooks = idempotencyHooks(db, { sealer });
    app.addHook('preHandler', hooks.preHandler);
    app.addHook('onSend', hooks.onSend);
    const failedOnce = new Set<string>();
    app.post<{ Body: { from: string; to: string; amount: string; fail: boolean } }>(
      '/transfers',
      { config: { idempotency: true } },
      (req, reply) =>
        idempotentTransaction(req, reply, async (tx) => {
          const key = String(req.headers['idempotency-key']);
          const t = await ledger.post(tx, tenant, {
            id: uuidv7(),
            postings: [
              { accountId: req.body.from, amount: BigInt(req.body.amount), direction: 'debit' },
              { accountId: req.body.to, amount: BigInt(req.body.amount), direction: 'credit' },
            ],
            metadata: { key },
          });
          // A database or process failure after the postings were written: the whole request rolls back.
          if (req.body.fail && !failedOnce.has(key)) {
            failedOnce.add(key);
            throw new Error('injected failure after postings');
          }
          return { status: 201, body: { id: t.id } };
        }),
    );
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await dispose?.();
  });

  it('conserves money, applies each key at most once, never overdraws', async () => {
    const random = prng(backend.name === 'pglite' ? 7 : 11);
    const pick = () => wallets[Math.floor(random() * wallets.length)]!;
    const bodies = new Map<string, { from: string; to: string; amount: string; fail: boolean }>();
    const keys: string[] = [];
    for (let i = 0; i < DISTINCT_KEYS; i++) {
      const from = pick();
      let to = pick();
      while (to.id === from.id) to = pick();
      const key = createHash('sha256').update(`${backend.name}-${i}`).digest('hex').slice(0, 32);
      bodies.set(key, {
        from: from.id,
        to: to.id,
        amount: String(1 + Math.floor(random() * 400)),
        fail: random() < 0.15,
      });
      keys.push(key);
    }
    const send = (key: string) =>
      app.inject({
        method: 'POST',
        url: '/transfers',
        headers: { 'idempotency-key': key },
        payload: bodies.get(key)!,
      });
    const schedule = [
      ...keys,
      ...Array.from({ length: REQUESTS - DISTINCT_KEYS }, () => keys[Math.floor(random() * keys.length)]!),
    ];
    const answers = new Map<string, { status: number; body: string }[]>();
    const record = (key: string, r: { statusCode: number; body: string }) => {
      const list = answers.get(key) ?? [];
      list.push({ status: r.statusCode, body: r.body });
      answers.set(key, list);
    };
    const first = await Promise.all(schedule.map(async (key) => [key, await send(key)] as const));
    for (const [key, r] of first) record(key, r);
    expect(first.some(([, r]) => r.statusCode === 500)).toBe(true);

    // Clients retry what failed (500) or was still in flight (409) until they get an answer.
    for (let round = 0; round < 10; round++) {
      const pending = keys.filter((k) => {
        const last = answers.get(k)!.at(-1)!;
        return last.status === 500 || last.status === 409;
      });
      if (!pending.length) break;
      const again = await Promise.all(pending.map(async (key) => [key, await send(key)] as const));
      for (const [key, r] of again) record(key, r);
    }

    const applied = new Map<string, string>();
    for (const key of keys) {
      const list = answers.get(key)!;
      const final = list.at(-1)!;
      expect([201, 422]).toContain(final.status);
      if (final.status === 422) expect(JSON.parse(final.body).code).toBe('LEDGER_INSUFFICIENT_FUNDS');
      // Every success for one key names the same transaction.
      const ids = new Set(list.filter((a) => a.status === 201).map((a) => JSON.parse(a.body).id as string));
      expect(ids.size).toBeLessThanOrEqual(1);
      if (final.status === 201) applied.set(key, JSON.parse(final.body).id);
    }

    const perKey = await db.withTenant(tenant, (tx) =>
      rows<{ key: string; n: number }>(
        tx,
        sql`SELECT metadata->>'key' AS key, count(*)::int AS n FROM ledger_transactions
            WHERE metadata ? 'key' GROUP BY 1`,
      ),
    );
    expect(perKey.every((r) => r.n === 1)).toBe(true);
    expect(new Set(perKey.map((r) => r.key))).toEqual(new Set(applied.keys()));

    const balances = await db.withTenant(tenant, (tx) =>
      rows<{ account_id: string; currency: string; posted: string; summed: string; limit: string | null }>(
        tx,
        sql`SELECT b.account_id, b.currency, b.posted::text AS posted, b.overdraft_limit::text AS limit,
                   coalesce(sum(CASE WHEN e.direction = 'credit' THEN e.amount ELSE -e.amount END), 0)::text AS summed
            FROM ledger_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
            GROUP BY b.account_id, b.currency, b.posted, b.overdraft_limit`,
      ),
    );
    let total = 0n;
    for (const b of balances) {
      expect(b.posted).toBe(b.summed);
      if (b.limit !== null) expect(BigInt(b.posted)).toBeGreaterThanOrEqual(-BigInt(b.limit));
      total += BigInt(b.posted);
    }
    expect(total).toBe(0n);
    expect(balances).toHaveLength(WALLETS + 1);
  });
});
