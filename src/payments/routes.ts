/**
 * Payments on the partner API (`/v1`) and the admin face. Amounts are integer minor units: sent
 * as a decimal-integer string (`"1250"` = 12.50 EUR) or a JSON integer, always answered as a
 * string (as the ledger does), so no amount passes through a float. Every money-moving POST needs
 * an `Idempotency-Key` and runs in the idempotency step's transaction.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf, rejectForbiddenFields } from '../access/index.ts';
import { IdempotencyKeyHeaders, idempotentTransaction } from '../gateway/idempotency/idempotency.ts';
import { AppError, errorSpec } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { PaymentError } from './errors.ts';
import { PAYEE_CHECKS } from './payee-check.ts';
import type { Mandate, PartnerLimit, Payment, PaymentsService } from './service.ts';
import { PAYMENT_KINDS, PAYMENT_STATUSES } from './state.ts';

const literals = <T extends string>(values: readonly T[]) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values] });
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** Integer minor units > 0 in the request: a decimal-integer string or a JSON number (checked by the service). */
const AmountIn = Type.Union([Type.String({ maxLength: 32 }), Type.Number()], {
  description: 'Integer minor units > 0, e.g. "1250" for 12.50 EUR',
});
const AmountOut = Type.String({ pattern: '^[0-9]+$', description: 'Integer minor units' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
const Iban = Type.String({ minLength: 5, maxLength: 42, description: 'IBAN (ISO 13616), spaces allowed' });
const PersonName = Type.String({ minLength: 1, maxLength: 140, pattern: '\\S' });
const CalendarDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });
/** SEPA's character set for references (EPC217-08). */
const SepaText = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: "^[A-Za-z0-9/?:().,'+ -]+$" });

const MandateSchema = Type.Object(
  {
    id: Uuid,
    partnerId: Uuid,
    customerId: Uuid,
    reference: Type.String(),
    debtorName: Type.String(),
    debtorIban: Type.String(),
    signedOn: Type.String(),
    status: literals(['active', 'revoked']),
    sandbox: Type.Boolean(),
    createdAt: Timestamp,
    revokedAt: nullable(Timestamp),
  },
  { additionalProperties: false },
);

const PaymentInitiation = Type.Object(
  {
    type: Type.Literal('payment_initiation'),
    paymentId: Uuid,
    instructedAmount: Type.Object(
      { currency: Type.String(), amount: Type.String() },
      { additionalProperties: false },
    ),
    creditorName: Type.String(),
    creditorAccount: Type.Object({ iban: Type.String() }, { additionalProperties: false }),
  },
  {
    additionalProperties: false,
    description: 'RFC 9396 authorization detail the approver must obtain a token for (PAR), then present',
  },
);

