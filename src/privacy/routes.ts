/**
 * Data-subject requests, consents, legal holds and retention settings over HTTP.
 *
 * Partners (`/v1/privacy/...`, scopes parties:read / parties:write) act for their customers and
 * policyholders for themselves: the subject is checked with Cedar as a `Customer` (`read` for an
 * export, `update` for anything that changes data), and a subject the caller may not act for
 * answers exactly like a missing one. Operators (`/admin/tenants/:tenantId/privacy/...`) act for
 * any subject of the tenant, including a user without a customer record.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { rejectForbiddenFields } from '../access/fields.ts';
import { authorize, callerOf } from '../access/guard.ts';
import type { Action } from '../access/types.ts';
import { operatorActor } from '../gateway/admin-auth.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { TenantError } from '../tenants/errors.ts';
import type { TenantService } from '../tenants/index.ts';
import { PrivacyError } from './errors.ts';
import { type CallContext, consentJson, type PrivacyService, RETENTION_CATEGORIES } from './service.ts';
import type { RequestRow } from './store.ts';

const Kind = Type.Union([
  Type.Literal('access'),
  Type.Literal('portability'),
  Type.Literal('erasure'),
  Type.Literal('rectification'),
]);
const Purpose = Type.Union([
  Type.Literal('account_information'),
  Type.Literal('marketing'),
  Type.Literal('analytics'),
  Type.Literal('data_sharing'),
]);
const Basis = Type.Union([
  Type.Literal('consent'),
  Type.Literal('contract'),
  Type.Literal('legal_obligation'),
  Type.Literal('vital_interests'),
  Type.Literal('public_task'),
  Type.Literal('legitimate_interests'),
]);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Country = Type.String({ pattern: '^[A-Z]{2}$' });
/**
 * Rectification (Art. 16): the customer fields to correct, shaped as the customers API takes them;
 * the kyc module validates and applies them (PATCH /v1/customers/:id semantics).
 */
