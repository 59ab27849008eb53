/**
 * The ledger's SQL. Every query names its tenant (RLS is the second wall). Amounts cross the driver
 * as decimal strings cast to bigint, never as JS numbers.
 */
import { type SQL, sql } from 'drizzle-orm';
import { rows, type Tx } from '../platform/db/index.ts';
import type { Account, AccountKind, Direction, Entry, Hold, HoldStatus } from './types.ts';

export const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v)));
const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : big(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

interface AccountRow {
  id: string;
  tenant_id: string;
  kind: string;
  currency: string;
  name: string;
  code: string | null;
  customer_id: string | null;
  partner_id: string | null;
  owner_user_id: string | null;
  overdraft_limit: unknown;
  status: string;
  created_at: unknown;
}

const ACCOUNT_COLUMNS = sql.raw(
  'a.id, a.tenant_id, a.kind, a.currency, a.name, a.code, a.customer_id, a.partner_id, a.owner_user_id, a.overdraft_limit, a.status, a.created_at',
);

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind as AccountKind,
    currency: r.currency,
    name: r.name,
    code: r.code,
    customerId: r.customer_id,
    partnerId: r.partner_id,
    ownerUserId: r.owner_user_id,
    overdraftLimit: bigOrNull(r.overdraft_limit),
    status: r.status as Account['status'],
    createdAt: date(r.created_at),
  };
}

/** Inserts an account and its zero balance row; null when `code` is already taken in the tenant. */
export async function insertAccount(tx: Tx, a: Account): Promise<Account | null> {
  const limit = a.overdraftLimit === null ? null : a.overdraftLimit.toString();
  const [row] = await rows<AccountRow>(
    tx,
    sql`WITH a AS (
          INSERT INTO ledger_accounts (id, tenant_id, kind, currency, name, code, customer_id, partner_id,
                                       owner_user_id, overdraft_limit, status, created_at)
          VALUES (${a.id}, ${a.tenantId}, ${a.kind}, ${a.currency}, ${a.name}, ${a.code}, ${a.customerId},
                  ${a.partnerId}, ${a.ownerUserId}, ${limit}::bigint, 'open', ${a.createdAt.toISOString()})
          ON CONFLICT (tenant_id, code) DO NOTHING
          RETURNING *),
        b AS (
          INSERT INTO ledger_balances (account_id, tenant_id, currency, overdraft_limit, posted, updated_at)
          SELECT id, tenant_id, currency, overdraft_limit, 0, created_at FROM a)
        SELECT ${ACCOUNT_COLUMNS} FROM a`,
  );
  return row ? toAccount(row) : null;
}

export async function accountById(tx: Tx, tenantId: string, id: string): Promise<Account | null> {
  const [row] = await rows<AccountRow>(
    tx,
    sql`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.tenant_id = ${tenantId} AND a.id = ${id}`,
  );
  return row ? toAccount(row) : null;
}

export async function accountByCode(tx: Tx, tenantId: string, code: string): Promise<Account | null> {
  const [row] = await rows<AccountRow>(
    tx,
    sql`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.tenant_id = ${tenantId} AND a.code = ${code}`,
  );
  return row ? toAccount(row) : null;
}

/** A locked balance row, with what the overdraft check needs. */
export interface LockedBalance {
  readonly accountId: string;
  readonly currency: string;
  readonly overdraftLimit: bigint | null;
  readonly posted: bigint;
  /** Sum of live holds (pending, unexpired), less the hold being posted, if any. */
  readonly held: bigint;
  readonly status: string;
}

export interface LockResult {
  readonly balances: Map<string, LockedBalance>;
  /** Fingerprint of an existing transaction (or hold) with the requested id, as the statement saw it. */
  readonly existing: string | null;
}

/**
 * Locks the balance rows of `accountIds` (in id order, the same for every transaction, so two
 * transfers between the same accounts never deadlock) and reads them, in one round trip. Also
 * reports whether a transaction or hold with `existingId` is already there.
 */
