import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { callerOf } from '../access/index.ts';
import type { SigningKeyRing } from '../platform/crypto/index.ts';
import { AppError } from '../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { WebhookError } from './errors.ts';
import { WEBHOOK_EVENT_TYPES } from './events.ts';
import {
  type Actor,
  type Attempt,
  DEFAULT_ROTATION_OVERLAP_SEC,
  type Delivery,
  MAX_ROTATION_OVERLAP_SEC,
  type Owner,
  type Subscription,
  type WebhookService,
} from './service.ts';
import { WEBHOOK_KEY_PURPOSE } from './signature.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

// Event types are checked by the service (WEBHOOK_EVENT_TYPE_UNKNOWN), not by an enum here, so an
// unknown type gets its own code; the schema bounds the shape.
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: WEBHOOK_EVENT_TYPES.length,
  uniqueItems: true,
  description: `Any of: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
});
const Url = Type.String({ minLength: 8, maxLength: 2048, description: 'https URL of the receiver' });
const Description = Type.String({ maxLength: 200 });

const SubscriptionSchema = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    description: Nullable(Type.String()),
    active: Type.Boolean(),
    /** Until then, deliveries carry a second HMAC signature made with the previous secret. */
    previousSecretExpiresAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

const WithSecret = Type.Object(
  {
    subscription: SubscriptionSchema,
    secret: Type.String({ description: 'HMAC signing secret: shown once, store it now' }),
  },
  { additionalProperties: false },
);

const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead')]);

const DeliverySchema = Type.Object(
  {
    id: Uuid,
    subscriptionId: Uuid,
    partnerId: Uuid,
    eventId: Uuid,
    eventType: Type.String(),
    occurredAt: Timestamp,
    status: DeliveryStatus,
    attempts: Type.Integer(),
    nextAttemptAt: Nullable(Timestamp),
    giveUpAt: Timestamp,
    lastAttemptAt: Nullable(Timestamp),
    lastStatusCode: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    deliveredAt: Nullable(Timestamp),
    deadAt: Nullable(Timestamp),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

const AttemptSchema = Type.Object(
  {
    attemptedAt: Timestamp,
    statusCode: Nullable(Type.Integer()),
    latencyMs: Type.Integer(),
    errorClass: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const DeliveryQuery = Type.Object(
  {
    ...PageQuery.properties,
    subscriptionId: Type.Optional(Uuid),
    status: Type.Optional(DeliveryStatus),
  },
  { additionalProperties: false },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function subscriptionView(s: Subscription) {
  return {
    id: s.id,
    url: s.url,
    eventTypes: [...s.eventTypes],
    description: s.description,
    active: s.active,
    previousSecretExpiresAt: iso(s.previousSecretExpiresAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

function deliveryView(d: Delivery) {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    partnerId: d.partnerId,
    eventId: d.eventId,
    eventType: d.eventType,
    occurredAt: d.occurredAt.toISOString(),
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
    giveUpAt: d.giveUpAt.toISOString(),
    lastAttemptAt: iso(d.lastAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    deliveredAt: iso(d.deliveredAt),
    deadAt: iso(d.deadAt),
    createdAt: d.createdAt.toISOString(),
  };
}

const attemptView = (a: Attempt) => ({
  attemptedAt: a.attemptedAt.toISOString(),
  statusCode: a.statusCode,
  latencyMs: a.latencyMs,
  errorClass: a.errorClass,
});

/** The one place webhook domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof WebhookError)
    throw new AppError(err.code, err.message === err.code ? undefined : err.message);
  throw err;
}

/**
 * Subscriptions belong to a partner and are managed by the partner's own apps: the owner is the
 * partner the caller's token names. A person's token (even through a partner app) is refused.
 * Every query is scoped to (tenant, partner) in the store, so another partner's or tenant's
 * subscription answers exactly like a missing one (404).
 */
function partnerOf(req: FastifyRequest): { owner: Owner & { partnerId: string }; who: Actor } {
  const caller = callerOf(req);
  if (caller.kind !== 'client' || !caller.partnerId) throw new AppError('WEBHOOK_PARTNER_ONLY');
  return {
    owner: { tenantId: caller.tenantId, partnerId: caller.partnerId },
    who: { actor: caller.actor, requestId: caller.requestId },
  };
}

const v1 = { tags: ['partner API: webhooks'], security: [{ dpop: [] }] };
const manage = { scopes: ['webhooks:manage'] };

/** `/v1/webhooks/...`: a partner's subscriptions, its deliveries and its dead letters. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{
  service: WebhookService;
  onRedeliver?: () => void;
}> = async (app, { service, onRedeliver }) => {
  app.post(
    '/webhooks/subscriptions',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'Subscribe an https endpoint to event types; the signing secret is returned once',
        body: Type.Object(
          {
            url: Url,
            eventTypes: EventTypes,
            description: Type.Optional(Description),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret, ...problems(400, 401, 403, 409, 422) },
      },
    },
    async (req, reply) => {
      const { owner, who } = partnerOf(req);
      const { subscription, secret } = await service
        .create(owner.tenantId, owner.partnerId, req.body, who)
        .catch(http);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ subscription: subscriptionView(subscription), secret });
    },
  );

  app.get(
    '/webhooks/subscriptions',
    {
      config: manage,
      schema: {
        ...v1,
        summary: "The partner's webhook subscriptions",
        querystring: PageQuery,
        response: { 200: PageOf(SubscriptionSchema), ...problems(400, 401, 403) },
      },
    },
    async (req) => {
      const { owner } = partnerOf(req);
      const res = await service.list(owner, req.query.limit, req.query.after).catch(http);
      return { items: res.items.map(subscriptionView), nextCursor: res.nextCursor };
    },
  );

  app.get(
    '/webhooks/subscriptions/:id',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'One webhook subscription',
        params: IdParams,
        response: { 200: SubscriptionSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => subscriptionView(await service.get(partnerOf(req).owner, req.params.id).catch(http)),
  );

  app.patch(
    '/webhooks/subscriptions/:id',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'Change the URL, event types, description or pause/resume (active)',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            eventTypes: Type.Optional(EventTypes),
            description: Type.Optional(Description),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: SubscriptionSchema, ...problems(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { owner, who } = partnerOf(req);
      return subscriptionView(await service.update(owner, req.params.id, req.body, who).catch(http));
    },
  );

  app.delete(
    '/webhooks/subscriptions/:id',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'Delete a subscription and its deliveries',
        params: IdParams,
        response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { owner, who } = partnerOf(req);
      await service.remove(owner, req.params.id, who).catch(http);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/subscriptions/:id/rotate-secret',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'New signing secret (returned once); the old one keeps signing during the overlap',
        params: IdParams,
        body: Type.Object(
          {
            overlapSeconds: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: MAX_ROTATION_OVERLAP_SEC,
                description: `How long deliveries carry both signatures (default ${DEFAULT_ROTATION_OVERLAP_SEC}); 0 revokes the old secret at once`,
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: WithSecret, ...problems(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { owner, who } = partnerOf(req);
      const { subscription, secret } = await service
        .rotateSecret(owner, req.params.id, req.body.overlapSeconds ?? DEFAULT_ROTATION_OVERLAP_SEC, who)
        .catch(http);
      return reply
        .header('cache-control', 'no-store')
        .send({ subscription: subscriptionView(subscription), secret });
    },
  );

  app.get(
    '/webhooks/deliveries',
    {
      config: manage,
      schema: {
        ...v1,
        summary: "The partner's deliveries; `status=dead` is the dead-letter list",
        querystring: DeliveryQuery,
        response: { 200: PageOf(DeliverySchema), ...problems(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { owner } = partnerOf(req);
      const { limit, after, subscriptionId, status } = req.query;
      const res = await service.listDeliveries(owner, { subscriptionId, status }, limit, after).catch(http);
      return { items: res.items.map(deliveryView), nextCursor: res.nextCursor };
    },
  );

  app.get(
    '/webhooks/deliveries/:id',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'One delivery and its latest attempts (status code, latency, error class)',
        params: IdParams,
        response: {
          200: Type.Object(
            { delivery: DeliverySchema, attempts: Type.Array(AttemptSchema) },
            { additionalProperties: false },
          ),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { delivery, attempts } = await service
        .getDelivery(partnerOf(req).owner, req.params.id)
        .catch(http);
      return { delivery: deliveryView(delivery), attempts: attempts.map(attemptView) };
    },
  );

  app.post(
    '/webhooks/deliveries/:id/redeliver',
    {
      config: manage,
      schema: {
        ...v1,
        summary: 'Send a dead-lettered delivery again (a fresh 3-day retry window)',
        params: IdParams,
        response: { 202: DeliverySchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { owner, who } = partnerOf(req);
      const delivery = await service.redeliver(owner, req.params.id, who).catch(http);
      onRedeliver?.();
      return reply.code(202).send(deliveryView(delivery));
    },
  );
};

const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const TenantDeliveryParams = Type.Object(
  { tenantId: Uuid, deliveryId: Uuid },
  { additionalProperties: false },
);
const admin = { tags: ['admin: webhooks'], security: [{ bootstrapAdmin: [] }] };
const operator = (req: { id: string }): Actor => ({
  actor: { type: 'operator', id: 'bootstrap-admin' },
  requestId: req.id,
});

/** Admin API, under `/admin/tenants/:tenantId/webhooks`: a tenant's dead letters across partners. */
export const webhookAdminRoutes: FastifyPluginAsyncTypebox<{
  service: WebhookService;
  onRedeliver?: () => void;
}> = async (app, { service, onRedeliver }) => {
  app.get(
    '/dead-letters',
    {
      schema: {
        ...admin,
        summary: "A tenant's dead-lettered webhook deliveries",
        params: TenantParams,
        querystring: Type.Object(
          { ...PageQuery.properties, subscriptionId: Type.Optional(Uuid) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(DeliverySchema), ...problems(400, 401, 404) },
      },
    },
    async (req) => {
      const owner = { tenantId: req.params.tenantId, partnerId: null };
      const { limit, after, subscriptionId } = req.query;
      const res = await service
        .listDeliveries(owner, { subscriptionId, status: 'dead' }, limit, after)
        .catch(http);
      return { items: res.items.map(deliveryView), nextCursor: res.nextCursor };
    },
  );

  app.post(
    '/deliveries/:deliveryId/redeliver',
    {
      schema: {
        ...admin,
        summary: 'Send a dead-lettered delivery again',
        params: TenantDeliveryParams,
        response: { 202: DeliverySchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (req, reply) => {
      const owner = { tenantId: req.params.tenantId, partnerId: null };
      const delivery = await service.redeliver(owner, req.params.deliveryId, operator(req)).catch(http);
      onRedeliver?.();
      return reply.code(202).send(deliveryView(delivery));
    },
  );
};

const JwksSchema = Type.Object(
  { keys: Type.Array(Type.Object({}, { additionalProperties: true })) },
  { additionalProperties: false },
);

/** Public: the keys that verify webhook message signatures (RFC 9421), as a JWKS (RFC 7517). */
export const webhookKeyRoutes: FastifyPluginAsyncTypebox<{ signing: SigningKeyRing }> = async (
  app,
  { signing },
) => {
  app.get(
    '/.well-known/webhook-keys.json',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Public keys that verify the RFC 9421 signatures of webhook deliveries',
        response: { 200: JwksSchema },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return signing.publicJwks(WEBHOOK_KEY_PURPOSE);
    },
  );
};
