/**
 * The ledger through the real HTTP stack with real DPoP-bound tokens: transfers with
 * Idempotency-Key semantics, balances, entries, reversal, object-level isolation and bad input.
 * Accounts are opened through the service (account opening over HTTP needs an approved KYC case,
 * which the KYC module provides; without it the route fails closed, tested below).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../src/ledger/index.ts';
import type { Account } from '../src/ledger/types.ts';
import { rows } from '../src/platform/db/index.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import {
  type ApiCaller,
  admin,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
} from './support/api.ts';

describe('ledger over /v1', () => {
  let listening: Listening;
  let ledger: LedgerService;
  let api: ApiCaller;
  let otherPartner: ApiCaller;
  let foreignTenant: ApiCaller;
  let alice: Account;
  let bob: Account;
  let usd: Account;
  let stranger: Account;
  let tenantId: string;

  beforeAll(async () => {
    listening = await listeningApp();
    const db = listening.app.services.db;
    ledger = new LedgerService({ db });
    const t = await tenantWithPartner(listening.app, 'Ledger');
    tenantId = t.tenantId;
    const scope = 'accounts:read accounts:write';
    api = await partnerApi(listening, { ...t, scope });
    const other = await tenantWithPartner(listening.app, 'Elsewhere');
    foreignTenant = await partnerApi(listening, { ...other, scope });
    const p2: string = (
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/partners`, { name: 'P2' })
    ).id;
    otherPartner = await partnerApi(listening, { tenantId, partnerId: p2, scope });
    [alice, bob, usd, stranger] = await db.withTenant(tenantId, async (tx) => {
      const open = (name: string, currency: string, partnerId: string) =>
        ledger.openAccount(tx, tenantId, { kind: 'wallet', currency, name, partnerId, customerId: uuidv7() });
      const accounts = [
        await open('Alice', 'EUR', t.partnerId),
        await open('Bob', 'EUR', t.partnerId),
        await open('Carol', 'USD', t.partnerId),
        await open('Dave', 'EUR', p2),
      ];
      const ext = await ledger.systemAccount(tx, tenantId, 'external', 'EUR');
      await ledger.post(tx, tenantId, {
        id: uuidv7(),
        postings: [
          { accountId: ext.id, amount: 10_000n, direction: 'debit' },
          { accountId: accounts[0]!.id, amount: 10_000n, direction: 'credit' },
        ],
      });
      return accounts as [Account, Account, Account, Account];
    });
  });
  afterAll(() => listening.app.close());

  const transfer = (body: Record<string, unknown>, key: string | null = uuidv7(), who = api) =>
    who.call('POST', '/v1/transfers', { body, headers: key === null ? {} : { 'idempotency-key': key } });
  const entryCount = async () => {
    const [r] = await listening.app.services.db.asSystem((tx) =>
      rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ledger_entries`),
    );
    return r!.n;
  };

  it('moves money, replays a retried key and shows balances and entries', async () => {
    const key = uuidv7();
    const body = { fromAccountId: alice.id, toAccountId: bob.id, amount: '1250', currency: 'EUR' };
    const first = await transfer(body, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotency-key-expires')).toBeTruthy();
    const again = await transfer(body, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const balance = await api.call('GET', `/v1/accounts/${alice.id}/balance`);
    expect(balance.body).toMatchObject({ posted: '8750', available: '8750', currency: 'EUR' });
    const past = await api.call('GET', `/v1/accounts/${bob.id}/balance?at=2000-01-01T00:00:00Z`);
    expect(past.body.posted).toBe('0');
    const entries = await api.call('GET', `/v1/accounts/${bob.id}/entries?limit=1`);
    expect(entries.body.items).toEqual([
      expect.objectContaining({ transactionId: first.body.id, amount: '1250', balanceAfter: '1250' }),
    ]);
    const tx = await api.call('GET', `/v1/transactions/${first.body.id}`);
    expect(tx.status).toBe(200);
    expect(tx.body.postings).toHaveLength(2);
  });

  it('idempotency: missing 400, malformed 400, reused with another payload 422', async () => {
    const body = { fromAccountId: alice.id, toAccountId: bob.id, amount: '1', currency: 'EUR' };
    expect((await transfer(body, null)).body.code).toBe('IDEMPOTENCY_KEY_MISSING');
    expect((await transfer(body, '"unterminated')).body.code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect((await transfer(body, 'x'.repeat(256))).body.code).toBe('IDEMPOTENCY_KEY_INVALID');
    const key = uuidv7();
    expect((await transfer(body, key)).status).toBe(201);
    const reused = await transfer({ ...body, amount: '2' }, key);
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys belong to their client: another app's same key is a new request.
    const mine = await transfer(
      { fromAccountId: stranger.id, toAccountId: alice.id, amount: '1', currency: 'EUR' },
      key,
      otherPartner,
    );
    expect(mine.body.code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
  });

  it('idempotency: a key whose first request is still running answers 409', async () => {
    const key = uuidv7();
    const body = { fromAccountId: alice.id, toAccountId: bob.id, amount: '3', currency: 'EUR' };
    // A first request in flight, as another instance would hold it.
    await listening.app.services.db.withTenant(tenantId, (tx) =>
      tx.execute(sql`INSERT INTO idempotency_keys (tenant_id, client_id, subject, key, fingerprint, status, claim,
                       locked_until, created_at, expires_at)
                     VALUES (${tenantId}, ${api.clientId}, ${api.clientId}, ${key}, 'x', 'in_flight', ${uuidv7()},
                       now() + interval '1 minute', now(), now() + interval '1 day')`),
    );
    // The fingerprint differs ('x'), so the payload check answers first: make it match instead.
    const { requestFingerprint } = await import('../src/gateway/idempotency/index.ts');
    await listening.app.services.db.withTenant(tenantId, (tx) =>
      tx.execute(
        sql`UPDATE idempotency_keys SET fingerprint = ${requestFingerprint('POST', '/v1/transfers', body)}
            WHERE tenant_id = ${tenantId} AND key = ${key}`,
      ),
    );
    const res = await transfer(body, key);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('IDEMPOTENCY_KEY_IN_FLIGHT');
  });

  it('refuses bad input, each with its own code, and writes nothing', async () => {
    const n = await entryCount();
    const ok = { fromAccountId: alice.id, toAccountId: bob.id, amount: '5', currency: 'EUR' };
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...ok, amount: '0' }, 422, 'LEDGER_AMOUNT_INVALID'],
      [{ ...ok, amount: '-5' }, 422, 'LEDGER_AMOUNT_INVALID'],
      [{ ...ok, amount: '1.5' }, 422, 'LEDGER_AMOUNT_INVALID'],
      [{ ...ok, amount: '99999999999999999999' }, 422, 'LEDGER_AMOUNT_INVALID'],
      [{ ...ok, currency: 'XYZ' }, 422, 'LEDGER_CURRENCY_UNKNOWN'],
      [{ ...ok, currency: 'USD' }, 422, 'LEDGER_CURRENCY_MISMATCH'],
      [{ ...ok, toAccountId: usd.id }, 422, 'LEDGER_CURRENCY_MISMATCH'],
      [{ ...ok, amount: '100000000' }, 422, 'LEDGER_INSUFFICIENT_FUNDS'],
      [{ ...ok, toAccountId: alice.id }, 422, 'LEDGER_POSTINGS_INVALID'],
      [{ ...ok, description: 'x'.repeat(501) }, 400, 'REQUEST_VALIDATION_FAILED'],
      [{ ...ok, extra: 1 }, 400, 'REQUEST_VALIDATION_FAILED'],
      [{ ...ok, toAccountId: stranger.id }, 404, 'LEDGER_ACCOUNT_NOT_FOUND'],
      [{ ...ok, toAccountId: uuidv7() }, 404, 'LEDGER_ACCOUNT_NOT_FOUND'],
    ];
    for (const [body, status, code] of cases) {
      const res = await transfer(body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status, code });
    }
    // Another tenant's caller cannot reach these accounts at all.
    const foreign = await transfer(ok, uuidv7(), foreignTenant);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
    expect((await foreignTenant.call('GET', `/v1/accounts/${alice.id}`)).status).toBe(404);
    expect((await otherPartner.call('GET', `/v1/accounts/${alice.id}/balance`)).status).toBe(404);
    expect(await entryCount()).toBe(n);
  });

  it('a refused transfer is stored: the same key gets the same refusal', async () => {
    const key = uuidv7();
    const body = { fromAccountId: bob.id, toAccountId: alice.id, amount: '99999999', currency: 'EUR' };
    const first = await transfer(body, key);
    expect(first.body.code).toBe('LEDGER_INSUFFICIENT_FUNDS');
    const again = await transfer(body, key);
    expect(again.status).toBe(422);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.code).toBe('LEDGER_INSUFFICIENT_FUNDS');
  });

  it('reverses a transfer once', async () => {
    const t = await transfer({ fromAccountId: alice.id, toAccountId: bob.id, amount: '10', currency: 'EUR' });
    const before = (await api.call('GET', `/v1/accounts/${alice.id}/balance`)).body.posted;
    const r = await api.call('POST', `/v1/transactions/${t.body.id}/reversal`, {
      body: {},
      headers: { 'idempotency-key': uuidv7() },
    });
    expect(r.status).toBe(201);
    expect(r.body.reversesId).toBe(t.body.id);
    expect((await api.call('GET', `/v1/accounts/${alice.id}/balance`)).body.posted).toBe(
      String(BigInt(before) + 10n),
    );
    const twice = await api.call('POST', `/v1/transactions/${t.body.id}/reversal`, {
      body: {},
      headers: { 'idempotency-key': uuidv7() },
    });
    expect(twice.body.code).toBe('LEDGER_ALREADY_REVERSED');
  });

  it('holds: reserve, capture part, void', async () => {
    const key = () => ({ 'idempotency-key': uuidv7() });
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const before = (await api.call('GET', `/v1/accounts/${alice.id}/balance`)).body;
    const hold = await api.call('POST', `/v1/accounts/${alice.id}/holds`, {
      body: { counterpartyAccountId: bob.id, amount: '500', currency: 'EUR', expiresAt },
      headers: key(),
    });
    expect(hold.status).toBe(201);
    const during = (await api.call('GET', `/v1/accounts/${alice.id}/balance`)).body;
    expect(during.pending).toBe(String(BigInt(before.pending) + 500n));
    expect(during.available).toBe(String(BigInt(before.available) - 500n));
    const captured = await api.call('POST', `/v1/holds/${hold.body.id}/capture`, {
      body: { amount: '200' },
      headers: key(),
    });
    expect(captured.status).toBe(201);
    const after = (await api.call('GET', `/v1/accounts/${alice.id}/balance`)).body;
    expect(after).toMatchObject({
      posted: String(BigInt(before.posted) - 200n),
      pending: before.pending,
    });
    const again = await api.call('POST', `/v1/holds/${hold.body.id}/void`, { body: {}, headers: key() });
    expect(again.body.code).toBe('LEDGER_HOLD_NOT_PENDING');
    expect((await otherPartner.call('GET', `/v1/holds/${hold.body.id}`)).status).toBe(404);
  });

  it('account opening needs a known, verified customer of the caller', async () => {
    const before = await listening.app.services.db.asSystem((tx) =>
      rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ledger_accounts`),
    );
    const res = await api.call('POST', '/v1/accounts', {
      body: { customerId: uuidv7(), currency: 'EUR', name: 'New' },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('CUSTOMER_NOT_FOUND');
    const bad = await api.call('POST', '/v1/accounts', {
      body: { customerId: uuidv7(), currency: 'EUR', name: 'New', overdraftLimit: '100' },
    });
    expect(bad.status).toBe(400);
    const after = await listening.app.services.db.asSystem((tx) =>
      rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ledger_accounts`),
    );
    expect(after).toEqual(before);
  });
});
