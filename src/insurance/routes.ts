import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Static, type TLiteral, type TSchema, type TUnion, Type } from 'typebox';
import { type BusinessResourceType, callerOf, readableView, rejectForbiddenFields } from '../access/index.ts';
import { IdempotencyKeyHeaders, idempotentTransaction } from '../gateway/idempotency/index.ts';
import type { Tx } from '../platform/db/index.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { InsuranceError } from './errors.ts';
import { FRAUD_SIGNAL_CODES } from './fraud.ts';
import { LINES_OF_BUSINESS, PREMIUM_FREQUENCIES } from './rules.ts';
import { DENIAL_REASONS, type InsuranceService, type OperatorContext } from './service.ts';
import { CLAIM_STATUSES, POLICY_STATUSES } from './states.ts';

// --- schema pieces -------------------------------------------------------------------------

const literals = <const T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<TLiteral<T[number]>[]>;

/** Integer minor units; JSON integers up to 2^53 - 1 (DESIGN invariant 3: never floats). */
const Amount = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units' });
const AmountOrZero = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'Minor units',
});
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD' });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^\\S[\\s\\S]*$' });
const Days = (max: number) => Type.Integer({ minimum: 0, maximum: max });
const Iban = Type.String({ minLength: 15, maxLength: 42, pattern: '^[A-Za-z0-9 ]+$' });

const Product = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    lineOfBusiness: Type.String(),
    currency: Type.String(),
    premium: Type.Object(
      { frequency: Type.String(), annualBase: AmountOrZero, ratePerMille: AmountOrZero },
      { additionalProperties: false },
    ),
    coverLimit: AmountOrZero,
    termMonths: Type.Integer(),
    waitingDays: Type.Integer(),
    maxStartDelayDays: Type.Integer(),
    quoteValidDays: Type.Integer(),
    graceDays: Type.Integer(),
    earlyClaimDays: Type.Integer(),
    status: Type.String(),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

const ProductBody = Type.Object(
  {
    name: Text(200),
    lineOfBusiness: literals(LINES_OF_BUSINESS),
    currency: Currency,
    premium: Type.Object(
      {
        frequency: literals(PREMIUM_FREQUENCIES),
        annualBase: AmountOrZero,
        ratePerMille: Type.Optional(AmountOrZero),
      },
      { additionalProperties: false },
    ),
    coverLimit: Amount,
    termMonths: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
    waitingDays: Type.Optional(Days(365)),
    maxStartDelayDays: Type.Optional(Days(365)),
    quoteValidDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
    graceDays: Type.Optional(Days(365)),
    earlyClaimDays: Type.Optional(Days(3650)),
  },
  { additionalProperties: false },
);