export async function lockBalances(
  tx: Tx,
  tenantId: string,
  accountIds: readonly string[],
  now: Date,
  opts: { existingId: string; existingIn: 'transactions' | 'holds'; excludeHoldId?: string | undefined },
): Promise<LockResult> {
  const ids = [...accountIds].sort();
  const nowIso = now.toISOString();
  const exclude = opts.excludeHoldId ?? null;
  const existing =
    opts.existingIn === 'transactions'
      ? sql`(SELECT t.fingerprint FROM ledger_transactions t WHERE t.tenant_id = ${tenantId} AND t.id = ${opts.existingId})`
      : sql`(SELECT h.fingerprint FROM ledger_holds h WHERE h.tenant_id = ${tenantId} AND h.id = ${opts.existingId})`;
  const list = sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const result = await rows<{
    account_id: string | null;
    currency: string;
    overdraft_limit: unknown;
    posted: unknown;
    held: unknown;
    status: string;
    existing: string | null;
  }>(
    tx,
    sql`SELECT l.*, ${existing} AS existing
        FROM (SELECT 1) one LEFT JOIN LATERAL (
          SELECT b.account_id, b.currency, b.overdraft_limit, b.posted, a.status,
                 (SELECT coalesce(sum(h.amount), 0) FROM ledger_holds h
                   WHERE h.account_id = b.account_id AND h.tenant_id = ${tenantId} AND h.status = 'pending'
                     AND h.expires_at > ${nowIso} AND h.id IS DISTINCT FROM ${exclude}::uuid) AS held
          FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id AND a.tenant_id = b.tenant_id
          WHERE b.tenant_id = ${tenantId} AND b.account_id IN (${list})
          ORDER BY b.account_id
          FOR UPDATE OF b) l ON true`,
  );
  const balances = new Map<string, LockedBalance>();
  for (const r of result) {
    if (!r.account_id) continue;
    balances.set(r.account_id, {
      accountId: r.account_id,
      currency: r.currency,
      overdraftLimit: bigOrNull(r.overdraft_limit),
      posted: big(r.posted),
      held: big(r.held),
      status: r.status,
    });
  }
  return { balances, existing: result[0]?.existing ?? null };
}

export async function transactionFingerprint(tx: Tx, tenantId: string, id: string): Promise<string | null> {
  const [row] = await rows<{ fingerprint: string }>(
    tx,
    sql`SELECT fingerprint FROM ledger_transactions WHERE tenant_id = ${tenantId} AND id = ${id}`,
  );
  return row?.fingerprint ?? null;
}

export async function reversalOf(tx: Tx, tenantId: string, id: string): Promise<string | null> {
  const [row] = await rows<{ id: string }>(
    tx,
    sql`SELECT id FROM ledger_transactions WHERE tenant_id = ${tenantId} AND reverses_id = ${id}`,
  );
  return row?.id ?? null;
}

export interface NewEntry {
  readonly id: string;
  readonly accountId: string;
  readonly direction: Direction;
  readonly amount: bigint;
  readonly currency: string;
  readonly balanceAfter: bigint;
  /** Signed change of the account's posted balance. */
  readonly delta: bigint;
}

export interface NewTransaction {
  readonly tenantId: string;
  readonly id: string;
  readonly fingerprint: string;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly reversesId: string | null;
  readonly effectiveAt: Date;
  readonly createdAt: Date;
  readonly entries: readonly NewEntry[];
}

/**
 * Writes a transaction, its entries and the balance changes in ONE statement (the rows are already
 * locked). Returns false, writing nothing, when a transaction with this id exists (a concurrent
 * duplicate that committed after our lock read).
 */
