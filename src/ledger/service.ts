/**
 * The ledger's domain logic (no Fastify). Every write follows the same order, so a LedgerError
 * always leaves the caller's transaction untouched:
 *   1. validate the input (pure);
 *   2. lock the balance rows of the accounts involved, in account-id order (one statement);
 *   3. check accounts, currencies, balance per currency and overdraft against the locked rows;
 *   4. write transaction, entries and balance changes in one statement.
 * Balances can therefore never lose an update (the row lock serialises writers of an account) and
 * the stored balance always equals the sum of the account's entries.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isUuid, uuidv7 } from '../platform/ids.ts';
import { isCurrency } from './currencies.ts';
import { LedgerError } from './errors.ts';
import * as store from './store.ts';
import {
  ACCOUNT_KINDS,
  type Account,
  type Balance,
  type Direction,
  type Entry,
  type Hold,
  type LedgerTransaction,
  type OpenAccountInput,
  type PlaceHoldInput,
  type PostInput,
  type Posting,
  SYSTEM_ACCOUNT_KINDS,
  type SystemAccountKind,
} from './types.ts';

export interface LedgerServiceDeps {
  readonly db: Database;
  readonly now?: () => number;
}

/** Limits of what a transaction may carry (bad input is refused, never truncated). */
export const LEDGER_LIMITS = {
  maxPostings: 100,
  maxDescription: 500,
  maxName: 200,
  maxCode: 100,
  maxMetadataKeys: 20,
  maxMetadataValue: 500,
  /** Largest amount or balance magnitude: PostgreSQL bigint. */
  maxAmount: 9_223_372_036_854_775_807n,
} as const;

const METADATA_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;
const CODE_RE = /^[A-Za-z0-9_.:-]{1,100}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

interface PostOptions {
  readonly reversesId?: string | undefined;
  readonly excludeHoldId?: string | undefined;
}

const fingerprintOf = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');

function checkText(value: string | undefined, max: number, what: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length > max || CONTROL.test(value))
    throw new LedgerError(
      'LEDGER_POSTINGS_INVALID',
      `${what}: at most ${max} characters, no control characters`,
    );
  return value;
}

function checkAmount(amount: unknown): bigint {
  if (typeof amount !== 'bigint' || amount <= 0n || amount > LEDGER_LIMITS.maxAmount)
    throw new LedgerError('LEDGER_AMOUNT_INVALID');
  return amount;
}

function checkMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (metadata === undefined) return {};
  const keys = Object.keys(metadata);
  if (keys.length > LEDGER_LIMITS.maxMetadataKeys)
    throw new LedgerError(
      'LEDGER_POSTINGS_INVALID',
      `metadata: at most ${LEDGER_LIMITS.maxMetadataKeys} keys`,
    );
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = metadata[k];
    if (!METADATA_KEY.test(k) || typeof v !== 'string' || v.length > LEDGER_LIMITS.maxMetadataValue)
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'metadata: keys [A-Za-z0-9_.:-]{1,64}, string values');
    out[k] = v;
  }
  return out;
}

export class LedgerService {
  readonly db: Database;
  private readonly clock: () => number;
  constructor(deps: LedgerServiceDeps) {
    this.db = deps.db;
    this.clock = deps.now ?? Date.now;
  }

  private now(): Date {
    return new Date(this.clock());
  }

  // ---- accounts ----

  async openAccount(tx: Tx, tenantId: string, input: OpenAccountInput): Promise<Account> {
    if (!(ACCOUNT_KINDS as readonly string[]).includes(input.kind))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'unknown account kind');
    if (!isCurrency(input.currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
    const name = checkText(input.name, LEDGER_LIMITS.maxName, 'name');
    if (!name) throw new LedgerError('LEDGER_POSTINGS_INVALID', 'name: 1 to 200 characters');
    if (input.code !== undefined && !CODE_RE.test(input.code))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'code: [A-Za-z0-9_.:-]{1,100}');
    const limit = input.overdraftLimit === undefined ? 0n : input.overdraftLimit;
    if (limit !== null && (typeof limit !== 'bigint' || limit < 0n || limit > LEDGER_LIMITS.maxAmount))
      throw new LedgerError('LEDGER_AMOUNT_INVALID', 'overdraftLimit: a non-negative integer of minor units');
    for (const id of [input.customerId, input.partnerId, input.ownerUserId])
      if (id !== undefined && !isUuid(id)) throw new LedgerError('LEDGER_POSTINGS_INVALID', 'ids are UUIDs');
    const account: Account = {
      id: uuidv7(this.clock()),
      tenantId,
      kind: input.kind,
      currency: input.currency,
      name,
      code: input.code ?? null,
      customerId: input.customerId ?? null,
      partnerId: input.partnerId ?? null,
      ownerUserId: input.ownerUserId ?? null,
      overdraftLimit: limit,
      status: 'open',
      createdAt: this.now(),
    };
    const inserted = await store.insertAccount(tx, account);
    if (!inserted) throw new LedgerError('LEDGER_ACCOUNT_CODE_TAKEN');
    return inserted;
  }