const Instalment = Type.Object(
  { id: Uuid, seq: Type.Integer(), dueDate: Type.String(), amount: AmountOrZero, status: Type.String() },
  { additionalProperties: false },
);

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Every field a role may see; each response carries only the caller's readable ones (fields.ts). */
const Policy = Type.Object(
  {
    id: Uuid,
    customerId: Type.Optional(Uuid),
    productId: Type.Optional(Uuid),
    partnerId: Type.Optional(Uuid),
    status: Type.Optional(Type.String({ description: POLICY_STATUSES.join(' | ') })),
    currency: Type.Optional(Type.String()),
    coverAmount: Type.Optional(AmountOrZero),
    premiumAmount: Type.Optional(AmountOrZero),
    premiumFrequency: Type.Optional(Type.String()),
    startDate: Type.Optional(Type.String()),
    endDate: Type.Optional(Type.String()),
    quoteExpiresAt: Type.Optional(Timestamp),
    boundAt: Type.Optional(Nullable(Timestamp)),
    endedOn: Type.Optional(Nullable(Type.String())),
    endReason: Type.Optional(Nullable(Type.String())),
    premiumSchedule: Type.Optional(Type.Array(Instalment)),
    createdAt: Type.Optional(Timestamp),
    updatedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

/** Quote request. `status` is listed so that setting it is refused by name; `premiumAmount` is the underwriter's. */
const QuoteBody = Type.Object(
  {
    customerId: Uuid,
    productId: Uuid,
    startDate: Day,
    coverAmount: Type.Optional(Amount),
    currency: Type.Optional(Currency),
    status: Type.Optional(Type.String({ maxLength: 32 })),
    premiumAmount: Type.Optional(Amount),
  },
  { additionalProperties: false },
);

const FraudSignal = Type.Object(
  {
    code: Type.String({ description: FRAUD_SIGNAL_CODES.join(' | ') }),
    explanation: Type.String(),
    relatedClaimIds: Type.Array(Type.String()),
    stage: Type.String(),
    detectedAt: Timestamp,
  },
  { additionalProperties: false },
);

const Claim = Type.Object(
  {
    id: Uuid,
    policyId: Type.Optional(Uuid),
    customerId: Type.Optional(Uuid),
    partnerId: Type.Optional(Uuid),
    status: Type.Optional(Type.String({ description: CLAIM_STATUSES.join(' | ') })),
    incidentDate: Type.Optional(Type.String()),
    amountClaimed: Type.Optional(AmountOrZero),
    currency: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    payeeName: Type.Optional(Type.String()),
    payeeIban: Type.Optional(Type.String()),
    approvedAmount: Type.Optional(Nullable(AmountOrZero)),
    paidAmount: Type.Optional(AmountOrZero),
    fraudReview: Type.Optional(Type.Boolean()),
    fraudSignals: Type.Optional(Type.Array(FraudSignal)),
    adjusterId: Type.Optional(Nullable(Uuid)),
    adjusterNotes: Type.Optional(Nullable(Type.String())),
    decisionReason: Type.Optional(Nullable(Type.String())),
    decidedAt: Type.Optional(Nullable(Timestamp)),
    createdAt: Type.Optional(Timestamp),
    updatedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

/** First notice of loss. `status` and `approvedAmount` are listed so that setting them is refused by name. */
const ClaimBody = Type.Object(
  {
    policyId: Uuid,
    incidentDate: Day,
    amountClaimed: Amount,
    currency: Currency,
    description: Text(4000),
    payeeName: Text(140),
    payeeIban: Iban,
    status: Type.Optional(Type.String({ maxLength: 32 })),
    approvedAmount: Type.Optional(Amount),
  },
  { additionalProperties: false },
);

const ClaimPatch = Type.Object(
  {
    description: Type.Optional(Text(4000)),
    incidentDate: Type.Optional(Day),
    amountClaimed: Type.Optional(Amount),
    payeeName: Type.Optional(Text(140)),
    payeeIban: Type.Optional(Iban),
    adjusterNotes: Type.Optional(Text(4000)),
    status: Type.Optional(Type.String({ maxLength: 32 })),
    approvedAmount: Type.Optional(Amount),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ClaimDocument = Type.Object(
  {
    id: Uuid,
    claimId: Uuid,
    filename: Type.String(),
    mediaType: Type.String(),
    size: Type.Integer(),
    sha256: Type.String(),
    uploadedBy: Type.Object({ type: Type.String(), id: Type.String() }, { additionalProperties: false }),
    uploadedAt: Timestamp,
  },
  { additionalProperties: false },
);

const DocumentBody = Type.Object(
  {
    // No path separators or control characters: a name, not a path.
    filename: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\x00-\\x1f\\x7f]+$' }),
    mediaType: Type.String({
      maxLength: 127,
      pattern: '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$',
    }),
    size: Type.Integer({ minimum: 0, maximum: 1_073_741_824 }),
    sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
  },
  { additionalProperties: false },
);

const Authority = Type.Object(
  {
    userId: Uuid,
    limits: Type.Record(
      Type.String(),
      Type.Object({ single: AmountOrZero, multi: AmountOrZero }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

const AuthorityBody = Type.Object(
  {
    limits: Type.Record(
      Type.String({ pattern: '^[A-Z]{3}$' }),
      Type.Object({ single: AmountOrZero, multi: AmountOrZero }, { additionalProperties: false }),
      { maxProperties: 50 },
    ),
  },
  { additionalProperties: false },
);

const ProductParams = Type.Object({ productId: Uuid }, { additionalProperties: false });
const PolicyParams = Type.Object({ policyId: Uuid }, { additionalProperties: false });
const ClaimParams = Type.Object({ claimId: Uuid }, { additionalProperties: false });
const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const AdjusterParams = Type.Object({ tenantId: Uuid, userId: Uuid }, { additionalProperties: false });
const ClaimListQuery = Type.Object(
  { ...PageQuery.properties, policyId: Type.Optional(Uuid) },
  { additionalProperties: false },
);
const NoteBody = Type.Object({ note: Text(4000) }, { additionalProperties: false });

// --- helpers -------------------------------------------------------------------------------

/** The one place insurance domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof InsuranceError) throw new AppError(err.code, err.detail);
  throw err;
}

/** Only the fields the caller's roles may read leave (OWASP API3:2023). */
function view<T extends { id: string }>(
  type: BusinessResourceType,
  req: FastifyRequest,
  obj: T,
): Partial<T> & { id: string } {
  const fields = readableView(callerOf(req).roles, type);
  const out: Record<string, unknown> = { id: obj.id };
  for (const f of fields) if (f in obj) out[f] = (obj as Record<string, unknown>)[f];
  return out as Partial<T> & { id: string };
}

/** The work of an idempotent request, in its transaction, answered with `status`. */
function idempotent(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  work: (tx: Tx) => Promise<unknown>,
): Promise<FastifyReply> {
  return idempotentTransaction(req, reply, async (tx) => ({ status, body: await work(tx).catch(http) }));
}

const api = { tags: ['partner API: insurance'], security: [{ dpop: [] }] };
const read = (...s: string[]) => ({ scopes: s });

export const insuranceRoutes: FastifyPluginAsyncTypebox<{ service: InsuranceService }> = async (
  app,
  { service },
) => {
  // --- products ------------------------------------------------------------------------------

  app.post(
    '/products',
    {
      config: read('policies:write'),
      schema: {
        ...api,
        summary: 'Create an insurance product (underwriters and tenant admins, multi-factor session)',
        body: ProductBody,
        response: { 201: Product, ...problems(400, 401, 403, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const product = await service
        .createProductAs(callerOf(req), {
          ...b,
          premium: {
            frequency: b.premium.frequency,
            annualBase: BigInt(b.premium.annualBase),
            ratePerMille: BigInt(b.premium.ratePerMille ?? 0),
          },
          coverLimit: BigInt(b.coverLimit),
        })
        .catch(http);
      return reply.code(201).send(product);
    },
  );

  app.get(
    '/products',
    {
      config: read('policies:read'),
      schema: {
        ...api,
        summary: 'List the tenant’s insurance products',
        querystring: PageQuery,
        response: { 200: PageOf(Product), ...problems(400, 401, 403) },
      },
    },
    async (req) => service.listProducts(callerOf(req).tenantId, req.query.limit, req.query.after),
  );

  app.get(
    '/products/:productId',
    {
      config: read('policies:read'),
      schema: {
        ...api,
        summary: 'Get an insurance product',
        params: ProductParams,
        response: { 200: Product, ...problems(401, 403, 404) },
      },
    },
    async (req) => service.getProduct(callerOf(req).tenantId, req.params.productId).catch(http),
  );

  // --- policies ------------------------------------------------------------------------------

  app.post(
    '/policies',
    {
      config: read('policies:write'),
      schema: {
        ...api,
        summary: 'Quote a policy for a customer (priced by the product’s rules)',
        body: QuoteBody,
        response: { 201: Policy, ...problems(400, 401, 403, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Policy', 'create');
      const b = req.body;
      const policy = await service
        .quote(caller, {
          customerId: b.customerId,
          productId: b.productId,
          startDate: b.startDate,
          coverAmount: b.coverAmount === undefined ? undefined : BigInt(b.coverAmount),
          currency: b.currency,
          premiumAmount: b.premiumAmount === undefined ? undefined : BigInt(b.premiumAmount),
        })
        .catch(http);
      return reply.code(201).send(view('Policy', req, policy));
    },
  );

  app.get(
    '/policies',
    {
      config: read('policies:read'),
      schema: {
        ...api,
        summary: 'List policies the caller may see',
        querystring: PageQuery,
        response: { 200: PageOf(Policy), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const result = await service.listPolicies(callerOf(req), req.query.limit, req.query.after).catch(http);
      return { ...result, items: result.items.map((p) => view('Policy', req, p)) };
    },
  );

  app.get(
    '/policies/:policyId',
    {
      config: read('policies:read'),
      schema: {
        ...api,
        summary: 'Get a policy with its premium schedule',
        params: PolicyParams,
        response: { 200: Policy, ...problems(401, 403, 404) },
      },
    },
    async (req) =>
      view('Policy', req, await service.getPolicy(callerOf(req), req.params.policyId).catch(http)),
  );

  app.post(
    '/policies/:policyId/bind',
    {
      config: { ...read('policies:write'), idempotency: true },
      schema: {
        ...api,
        summary: 'Bind a quote: the policy goes in force and its premium schedule is generated',
        params: PolicyParams,
        headers: IdempotencyKeyHeaders,
        response: { 200: Policy, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) =>
      idempotent(req, reply, 200, async (tx) =>
        view('Policy', req, await service.bind(callerOf(req), req.params.policyId, { tx })),
      ),
  );

  app.post(
    '/policies/:policyId/cancel',
    {
      config: read('policies:write'),
      schema: {
        ...api,
        summary: 'Cancel a quote or a policy (unpaid later instalments are voided)',
        params: PolicyParams,
        body: Type.Object(
          {
            reason: literals(['customer_request', 'non_disclosure', 'replaced', 'other'] as const),
            effectiveDate: Type.Optional(Day),
          },
          { additionalProperties: false },
        ),
        response: { 200: Policy, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req) =>
      view('Policy', req, await service.cancel(callerOf(req), req.params.policyId, req.body).catch(http)),
  );

  // --- claims --------------------------------------------------------------------------------

  app.post(
    '/claims',
    {
      config: { ...read('claims:write'), idempotency: true },
      schema: {
        ...api,
        summary: 'File a claim (first notice of loss); fraud signals are evaluated at once',
        body: ClaimBody,
        headers: IdempotencyKeyHeaders,
        response: { 201: Claim, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Claim', 'create');
      const b = req.body;
      return idempotent(req, reply, 201, async (tx) =>
        view(
          'Claim',
          req,
          await service.fileClaim(
            caller,
            {
              policyId: b.policyId,
              incidentDate: b.incidentDate,
              amountClaimed: BigInt(b.amountClaimed),
              currency: b.currency,
              description: b.description,
              payeeName: b.payeeName,
              payeeIban: b.payeeIban,
            },
            { tx },
          ),
        ),
      );
    },
  );

  app.get(
    '/claims',
    {
      config: read('claims:read'),
      schema: {
        ...api,
        summary: 'List claims the caller may see',
        querystring: ClaimListQuery,
        response: { 200: PageOf(Claim), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      const result = await service
        .listClaims(callerOf(req), { policyId: q.policyId }, q.limit, q.after)
        .catch(http);
      return { ...result, items: result.items.map((c) => view('Claim', req, c)) };
    },
  );

  app.get(
    '/claims/:claimId',
    {
      config: read('claims:read'),
      schema: {
        ...api,
        summary: 'Get a claim',
        params: ClaimParams,
        response: { 200: Claim, ...problems(401, 403, 404) },
      },
    },
    async (req) => view('Claim', req, await service.getClaim(callerOf(req), req.params.claimId).catch(http)),
  );

  app.patch(
    '/claims/:claimId',
    {
      config: read('claims:write'),
      schema: {
        ...api,
        summary: 'Amend a claim before its decision (which fields depends on the caller’s role)',
        params: ClaimParams,
        body: ClaimPatch,
        response: { 200: Claim, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Claim', 'update');
      const b = req.body;
      const claim = await service
        .updateClaim(caller, req.params.claimId, {
          ...b,
          amountClaimed: b.amountClaimed === undefined ? undefined : BigInt(b.amountClaimed),
        })
        .catch(http);
      return view('Claim', req, claim);
    },
  );

  const step = (path: string, summary: string, run: (req: FastifyRequest) => Promise<{ id: string }>) =>
    app.post(
      `/claims/:claimId/${path}`,
      {
        config: read('claims:write'),
        schema: {
          ...api,
          summary,
          params: ClaimParams,
          response: { 200: Claim, ...problems(400, 401, 403, 404, 409) },
        },
      },
      async (req) => view('Claim', req, await run(req).catch(http)),
    );
  const claimIdOf = (req: FastifyRequest) => (req.params as Static<typeof ClaimParams>).claimId;
  step('triage', 'Take the claim into triage (claims adjusters)', (req) =>
    service.triage(callerOf(req), claimIdOf(req)),
  );
  step('assessment', 'Start the assessment; fraud signals are evaluated again (claims adjusters)', (req) =>
    service.startAssessment(callerOf(req), claimIdOf(req)),
  );
  step('close', 'Close a paid, approved or denied claim (claims adjusters)', (req) =>
    service.close(callerOf(req), claimIdOf(req)),
  );

  app.post(
    '/claims/:claimId/approve',
    {
      config: { ...read('claims:write'), idempotency: true },
      schema: {
        ...api,
        summary:
          'Approve the claim for an amount, within the adjuster’s authority (step-up above single-factor)',
        params: ClaimParams,
        headers: IdempotencyKeyHeaders,
        body: Type.Object(
          { amount: Amount, note: Type.Optional(Text(4000)) },
          { additionalProperties: false },
        ),
        response: { 200: Claim, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) =>
      idempotent(req, reply, 200, async (tx) =>
        view(
          'Claim',
          req,
          await service.approve(
            callerOf(req),
            req.params.claimId,
            { amount: BigInt(req.body.amount), note: req.body.note },
            { tx },
          ),
        ),
      ),
  );

  app.post(
    '/claims/:claimId/deny',
    {
      config: read('claims:write'),
      schema: {
        ...api,
        summary: 'Deny the claim with a reason (claims adjusters)',
        params: ClaimParams,
        body: Type.Object(
          { reason: literals(DENIAL_REASONS), note: Type.Optional(Text(4000)) },
          { additionalProperties: false },
        ),
        response: { 200: Claim, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (req) =>
      view('Claim', req, await service.deny(callerOf(req), req.params.claimId, req.body).catch(http)),
  );

  app.post(
    '/claims/:claimId/fraud-review/clear',
    {
      config: read('claims:write'),
      schema: {
        ...api,
        summary: 'Clear the fraud review after examining the signals (claims adjusters; audited)',
        params: ClaimParams,
        body: NoteBody,
        response: { 200: Claim, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (req) =>
      view(
        'Claim',
        req,
        await service.clearFraudReview(callerOf(req), req.params.claimId, req.body).catch(http),
      ),
  );

  app.post(
    '/claims/:claimId/documents',
    {
      config: read('claims:write'),
      schema: {
        ...api,
        summary: 'Register a document of the claim (metadata; the content store comes later)',
        params: ClaimParams,
        body: DocumentBody,
        response: { 201: ClaimDocument, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(await service.addDocument(callerOf(req), req.params.claimId, req.body).catch(http)),
  );

  app.get(
    '/claims/:claimId/documents',
    {
      config: read('claims:read'),
      schema: {
        ...api,
        summary: 'List the documents of a claim',
        params: ClaimParams,
        querystring: PageQuery,
        response: { 200: PageOf(ClaimDocument), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) =>
      service.listDocuments(callerOf(req), req.params.claimId, req.query.limit, req.query.after).catch(http),
  );
};

// --- admin face ------------------------------------------------------------------------------

const admin = { tags: ['admin: insurance'], security: [{ bootstrapAdmin: [] }] };
const operator = (req: { id: string }): OperatorContext => ({
  actor: { type: 'operator', id: 'bootstrap-admin' },
  requestId: req.id,
});

export const insuranceAdminRoutes: FastifyPluginAsyncTypebox<{ service: InsuranceService }> = async (
  app,
  { service },
) => {
  app.post(
    '/tenants/:tenantId/products',
    {
      schema: {
        ...admin,
        summary: 'Create an insurance product for a tenant',
        params: TenantParams,
        body: ProductBody,
        response: { 201: Product, ...problems(400, 401, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const product = await service
        .createProduct(
          req.params.tenantId,
          {
            ...b,
            premium: {
              frequency: b.premium.frequency,
              annualBase: BigInt(b.premium.annualBase),
              ratePerMille: BigInt(b.premium.ratePerMille ?? 0),
            },
            coverLimit: BigInt(b.coverLimit),
          },
          operator(req),
        )
        .catch(http);
      return reply.code(201).send(product);
    },
  );

  app.get(
    '/tenants/:tenantId/products',
    {
      schema: {
        ...admin,
        summary: 'List a tenant’s insurance products',
        params: TenantParams,
        querystring: PageQuery,
        response: { 200: PageOf(Product), ...problems(400, 401) },
      },
    },
    async (req) => service.listProducts(req.params.tenantId, req.query.limit, req.query.after),
  );

  app.get(
    '/tenants/:tenantId/adjusters/:userId/authority',
    {
      schema: {
        ...admin,
        summary: 'A claims adjuster’s approval authority, per currency',
        params: AdjusterParams,
        response: { 200: Authority, ...problems(401, 404) },
      },
    },
    async (req) => service.getAuthority(req.params.tenantId, req.params.userId).catch(http),
  );

  app.put(
    '/tenants/:tenantId/adjusters/:userId/authority',
    {
      schema: {
        ...admin,
        summary:
          'Set a claims adjuster’s approval authority: per currency, the single-factor and multi-factor ceilings (minor units)',
        params: AdjusterParams,
        body: AuthorityBody,
        response: { 200: Authority, ...problems(400, 401, 404, 415, 422) },
      },
    },
    async (req) =>
      service
        .setAuthority(
          req.params.tenantId,
          req.params.userId,
          Object.fromEntries(
            Object.entries(req.body.limits).map(([c, l]) => [
              c,
              { single: BigInt(l.single), multi: BigInt(l.multi) },
            ]),
          ),
          operator(req),
        )
        .catch(http),
  );
};
