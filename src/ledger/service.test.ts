import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { type Database, rows, type Tx } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { uuidv7 } from '../platform/ids.ts';
import { CURRENCIES, currencyExponent, isCurrency } from './currencies.ts';
import { LedgerError } from './errors.ts';
import { LedgerService } from './service.ts';
import type { Account } from './types.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LedgerError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('ISO 4217 table', () => {
  it('knows active codes and their exponents, and refuses withdrawn or unitless ones', () => {
    expect(currencyExponent('EUR')).toBe(2);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('KWD')).toBe(3);
    expect(currencyExponent('CLF')).toBe(4);
    for (const c of ['HRK', 'XAU', 'XXX', 'XTS', 'eur', 'EURO', '']) expect(isCurrency(c)).toBe(false);
    expect(CURRENCIES.size).toBeGreaterThan(150);
  });
});

describe.each(dbBackends)('ledger service on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let clock = Date.parse('2025-03-01T10:00:00Z');
  const ledger = () => new LedgerService({ db, now: () => clock });
  const tenant = uuidv7();
  const other = uuidv7();
  const inTenant = <T>(fn: (tx: Tx) => Promise<T>, t = tenant) => db.withTenant(t, fn);
  let wallet: Account;
  let wallet2: Account;
  let usd: Account;
  let external: Account;

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem(async (tx) => {
      await tx.insert(tenants).values({ id: tenant, slug: `t-${tenant}`, name: 'T' });
      await tx.insert(tenants).values({ id: other, slug: `t-${other}`, name: 'O' });
    });
    const l = ledger();
    [wallet, wallet2, usd, external] = await inTenant(async (tx) => [
      await l.openAccount(tx, tenant, { kind: 'wallet', currency: 'EUR', name: 'Alice' }),
      await l.openAccount(tx, tenant, { kind: 'wallet', currency: 'EUR', name: 'Bob', overdraftLimit: 500n }),
      await l.openAccount(tx, tenant, { kind: 'wallet', currency: 'USD', name: 'Carol' }),
      await l.systemAccount(tx, tenant, 'external', 'EUR'),
    ]);
  });
  afterAll(() => dispose?.());

  const balanceOf = (id: string, at?: Date) => inTenant((tx) => ledger().balance(tx, tenant, id, at));
  const topUp = (id: string, amount: bigint, txId = uuidv7()) =>
    inTenant((tx) =>
      ledger().post(tx, tenant, {
        id: txId,
        postings: [
          { accountId: external.id, amount, direction: 'debit' },
          { accountId: id, amount, direction: 'credit' },
        ],
      }),
    );
  const entryCount = async () => {
    const [r] = await db.asSystem((tx) =>
      rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ledger_entries`),
    );
    return r!.n;
  };

  it('posts a balanced transaction and keeps balances, entries and point-in-time balances', async () => {
    const before = clock;
    const t = await topUp(wallet.id, 10_000n);
    expect(t.postings).toHaveLength(2);
    clock += 60_000;
    await topUp(wallet.id, 250n);
    expect(await balanceOf(wallet.id)).toMatchObject({
      currency: 'EUR',
      posted: 10_250n,
      available: 10_250n,
    });
    expect((await balanceOf(wallet.id, new Date(before))).posted).toBe(10_000n);
    expect((await balanceOf(wallet.id, new Date(before - 1))).posted).toBe(0n);
    expect((await balanceOf(external.id)).posted).toBe(-10_250n);
    const entries = await inTenant((tx) => ledger().entries(tx, tenant, wallet.id, { limit: 10 }));
    expect(entries.map((e) => e.balanceAfter)).toEqual([10_000n, 10_250n]);
  });

  it('the same id returns the existing transaction when identical, conflicts otherwise', async () => {
    const id = uuidv7();
    const first = await topUp(wallet2.id, 100n, id);
    const again = await topUp(wallet2.id, 100n, id);
    expect(again.id).toBe(first.id);
    expect((await balanceOf(wallet2.id)).posted).toBe(100n);
    expect(await codeOf(topUp(wallet2.id, 101n, id))).toBe('LEDGER_TRANSACTION_ID_CONFLICT');
  });

  it('refuses bad transactions with their own codes and writes nothing', async () => {
    const n = await entryCount();
    const l = ledger();
    const post = (postings: { accountId: string; amount: bigint; direction: 'debit' | 'credit' }[]) =>
      codeOf(inTenant((tx) => l.post(tx, tenant, { id: uuidv7(), postings })));
    expect(
      await post([
        { accountId: wallet.id, amount: 10n, direction: 'debit' },
        { accountId: wallet2.id, amount: 11n, direction: 'credit' },
      ]),
    ).toBe('LEDGER_UNBALANCED');
    // Balanced in sum, not per currency.
    expect(
      await post([
        { accountId: wallet.id, amount: 10n, direction: 'debit' },
        { accountId: usd.id, amount: 10n, direction: 'credit' },
      ]),
    ).toBe('LEDGER_UNBALANCED');
    for (const amount of [0n, -5n, 2n ** 63n])
      expect(
        await post([
          { accountId: wallet.id, amount, direction: 'debit' },
          { accountId: wallet2.id, amount, direction: 'credit' },
        ]),
      ).toBe('LEDGER_AMOUNT_INVALID');
    expect(
      await post([
        { accountId: wallet.id, amount: 1.5 as unknown as bigint, direction: 'debit' },
        { accountId: wallet2.id, amount: 1.5 as unknown as bigint, direction: 'credit' },
      ]),
    ).toBe('LEDGER_AMOUNT_INVALID');
    expect(await post([{ accountId: wallet.id, amount: 1n, direction: 'debit' }])).toBe(
      'LEDGER_POSTINGS_INVALID',
    );
    expect(
      await post([
        { accountId: uuidv7(), amount: 1n, direction: 'debit' },
        { accountId: wallet2.id, amount: 1n, direction: 'credit' },
      ]),
    ).toBe('LEDGER_ACCOUNT_NOT_FOUND');
    // Overdraft: Alice may not go below zero; Bob may go to -500 and no further.
    expect(
      await post([
        { accountId: wallet.id, amount: 1_000_000n, direction: 'debit' },
        { accountId: wallet2.id, amount: 1_000_000n, direction: 'credit' },
      ]),
    ).toBe('LEDGER_INSUFFICIENT_FUNDS');
    expect(
      await post([
        { accountId: wallet2.id, amount: 601n, direction: 'debit' },
        { accountId: wallet.id, amount: 601n, direction: 'credit' },
      ]),
    ).toBe('LEDGER_INSUFFICIENT_FUNDS');
    expect(await entryCount()).toBe(n);
    expect(await codeOf(inTenant((tx) => l.assertCurrency(tx, tenant, usd.id, 'EUR')))).toBe(
      'LEDGER_CURRENCY_MISMATCH',
    );
    expect(
      await codeOf(
        inTenant((tx) => l.openAccount(tx, tenant, { kind: 'wallet', currency: 'XYZ', name: 'x' })),
      ),
    ).toBe('LEDGER_CURRENCY_UNKNOWN');
  });

  it("another tenant's accounts do not exist", async () => {
    expect(await codeOf(inTenant((tx) => ledger().balance(tx, other, wallet.id), other))).toBe(
      'LEDGER_ACCOUNT_NOT_FOUND',
    );
    const otherExternal = await inTenant((tx) => ledger().systemAccount(tx, other, 'external', 'EUR'), other);
    const code = await codeOf(
      inTenant(
        (tx) =>
          ledger().post(tx, other, {
            id: uuidv7(),
            postings: [
              { accountId: otherExternal.id, amount: 1n, direction: 'debit' },
              { accountId: wallet.id, amount: 1n, direction: 'credit' },
            ],
          }),
        other,
      ),
    );
    expect(code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
  });

  it('a caller may catch a refusal and still commit its own transaction', async () => {
    const before = await balanceOf(wallet.id);
    await inTenant(async (tx) => {
      const code = await codeOf(
        ledger().post(tx, tenant, {
          id: uuidv7(),
          postings: [
            { accountId: wallet2.id, amount: 1n, direction: 'credit' },
            { accountId: wallet.id, amount: 10n ** 12n, direction: 'debit' },
          ],
        }),
      );
      expect(code).not.toBe('ok');
    });
    expect(await balanceOf(wallet.id)).toEqual(before);
  });

  it('reverses once, with a compensating transaction', async () => {
    const t = await topUp(wallet2.id, 300n);
    const before = (await balanceOf(wallet2.id)).posted;
    const rid = uuidv7();
    const r = await inTenant((tx) => ledger().reverse(tx, tenant, t.id, rid));
    expect(r.reversesId).toBe(t.id);
    expect((await balanceOf(wallet2.id)).posted).toBe(before - 300n);
    expect((await inTenant((tx) => ledger().reverse(tx, tenant, t.id, rid))).id).toBe(rid);
    expect(await codeOf(inTenant((tx) => ledger().reverse(tx, tenant, t.id, uuidv7())))).toBe(
      'LEDGER_ALREADY_REVERSED',
    );
    expect(await codeOf(inTenant((tx) => ledger().reverse(tx, tenant, rid, uuidv7())))).toBe(
      'LEDGER_NOT_REVERSIBLE',
    );
    expect((await inTenant((tx) => ledger().getTransaction(tx, tenant, t.id)))?.reversedById).toBe(rid);
  });

  it('holds reduce the available balance until posted, voided or expired', async () => {
    const a = await inTenant((tx) =>
      ledger().openAccount(tx, tenant, { kind: 'wallet', currency: 'EUR', name: 'H' }),
    );
    await topUp(a.id, 1_000n);
    const hold = (amount: bigint, ms = 60_000) =>
      inTenant((tx) =>
        ledger().placeHold(tx, tenant, {
          id: uuidv7(),
          accountId: a.id,
          counterpartyAccountId: external.id,
          amount,
          expiresAt: new Date(clock + ms),
        }),
      );
    const h1 = await hold(700n);
    expect(await balanceOf(a.id)).toMatchObject({ posted: 1_000n, pending: 700n, available: 300n });
    expect(await codeOf(hold(301n))).toBe('LEDGER_INSUFFICIENT_FUNDS');
    // A transfer may not spend held money either.
    expect(
      await codeOf(
        inTenant((tx) =>
          ledger().post(tx, tenant, {
            id: uuidv7(),
            postings: [
              { accountId: a.id, amount: 301n, direction: 'debit' },
              { accountId: external.id, amount: 301n, direction: 'credit' },
            ],
          }),
        ),
      ),
    ).toBe('LEDGER_INSUFFICIENT_FUNDS');
    const t = await inTenant((tx) =>
      ledger().postHold(tx, tenant, h1.id, { transactionId: uuidv7(), amount: 600n }),
    );
    expect(await balanceOf(a.id)).toMatchObject({ posted: 400n, pending: 0n, available: 400n });
    expect(
      await codeOf(inTenant((tx) => ledger().postHold(tx, tenant, h1.id, { transactionId: uuidv7() }))),
    ).toBe('LEDGER_HOLD_NOT_PENDING');
    expect((await inTenant((tx) => ledger().postHold(tx, tenant, h1.id, { transactionId: t.id }))).id).toBe(
      t.id,
    );
    const h2 = await hold(400n, 1_000);
    expect((await balanceOf(a.id)).available).toBe(0n);
    clock += 1_000;
    expect((await balanceOf(a.id)).available).toBe(400n);
    expect(
      await codeOf(inTenant((tx) => ledger().postHold(tx, tenant, h2.id, { transactionId: uuidv7() }))),
    ).toBe('LEDGER_HOLD_EXPIRED');
    const h3 = await hold(100n);
    expect(
      await codeOf(
        inTenant((tx) => ledger().postHold(tx, tenant, h3.id, { transactionId: uuidv7(), amount: 101n })),
      ),
    ).toBe('LEDGER_HOLD_AMOUNT_EXCEEDED');
    expect((await inTenant((tx) => ledger().voidHold(tx, tenant, h3.id))).status).toBe('voided');
    expect((await balanceOf(a.id)).available).toBe(400n);
  });

  it('system accounts are created once per kind and currency', async () => {
    const [a, b] = await Promise.all([
      inTenant((tx) => ledger().systemAccount(tx, tenant, 'fees', 'EUR')),
      inTenant((tx) => ledger().systemAccount(tx, tenant, 'fees', 'EUR')),
    ]);
    expect(a.id).toBe(b.id);
    expect(a.overdraftLimit).toBeNull();
  });

  it('the database refuses to change or delete entries and transactions', async () => {
    for (const stmt of [
      sql`UPDATE ledger_entries SET amount = amount + 1`,
      sql`DELETE FROM ledger_entries`,
      sql`UPDATE ledger_transactions SET description = 'x'`,
      sql`DELETE FROM ledger_transactions`,
    ]) {
      await expect(inTenant((tx) => tx.execute(stmt))).rejects.toThrow();
    }
  });

  it('the stored balance of every account equals the sum of its entries, and all sum to zero', async () => {
    const check = await db.asSystem((tx) =>
      rows<{ account_id: string; posted: string; summed: string }>(
        tx,
        sql`SELECT b.account_id, b.posted::text AS posted,
                   coalesce(sum(CASE WHEN e.direction = 'credit' THEN e.amount ELSE -e.amount END), 0)::text AS summed
            FROM ledger_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
            GROUP BY b.account_id, b.posted`,
      ),
    );
    for (const r of check) expect(r.posted).toBe(r.summed);
    const totals = await db.asSystem((tx) =>
      rows<{ total: string }>(
        tx,
        sql`SELECT sum(posted)::text AS total FROM ledger_balances GROUP BY currency`,
      ),
    );
    for (const t of totals) expect(t.total).toBe('0');
  });
});