const PaymentSchema = Type.Object(
  {
    id: Uuid,
    kind: literals(PAYMENT_KINDS),
    status: literals(PAYMENT_STATUSES),
    partnerId: Uuid,
    customerId: Uuid,
    mandateId: nullable(Uuid),
    claimId: nullable(Uuid),
    policyId: nullable(Uuid),
    amount: AmountOut,
    currency: Type.String(),
    payeeName: Type.String({ description: 'Payee of a payout, debtor of a collection' }),
    payeeIban: Type.String(),
    payeeCheck: nullable(
      Type.Object(
        {
          result: literals(PAYEE_CHECKS),
          holderName: Type.Optional(
            Type.String({ description: 'For a close match: the name the bank knows' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    reference: nullable(Type.String()),
    scaStatus: literals(['not_required', 'exempt', 'required', 'completed']),
    authorizationDetail: nullable(PaymentInitiation),
    dueDate: nullable(Type.String()),
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    nextAttemptAt: nullable(Timestamp),
    reasonCode: nullable(Type.String({ description: 'ISO 20022 reason of the last return or reject' })),
    rail: Type.String(),
    sandbox: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    submittedAt: nullable(Timestamp),
    settledAt: nullable(Timestamp),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const v1 = { tags: ['payments'], security: [{ dpop: [] }] };
const read = { scopes: ['payments:read'] };
const write = { scopes: ['payments:write'] };
const money = { scopes: ['payments:write'], idempotency: true };
/**
 * Payment initiation (collections, payouts, their SCA authorization) also needs an RFC 9421 message
 * signature by the app's registered key over method, target and body digest (src/gateway/signatures),
 * and may be sent and answered JWE-encrypted (src/gateway/jwe): the answers carry IBANs.
 */
const initiation = { ...money, messageSignature: 'required' as const, jwe: 'allowed' as const };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function paymentJson(p: Payment) {
  return {
    ...p,
    amount: p.amount.toString(),
    nextAttemptAt: iso(p.nextAttemptAt),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    submittedAt: iso(p.submittedAt),
    settledAt: iso(p.settledAt),
  };
}

function mandateJson(m: Mandate) {
  return { ...m, createdAt: m.createdAt.toISOString(), revokedAt: iso(m.revokedAt) };
}

function limitJson(l: PartnerLimit) {
  return { ...l, maxPerPayment: l.maxPerPayment.toString(), maxPerDay: l.maxPerDay.toString() };
}

/**
 * The one place domain errors become HTTP: ours, and the refusals of the modules payments calls
 * through its ports (a claim that cannot be paid, a customer not verified) with their own codes.
 */
function http(err: unknown): never {
  if (err instanceof PaymentError) throw new AppError(err.code, err.detail);
  if (
    err instanceof Error &&
    !(err instanceof AppError) &&
    /^[A-Z][a-z]+Error$/.test(err.name) &&
    typeof (err as unknown as { code?: unknown }).code === 'string' &&
    errorSpec((err as unknown as { code: string }).code)
  ) {
    const { code, detail } = err as unknown as { code: string; detail?: string };
    throw new AppError(code, detail);
  }
  throw err;
}

export const paymentRoutes: FastifyPluginAsyncTypebox<{ service: PaymentsService }> = async (
  app,
  { service },
) => {
  app.post(
    '/mandates',
    {
      config: write,
      schema: {
        ...v1,
        summary: 'Register a SEPA-style direct-debit mandate of a customer',
        body: Type.Object(
          {
            customerId: Uuid,
            debtorName: PersonName,
            debtorIban: Iban,
            reference: SepaText(35),
            signedOn: CalendarDate,
          },
          { additionalProperties: false },
        ),
        response: { 201: MandateSchema, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (req, reply) => {
      const mandate = await service.createMandate(callerOf(req), req.body).catch(http);
      return reply.code(201).send(mandateJson(mandate));
    },
  );

  app.get(
    '/mandates',
    {
      config: read,
      schema: {
        ...v1,
        summary: 'List mandates',
        querystring: Type.Object(
          { ...PageQuery.properties, customerId: Type.Optional(Uuid) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(MandateSchema), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await service.listMandates(callerOf(req), req.query).catch(http);
      return { items: page.items.map(mandateJson), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/mandates/:id',
    {
      config: read,
      schema: {
        ...v1,
        summary: 'Get a mandate',
        params: IdParams,
        response: { 200: MandateSchema, ...problems(401, 403, 404) },
      },
    },
    async (req) => mandateJson(await service.getMandate(callerOf(req), req.params.id).catch(http)),
  );

  app.post(
    '/mandates/:id/revoke',
    {
      config: write,
      schema: {
        ...v1,
        summary: 'Revoke a mandate; its scheduled collections are cancelled',
        params: IdParams,
        response: { 200: MandateSchema, ...problems(401, 403, 404, 409) },
      },
    },
    async (req) => mandateJson(await service.revokeMandate(callerOf(req), req.params.id).catch(http)),
  );

  app.post(
    '/collections',
    {
      config: initiation,
      schema: {
        ...v1,
        summary: 'Schedule a premium collection against a mandate (submitted at once when due today)',
        headers: IdempotencyKeyHeaders,
        body: Type.Object(
          {
            mandateId: Uuid,
            amount: AmountIn,
            currency: Currency,
            dueDate: CalendarDate,
            policyId: Type.Optional(Uuid),
            reference: Type.Optional(SepaText(140)),
            maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
            retryIntervalHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: PaymentSchema, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Payment', 'create');
      return idempotentTransaction(req, reply, async (tx) => ({
        status: 201,
        body: paymentJson(await service.createCollection(tx, caller, req.body).catch(http)),
      }));
    },
  );

  app.post(
    '/payouts',
    {
      config: initiation,
      schema: {
        ...v1,
        summary: "Pay (part of) an approved claim to the claim's payee by credit transfer",
        description:
          "Needs the customer's approved verification. Above the SCA exemption the payout waits in `awaiting_sca` " +
          'with the `authorizationDetail` the approver must get a token for, then `POST /v1/payments/{id}/authorize`.',
        headers: IdempotencyKeyHeaders,
        body: Type.Object(
          {
            claimId: Uuid,
            amount: AmountIn,
            currency: Currency,
            reference: Type.Optional(SepaText(140)),
          },
          { additionalProperties: false },
        ),
        response: { 201: PaymentSchema, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Payment', 'create');
      return idempotentTransaction(req, reply, async (tx) => ({
        status: 201,
        body: paymentJson(await service.createClaimPayout(tx, caller, req.body).catch(http)),
      }));
    },
  );

  app.get(
    '/payments',
    {
      config: read,
      schema: {
        ...v1,
        summary: 'List payments',
        querystring: Type.Object(
          {
            ...PageQuery.properties,
            status: Type.Optional(literals(PAYMENT_STATUSES)),
            kind: Type.Optional(literals(PAYMENT_KINDS)),
            claimId: Type.Optional(Uuid),
            mandateId: Type.Optional(Uuid),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(PaymentSchema), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await service.listPayments(callerOf(req), req.query).catch(http);
      return { items: page.items.map(paymentJson), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/payments/:id',
    {
      config: read,
      schema: {
        ...v1,
        summary: 'Get a payment',
        params: IdParams,
        response: { 200: PaymentSchema, ...problems(401, 403, 404) },
      },
    },
    async (req) => paymentJson(await service.getPayment(callerOf(req), req.params.id).catch(http)),
  );

  app.post(
    '/payments/:id/authorize',
    {
      config: initiation,
      schema: {
        ...v1,
        summary: 'Approve a payment awaiting SCA with a token carrying its authorization detail; submits it',
        params: IdParams,
        headers: IdempotencyKeyHeaders,
        response: { 200: PaymentSchema, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      return idempotentTransaction(req, reply, async (tx) => ({
        status: 200,
        body: paymentJson(await service.authorizePayment(tx, caller, req.params.id).catch(http)),
      }));
    },
  );

  app.post(
    '/payments/:id/cancel',
    {
      config: money,
      schema: {
        ...v1,
        summary: 'Cancel a payment that has not reached the rail (scheduled, or awaiting SCA)',
        params: IdParams,
        headers: IdempotencyKeyHeaders,
        response: { 200: PaymentSchema, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      return idempotentTransaction(req, reply, async (tx) => ({
        status: 200,
        body: paymentJson(await service.cancelPayment(tx, caller, req.params.id).catch(http)),
      }));
    },
  );

  app.post(
    '/sandbox/payments/:id/outcome',
    {
      config: money,
      schema: {
        ...v1,
        tags: ['sandbox'],
        summary: "Sandbox apps: force the simulated rail's answer for a submitted sandbox payment, now",
        params: IdParams,
        headers: IdempotencyKeyHeaders,
        body: Type.Object(
          {
            status: literals(['settled', 'returned', 'rejected']),
            reasonCode: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{4}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PaymentSchema, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      return idempotentTransaction(req, reply, async (tx) => ({
        status: 200,
        body: paymentJson(await service.forceOutcome(tx, caller, req.params.id, req.body).catch(http)),
      }));
    },
  );
};

const LimitSchema = Type.Object(
  {
    partnerId: Uuid,
    direction: literals(['collection', 'payout']),
    currency: Type.String(),
    maxPerPayment: AmountOut,
    maxPerDay: AmountOut,
  },
  { additionalProperties: false },
);
const admin = { tags: ['admin: payments'], security: [{ bootstrapAdmin: [] }] };
const PartnerParams = Type.Object({ tenantId: Uuid, partnerId: Uuid }, { additionalProperties: false });

/** `/admin/tenants/:tenantId/partners/:partnerId/payment-limits`: per-partner payment limits. */
export const paymentAdminRoutes: FastifyPluginAsyncTypebox<{ service: PaymentsService }> = async (
  app,
  { service },
) => {
  app.get(
    '/tenants/:tenantId/partners/:partnerId/payment-limits',
    {
      schema: {
        ...admin,
        summary: "A partner's payment limits (directions and currencies without a row use the defaults)",
        params: PartnerParams,
        response: {
          200: Type.Object({ items: Type.Array(LimitSchema) }, { additionalProperties: false }),
          ...problems(401, 404),
        },
      },
    },
    async (req) => ({
      items: (await service.listLimits(req.params.tenantId, req.params.partnerId).catch(http)).map(limitJson),
    }),
  );

  app.put(
    '/tenants/:tenantId/partners/:partnerId/payment-limits/:direction/:currency',
    {
      schema: {
        ...admin,
        summary: "Set a partner's limits per payment and per day for one direction and currency",
        params: Type.Object(
          {
            tenantId: Uuid,
            partnerId: Uuid,
            direction: literals(['collection', 'payout']),
            currency: Currency,
          },
          { additionalProperties: false },
        ),
        body: Type.Object(
          {
            maxPerPayment: Type.String({ pattern: '^[0-9]{1,16}$' }),
            maxPerDay: Type.String({ pattern: '^[0-9]{1,16}$' }),
          },
          { additionalProperties: false },
        ),
        response: { 200: LimitSchema, ...problems(400, 401, 404, 415) },
      },
    },
    async (req) => {
      const { tenantId, partnerId, direction, currency } = req.params;
      const saved = await service
        .setLimit(
          tenantId,
          {
            partnerId,
            direction,
            currency,
            maxPerPayment: BigInt(req.body.maxPerPayment),
            maxPerDay: BigInt(req.body.maxPerDay),
          },
          { actor: { type: 'operator', id: 'bootstrap-admin' }, requestId: req.id },
        )
        .catch(http);
      return limitJson(saved);
    },
  );
};
