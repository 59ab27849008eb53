import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, type TSchema, Type } from 'typebox';
import {
  type Action,
  authorize,
  type BusinessResourceType,
  type Caller,
  callerOf,
  readableView,
  rejectForbiddenFields,
} from '../access/index.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { CASE_STATUSES, KYC_STATUSES } from './schema.ts';
import type { AccessCheck, CallContext, KycService } from './service.ts';

// --- schema pieces -------------------------------------------------------------------------

/** Printable text without surrounding blanks or line breaks. */
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^\\S(.*\\S)?$' });
const Country = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' });
const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD' });
const obj = <T extends Parameters<typeof Type.Object>[0]>(props: T) =>
  Type.Object(props, { additionalProperties: false });

const PersonName = obj({ given: Text(100), family: Text(100) });
const NationalId = obj({
  country: Country,
  value: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9][A-Za-z0-9 .+/-]*$' }),
});
const Address = obj({
  line1: Text(200),
  line2: Type.Optional(Text(200)),
  postalCode: Type.Optional(
    Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9][A-Za-z0-9 -]*$' }),
  ),
  city: Text(100),
  region: Type.Optional(Text(100)),
  country: Country,
});
const Email = Type.String({ format: 'email', maxLength: 254 });
/** E.164 (ITU-T): + and up to 15 digits. */
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' });
const Iban = Type.String({ minLength: 5, maxLength: 42, pattern: '^[A-Za-z0-9 ]+$' });
const Owner = obj({
  name: PersonName,
  dateOfBirth: Type.Optional(Day),
  nationality: Type.Optional(Country),
  ownershipPercent: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
});
const ExternalRef = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' });

const dataFields = {
  name: Type.Optional(PersonName),
  dateOfBirth: Type.Optional(Day),
  nationalId: Type.Optional(NationalId),
  email: Type.Optional(Email),
  phone: Type.Optional(Phone),
  address: Type.Optional(Address),
  iban: Type.Optional(Iban),
  legalName: Type.Optional(Text(200)),
  registrationNumber: Type.Optional(
    Type.String({ minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9][A-Za-z0-9 .\\-/]*$' }),
  ),
  country: Type.Optional(Country),
  beneficialOwners: Type.Optional(Type.Array(Owner, { maxItems: 20 })),
};

const CreateCustomer = obj({
  kind: Type.Union([Type.Literal('person'), Type.Literal('business')]),
  externalRef: Type.Optional(ExternalRef),
  ownerUserId: Type.Optional(Uuid),
  ...dataFields,
});
const UpdateCustomer = Type.Object(
  {
    externalRef: Type.Optional(ExternalRef),
    ownerUserId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    ...dataFields,
  },
  { additionalProperties: false, minProperties: 1 },
);

/** What may leave: every field optional, as each role sees a different slice (FIELD_ACCESS). */
const Customer = obj({
  id: Uuid,
  partnerId: Type.Optional(Uuid),
  ownerUserId: Type.Optional(Type.Union([Uuid, Type.Null()])),
  kind: Type.Optional(Type.String()),
  environment: Type.Optional(Type.String()),
  externalRef: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  name: Type.Optional(PersonName),
  dateOfBirth: Type.Optional(Type.String()),
  nationalId: Type.Optional(NationalId),
  email: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String()),
  address: Type.Optional(Address),
  iban: Type.Optional(Type.String()),
  legalName: Type.Optional(Type.String()),
  registrationNumber: Type.Optional(Type.String()),
  country: Type.Optional(Type.String()),
  beneficialOwners: Type.Optional(Type.Array(Owner)),
  kycStatus: Type.Optional(Type.String({ enum: [...KYC_STATUSES] })),
  riskScore: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  pep: Type.Optional(Type.Boolean()),
  createdAt: Type.Optional(Timestamp),
  updatedAt: Type.Optional(Timestamp),
});

const Document = obj({
  type: Type.Union([
    Type.Literal('passport'),
    Type.Literal('id_card'),
    Type.Literal('driving_licence'),
    Type.Literal('residence_permit'),
    Type.Literal('company_extract'),
  ]),
  number: Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9][A-Za-z0-9 <-]*$' }),
  issuingCountry: Country,
  issuedOn: Type.Optional(Day),
  expiresOn: Type.Optional(Day),
});
const Severity = Type.String({ enum: ['info', 'low', 'medium', 'high', 'critical'] });
const Check = obj({
  provider: Type.String(),
  code: Type.String(),
  severity: Severity,
  weight: Type.Number(),
  message: Type.String(),
  subject: Type.Optional(Type.String()),
});
const SanctionsHit = obj({
  subject: Type.String(),
  list: Type.String(),
  entryId: Type.String(),
  reference: Type.Optional(Type.String()),
  programme: Type.Optional(Type.String()),
  listedName: Type.String(),
  score: Type.Number(),
  method: Type.String(),
  explanation: Type.String(),
});
const KycCase = obj({
  id: Uuid,
  customerId: Type.Optional(Uuid),
  partnerId: Type.Optional(Uuid),
  status: Type.Optional(Type.String({ enum: [...CASE_STATUSES] })),
  documents: Type.Optional(Type.Array(Document)),
  checks: Type.Optional(Type.Array(Check)),
  riskScore: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  pep: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  sanctionsHits: Type.Optional(Type.Array(SanctionsHit)),
  reviewerNotes: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  decidedAt: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  createdAt: Type.Optional(Timestamp),
  updatedAt: Type.Optional(Timestamp),
});