const Changes = Type.Object(
  {
    name: Type.Optional(
      Type.Object({ given: text(100), family: text(100) }, { additionalProperties: false }),
    ),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    phone: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$' })),
    dateOfBirth: Type.Optional(Type.String({ format: 'date' })),
    nationalId: Type.Optional(
      Type.Object(
        {
          country: Country,
          value: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9][A-Za-z0-9 .+/-]*$' }),
        },
        { additionalProperties: false },
      ),
    ),
    address: Type.Optional(
      Type.Object(
        {
          line1: text(200),
          line2: Type.Optional(text(200)),
          postalCode: Type.Optional(
            Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9][A-Za-z0-9 -]*$' }),
          ),
          city: text(100),
          region: Type.Optional(text(100)),
          country: Country,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

const RequestJson = Type.Object(
  {
    id: Uuid,
    kind: Kind,
    status: Type.String(),
    customerId: Nullable(Uuid),
    userId: Nullable(Uuid),
    partnerId: Nullable(Uuid),
    receivedAt: Timestamp,
    dueAt: Type.String({ format: 'date-time', description: 'One month from receipt (GDPR Art. 12(3))' }),
    extendedDueAt: Nullable(Timestamp),
    extensionReason: Nullable(Type.String()),
    scheduledFor: Nullable(
      Type.String({ format: 'date-time', description: 'Erasure deferred to the end of a retention period' }),
    ),
    completedAt: Nullable(Timestamp),
    outcome: Type.Object(
      {
        sources: Type.Optional(Type.Array(Type.String())),
        erased: Type.Optional(Type.Array(Type.String())),
        kept: Type.Optional(
          Type.Array(
            Type.Object(
              {
                source: Type.String(),
                legalBasis: Type.String(),
                until: Type.Optional(Nullable(Type.String())),
              },
              { additionalProperties: false },
            ),
          ),
        ),
        destroyedKeys: Type.Optional(Type.Integer()),
        fields: Type.Optional(Type.Array(Type.String())),
        reason: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const ExportJson = Type.Object(
  {
    format: Type.Literal('bulwark.subject-export.v1'),
    requestId: Uuid,
    generatedAt: Timestamp,
    subject: Type.Object(
      { customerId: Nullable(Uuid), userId: Nullable(Uuid) },
      { additionalProperties: false },
    ),
    sources: Type.Record(Type.String(), Type.Unknown(), {
      description: 'One member per data source (kyc, identity, insurance, ledger, payments, consents, audit)',
    }),
  },
  { additionalProperties: false },
);

const Evidence = Type.Record(Type.String(), Nullable(Type.String()));
const ConsentJson = Type.Object(
  {
    id: Uuid,
    customerId: Uuid,
    partnerId: Uuid,
    purpose: Type.String(),
    lawfulBasis: Type.String(),
    accountIds: Type.Array(Uuid),
    status: Type.String(),
    grantedAt: Timestamp,
    expiresAt: Nullable(Timestamp),
    withdrawnAt: Nullable(Timestamp),
    evidence: Evidence,
    withdrawalEvidence: Nullable(Evidence),
  },
  { additionalProperties: false },
);

const Method = Type.String({
  pattern: '^[a-z][a-z0-9_.-]{0,63}$',
  description: 'How it was captured: in_app_checkbox, signed_form, api, support_call…',
});
const ConsentBody = Type.Object(
  {
    customerId: Uuid,
    purpose: Purpose,
    lawfulBasis: Basis,
    accountIds: Type.Optional(Type.Array(Uuid, { maxItems: 50 })),
    expiresAt: Type.Optional(Timestamp),
    method: Method,
  },
  { additionalProperties: false },
);

const HoldJson = Type.Object(
  {
    id: Uuid,
    customerId: Uuid,
    reason: Type.String(),
    placedBy: Type.String(),
    placedAt: Timestamp,
    releasedAt: Nullable(Timestamp),
  },
  { additionalProperties: false },
);

const retentionProps = Object.fromEntries(
  Object.entries(RETENTION_CATEGORIES).map(([k, r]) => [
    k,
    Type.Optional(Type.Integer({ minimum: r.minDays, maximum: r.maxDays })),
  ]),
);
const SettingsJson = Type.Object(
  {
    accountConsentRequired: Type.Boolean({
      description: 'Partner apps need an account_information consent to read customer accounts',
    }),
    retentionDays: Type.Object(retentionProps, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const Reason = Type.Object(
  { reason: Type.String({ minLength: 3, maxLength: 500 }) },
  { additionalProperties: false },
);
const WithdrawBody = Type.Object({ method: Type.Optional(Method) }, { additionalProperties: false });

function requestJson(r: RequestRow) {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    customerId: r.customerId,
    userId: r.userId,
    partnerId: r.partnerId,
    receivedAt: r.receivedAt.toISOString(),
    dueAt: r.dueAt.toISOString(),
    extendedDueAt: r.extendedDueAt?.toISOString() ?? null,
    extensionReason: r.extensionReason,
    scheduledFor: r.scheduledFor?.toISOString() ?? null,
    completedAt: r.completedAt?.toISOString() ?? null,
    outcome: r.outcome,
  };
}

const page = <T extends { id: string }>(items: T[], limit: number) => ({
  items: items.slice(0, limit),
  nextCursor: items.length > limit ? (items[limit - 1]?.id ?? null) : null,
});

// ---- partners and policyholders: /v1/privacy ---------------------------------------------------

export const privacyRoutes: FastifyPluginAsyncTypebox<{ service: PrivacyService }> = async (
  app,
  { service },
) => {
  const v1 = { tags: ['privacy'], security: [{ dpop: [] }] };

  function context(req: FastifyRequest, action: Action): CallContext {
    const caller = callerOf(req);
    return {
      tenantId: caller.tenantId,
      actor: caller.actor,
      requestId: caller.requestId,
      access: (o) =>
        authorize(
          app.authz,
          caller,
          action,
          {
            type: 'Customer',
            id: o.id,
            tenant: caller.tenantId,
            partner: o.partner,
            ...(o.owner ? { owner: o.owner } : {}),
          },
          { notFound: () => new PrivacyError('PRIVACY_SUBJECT_NOT_FOUND') },
        ),
    };
  }
  const listFilter = (req: FastifyRequest) => {
    const caller = callerOf(req);
    return caller.kind === 'user' ? { ownerUserId: caller.userId } : { partnerId: caller.partnerId };
  };

  app.post(
    '/privacy/requests',
    {
      config: { scopes: ['parties:write'] },
      schema: {
        ...v1,
        summary: 'File a data-subject request: access / portability export, erasure, or rectification',
        body: Type.Object(
          { kind: Kind, customerId: Uuid, changes: Type.Optional(Changes) },
          { additionalProperties: false },
        ),
        response: { 201: RequestJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const action: Action =
        req.body.kind === 'access' || req.body.kind === 'portability' ? 'read' : 'update';
      if (req.body.changes)
        rejectForbiddenFields(req.body.changes, callerOf(req).roles, 'Customer', 'update');
      const row = await service.createRequest(context(req, action), req.body);
      return reply.code(201).send(requestJson(row));
    },
  );

  app.get(
    '/privacy/requests',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...v1,
        summary: "The caller's data-subject requests (a partner: its customers'; a policyholder: their own)",
        querystring: PageQuery,
        response: { 200: PageOf(RequestJson), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const items = await service.listRequests(caller.tenantId, listFilter(req), {
        after: req.query.after,
        limit: req.query.limit + 1,
      });
      return page(items.map(requestJson), req.query.limit);
    },
  );

  app.get(
    '/privacy/requests/:id',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...v1,
        summary: 'A data-subject request',
        params: IdParams,
        response: { 200: RequestJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => requestJson(await service.getRequest(context(req, 'read'), req.params.id)),
  );

  app.post(
    '/privacy/requests/:id/extend',
    {
      config: { scopes: ['parties:write'] },
      schema: {
        ...v1,
        summary: 'Extend the deadline once by two months, with the reason told to the subject (Art. 12(3))',
        params: IdParams,
        body: Reason,
        response: { 200: RequestJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req) =>
      requestJson(await service.extendRequest(context(req, 'update'), req.params.id, req.body.reason)),
  );

  app.get(
    '/privacy/requests/:id/export',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...v1,
        summary: 'The machine-readable export of a completed access or portability request (Art. 15/20)',
        params: IdParams,
        response: { 200: ExportJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req) => service.exportRequest(context(req, 'read'), req.params.id),
  );

  app.post(
    '/privacy/consents',
    {
      config: { scopes: ['parties:write'] },
      schema: {
        ...v1,
        summary: "Record a customer's consent to the calling partner (e.g. PSD2 account information)",
        body: ConsentBody,
        response: { 201: ConsentJson, ...problems(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      if (!caller.partnerId) throw new PrivacyError('PRIVACY_CONSENT_INVALID', 'the caller has no partner');
      const row = await service.grantConsent(context(req, 'update'), {
        ...req.body,
        partnerId: caller.partnerId,
        expiresAt: req.body.expiresAt ? new Date(req.body.expiresAt) : undefined,
      });
      return reply.code(201).send(consentJson(row));
    },
  );

  app.get(
    '/privacy/consents',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...v1,
        summary: "A customer's consents to the calling partner",
        querystring: Type.Object(
          {
            customerId: Uuid,
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
            after: Type.Optional(Uuid),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(ConsentJson), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const items = await service.listConsents(
        context(req, 'read'),
        {
          customerId: req.query.customerId,
          ...(caller.kind === 'client' ? { partnerId: caller.partnerId } : {}),
        },
        { after: req.query.after, limit: req.query.limit + 1 },
      );
      return page(items.map(consentJson), req.query.limit);
    },
  );

  app.get(
    '/privacy/consents/:id',
    {
      config: { scopes: ['parties:read'] },
      schema: {
        ...v1,
        summary: 'A consent',
        params: IdParams,
        response: { 200: ConsentJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => consentJson(await service.getConsent(context(req, 'read'), req.params.id)),
  );

  app.post(
    '/privacy/consents/:id/withdraw',
    {
      config: { scopes: ['parties:write'] },
      schema: {
        ...v1,
        summary:
          'Withdraw a consent; it stops counting at once (account reads are refused from the next call)',
        params: IdParams,
        body: WithdrawBody,
        response: { 200: ConsentJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req) =>
      consentJson(
        await service.withdrawConsent(context(req, 'update'), req.params.id, req.body.method ?? 'api'),
      ),
  );
};

// ---- operators: /admin/tenants/:tenantId/privacy ------------------------------------------------

export const privacyAdminRoutes: FastifyPluginAsyncTypebox<{
  service: PrivacyService;
  tenants: TenantService;
}> = async (app, { service, tenants }) => {
  const admin = { tags: ['admin: privacy'], security: [{ bootstrapAdmin: [] }] };
  const Params = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
  const ParamsId = Type.Object({ tenantId: Uuid, id: Uuid }, { additionalProperties: false });
  const tenantExists = async (tenantId: string) => {
    await tenants.getTenant(tenantId).catch((err: unknown) => {
      throw err instanceof TenantError ? new AppError(err.code) : err;
    });
  };
  const ctx = async (req: FastifyRequest, tenantId: string): Promise<CallContext> => {
    await tenantExists(tenantId);
    return { tenantId, actor: operatorActor(req), requestId: req.id };
  };

  app.post(
    '/requests',
    {
      schema: {
        ...admin,
        summary: 'File a data-subject request for a customer or a user of the tenant',
        params: Params,
        body: Type.Object(
          {
            kind: Kind,
            customerId: Type.Optional(Uuid),
            userId: Type.Optional(Uuid),
            changes: Type.Optional(Changes),
          },
          { additionalProperties: false },
        ),
        response: { 201: RequestJson, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const row = await service.createRequest(await ctx(req, req.params.tenantId), req.body);
      return reply.code(201).send(requestJson(row));
    },
  );

  app.get(
    '/requests',
    {
      schema: {
        ...admin,
        summary: "The tenant's data-subject requests, with their deadlines",
        params: Params,
        querystring: PageQuery,
        response: { 200: PageOf(RequestJson), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      const items = await service.listRequests(
        req.params.tenantId,
        {},
        { after: req.query.after, limit: req.query.limit + 1 },
      );
      return page(items.map(requestJson), req.query.limit);
    },
  );

  app.get(
    '/requests/:id',
    {
      schema: {
        ...admin,
        summary: 'A data-subject request',
        params: ParamsId,
        response: { 200: RequestJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => requestJson(await service.getRequest(await ctx(req, req.params.tenantId), req.params.id)),
  );

  app.post(
    '/requests/:id/extend',
    {
      schema: {
        ...admin,
        summary: 'Extend the deadline once by two months, with a reason (Art. 12(3))',
        params: ParamsId,
        body: Reason,
        response: { 200: RequestJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req) =>
      requestJson(
        await service.extendRequest(await ctx(req, req.params.tenantId), req.params.id, req.body.reason),
      ),
  );

  app.get(
    '/requests/:id/export',
    {
      schema: {
        ...admin,
        summary: 'The export of a completed access or portability request',
        params: ParamsId,
        response: { 200: ExportJson, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req) => service.exportRequest(await ctx(req, req.params.tenantId), req.params.id),
  );

  app.get(
    '/consents',
    {
      schema: {
        ...admin,
        summary: "A customer's consents",
        params: Params,
        querystring: Type.Object(
          {
            customerId: Uuid,
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
            after: Type.Optional(Uuid),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(ConsentJson), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const items = await service.listConsents(
        await ctx(req, req.params.tenantId),
        { customerId: req.query.customerId },
        { after: req.query.after, limit: req.query.limit + 1 },
      );
      return page(items.map(consentJson), req.query.limit);
    },
  );

  const holdJson = (h: Awaited<ReturnType<PrivacyService['placeHold']>>) => ({
    id: h.id,
    customerId: h.customerId,
    reason: h.reason,
    placedBy: h.placedBy,
    placedAt: h.placedAt.toISOString(),
    releasedAt: h.releasedAt?.toISOString() ?? null,
  });

  app.post(
    '/holds',
    {
      schema: {
        ...admin,
        summary: "Place a legal hold on a customer's data: erasure is refused while it lasts (Art. 17(3)(e))",
        params: Params,
        body: Type.Object(
          { customerId: Uuid, reason: Type.String({ minLength: 3, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 201: HoldJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const h = await service.placeHold(
        await ctx(req, req.params.tenantId),
        req.body.customerId,
        req.body.reason,
      );
      return reply.code(201).send(holdJson(h));
    },
  );

  app.get(
    '/holds',
    {
      schema: {
        ...admin,
        summary: "The tenant's legal holds (latest 500)",
        params: Params,
        response: {
          200: Type.Object({ items: Type.Array(HoldJson) }, { additionalProperties: false }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return { items: (await service.listHolds(req.params.tenantId)).map(holdJson) };
    },
  );

  app.post(
    '/holds/:id/release',
    {
      schema: {
        ...admin,
        summary: 'Release a legal hold',
        params: ParamsId,
        response: { 200: HoldJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => holdJson(await service.releaseHold(await ctx(req, req.params.tenantId), req.params.id)),
  );

  app.get(
    '/settings',
    {
      schema: {
        ...admin,
        summary: "The tenant's privacy settings (defaults if never set)",
        params: Params,
        response: { 200: SettingsJson, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return service.getSettings(req.params.tenantId);
    },
  );

  app.put(
    '/settings',
    {
      schema: {
        ...admin,
        summary: 'Set whether partners need account consents, and retention periods per data category (days)',
        params: Params,
        body: SettingsJson,
        response: { 200: SettingsJson, ...problems(400, 401, 403, 404, 422) },
      },
    },
    async (req) =>
      service.putSettings(await ctx(req, req.params.tenantId), {
        accountConsentRequired: req.body.accountConsentRequired,
        retentionDays: req.body.retentionDays as Record<string, number>,
      }),
  );
};