  /** The tenant's system account of this kind and currency, created on first use (unlimited overdraft). */
  async systemAccount(tx: Tx, tenantId: string, kind: SystemAccountKind, currency: string): Promise<Account> {
    if (!(SYSTEM_ACCOUNT_KINDS as readonly string[]).includes(kind))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'unknown system account kind');
    if (!isCurrency(currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
    const code = `system:${kind}:${currency}`;
    const found = await store.accountByCode(tx, tenantId, code);
    if (found) return found;
    // ON CONFLICT DO NOTHING: a concurrent creator wins, and we read its row after it commits.
    const created = await store.insertAccount(tx, {
      id: uuidv7(this.clock()),
      tenantId,
      kind,
      currency,
      name: `${kind.replaceAll('_', ' ')} ${currency}`,
      code,
      customerId: null,
      partnerId: null,
      ownerUserId: null,
      overdraftLimit: null,
      status: 'open',
      createdAt: this.now(),
    });
    if (created) return created;
    const again = await store.accountByCode(tx, tenantId, code);
    if (!again) throw new Error('system account vanished');
    return again;
  }

  getAccount(tx: Tx, tenantId: string, accountId: string): Promise<Account | null> {
    if (!isUuid(accountId)) return Promise.resolve(null);
    return store.accountById(tx, tenantId, accountId);
  }

  // ---- transactions ----

  /**
   * Posts a balanced transaction. `input.id` is the caller's: the same id again returns the existing
   * transaction when the input is identical (postings in the same order, description, metadata, and
   * effectiveAt if given), and LEDGER_TRANSACTION_ID_CONFLICT otherwise.
   */
  post(tx: Tx, tenantId: string, input: PostInput): Promise<LedgerTransaction> {
    return this.postInternal(tx, tenantId, input, {});
  }

  private async postInternal(
    tx: Tx,
    tenantId: string,
    input: PostInput,
    opts: PostOptions,
  ): Promise<LedgerTransaction> {
    // 1. Input.
    if (typeof input.id !== 'string' || !isUuid(input.id))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'id: a UUID');
    const id = input.id.toLowerCase();
    const postings = input.postings;
    if (!Array.isArray(postings) || postings.length < 2 || postings.length > LEDGER_LIMITS.maxPostings)
      throw new LedgerError('LEDGER_POSTINGS_INVALID');
    const seen = new Set<string>();
    const normalised = postings.map((p) => {
      if (typeof p.accountId !== 'string' || !isUuid(p.accountId))
        throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
      if (p.direction !== 'debit' && p.direction !== 'credit')
        throw new LedgerError('LEDGER_POSTINGS_INVALID');
      const accountId = p.accountId.toLowerCase();
      if (seen.has(accountId))
        throw new LedgerError('LEDGER_POSTINGS_INVALID', 'an account may appear once per transaction');
      seen.add(accountId);
      return { accountId, amount: checkAmount(p.amount), direction: p.direction as Direction };
    });
    const description = checkText(input.description, LEDGER_LIMITS.maxDescription, 'description');
    const metadata = checkMetadata(input.metadata);
    const now = this.now();
    if (input.effectiveAt !== undefined) {
      if (!(input.effectiveAt instanceof Date) || Number.isNaN(input.effectiveAt.getTime()))
        throw new LedgerError('LEDGER_EFFECTIVE_AT_INVALID');
      if (input.effectiveAt.getTime() > now.getTime()) throw new LedgerError('LEDGER_EFFECTIVE_AT_INVALID');
    }
    const fingerprint = fingerprintOf({
      postings: normalised.map((p) => [p.accountId, p.direction, p.amount.toString()]),
      description,
      metadata,
      effectiveAt: input.effectiveAt?.toISOString() ?? null,
      reverses: opts.reversesId ?? null,
    });

    // 2. Lock.
    const locked = await store.lockBalances(
      tx,
      tenantId,
      normalised.map((p) => p.accountId),
      now,
      { existingId: id, existingIn: 'transactions', excludeHoldId: opts.excludeHoldId },
    );
    if (locked.existing !== null)
      return this.existingTransaction(tx, tenantId, id, fingerprint, locked.existing);

    // 3. Checks; a refusal first looks again for a duplicate that committed while we waited for the lock.
    try {
      if (opts.reversesId) {
        const reversal = await store.reversalOf(tx, tenantId, opts.reversesId);
        if (reversal !== null) throw new LedgerError('LEDGER_ALREADY_REVERSED');
      }
      const entries = this.checkPostings(normalised, locked.balances);
      // 4. Write.
      const createdAt = now;
      const effectiveAt = input.effectiveAt ?? now;
      const inserted = await store.insertTransaction(tx, {
        tenantId,
        id,
        fingerprint,
        description,
        metadata,
        reversesId: opts.reversesId ?? null,
        effectiveAt,
        createdAt,
        entries,
      });
      if (!inserted) {
        const fp = await store.transactionFingerprint(tx, tenantId, id);
        return this.existingTransaction(tx, tenantId, id, fingerprint, fp);
      }
      return {
        id,
        tenantId,
        postings: entries.map((e) => ({
          accountId: e.accountId,
          amount: e.amount,
          direction: e.direction,
          currency: e.currency,
        })),
        description,
        metadata,
        effectiveAt,
        createdAt,
        reversesId: opts.reversesId ?? null,
        reversedById: null,
      };
    } catch (err) {
      if (err instanceof LedgerError && err.code !== 'LEDGER_TRANSACTION_ID_CONFLICT') {
        const fp = await store.transactionFingerprint(tx, tenantId, id);
        if (fp !== null) return this.existingTransaction(tx, tenantId, id, fingerprint, fp);
      }
      throw err;
    }
  }

