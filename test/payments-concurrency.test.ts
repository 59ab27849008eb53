import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers } from '../src/kyc/schema.ts';
import { rows } from '../src/platform/db/rows.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import {
  type ApiCaller,
  type ApiResponse,
  admin,
  createPerson,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';
import { dbBackends, freshDatabaseUrl } from './support/backends.ts';

// Many concurrent payouts over HTTP with duplicate Idempotency-Keys, rival requests for the same
// claim, and database errors injected in the middle of the payout transaction (after the payment
// row and its ledger posting, when the rail's book is written). Clients retry a 5xx with the same
// key, as they should. Afterwards: no claim is paid twice, every payment has one rail submission,
// and the ledger balances.
const SCOPES = 'payments:read payments:write policies:read policies:write claims:read claims:write';
const CLAIMS = 8;
const AMOUNT = 2_000;

describe.each(dbBackends)('concurrent payouts on $name', (backend) => {
  let listening: Listening;
  let dispose: () => Promise<void>;
  let tenantId: string;
  let partner: ApiCaller;
  const claimIds: string[] = [];
  const db = () => listening.app.services.db;
  const query = <T>(q: ReturnType<typeof sql>) => db().asSystem((tx) => rows<T>(tx, q));

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl(backend);
    dispose = fresh.dispose;
    listening = await listeningApp({
      BULWARK_PAYMENTS_WORKER_POLL_MS: '0',
      ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
    });
    const ids = await tenantWithPartner(listening.app, 'Concurrent');
    tenantId = ids.tenantId;
    partner = await partnerApi(listening, { ...ids, scope: SCOPES });
    const adjusterPerson = await createPerson(listening, tenantId, ['claims_adjuster']);
    const adjuster = await userApi(listening, { ...ids, person: adjusterPerson, scope: SCOPES });
    await admin(
      listening.app,
      'PUT',
      `/admin/tenants/${tenantId}/adjusters/${adjusterPerson.userId}/authority`,
      {
        limits: { EUR: { single: 1_000_000, multi: 1_000_000 } },
      },
    );
    const customerId = uuidv7();
    await db().withTenant(tenantId, (tx) =>
      tx.insert(customers).values({
        id: customerId,
        tenantId,
        partnerId: ids.partnerId,
        kind: 'person',
        environment: 'sandbox',
        dataEnc: 'fixture',
        kycStatus: 'approved',
        verifiedCaseId: uuidv7(),
        verifiedUntil: new Date(Date.now() + 365 * 86_400_000),
      }),
    );
    const productId = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
        name: 'Gadget',
        lineOfBusiness: 'home',
        currency: 'EUR',
        premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
        coverLimit: 500_000,
      })
    ).id;
    const today = new Date().toISOString().slice(0, 10);
    const policyId = (
      await partner.call('POST', '/v1/policies', {
        body: { customerId, productId, startDate: today, coverAmount: 300_000 },
      })
    ).body.id;
    await partner.call('POST', `/v1/policies/${policyId}/bind`, {
      headers: { 'idempotency-key': randomUUID() },
    });
    for (let i = 0; i < CLAIMS; i++) {
      const filed = await partner.call('POST', '/v1/claims', {
        body: {
          policyId,
          incidentDate: today,
          amountClaimed: AMOUNT,
          currency: 'EUR',
          description: `Screen ${i}`,
          payeeName: 'Erika Mustermann',
          payeeIban: 'DE89370400440532013000',
        },
        headers: { 'idempotency-key': randomUUID() },
      });
      const id: string = filed.body.id;
      await adjuster.call('POST', `/v1/claims/${id}/triage`);
      const assessed = await adjuster.call('POST', `/v1/claims/${id}/assessment`);
      if (assessed.body.fraudReview) {
        await adjuster.call('POST', `/v1/claims/${id}/fraud-review/clear`, { body: { note: 'ok' } });
      }
      const approved = await adjuster.call('POST', `/v1/claims/${id}/approve`, {
        body: { amount: AMOUNT },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(approved.body.status).toBe('approved');
      claimIds.push(id);
    }
    // Injected failures: every third write to the rail's book fails, mid-transaction (the payment
    // row and its ledger posting are already written by then). A sequence is not transactional, so
    // the count goes on across the rolled-back attempts.
    await db().asSystem(async (tx) => {
      await tx.execute(sql`CREATE SEQUENCE payments_test_chaos_seq`);
      await tx.execute(sql`CREATE FUNCTION payments_test_chaos() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF nextval('payments_test_chaos_seq') % 3 = 1 THEN RAISE EXCEPTION 'injected failure'; END IF;
          RETURN NEW;
        END $$`);
      await tx.execute(sql`CREATE TRIGGER payments_test_chaos BEFORE INSERT ON rail_sim_transfers
        FOR EACH ROW EXECUTE FUNCTION payments_test_chaos()`);
    });
  }, 300_000);
  afterAll(async () => {
    await listening?.app.close();
    await dispose?.();
  });

  it('pays each claim once, whatever the duplicates, rivals and failures; the ledger balances', async () => {
    let serverErrors = 0;
    /** A client that retries a 5xx with the same key until it gets an answer. */
    const send = async (claimId: string, key: string): Promise<ApiResponse> => {
      for (let attempt = 0; ; attempt++) {
        const res = await partner.call('POST', '/v1/payouts', {
          sign: true,
          body: { claimId, amount: String(AMOUNT), currency: 'EUR' },
          headers: { 'idempotency-key': key },
        });
        if (res.status >= 500) {
          serverErrors++;
          // A 500 is generic: nothing of the injected error leaks.
          expect(JSON.stringify(res.body)).not.toContain('injected');
        }
        // 429: the per-IP limit (every request comes from 127.0.0.1): back off as told, like a client.
        if (res.status === 429) {
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
          continue;
        }
        // 409 IDEMPOTENCY_KEY_IN_FLIGHT: the twin request holds the key; try again shortly.
        if ((res.status < 500 && res.body?.code !== 'IDEMPOTENCY_KEY_IN_FLIGHT') || attempt > 500) return res;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Per claim: the same key twice (a client retrying), and two rival keys (two clients).
    const plan = claimIds.flatMap((claimId) => {
      const shared = randomUUID();
      return [
        { claimId, key: shared },
        { claimId, key: shared },
        { claimId, key: randomUUID() },
        { claimId, key: randomUUID() },
      ];
    });
    const results = await Promise.all(plan.map((p) => send(p.claimId, p.key)));
    expect(serverErrors).toBeGreaterThan(0);

    for (const [i, claimId] of claimIds.entries()) {
      const mine = results.slice(i * 4, i * 4 + 4);
      const created = mine.filter((r) => r.status === 201);
      const refused = mine.filter((r) => r.status !== 201);
      // Every request got a final answer: a payment, or the claim has nothing left to pay.
      for (const r of refused) {
        expect(r.status, JSON.stringify(r.body)).toBe(422);
        expect(r.body.code).toBe('PAYMENT_AMOUNT_EXCEEDS_CLAIM');
      }
      // One payment per claim; the twin of the key that created it got the very same answer.
      expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
      expect(mine[0]!.body).toEqual(mine[1]!.body);
      expect(created[0]!.body).toMatchObject({ claimId, amount: String(AMOUNT) });
    }

    const payments = await query<{ claim_id: string; status: string; n: number; rails: number }>(
      sql`SELECT p.claim_id, p.status, count(*)::int AS n,
                 (SELECT count(*)::int FROM rail_sim_transfers r WHERE r.payment_id = p.id) AS rails
          FROM payments p WHERE p.tenant_id = ${tenantId} GROUP BY p.id, p.claim_id, p.status`,
    );
    expect(payments).toHaveLength(CLAIMS);
    for (const p of payments) {
      expect(p.n).toBe(1);
      expect(['submitted', 'awaiting_sca']).toContain(p.status);
      expect(p.rails).toBe(p.status === 'submitted' ? 1 : 0);
    }
    const submitted = payments.filter((p) => p.status === 'submitted').length;

    // Ledger: the reserve was debited once per submitted payout, and the books balance.
    const [reserve] = await query<{ total: string }>(
      sql`SELECT coalesce(sum(CASE WHEN e.direction = 'credit' THEN e.amount ELSE -e.amount END), 0)::text AS total
          FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
          WHERE e.tenant_id = ${tenantId} AND a.kind = 'claims_reserve'`,
    );
    expect(BigInt(reserve!.total)).toBe(-BigInt(submitted * AMOUNT));
    const [sum] = await query<{ total: string }>(
      sql`SELECT coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0)::text AS total
          FROM ledger_entries WHERE tenant_id = ${tenantId}`,
    );
    expect(sum!.total).toBe('0');

    // Settle them all on the rail: each claim ends paid exactly once.
    await db().asSystem((tx) => tx.execute(sql`DROP TRIGGER payments_test_chaos ON rail_sim_transfers`));
    // The burst above may have spent the per-IP allowance: a client waits as told.
    const patiently = async (method: string, path: string, options?: Parameters<ApiCaller['call']>[2]) => {
      for (;;) {
        const res = await partner.call(method, path, options);
        if (res.status !== 429) return res;
        await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
      }
    };
    const list = await patiently('GET', '/v1/payments?status=submitted&limit=100');
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    const outcomes = await Promise.all(
      list.body.items.map((p: { id: string }) =>
        patiently('POST', `/v1/sandbox/payments/${p.id}/outcome`, {
          body: { status: 'settled' },
          headers: { 'idempotency-key': randomUUID() },
        }),
      ),
    );
    for (const o of outcomes) expect(o.status, JSON.stringify(o.body)).toBe(200);
    const claims = await query<{ status: string; paid_amount: string }>(
      sql`SELECT status, paid_amount::text FROM insurance_claims WHERE tenant_id = ${tenantId}`,
    );
    expect(claims.filter((c) => c.status === 'paid')).toHaveLength(submitted);
    for (const c of claims) expect(['0', String(AMOUNT)]).toContain(c.paid_amount);
    const [after] = await query<{ total: string }>(
      sql`SELECT coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0)::text AS total
          FROM ledger_entries WHERE tenant_id = ${tenantId}`,
    );
    expect(after!.total).toBe('0');
  }, 300_000);
});
