import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { IpRulesError } from '../gateway/ip-rules/index.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { UUID_PATTERN } from '../platform/ids.ts';
import { DetectionError } from './errors.ts';
import { ACTION_KINDS } from './responses.ts';
import { type DetectionService, INCIDENT_STATUSES } from './service.ts';
import { DETECTOR_IDS, SEVERITIES, SUBJECT_TYPES } from './types.ts';

const literals = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

const Detector = literals(DETECTOR_IDS, 'Detector id');
const Severity = literals(SEVERITIES);
const SubjectType = literals(SUBJECT_TYPES);
const ActionKind = literals(
  ACTION_KINDS,
  '`ip_block` temporary platform block of the source; `throttle` reduced per-minute allowance of the client; `revoke_token` the access token on the revocation list; `step_up` the user must sign in again with a second factor',
);
const IncidentStatus = literals(INCIDENT_STATUSES);
const TenantOrNull = Type.Union([Uuid, Type.Null()]);
const SubjectId = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' });
const Text = Type.String({
  minLength: 1,
  maxLength: 500,
  pattern: '^[^\\p{Cc}\\s](?:[^\\p{Cc}]*[^\\p{Cc}\\s])?$',
});
const NoteText = Type.String({ minLength: 1, maxLength: 4000, pattern: '^[^\\p{Cc}]*\\S[^\\p{Cc}]*$' });
const Ttl = Type.Integer({ minimum: 60, maximum: 30 * 86_400, description: 'Seconds' });
const Scalar = Type.Union([Type.String(), Type.Number()]);
const Subject = Type.Object({ type: Type.String(), id: Type.String() }, { additionalProperties: false });