  private checkPostings(
    postings: readonly { accountId: string; amount: bigint; direction: Direction }[],
    balances: ReadonlyMap<string, store.LockedBalance>,
  ): store.NewEntry[] {
    const net = new Map<string, bigint>();
    const entries = postings.map((p) => {
      const b = balances.get(p.accountId);
      if (!b) throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
      if (b.status !== 'open') throw new LedgerError('LEDGER_ACCOUNT_CLOSED');
      const delta = p.direction === 'credit' ? p.amount : -p.amount;
      net.set(b.currency, (net.get(b.currency) ?? 0n) + delta);
      const after = b.posted + delta;
      if (after > LEDGER_LIMITS.maxAmount || after < -LEDGER_LIMITS.maxAmount)
        throw new LedgerError('LEDGER_AMOUNT_INVALID', 'the balance would leave the representable range');
      return { ...p, currency: b.currency, delta, balanceAfter: after, id: '' };
    });
    for (const sum of net.values()) if (sum !== 0n) throw new LedgerError('LEDGER_UNBALANCED');
    for (const e of entries) {
      const b = balances.get(e.accountId)!;
      // Only a posting that lowers the balance can break the overdraft rule; money may always come in.
      if (e.delta < 0n && b.overdraftLimit !== null && e.balanceAfter - b.held < -b.overdraftLimit)
        throw new LedgerError('LEDGER_INSUFFICIENT_FUNDS');
    }
    const at = this.clock();
    return entries.map((e) => ({ ...e, id: uuidv7(at) }));
  }

  private async existingTransaction(
    tx: Tx,
    tenantId: string,
    id: string,
    fingerprint: string,
    existing: string | null,
  ): Promise<LedgerTransaction> {
    if (existing !== fingerprint) throw new LedgerError('LEDGER_TRANSACTION_ID_CONFLICT');
    const t = await this.getTransaction(tx, tenantId, id);
    if (!t) throw new Error('ledger transaction vanished');
    return t;
  }

