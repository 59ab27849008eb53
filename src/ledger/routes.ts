/**
 * `/v1` ledger routes: customer accounts (wallets), balances, entries, transfers, transactions and
 * reversals. Amounts in JSON are decimal-integer strings of minor units ("1250" = 12.50 EUR), so no
 * amount passes through a float; anything else (zero, negative, fractional, too long) is
 * LEDGER_AMOUNT_INVALID. Object-level checks: a partner reaches only its customers' accounts; an
 * account it may not reach answers exactly like a missing one.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { readableView, rejectForbiddenFields } from '../access/fields.ts';
import { authorize, type Caller, callerOf } from '../access/guard.ts';
import { appendAudit, appendAuditAsync } from '../audit/index.ts';
import { IdempotencyKeyHeaders, idempotentTransaction } from '../gateway/idempotency/index.ts';
import type { Tx } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { uuidv7 } from '../platform/ids.ts';
import { isCurrency } from './currencies.ts';
import { LedgerError } from './errors.ts';
import type { LedgerService } from './service.ts';
import type { Account, Balance, Entry, Hold, LedgerTransaction } from './types.ts';

/** Who a customer is, once verified: the partner that onboarded them and their user id, if any. */
export type AssertCustomerVerified = (
  tx: Tx,
  tenantId: string,
  customerId: string,
) => Promise<{ partnerId: string; ownerUserId?: string | undefined }>;

export interface LedgerRoutesOptions {
  readonly ledger: LedgerService;
  /**
   * Account opening requires an approved identity verification of the customer. Wire
   * `KycService.assertVerified` here; until then (unset), opening a customer account is refused
   * with LEDGER_CUSTOMER_NOT_VERIFIED — fail closed.
   */
  readonly assertCustomerVerified?: AssertCustomerVerified | undefined;
  /**
   * Runs on every read of an account's data (account, balance, entries) after the object-level
   * check, in the same transaction: the privacy module's account-information consent check
   * (PSD2-style; `PrivacyService.accountReadCheck`). Throws to refuse.
   */
  readonly accountReadCheck?: AccountReadCheck | undefined;
}

/** A port for checks on reading account data (consent); throws its own error to refuse. */
export type AccountReadCheck = (tx: Tx, caller: Caller, account: Account) => Promise<void>;

const Amount = Type.String({ maxLength: 40, description: 'Integer minor units as a decimal string, > 0' });
const Currency = Type.String({ maxLength: 8, description: 'ISO 4217 code, e.g. EUR' });
const Money = Type.String({ description: 'Integer minor units as a decimal string' });
const Description = Type.String({ maxLength: 500 });
const Metadata = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
  Type.String({ maxLength: 500 }),
  {
    maxProperties: 20,
  },
);