const CustomerParams = obj({ customerId: Uuid });
const CaseParams = obj({ caseId: Uuid });

// --- helpers -------------------------------------------------------------------------------

// Domain errors need no mapping here: KycError is an AppError with its registered code, so it
// answers as its problem wherever it surfaces (also through ledger and payments routes).

function contextOf(caller: Caller): CallContext {
  return {
    tenantId: caller.tenantId,
    partnerId: caller.partnerId,
    clientId: caller.clientId,
    actor: caller.actor,
    requestId: caller.requestId,
  };
}

/** Only the fields the caller's roles may read leave (OWASP API3:2023). */
function view<S extends TSchema>(
  _schema: S,
  caller: Caller,
  type: BusinessResourceType,
  object: { id: string },
): Static<S> {
  const out: Record<string, unknown> = { id: object.id };
  for (const f of readableView(caller.roles, type)) {
    const value = (object as Record<string, unknown>)[f];
    if (value !== undefined) out[f] = value;
  }
  return out as Static<S>;
}

/** The object-level check of one object, for the service to call once it has loaded it. */
function check(
  app: { authz: Parameters<typeof authorize>[0] },
  caller: Caller,
  type: 'Customer' | 'KycCase',
  action: Action,
  notFound: () => Error,
): AccessCheck {
  return (o) =>
    authorize(
      app.authz,
      caller,
      action,
      { type, id: o.id, tenant: caller.tenantId, partner: o.partner, ...(o.owner ? { owner: o.owner } : {}) },
      { notFound },
    );
}

const customerNotFound = () => new AppError('CUSTOMER_NOT_FOUND');
const caseNotFound = () => new AppError('KYC_CASE_NOT_FOUND');

/**
 * The slice of customers a caller may list: a partner app its partner's, a policyholder their
 * own, the insurer's staff all. Authorized as `list` of that slice.
 */
function listSlice(app: { authz: Parameters<typeof authorize>[0] }, caller: Caller, type: 'Customer') {
  const filter = {
    ...(caller.roles.includes('partner_app') ? { partnerId: caller.partnerId } : {}),
    ...(caller.roles.includes('policyholder') ? { ownerUserId: caller.userId } : {}),
  };
  authorize(
    app.authz,
    caller,
    'list',
    {
      type,
      id: '*',
      tenant: caller.tenantId,
      ...(filter.partnerId ? { partner: filter.partnerId } : {}),
      ...(filter.ownerUserId ? { owner: filter.ownerUserId } : {}),
    },
    { notFound: customerNotFound },
  );
  return filter;
}

const api = { tags: ['partner API: parties and KYC'], security: [{ dpop: [] }] };

/**
 * Partner API (`/v1`): customers and their identity verification. The customer routes carry
 * personal data, so they also take and give JWE-encrypted payloads (`jwe: 'allowed'`, src/gateway/jwe).
 */