  /** Checks a posting's currency against its account's, for callers that name one (the /v1 API does). */
  async assertCurrency(tx: Tx, tenantId: string, accountId: string, currency: string): Promise<Account> {
    if (!isCurrency(currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
    const account = await this.getAccount(tx, tenantId, accountId);
    if (!account) throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
    if (account.currency !== currency) throw new LedgerError('LEDGER_CURRENCY_MISMATCH');
    return account;
  }

  async getTransaction(tx: Tx, tenantId: string, id: string): Promise<LedgerTransaction | null> {
    if (!isUuid(id)) return null;
    const t = await store.transactionById(tx, tenantId, id.toLowerCase());
    if (!t) return null;
    const postings: Posting[] = t.entries.map((e) => ({
      accountId: e.accountId,
      amount: e.amount,
      direction: e.direction,
      currency: e.currency,
    }));
    return {
      id: t.id,
      tenantId: t.tenantId,
      postings,
      description: t.description,
      metadata: t.metadata,
      effectiveAt: t.effectiveAt,
      createdAt: t.createdAt,
      reversesId: t.reversesId,
      reversedById: t.reversedById,
    };
  }

  /**
   * Reverses a transaction with a compensating one (every posting mirrored), at most once. The
   * overdraft rule applies to the reversal too: a top-up already spent cannot be reversed.
   * The same reversalId again returns the same reversal.
   */
  async reverse(
    tx: Tx,
    tenantId: string,
    transactionId: string,
    reversalId: string,
  ): Promise<LedgerTransaction> {
    const original = await this.getTransaction(tx, tenantId, transactionId);
    if (!original) throw new LedgerError('LEDGER_TRANSACTION_NOT_FOUND');
    if (original.reversesId !== null) throw new LedgerError('LEDGER_NOT_REVERSIBLE');
    if (original.reversedById !== null && original.reversedById !== reversalId.toLowerCase())
      throw new LedgerError('LEDGER_ALREADY_REVERSED');
    return this.postInternal(
      tx,
      tenantId,
      {
        id: reversalId,
        postings: original.postings.map((p) => ({
          accountId: p.accountId,
          amount: p.amount,
          direction: p.direction === 'debit' ? 'credit' : 'debit',
        })),
        description: `Reversal of ${original.id}`,
        metadata: {},
      },
      { reversesId: original.id },
    );
  }

  // ---- holds ----

  async placeHold(tx: Tx, tenantId: string, input: PlaceHoldInput): Promise<Hold> {
    if (typeof input.id !== 'string' || !isUuid(input.id))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'id: a UUID');
    const id = input.id.toLowerCase();
    if (!isUuid(input.accountId) || !isUuid(input.counterpartyAccountId))
      throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
    const accountId = input.accountId.toLowerCase();
    const counterpartyAccountId = input.counterpartyAccountId.toLowerCase();
    if (accountId === counterpartyAccountId)
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'a hold moves money between two different accounts');
    const amount = checkAmount(input.amount);
    const description = checkText(input.description, LEDGER_LIMITS.maxDescription, 'description');
    const now = this.now();
    if (!(input.expiresAt instanceof Date) || !(input.expiresAt.getTime() > now.getTime()))
      throw new LedgerError('LEDGER_POSTINGS_INVALID', 'expiresAt: a future instant');
    const fingerprint = fingerprintOf({
      accountId,
      counterpartyAccountId,
      amount: amount.toString(),
      expiresAt: input.expiresAt.toISOString(),
      description,
    });
    const locked = await store.lockBalances(tx, tenantId, [accountId, counterpartyAccountId], now, {
      existingId: id,
      existingIn: 'holds',
    });
    const existing = async (): Promise<Hold> => {
      const h = await store.holdById(tx, tenantId, id);
      if (!h || h.fingerprint !== fingerprint) throw new LedgerError('LEDGER_TRANSACTION_ID_CONFLICT');
      const { fingerprint: _, ...hold } = h;
      return hold;
    };
    if (locked.existing !== null) return existing();
    const a = locked.balances.get(accountId);
    const c = locked.balances.get(counterpartyAccountId);
    if (!a || !c) throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
    if (a.status !== 'open' || c.status !== 'open') throw new LedgerError('LEDGER_ACCOUNT_CLOSED');
    if (a.currency !== c.currency) throw new LedgerError('LEDGER_CURRENCY_MISMATCH');
    if (a.overdraftLimit !== null && a.posted - a.held - amount < -a.overdraftLimit)
      throw new LedgerError('LEDGER_INSUFFICIENT_FUNDS');
    const hold: Hold = {
      id,
      tenantId,
      accountId,
      counterpartyAccountId,
      currency: a.currency,
      amount,
      status: 'pending',
      expiresAt: input.expiresAt,
      transactionId: null,
      description,
      createdAt: now,
    };
    if (!(await store.insertHold(tx, hold, fingerprint))) return existing();
    return hold;
  }