export async function insertTransaction(tx: Tx, t: NewTransaction): Promise<boolean> {
  const eff = t.effectiveAt.toISOString();
  const created = t.createdAt.toISOString();
  const deltas = sql.join(
    t.entries.map((e) => sql`(${e.accountId}::uuid, ${e.delta.toString()}::bigint)`),
    sql`, `,
  );
  const entries = sql.join(
    t.entries.map(
      (e) =>
        sql`(${e.id}::uuid, ${e.accountId}::uuid, ${e.direction}, ${e.amount.toString()}::bigint, ${e.currency}, ${e.balanceAfter.toString()}::bigint)`,
    ),
    sql`, `,
  );
  const [row] = await rows<{ inserted: number }>(
    tx,
    sql`WITH t AS (
          INSERT INTO ledger_transactions (tenant_id, id, fingerprint, description, metadata, reverses_id,
                                           effective_at, created_at)
          VALUES (${t.tenantId}, ${t.id}, ${t.fingerprint}, ${t.description}, ${JSON.stringify(t.metadata)}::jsonb,
                  ${t.reversesId}::uuid, ${eff}, ${created})
          ON CONFLICT (tenant_id, id) DO NOTHING
          RETURNING id),
        u AS (
          UPDATE ledger_balances b SET posted = b.posted + v.delta, updated_at = ${created}
          FROM (VALUES ${deltas}) AS v(account_id, delta)
          WHERE b.tenant_id = ${t.tenantId} AND b.account_id = v.account_id AND EXISTS (SELECT 1 FROM t)
          RETURNING b.account_id),
        e AS (
          INSERT INTO ledger_entries (id, tenant_id, transaction_id, account_id, direction, amount, currency,
                                      balance_after, effective_at, created_at)
          SELECT x.id, ${t.tenantId}, ${t.id}, x.account_id, x.direction, x.amount, x.currency, x.balance_after,
                 ${eff}, ${created}
          FROM (VALUES ${entries}) AS x(id, account_id, direction, amount, currency, balance_after)
          WHERE EXISTS (SELECT 1 FROM t)
          RETURNING id)
        SELECT (SELECT count(*) FROM t)::int AS inserted`,
  );
  return (row?.inserted ?? 0) > 0;
}

interface TransactionRow {
  id: string;
  tenant_id: string;
  description: string | null;
  metadata: Record<string, string> | null;
  reverses_id: string | null;
  reversed_by_id: string | null;
  effective_at: unknown;
  created_at: unknown;
}

export interface StoredTransaction {
  readonly id: string;
  readonly tenantId: string;
  readonly description: string | null;
  readonly metadata: Record<string, string>;
  readonly reversesId: string | null;
  readonly reversedById: string | null;
  readonly effectiveAt: Date;
  readonly createdAt: Date;
  readonly entries: Entry[];
}

export async function transactionById(
  tx: Tx,
  tenantId: string,
  id: string,
): Promise<StoredTransaction | null> {
  const [row] = await rows<TransactionRow>(
    tx,
    sql`SELECT t.id, t.tenant_id, t.description, t.metadata, t.reverses_id, t.effective_at, t.created_at,
               (SELECT r.id FROM ledger_transactions r WHERE r.tenant_id = t.tenant_id AND r.reverses_id = t.id)
                 AS reversed_by_id
        FROM ledger_transactions t WHERE t.tenant_id = ${tenantId} AND t.id = ${id}`,
  );
  if (!row) return null;
  const entries = await selectEntries(
    tx,
    sql`tenant_id = ${tenantId} AND transaction_id = ${id}`,
    sql`ORDER BY id`,
  );
  return {
    id: row.id,
    tenantId: row.tenant_id,
    description: row.description,
    metadata: row.metadata ?? {},
    reversesId: row.reverses_id,
    reversedById: row.reversed_by_id,
    effectiveAt: date(row.effective_at),
    createdAt: date(row.created_at),
    entries,
  };
}

interface EntryRow {
  id: string;
  transaction_id: string;
  account_id: string;
  direction: string;
  amount: unknown;
  currency: string;
  balance_after: unknown;
  effective_at: unknown;
  created_at: unknown;
}

async function selectEntries(tx: Tx, where: SQL, tail: SQL): Promise<Entry[]> {
  const result = await rows<EntryRow>(
    tx,
    sql`SELECT id, transaction_id, account_id, direction, amount, currency, balance_after, effective_at, created_at
        FROM ledger_entries WHERE ${where} ${tail}`,
  );
  return result.map((r) => ({
    id: r.id,
    transactionId: r.transaction_id,
    accountId: r.account_id,
    direction: r.direction as Direction,
    amount: big(r.amount),
    currency: r.currency,
    balanceAfter: big(r.balance_after),
    effectiveAt: date(r.effective_at),
    createdAt: date(r.created_at),
  }));
}

export function accountEntries(
  tx: Tx,
  tenantId: string,
  accountId: string,
  page: { after?: string | undefined; limit: number },
): Promise<Entry[]> {
  const after = page.after ? sql` AND id > ${page.after}` : sql``;
  return selectEntries(
    tx,
    sql`tenant_id = ${tenantId} AND account_id = ${accountId}${after}`,
    sql`ORDER BY id LIMIT ${page.limit}`,
  );
}

