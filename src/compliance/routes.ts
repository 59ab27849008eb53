/**
 * Admin API of compliance: the evidence report (`GET /admin/compliance/report`), the record of
 * processing (`GET /admin/compliance/ropa`) and each tenant's risk register
 * (`/admin/tenants/:tenantId/risks`). The one place compliance errors become HTTP.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { operatorActor } from '../gateway/admin-auth.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { TenantError } from '../tenants/errors.ts';
import type { TenantService } from '../tenants/index.ts';
import type { EvidenceSources } from './facts.ts';
import { CONTENT_TYPES, HTML_CSP, type ReportFormat, renderReport, renderRopa } from './render.ts';
import { buildReport, ReportSchema, RopaSchema, ropaJson } from './report.ts';
import { buildRopa } from './ropa.ts';
import type { RiskService } from './service.ts';

const tags = { security: [{ bootstrapAdmin: [] }] };
const FormatQuery = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('md'), Type.Literal('html')], {
      default: 'json',
      description: '`json` (schema in the 200 response), `md` (Markdown) or `html` (self-contained page)',
    }),
  },
  { additionalProperties: false },
);

/** Markdown or HTML: the rendered text with its media type (HTML with a CSP for its one style). */
function sendText(reply: FastifyReply, format: Exclude<ReportFormat, 'json'>, text: string) {
  if (format === 'html') reply.header('content-security-policy', HTML_CSP);
  return reply.type(CONTENT_TYPES[format]).send(text);
}

export const complianceReportRoutes: FastifyPluginAsyncTypebox<{
  sources: () => EvidenceSources;
}> = async (app, { sources }) => {
  app.get(
    '/report',
    {
      schema: {
        ...tags,
        tags: ['admin: compliance'],
        summary:
          'Compliance report: ISO 27001 Annex A, PSD2 RTS (SCA) and OWASP API Top 10 controls, each judged on live evidence from this deployment',
        querystring: FormatQuery,
        response: { 200: Type.Union([ReportSchema, Type.String()]) },
      },
    },
    async (req, reply) => {
      const report = await buildReport(sources(), { source: 'server' });
      const { format } = req.query;
      if (format === 'json') return report;
      return sendText(reply, format, renderReport(report, format));
    },
  );
  app.get(
    '/ropa',
    {
      schema: {
        ...tags,
        tags: ['admin: compliance'],
        summary: 'GDPR Art. 30 record of processing activities',
        querystring: FormatQuery,
        response: { 200: Type.Union([RopaSchema, Type.String()]) },
      },
    },
    async (req, reply) => {
      const s = sources();
      const ropa = buildRopa(s.config, new Date((s.now ?? Date.now)()));
      const { format } = req.query;
      if (format === 'json') return ropaJson(ropa);
      return sendText(reply, format, renderRopa(ropa, format));
    },
  );
};

// ---- risk register ------------------------------------------------------------------------------

const Text = (max: number, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength: max,
    pattern: '^[^\\p{Cc}]*\\S[^\\p{Cc}]*$',
    ...(description ? { description } : {}),
  });
const Scale = (what: string) =>
  Type.Integer({ minimum: 1, maximum: 5, description: `${what}, 1 (lowest) to 5 (highest)` });
const ControlRef = Type.String({
  pattern: '^(iso27001|psd2-rts|owasp-api):[a-z0-9.]{1,16}$',
  description: 'A control of the report: `iso27001:8.24`, `psd2-rts:art4`, `owasp-api:api1`',
});
const Treatment = Type.Union(
  [Type.Literal('avoid'), Type.Literal('mitigate'), Type.Literal('transfer'), Type.Literal('accept')],
  { description: 'ISO 27005 treatment option' },
);
const RiskStatus = Type.Union(
  [Type.Literal('identified'), Type.Literal('treating'), Type.Literal('monitoring'), Type.Literal('closed')],
  { description: 'identified → treating → monitoring → closed' },
);