  /**
   * Turns a pending, unexpired hold into a transaction (debit the held account, credit the
   * counterparty) for `amount` (default: all of it; never more). The rest of the hold is released.
   * Calling it again with the same transactionId returns that transaction.
   */
  async postHold(
    tx: Tx,
    tenantId: string,
    holdId: string,
    input: { transactionId: string; amount?: bigint | undefined; description?: string | undefined },
  ): Promise<LedgerTransaction> {
    if (!isUuid(holdId)) throw new LedgerError('LEDGER_HOLD_NOT_FOUND');
    const hold = await store.holdById(tx, tenantId, holdId.toLowerCase(), true);
    if (!hold) throw new LedgerError('LEDGER_HOLD_NOT_FOUND');
    if (hold.status === 'posted' && hold.transactionId === input.transactionId.toLowerCase()) {
      const t = await this.getTransaction(tx, tenantId, hold.transactionId);
      if (t) return t;
    }
    if (hold.status !== 'pending') throw new LedgerError('LEDGER_HOLD_NOT_PENDING');
    if (hold.expiresAt.getTime() <= this.clock()) throw new LedgerError('LEDGER_HOLD_EXPIRED');
    const amount = input.amount === undefined ? hold.amount : checkAmount(input.amount);
    if (amount > hold.amount) throw new LedgerError('LEDGER_HOLD_AMOUNT_EXCEEDED');
    const t = await this.postInternal(
      tx,
      tenantId,
      {
        id: input.transactionId,
        postings: [
          { accountId: hold.accountId, amount, direction: 'debit' },
          { accountId: hold.counterpartyAccountId, amount, direction: 'credit' },
        ],
        description: input.description ?? hold.description ?? undefined,
        metadata: { holdId: hold.id },
      },
      { excludeHoldId: hold.id },
    );
    await store.resolveHold(tx, tenantId, hold.id, 'posted', t.id, this.now());
    return t;
  }

  /** Releases a pending hold (an expired one too). Voiding a voided hold returns it unchanged. */
  async voidHold(tx: Tx, tenantId: string, holdId: string): Promise<Hold> {
    if (!isUuid(holdId)) throw new LedgerError('LEDGER_HOLD_NOT_FOUND');
    const hold = await store.holdById(tx, tenantId, holdId.toLowerCase(), true);
    if (!hold) throw new LedgerError('LEDGER_HOLD_NOT_FOUND');
    const { fingerprint: _, ...rest } = hold;
    if (hold.status === 'voided') return rest;
    if (hold.status !== 'pending') throw new LedgerError('LEDGER_HOLD_NOT_PENDING');
    await store.resolveHold(tx, tenantId, hold.id, 'voided', null, this.now());
    return { ...rest, status: 'voided' };
  }

  async getHold(tx: Tx, tenantId: string, holdId: string): Promise<Hold | null> {
    if (!isUuid(holdId)) return null;
    const h = await store.holdById(tx, tenantId, holdId.toLowerCase());
    if (!h) return null;
    const { fingerprint: _, ...hold } = h;
    return hold;
  }

  // ---- balances and entries ----

  /** Balance now, or at an instant (`at`: entries effective up to it, holds live at it). */
  async balance(tx: Tx, tenantId: string, accountId: string, at?: Date): Promise<Balance> {
    if (!isUuid(accountId)) throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
    const id = accountId.toLowerCase();
    const now = this.now();
    const current = await store.currentBalance(tx, tenantId, id, now);
    if (!current) throw new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');
    const { posted, held } =
      at === undefined || at.getTime() >= now.getTime()
        ? current
        : await store.balanceAt(tx, tenantId, id, at);
    return { accountId: id, currency: current.currency, posted, pending: held, available: posted - held };
  }

  entries(
    tx: Tx,
    tenantId: string,
    accountId: string,
    page: { after?: string | undefined; limit: number },
  ): Promise<Entry[]> {
    return store.accountEntries(tx, tenantId, accountId.toLowerCase(), page);
  }
}