const Explanation = Type.Object(
  {
    what: Type.String(),
    why: Type.String(),
    numbers: Type.Record(Type.String(), Scalar),
  },
  { additionalProperties: false },
);
const Context = Type.Object(
  {
    ip: Type.Optional(Type.String()),
    clientId: Type.Optional(Type.String()),
    userId: Type.Optional(Type.String()),
    tokenId: Type.Optional(Type.String()),
    tokenExp: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

const Alert = Type.Object(
  {
    id: Uuid,
    tenantId: TenantOrNull,
    detector: Type.String(),
    subject: Subject,
    severity: Severity,
    status: literals(['open', 'acknowledged', 'resolved'] as const),
    count: Type.Integer(),
    summary: Type.String(),
    explanation: Explanation,
    context: Context,
    incidentId: Type.Union([Uuid, Type.Null()]),
    firstSeenAt: Timestamp,
    lastSeenAt: Timestamp,
    acknowledgedBy: Type.Optional(Type.String()),
    acknowledgedAt: Type.Optional(Timestamp),
    resolvedBy: Type.Optional(Type.String()),
    resolvedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

const Suppression = Type.Object(
  {
    id: Uuid,
    tenantId: TenantOrNull,
    detector: Type.Union([Type.String(), Type.Null()]),
    subject: Type.Union([Subject, Type.Null()]),
    reason: Type.String(),
    createdBy: Type.String(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    liftedBy: Type.Optional(Type.String()),
    liftedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

const Action = Type.Object(
  {
    id: Uuid,
    tenantId: TenantOrNull,
    alertId: Uuid,
    detector: Type.String(),
    kind: ActionKind,
    target: Type.Object(
      {
        cidr: Type.Optional(Type.String()),
        clientId: Type.Optional(Type.String()),
        tenantId: Type.Optional(Type.String()),
        tokenId: Type.Optional(Type.String()),
        userId: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    status: literals(['applied', 'reverted', 'failed', 'skipped'] as const),
    ref: Type.Optional(Type.String()),
    note: Type.Optional(Type.String()),
    expiresAt: Type.Optional(Timestamp),
    createdBy: Type.String(),
    createdAt: Timestamp,
    revertedBy: Type.Optional(Type.String()),
    revertedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

const Policy = Type.Object(
  {
    detector: Detector,
    actions: Type.Array(ActionKind),
    minSeverity: Severity,
    ttlSeconds: Type.Integer(),
    throttlePerMinute: Type.Integer(),
    updatedBy: Type.Union([Type.String(), Type.Null()]),
    updatedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { additionalProperties: false },
);

const Clock = Type.Object(
  {
    deadline: Timestamp,
    secondsLeft: Type.Integer({ description: 'Negative once overdue' }),
    overdue: Type.Boolean(),
  },
  { additionalProperties: false },
);

const incidentFields = {
  id: Uuid,
  tenantId: TenantOrNull,
  title: Type.String(),
  status: IncidentStatus,
  severity: Severity,
  owner: Type.Union([Type.String(), Type.Null()]),
  alertCount: Type.Integer(),
  detectedAt: Timestamp,
  lastActivityAt: Timestamp,
  personalDataBreach: Type.Boolean(),
  majorIct: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  closedAt: Type.Optional(Timestamp),
  gdpr: Type.Optional(
    Type.Object(
      { awareAt: Timestamp, notification: Clock },
      { additionalProperties: false, description: 'GDPR Art. 33(1): 72 h from awareness' },
    ),
  ),
  dora: Type.Optional(
    Type.Object(
      { classifiedAt: Timestamp, initial: Clock, intermediate: Clock, final: Clock },
      {
        additionalProperties: false,
        description:
          'DORA Art. 19: initial 4 h after classification (at most 24 h after detection), intermediate 72 h after the initial, final one month after the intermediate',
      },
    ),
  ),
};
const Incident = Type.Object(incidentFields, { additionalProperties: false });
const TimelineEntry = Type.Object(
  {
    id: Uuid,
    at: Timestamp,
    kind: literals(['alert', 'action', 'note', 'status', 'owner', 'flag'] as const),
    actor: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
const IncidentDetail = Type.Object(
  { ...incidentFields, alertIds: Type.Array(Uuid), timeline: Type.Array(TimelineEntry) },
  { additionalProperties: false },
);

const Limit = Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size' });
const After = Type.Optional(
  Type.String({ pattern: UUID_PATTERN, description: 'Cursor: the last id of the previous page' }),
);
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

const admin = { tags: ['admin: detection'], security: [{ bootstrapAdmin: [] }] };

/** The one place detection errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof DetectionError) throw new AppError(err.code, err.detail);
  if (err instanceof IpRulesError) throw new AppError(err.code, err.detail);
  throw err;
}

export interface DetectionRoutesOptions {
  readonly service: DetectionService;
  /** Who is acting, for the records. Default: the bootstrap admin. */
  readonly actor?: ((req: FastifyRequest) => string) | undefined;
}

/** The admin API of detection (`/admin/detection/...`): alerts, suppressions, actions, response policies, incidents. */
export const detectionAdminRoutes: FastifyPluginAsyncTypebox<DetectionRoutesOptions> = async (
  app,
  { service, actor = () => 'bootstrap-admin' },
) => {
  // ---- alerts ----

  app.get(
    '/alerts',
    {
      schema: {
        ...admin,
        summary: 'List alerts, newest first, with filters',
        querystring: Type.Object(
          {
            limit: Limit,
            after: After,
            tenantId: Type.Optional(Uuid),
            detector: Type.Optional(Detector),
            status: Type.Optional(literals(['open', 'acknowledged', 'resolved'] as const)),
            severity: Type.Optional(Severity),
            subjectType: Type.Optional(SubjectType),
            subjectId: Type.Optional(SubjectId),
            incidentId: Type.Optional(Uuid),
            since: Type.Optional(Timestamp),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Alert), ...problems(400, 401) },
      },
    },
    async (req) => {
      const { since, ...rest } = req.query;
      return service.listAlerts({ ...rest, ...(since ? { since: new Date(since) } : {}) }).catch(http);
    },
  );

  app.get(
    '/alerts/:id',
    {
      schema: {
        ...admin,
        summary: 'One alert with its explanation',
        params: IdParams,
        response: { 200: Alert, ...problems(401, 404) },
      },
    },
    async (req) => service.getAlert(req.params.id).catch(http),
  );

  app.post(
    '/alerts/:id/acknowledge',
    {
      schema: {
        ...admin,
        summary: 'Acknowledge an alert (it stays open for de-duplication until resolved)',
        params: IdParams,
        response: { 200: Alert, ...problems(401, 404, 409) },
      },
    },
    async (req) => service.acknowledge(req.params.id, actor(req)).catch(http),
  );

  app.post(
    '/alerts/:id/resolve',
    {
      schema: {
        ...admin,
        summary: 'Resolve an alert (a new finding about the subject opens a new one)',
        params: IdParams,
        response: { 200: Alert, ...problems(401, 404, 409) },
      },
    },
    async (req) => service.resolve(req.params.id, actor(req)).catch(http),
  );

  app.post(
    '/alerts/:id/suppress',
    {
      schema: {
        ...admin,
        summary: "Suppress the alert's detector for its subject until the expiry, and resolve the alert",
        params: IdParams,
        body: Type.Object({ ttlSeconds: Ttl, reason: Text }, { additionalProperties: false }),
        response: {
          201: Type.Object({ alert: Alert, suppression: Suppression }, { additionalProperties: false }),
          ...problems(400, 401, 404, 415),
        },
      },
    },
    async (req, reply) => {
      const out = await service.suppressAlert(req.params.id, req.body, actor(req)).catch(http);
      return reply.code(201).send(out);
    },
  );

  app.post(
    '/alerts/:id/actions',
    {
      schema: {
        ...admin,
        summary: "Apply a response action to the alert's evidence by hand",
        params: IdParams,
        body: Type.Object({ kind: ActionKind }, { additionalProperties: false }),
        response: { 201: Action, ...problems(400, 401, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => {
      const action = await service.applyAction(req.params.id, req.body.kind, actor(req)).catch(http);
      return reply.code(201).send(action);
    },
  );

  // ---- suppressions ----

  app.get(
    '/suppressions',
    {
      schema: {
        ...admin,
        summary: 'List suppressions, newest first',
        querystring: Type.Object(
          {
            limit: Limit,
            after: After,
            state: literals(['active', 'all'] as const),
            tenantId: Type.Optional(Uuid),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Suppression), ...problems(400, 401) },
      },
    },
    async (req) => service.listSuppressions(req.query).catch(http),
  );

  app.post(
    '/suppressions',
    {
      schema: {
        ...admin,
        summary:
          'Suppress alerts of a detector (or all), for a subject (or all), of a tenant (or the platform), until the expiry',
        body: Type.Object(
          {
            tenantId: Type.Optional(TenantOrNull),
            detector: Type.Optional(Detector),
            subjectType: Type.Optional(SubjectType),
            subjectId: Type.Optional(SubjectId),
            ttlSeconds: Ttl,
            reason: Text,
          },
          { additionalProperties: false },
        ),
        response: { 201: Suppression, ...problems(400, 401, 404, 415) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if ((b.subjectType === undefined) !== (b.subjectId === undefined)) {
        throw new AppError('DETECTION_SUPPRESSION_INVALID');
      }
      const created = await service
        .suppress(
          {
            tenantId: b.tenantId ?? null,
            detector: b.detector ?? null,
            subject: b.subjectType && b.subjectId ? { type: b.subjectType, id: b.subjectId } : null,
            ttlSeconds: b.ttlSeconds,
            reason: b.reason,
          },
          actor(req),
        )
        .catch(http);
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/suppressions/:id',
    {
      schema: {
        ...admin,
        summary: 'Lift an active suppression now',
        params: IdParams,
        response: { 200: Suppression, ...problems(401, 404) },
      },
    },
    async (req) => service.liftSuppression(req.params.id, actor(req)).catch(http),
  );

  // ---- actions ----

  app.get(
    '/actions',
    {
      schema: {
        ...admin,
        summary: 'List response actions, newest first',
        querystring: Type.Object(
          {
            limit: Limit,
            after: After,
            alertId: Type.Optional(Uuid),
            tenantId: Type.Optional(Uuid),
            status: Type.Optional(literals(['applied', 'reverted', 'failed', 'skipped'] as const)),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Action), ...problems(400, 401) },
      },
    },
    async (req) => service.listActions(req.query).catch(http),
  );

  app.post(
    '/actions/:id/revert',
    {
      schema: {
        ...admin,
        summary:
          'Revert an applied action (lift the block, throttle or step-up; take the token off the revocation list)',
        params: IdParams,
        response: { 200: Action, ...problems(401, 404, 409) },
      },
    },
    async (req) => service.revertAction(req.params.id, actor(req)).catch(http),
  );

  // ---- response policies ----

  app.get(
    '/policies',
    {
      schema: {
        ...admin,
        summary: 'The response policy of every detector',
        response: {
          200: Type.Object({ items: Type.Array(Policy) }, { additionalProperties: false }),
          ...problems(401),
        },
      },
    },
    async () => ({ items: await service.listPolicies() }),
  );

  app.put(
    '/policies/:detector',
    {
      schema: {
        ...admin,
        summary: "Set a detector's response actions (empty: alert only)",
        params: Type.Object(
          { detector: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        body: Type.Object(
          {
            actions: Type.Array(ActionKind, { maxItems: 4, uniqueItems: true }),
            minSeverity: Severity,
            ttlSeconds: Ttl,
            throttlePerMinute: Type.Integer({ minimum: 1, maximum: 100_000 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Policy, ...problems(400, 401, 404, 415) },
      },
    },
    async (req) => service.setPolicy(req.params.detector, req.body, actor(req)).catch(http),
  );

  // ---- incidents ----

  app.get(
    '/incidents',
    {
      schema: {
        ...admin,
        summary: 'List incidents, newest first, with their reporting clocks',
        querystring: Type.Object(
          {
            limit: Limit,
            after: After,
            status: Type.Optional(IncidentStatus),
            open: Type.Optional(Type.Boolean({ description: 'Only incidents not resolved or closed' })),
            tenantId: Type.Optional(Uuid),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Incident), ...problems(400, 401) },
      },
    },
    async (req) => service.listIncidents(req.query).catch(http),
  );

  app.get(
    '/incidents/:id',
    {
      schema: {
        ...admin,
        summary: 'One incident: its alerts, timeline and reporting clocks',
        params: IdParams,
        response: { 200: IncidentDetail, ...problems(401, 404) },
      },
    },
    async (req) => service.getIncident(req.params.id).catch(http),
  );

  app.patch(
    '/incidents/:id',
    {
      schema: {
        ...admin,
        summary:
          'Change status or owner, or flag a personal-data breach (GDPR clock) or a major ICT incident (DORA clocks)',
        params: IdParams,
        body: Type.Object(
          {
            status: Type.Optional(IncidentStatus),
            owner: Type.Optional(Type.Union([Text, Type.Null()])),
            personalDataBreach: Type.Optional(Type.Boolean()),
            breachAwareAt: Type.Optional(Timestamp),
            majorIct: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Incident, ...problems(400, 401, 404, 409, 415) },
      },
    },
    async (req) => service.updateIncident(req.params.id, req.body, actor(req)).catch(http),
  );

  app.post(
    '/incidents/:id/notes',
    {
      schema: {
        ...admin,
        summary: "Add a note to an incident's timeline",
        params: IdParams,
        body: Type.Object({ text: NoteText }, { additionalProperties: false }),
        response: { 201: TimelineEntry, ...problems(400, 401, 404, 415) },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await service.addNote(req.params.id, req.body.text, actor(req)).catch(http)),
  );
};