const RiskBody = Type.Object(
  {
    title: Text(200),
    description: Text(4000),
    likelihood: Scale('Likelihood'),
    impact: Scale('Impact'),
    owner: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[A-Za-z0-9][A-Za-z0-9 ._:@-]*$',
      description: 'Accountable role or operator id (not a personal name)',
    }),
    treatment: Treatment,
    treatmentPlan: Text(4000, 'What is done about it (for accept: the acceptance rationale)'),
    controls: Type.Array(ControlRef, { maxItems: 50, uniqueItems: true }),
    status: RiskStatus,
    reviewDue: Type.String({ format: 'date-time', description: 'Next review date (RFC 3339)' }),
  },
  { additionalProperties: false },
);
const Risk = Type.Object(
  {
    id: Uuid,
    tenantId: Uuid,
    title: Type.String(),
    description: Type.String(),
    likelihood: Type.Integer(),
    impact: Type.Integer(),
    score: Type.Integer({ description: 'likelihood × impact, 1-25' }),
    level: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], {
      description: 'high ≥ 15, medium ≥ 8',
    }),
    owner: Type.String(),
    treatment: Treatment,
    treatmentPlan: Type.String(),
    controls: Type.Array(Type.String()),
    status: RiskStatus,
    reviewDue: Timestamp,
    overdue: Type.Boolean(),
    lastReviewedAt: Type.Union([Timestamp, Type.Null()]),
    createdBy: Type.String(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);
const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const RiskParams = Type.Object({ tenantId: Uuid, riskId: Uuid }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    ...PageQuery.properties,
    status: Type.Optional(RiskStatus),
    overdue: Type.Optional(Type.Boolean({ description: 'Only open risks past their review date' })),
  },
  { additionalProperties: false },
);
const ReviewBody = Type.Object(
  {
    nextReviewDue: Type.String({ format: 'date-time' }),
    likelihood: Type.Optional(Scale('Reassessed likelihood')),
    impact: Type.Optional(Scale('Reassessed impact')),
    status: Type.Optional(RiskStatus),
  },
  { additionalProperties: false },
);

/** Mount under `/admin/tenants/:tenantId/risks`. */
export const riskAdminRoutes: FastifyPluginAsyncTypebox<{
  service: RiskService;
  tenants: TenantService;
}> = async (app, { service, tenants }) => {
  const admin = { ...tags, tags: ['admin: risk register'] };
  const tenantExists = async (tenantId: string) => {
    await tenants.getTenant(tenantId).catch((err: unknown) => {
      throw err instanceof TenantError ? new AppError(err.code) : err;
    });
  };

  app.get(
    '/',
    {
      schema: {
        ...admin,
        summary: "The tenant's risks, by id",
        params: TenantParams,
        querystring: ListQuery,
        response: { 200: PageOf(Risk), ...problems(400, 404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return service.list({ tenantId: req.params.tenantId, ...req.query });
    },
  );
  app.post(
    '/',
    {
      schema: {
        ...admin,
        summary: 'Register a risk',
        params: TenantParams,
        body: RiskBody,
        response: { 201: Risk, ...problems(400, 404) },
      },
    },
    async (req, reply) => {
      await tenantExists(req.params.tenantId);
      const risk = await service.create(req.params.tenantId, req.body, operatorActor(req), req.id);
      return reply.code(201).send(risk);
    },
  );
  app.get(
    '/:riskId',
    {
      schema: {
        ...admin,
        summary: 'One risk',
        params: RiskParams,
        response: { 200: Risk, ...problems(404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return service.get(req.params.tenantId, req.params.riskId);
    },
  );
  app.put(
    '/:riskId',
    {
      schema: {
        ...admin,
        summary: 'Replace a risk’s assessment, owner, treatment, controls, status and review date',
        params: RiskParams,
        body: RiskBody,
        response: { 200: Risk, ...problems(400, 404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return service.replace(req.params.tenantId, req.params.riskId, req.body, operatorActor(req), req.id);
    },
  );
  app.post(
    '/:riskId/reviews',
    {
      schema: {
        ...admin,
        summary: 'Record a review of the risk (optionally reassessed) and set the next review date',
        params: RiskParams,
        body: ReviewBody,
        response: { 200: Risk, ...problems(400, 404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return service.review(req.params.tenantId, req.params.riskId, req.body, operatorActor(req), req.id);
    },
  );
  app.delete(
    '/:riskId',
    {
      schema: {
        ...admin,
        summary: 'Delete a risk (the audit trail keeps its last state)',
        params: RiskParams,
        response: { 204: Type.Null(), ...problems(404) },
      },
    },
    async (req, reply) => {
      await tenantExists(req.params.tenantId);
      await service.delete(req.params.tenantId, req.params.riskId, operatorActor(req), req.id);
      return reply.code(204).send(null);
    },
  );
};