export const kycRoutes: FastifyPluginAsyncTypebox<{ service: KycService }> = async (app, { service }) => {
  // --- customers -----------------------------------------------------------------------------

  app.post(
    '/customers',
    {
      config: { scopes: ['parties:write'], jwe: 'allowed' },
      schema: {
        ...api,
        summary: 'Onboard a customer (a person, or a business with its beneficial owners)',
        body: CreateCustomer,
        response: { 201: Customer, ...problems(400, 401, 403, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Customer', 'create');
      const created = await service.createCustomer(
        contextOf(caller),
        req.body,
        check(app, caller, 'Customer', 'create', customerNotFound),
      );
      return reply.code(201).send(view(Customer, caller, 'Customer', created));
    },
  );

  app.get(
    '/customers',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...api,
        summary: "List the customers the caller may see (a partner app: its own partner's)",
        querystring: PageQuery,
        response: { 200: PageOf(Customer), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const filter = listSlice(app, caller, 'Customer');
      const page = await service.listCustomers(caller.tenantId, filter, {
        limit: req.query.limit,
        after: req.query.after,
      });
      return {
        items: page.items.map((c) => view(Customer, caller, 'Customer', c)),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.post(
    '/customers/search',
    {
      config: { scopes: ['parties:read'], jwe: 'allowed' },
      schema: {
        ...api,
        summary:
          'Find customers by exact e-mail or national id / registration number (in the body: no PII in URLs)',
        body: Type.Object(
          { email: Type.Optional(Email), nationalId: Type.Optional(NationalId) },
          { additionalProperties: false, minProperties: 1, maxProperties: 1 },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Customer) }, { additionalProperties: false }),
          ...problems(400, 401, 403, 415),
        },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const filter = listSlice(app, caller, 'Customer');
      const found = await service.findCustomers(caller.tenantId, req.body, filter);
      return { items: found.map((c) => view(Customer, caller, 'Customer', c)) };
    },
  );

  app.get(
    '/customers/:customerId',
    {
      config: { scopes: ['parties:read'], jwe: 'allowed' },
      schema: {
        ...api,
        summary: 'Get a customer',
        params: CustomerParams,
        response: { 200: Customer, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const customer = await service.getCustomer(
        caller.tenantId,
        req.params.customerId,
        check(app, caller, 'Customer', 'read', customerNotFound),
      );
      return view(Customer, caller, 'Customer', customer);
    },
  );

  app.patch(
    '/customers/:customerId',
    {
      config: { scopes: ['parties:write'], jwe: 'allowed' },
      schema: {
        ...api,
        summary: 'Change a customer; changing identity data resets the verification',
        params: CustomerParams,
        body: UpdateCustomer,
        response: { 200: Customer, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'Customer', 'update');
      const updated = await service.updateCustomer(
        contextOf(caller),
        req.params.customerId,
        req.body,
        check(app, caller, 'Customer', 'update', customerNotFound),
      );
      return view(Customer, caller, 'Customer', updated);
    },
  );

  // --- verification cases --------------------------------------------------------------------

  app.post(
    '/kyc/cases',
    {
      config: { scopes: ['kyc:write'] },
      schema: {
        ...api,
        summary: 'Submit a customer for identity verification; the checks run asynchronously',
        body: obj({ customerId: Uuid, documents: Type.Optional(Type.Array(Document, { maxItems: 5 })) }),
        response: { 202: KycCase, ...problems(400, 401, 403, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      rejectForbiddenFields(req.body, caller.roles, 'KycCase', 'create');
      const created = await service.submitCase(
        contextOf(caller),
        req.body,
        check(app, caller, 'KycCase', 'create', customerNotFound),
      );
      return reply.code(202).send(view(KycCase, caller, 'KycCase', created));
    },
  );

  app.get(
    '/kyc/cases/:caseId',
    {
      config: { scopes: ['kyc:read'] },
      schema: {
        ...api,
        summary: 'Get a verification case (findings and risk only for compliance roles)',
        params: CaseParams,
        response: { 200: KycCase, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const found = await service.getCase(
        caller.tenantId,
        req.params.caseId,
        check(app, caller, 'KycCase', 'read', caseNotFound),
      );
      return view(KycCase, caller, 'KycCase', found);
    },
  );

  app.get(
    '/customers/:customerId/kyc/cases',
    {
      config: { scopes: ['kyc:read'] },
      schema: {
        ...api,
        summary: "A customer's verification cases, oldest first",
        params: CustomerParams,
        querystring: PageQuery,
        response: { 200: PageOf(KycCase), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const page = await service.listCases(
        caller.tenantId,
        req.params.customerId,
        { limit: req.query.limit, after: req.query.after },
        check(app, caller, 'KycCase', 'list', customerNotFound),
      );
      return {
        items: page.items.map((c) => view(KycCase, caller, 'KycCase', c)),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.post(
    '/kyc/cases/:caseId/decision',
    {
      config: { scopes: ['kyc:write'] },
      schema: {
        ...api,
        summary: 'Decide a case that needs review (underwriters; audited)',
        params: CaseParams,
        body: obj({
          decision: Type.Union([Type.Literal('approved'), Type.Literal('rejected')]),
          reviewerNotes: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
        }),
        response: { 200: KycCase, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const { decision, ...fields } = req.body;
      rejectForbiddenFields(fields, caller.roles, 'KycCase', 'update');
      const decided = await service.reviewCase(
        contextOf(caller),
        req.params.caseId,
        { decision, reviewerNotes: fields.reviewerNotes },
        check(app, caller, 'KycCase', 'approve', caseNotFound),
      );
      return view(KycCase, caller, 'KycCase', decided);
    },
  );
};