const AccountJson = Type.Object(
  {
    id: Uuid,
    customerId: Type.Union([Uuid, Type.Null()]),
    kind: Type.String(),
    currency: Type.String(),
    name: Type.String(),
    status: Type.String(),
    overdraftLimit: Type.Optional(Type.Union([Money, Type.Null()])),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
const BalanceJson = Type.Object(
  {
    accountId: Uuid,
    currency: Type.String(),
    posted: Money,
    pending: Money,
    available: Money,
    at: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
const PostingJson = Type.Object(
  {
    accountId: Uuid,
    direction: Type.Union([Type.Literal('debit'), Type.Literal('credit')]),
    amount: Money,
    currency: Type.String(),
  },
  { additionalProperties: false },
);
const TransactionJson = Type.Object(
  {
    id: Uuid,
    postings: Type.Array(PostingJson),
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.String()),
    effectiveAt: Timestamp,
    createdAt: Timestamp,
    reversesId: Type.Union([Uuid, Type.Null()]),
    reversedById: Type.Union([Uuid, Type.Null()]),
  },
  { additionalProperties: false },
);
const EntryJson = Type.Object(
  {
    id: Uuid,
    transactionId: Uuid,
    direction: Type.Union([Type.Literal('debit'), Type.Literal('credit')]),
    amount: Money,
    currency: Type.String(),
    balanceAfter: Money,
    effectiveAt: Timestamp,
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const HoldJson = Type.Object(
  {
    id: Uuid,
    accountId: Uuid,
    counterpartyAccountId: Uuid,
    amount: Money,
    currency: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('posted'), Type.Literal('voided')]),
    expiresAt: Timestamp,
    transactionId: Type.Union([Uuid, Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
const holdJson = (h: Hold) => ({
  id: h.id,
  accountId: h.accountId,
  counterpartyAccountId: h.counterpartyAccountId,
  amount: h.amount.toString(),
  currency: h.currency,
  status: h.status,
  expiresAt: h.expiresAt.toISOString(),
  transactionId: h.transactionId,
  description: h.description,
  createdAt: h.createdAt.toISOString(),
});

const AMOUNT_RE = /^[1-9][0-9]{0,18}$/;
function parseAmount(s: string): bigint {
  if (!AMOUNT_RE.test(s)) throw new LedgerError('LEDGER_AMOUNT_INVALID');
  const v = BigInt(s);
  if (v > 9_223_372_036_854_775_807n) throw new LedgerError('LEDGER_AMOUNT_INVALID');
  return v;
}

function accountJson(a: Account, caller: Caller) {
  const readable = new Set(readableView(caller.roles, 'Account'));
  return {
    id: a.id,
    customerId: a.customerId,
    kind: a.kind,
    currency: a.currency,
    name: a.name,
    status: a.status,
    ...(readable.has('overdraftLimit') ? { overdraftLimit: a.overdraftLimit?.toString() ?? null } : {}),
    createdAt: a.createdAt.toISOString(),
  };
}

const balanceJson = (b: Balance, at?: Date) => ({
  accountId: b.accountId,
  currency: b.currency,
  posted: b.posted.toString(),
  pending: b.pending.toString(),
  available: b.available.toString(),
  ...(at ? { at: at.toISOString() } : {}),
});

const transactionJson = (t: LedgerTransaction) => ({
  id: t.id,
  postings: t.postings.map((p) => ({ ...p, amount: p.amount.toString() })),
  description: t.description,
  metadata: { ...t.metadata },
  effectiveAt: t.effectiveAt.toISOString(),
  createdAt: t.createdAt.toISOString(),
  reversesId: t.reversesId,
  reversedById: t.reversedById,
});

const entryJson = (e: Entry) => ({
  id: e.id,
  transactionId: e.transactionId,
  direction: e.direction,
  amount: e.amount.toString(),
  currency: e.currency,
  balanceAfter: e.balanceAfter.toString(),
  effectiveAt: e.effectiveAt.toISOString(),
});

export const ledgerRoutes: FastifyPluginAsyncTypebox<LedgerRoutesOptions> = async (app, opts) => {
  const { ledger } = opts;
  const db = ledger.db;
  const notFound = () => new LedgerError('LEDGER_ACCOUNT_NOT_FOUND');

  /** Loads an account the caller may act on (`read` or `update`), or answers 404. */
  async function reachable(
    tx: Tx,
    caller: Caller,
    id: string,
    action: 'read' | 'update',
    money?: { amount: bigint; currency: string },
  ): Promise<Account> {
    const account = await ledger.getAccount(tx, caller.tenantId, id);
    if (!account) throw notFound();
    authorize(
      app.authz,
      caller,
      action,
      {
        type: 'Account',
        id: account.id,
        tenant: account.tenantId,
        ...(account.partnerId ? { partner: account.partnerId } : {}),
        ...(account.ownerUserId ? { owner: account.ownerUserId } : {}),
      },
      { notFound, ...(money ? { amount: money.amount, currency: money.currency } : {}) },
    );
    if (action === 'read' && opts.accountReadCheck) await opts.accountReadCheck(tx, caller, account);
    return account;
  }

  app.post(
    '/accounts',
    {
      config: { scopes: ['accounts:write'] },
      schema: {
        tags: ['ledger'],
        summary: 'Open a customer account (wallet); the customer needs an approved identity verification',
        security: [{ dpop: [] }],
        body: Type.Object(
          {
            customerId: Uuid,
            currency: Currency,
            name: Type.String({ minLength: 1, maxLength: 200 }),
            kind: Type.Optional(Type.Literal('wallet')),
          },
          { additionalProperties: false },
        ),
        response: { 201: AccountJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Account', 'create');
      if (!isCurrency(req.body.currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
      const account = await db.withTenant(caller.tenantId, async (tx) => {
        if (!opts.assertCustomerVerified) throw new LedgerError('LEDGER_CUSTOMER_NOT_VERIFIED');
        const customer = await opts.assertCustomerVerified(tx, caller.tenantId, req.body.customerId);
        authorize(
          app.authz,
          caller,
          'create',
          {
            type: 'Account',
            id: '*',
            tenant: caller.tenantId,
            partner: customer.partnerId,
            ...(customer.ownerUserId ? { owner: customer.ownerUserId } : {}),
          },
          { notFound: () => new LedgerError('LEDGER_CUSTOMER_NOT_VERIFIED') },
        );
        const a = await ledger.openAccount(tx, caller.tenantId, {
          kind: 'wallet',
          currency: req.body.currency,
          name: req.body.name,
          customerId: req.body.customerId,
          partnerId: customer.partnerId,
          ownerUserId: customer.ownerUserId,
          overdraftLimit: 0n,
        });
        await enqueue(tx, {
          topic: 'ledger.account.opened',
          tenantId: caller.tenantId,
          payload: {
            partnerId: a.partnerId,
            accountId: a.id,
            customerId: a.customerId,
            currency: a.currency,
          },
        });
        await appendAudit(tx, {
          actor: caller.actor,
          action: 'ledger.account.opened',
          object: { type: 'account', id: a.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
          details: { currency: a.currency },
        });
        return a;
      });
      return reply.code(201).send(accountJson(account, caller));
    },
  );

  app.get(
    '/accounts/:id',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        tags: ['ledger'],
        summary: 'An account',
        security: [{ dpop: [] }],
        params: IdParams,
        response: { 200: AccountJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const a = await db.withTenant(caller.tenantId, (tx) => reachable(tx, caller, req.params.id, 'read'));
      return accountJson(a, caller);
    },
  );

  app.get(
    '/accounts/:id/balance',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        tags: ['ledger'],
        summary: 'Balance of an account, now or at an instant (`at`)',
        security: [{ dpop: [] }],
        params: IdParams,
        querystring: Type.Object({ at: Type.Optional(Timestamp) }, { additionalProperties: false }),
        response: { 200: BalanceJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const at = req.query.at ? new Date(req.query.at) : undefined;
      const b = await db.withTenant(caller.tenantId, async (tx) => {
        await reachable(tx, caller, req.params.id, 'read');
        return ledger.balance(tx, caller.tenantId, req.params.id, at);
      });
      return balanceJson(b, at);
    },
  );

  app.get(
    '/accounts/:id/entries',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        tags: ['ledger'],
        summary: "An account's entries, oldest first (cursor: the last entry id of the previous page)",
        security: [{ dpop: [] }],
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PageOf(EntryJson), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const limit = req.query.limit;
      const entries = await db.withTenant(caller.tenantId, async (tx) => {
        await reachable(tx, caller, req.params.id, 'read');
        return ledger.entries(tx, caller.tenantId, req.params.id, {
          after: req.query.after,
          limit: limit + 1,
        });
      });
      const page = entries.slice(0, limit);
      return {
        items: page.map(entryJson),
        nextCursor: entries.length > limit ? (page[page.length - 1]?.id ?? null) : null,
      };
    },
  );

  app.post(
    '/transfers',
    {
      config: { scopes: ['accounts:write'], idempotency: true },
      schema: {
        tags: ['ledger'],
        summary: 'Move money between two accounts the caller may use (Idempotency-Key required)',
        security: [{ dpop: [] }],
        headers: IdempotencyKeyHeaders,
        body: Type.Object(
          {
            fromAccountId: Uuid,
            toAccountId: Uuid,
            amount: Amount,
            currency: Currency,
            description: Type.Optional(Description),
            metadata: Type.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
        response: { 201: TransactionJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const body = req.body;
      const amount = parseAmount(body.amount);
      if (!isCurrency(body.currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
      return idempotentTransaction(req, reply, async (tx) => {
        const money = { amount, currency: body.currency };
        const from = await reachable(tx, caller, body.fromAccountId, 'update', money);
        const to = await reachable(tx, caller, body.toAccountId, 'update', money);
        if (from.currency !== body.currency || to.currency !== body.currency)
          throw new LedgerError('LEDGER_CURRENCY_MISMATCH');
        const t = await ledger.post(tx, caller.tenantId, {
          id: uuidv7(),
          postings: [
            { accountId: from.id, amount, direction: 'debit' },
            { accountId: to.id, amount, direction: 'credit' },
          ],
          description: body.description,
          metadata: body.metadata,
        });
        await enqueue(tx, {
          topic: 'ledger.transfer.posted',
          tenantId: caller.tenantId,
          payload: {
            partnerId: caller.partnerId ?? null,
            transactionId: t.id,
            fromAccountId: from.id,
            toAccountId: to.id,
            amount: amount.toString(),
            currency: body.currency,
          },
        });
        await appendAuditAsync(tx, {
          actor: caller.actor,
          action: 'ledger.transfer.posted',
          object: { type: 'ledger_transaction', id: t.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
          details: { amount: amount.toString(), currency: body.currency },
        });
        return { status: 201, body: transactionJson(t) };
      });
    },
  );

  /** A transaction the caller may see: every account it touches must be reachable. */
  async function visibleTransaction(tx: Tx, caller: Caller, id: string, action: 'read' | 'update') {
    const t = await ledger.getTransaction(tx, caller.tenantId, id);
    const hidden = () => new LedgerError('LEDGER_TRANSACTION_NOT_FOUND');
    if (!t) throw hidden();
    for (const p of t.postings) {
      try {
        await reachable(tx, caller, p.accountId, action);
      } catch (err) {
        if (err instanceof LedgerError && err.code === 'LEDGER_ACCOUNT_NOT_FOUND') throw hidden();
        throw err;
      }
    }
    return t;
  }

  app.get(
    '/transactions/:id',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        tags: ['ledger'],
        summary: 'A ledger transaction between accounts the caller may see',
        security: [{ dpop: [] }],
        params: IdParams,
        response: { 200: TransactionJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const t = await db.withTenant(caller.tenantId, (tx) =>
        visibleTransaction(tx, caller, req.params.id, 'read'),
      );
      return transactionJson(t);
    },
  );

  app.post(
    '/transactions/:id/reversal',
    {
      config: { scopes: ['accounts:write'], idempotency: true },
      schema: {
        tags: ['ledger'],
        summary: 'Reverse a transaction with a compensating one (once; Idempotency-Key required)',
        security: [{ dpop: [] }],
        headers: IdempotencyKeyHeaders,
        params: IdParams,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 201: TransactionJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      return idempotentTransaction(req, reply, async (tx) => {
        await visibleTransaction(tx, caller, req.params.id, 'update');
        const r = await ledger.reverse(tx, caller.tenantId, req.params.id, uuidv7());
        await enqueue(tx, {
          topic: 'ledger.transaction.reversed',
          tenantId: caller.tenantId,
          payload: { partnerId: caller.partnerId ?? null, transactionId: req.params.id, reversalId: r.id },
        });
        await appendAuditAsync(tx, {
          actor: caller.actor,
          action: 'ledger.transaction.reversed',
          object: { type: 'ledger_transaction', id: req.params.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
          details: { reversalId: r.id },
        });
        return { status: 201, body: transactionJson(r) };
      });
    },
  );

  // ---- holds: reserve money now, move it later (or release it) ----

  /** A hold the caller may act on: both of its accounts must be reachable. */
  async function reachableHold(tx: Tx, caller: Caller, id: string) {
    const hold = await ledger.getHold(tx, caller.tenantId, id);
    const hidden = () => new LedgerError('LEDGER_HOLD_NOT_FOUND');
    if (!hold) throw hidden();
    for (const accountId of [hold.accountId, hold.counterpartyAccountId]) {
      try {
        await reachable(tx, caller, accountId, 'update');
      } catch (err) {
        if (err instanceof LedgerError && err.code === 'LEDGER_ACCOUNT_NOT_FOUND') throw hidden();
        throw err;
      }
    }
    return hold;
  }

  app.post(
    '/accounts/:id/holds',
    {
      config: { scopes: ['accounts:write'], idempotency: true },
      schema: {
        tags: ['ledger'],
        summary: 'Reserve money on an account for a later transfer to another (Idempotency-Key required)',
        security: [{ dpop: [] }],
        headers: IdempotencyKeyHeaders,
        params: IdParams,
        body: Type.Object(
          {
            counterpartyAccountId: Uuid,
            amount: Amount,
            currency: Currency,
            expiresAt: Timestamp,
            description: Type.Optional(Description),
          },
          { additionalProperties: false },
        ),
        response: { 201: HoldJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const body = req.body;
      const amount = parseAmount(body.amount);
      if (!isCurrency(body.currency)) throw new LedgerError('LEDGER_CURRENCY_UNKNOWN');
      return idempotentTransaction(req, reply, async (tx) => {
        const money = { amount, currency: body.currency };
        const from = await reachable(tx, caller, req.params.id, 'update', money);
        const to = await reachable(tx, caller, body.counterpartyAccountId, 'update', money);
        if (from.currency !== body.currency || to.currency !== body.currency)
          throw new LedgerError('LEDGER_CURRENCY_MISMATCH');
        const hold = await ledger.placeHold(tx, caller.tenantId, {
          id: uuidv7(),
          accountId: from.id,
          counterpartyAccountId: to.id,
          amount,
          expiresAt: new Date(body.expiresAt),
          description: body.description,
        });
        await appendAuditAsync(tx, {
          actor: caller.actor,
          action: 'ledger.hold.placed',
          object: { type: 'ledger_hold', id: hold.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
          details: { amount: amount.toString(), currency: body.currency },
        });
        return { status: 201, body: holdJson(hold) };
      });
    },
  );

  app.get(
    '/holds/:id',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        tags: ['ledger'],
        summary: 'A hold',
        security: [{ dpop: [] }],
        params: IdParams,
        response: { 200: HoldJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      return holdJson(await db.withTenant(caller.tenantId, (tx) => reachableHold(tx, caller, req.params.id)));
    },
  );

  app.post(
    '/holds/:id/capture',
    {
      config: { scopes: ['accounts:write'], idempotency: true },
      schema: {
        tags: ['ledger'],
        summary: 'Move held money (all of it, or `amount` of it) to the counterparty; the rest is released',
        security: [{ dpop: [] }],
        headers: IdempotencyKeyHeaders,
        params: IdParams,
        body: Type.Object({ amount: Type.Optional(Amount) }, { additionalProperties: false }),
        response: { 201: TransactionJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const amount = req.body.amount === undefined ? undefined : parseAmount(req.body.amount);
      return idempotentTransaction(req, reply, async (tx) => {
        await reachableHold(tx, caller, req.params.id);
        const t = await ledger.postHold(tx, caller.tenantId, req.params.id, {
          transactionId: uuidv7(),
          amount,
        });
        await appendAuditAsync(tx, {
          actor: caller.actor,
          action: 'ledger.hold.captured',
          object: { type: 'ledger_hold', id: req.params.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
          details: { transactionId: t.id },
        });
        return { status: 201, body: transactionJson(t) };
      });
    },
  );

  app.post(
    '/holds/:id/void',
    {
      config: { scopes: ['accounts:write'], idempotency: true },
      schema: {
        tags: ['ledger'],
        summary: 'Release a hold without moving money',
        security: [{ dpop: [] }],
        headers: IdempotencyKeyHeaders,
        params: IdParams,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 200: HoldJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      return idempotentTransaction(req, reply, async (tx) => {
        await reachableHold(tx, caller, req.params.id);
        const hold = await ledger.voidHold(tx, caller.tenantId, req.params.id);
        await appendAuditAsync(tx, {
          actor: caller.actor,
          action: 'ledger.hold.voided',
          object: { type: 'ledger_hold', id: hold.id },
          tenantId: caller.tenantId,
          outcome: 'success',
          requestId: caller.requestId,
        });
        return { status: 200, body: holdJson(hold) };
      });
    },
  );
};