/** Posted balance now (from the balance row) and live holds. */
export async function currentBalance(
  tx: Tx,
  tenantId: string,
  accountId: string,
  now: Date,
): Promise<{ currency: string; posted: bigint; held: bigint } | null> {
  const [row] = await rows<{ currency: string; posted: unknown; held: unknown }>(
    tx,
    sql`SELECT b.currency, b.posted,
               (SELECT coalesce(sum(h.amount), 0) FROM ledger_holds h
                 WHERE h.tenant_id = b.tenant_id AND h.account_id = b.account_id AND h.status = 'pending'
                   AND h.expires_at > ${now.toISOString()}) AS held
        FROM ledger_balances b WHERE b.tenant_id = ${tenantId} AND b.account_id = ${accountId}`,
  );
  return row ? { currency: row.currency, posted: big(row.posted), held: big(row.held) } : null;
}

/**
 * Balance at an instant, from the entries themselves: entries effective at or before `at`; holds that
 * were placed by then and neither expired nor resolved (posted/voided) by then.
 */
export async function balanceAt(
  tx: Tx,
  tenantId: string,
  accountId: string,
  at: Date,
): Promise<{ posted: bigint; held: bigint }> {
  const iso = at.toISOString();
  const [row] = await rows<{ posted: unknown; held: unknown }>(
    tx,
    sql`SELECT
          (SELECT coalesce(sum(CASE WHEN e.direction = 'credit' THEN e.amount ELSE -e.amount END), 0)
             FROM ledger_entries e
            WHERE e.tenant_id = ${tenantId} AND e.account_id = ${accountId} AND e.effective_at <= ${iso}) AS posted,
          (SELECT coalesce(sum(h.amount), 0) FROM ledger_holds h
            WHERE h.tenant_id = ${tenantId} AND h.account_id = ${accountId} AND h.created_at <= ${iso}
              AND h.expires_at > ${iso} AND (h.status = 'pending' OR h.updated_at > ${iso})) AS held`,
  );
  return { posted: big(row?.posted ?? 0), held: big(row?.held ?? 0) };
}

interface HoldRow {
  tenant_id: string;
  id: string;
  fingerprint: string;
  account_id: string;
  counterparty_account_id: string;
  currency: string;
  amount: unknown;
  status: string;
  expires_at: unknown;
  transaction_id: string | null;
  description: string | null;
  created_at: unknown;
}

function toHold(r: HoldRow): Hold {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    accountId: r.account_id,
    counterpartyAccountId: r.counterparty_account_id,
    currency: r.currency,
    amount: big(r.amount),
    status: r.status as HoldStatus,
    expiresAt: date(r.expires_at),
    transactionId: r.transaction_id,
    description: r.description,
    createdAt: date(r.created_at),
  };
}

/** Inserts a hold; false when one with this id already exists. */
export async function insertHold(tx: Tx, h: Hold, fingerprint: string): Promise<boolean> {
  const created = h.createdAt.toISOString();
  const result = await rows<{ id: string }>(
    tx,
    sql`INSERT INTO ledger_holds (tenant_id, id, fingerprint, account_id, counterparty_account_id, currency, amount,
                                  status, expires_at, description, created_at, updated_at)
        VALUES (${h.tenantId}, ${h.id}, ${fingerprint}, ${h.accountId}, ${h.counterpartyAccountId}, ${h.currency},
                ${h.amount.toString()}::bigint, 'pending', ${h.expiresAt.toISOString()}, ${h.description},
                ${created}, ${created})
        ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id`,
  );
  return result.length > 0;
}

export async function holdById(
  tx: Tx,
  tenantId: string,
  id: string,
  lock = false,
): Promise<(Hold & { fingerprint: string }) | null> {
  const [row] = await rows<HoldRow>(
    tx,
    sql`SELECT * FROM ledger_holds WHERE tenant_id = ${tenantId} AND id = ${id}${lock ? sql` FOR UPDATE` : sql``}`,
  );
  return row ? { ...toHold(row), fingerprint: row.fingerprint } : null;
}

export async function resolveHold(
  tx: Tx,
  tenantId: string,
  id: string,
  status: 'posted' | 'voided',
  transactionId: string | null,
  now: Date,
): Promise<void> {
  await tx.execute(
    sql`UPDATE ledger_holds SET status = ${status}, transaction_id = ${transactionId}::uuid,
               updated_at = ${now.toISOString()}
        WHERE tenant_id = ${tenantId} AND id = ${id} AND status = 'pending'`,
  );
}
