import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../platform/errors/index.ts';
import { PageOf, problems, Timestamp, Uuid } from '../../platform/http/schemas.ts';
import { UUID_PATTERN } from '../../platform/ids.ts';
import { operatorActor } from '../admin-auth.ts';
import { IpRulesError } from './errors.ts';
import type { IpRulesService } from './service.ts';
import type { IpScope } from './types.ts';

// The characters of an address and prefix; the service parses the rest strictly (IP_CIDR_INVALID).
const Cidr = Type.String({
  minLength: 2,
  maxLength: 49,
  pattern: '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$',
  description:
    'IPv4 or IPv6 address or CIDR block. Host bits are cleared (`192.0.2.7/24` is stored as `192.0.2.0/24`) ' +
    'and an IPv4-mapped IPv6 block is stored as IPv4; the answer shows the stored form.',
});
const Action = Type.Union([Type.Literal('allow'), Type.Literal('deny')], {
  description:
    '`allow`: only the listed addresses (once the scope has one allow rule). `deny`: never these. Deny wins.',
});
const ClientId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const Text = Type.String({
  minLength: 1,
  maxLength: 500,
  pattern: '^[^\\p{Cc}\\s](?:[^\\p{Cc}]*[^\\p{Cc}\\s])?$',
});
const Scope = Type.Union([Type.Literal('platform'), Type.Literal('tenant'), Type.Literal('app')]);

const Rule = Type.Object(
  {
    id: Uuid,
    scope: Scope,
    tenantId: Type.Optional(Uuid),
    clientId: Type.Optional(Type.String()),
    action: Action,
    cidr: Type.String(),
    note: Type.Optional(Type.String()),
    createdBy: Type.String(),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
const Rules = Type.Object({ items: Type.Array(Rule) }, { additionalProperties: false });

const Block = Type.Object(
  {
    id: Uuid,
    scope: Scope,
    tenantId: Type.Optional(Uuid),
    clientId: Type.Optional(Type.String()),
    cidr: Type.String(),
    reason: Type.String(),
    createdBy: Type.String(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    revokedAt: Type.Optional(Timestamp),
    revokedBy: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const RuleParams = Type.Object({ ruleId: Uuid }, { additionalProperties: false });
const TenantRuleParams = Type.Object({ tenantId: Uuid, ruleId: Uuid }, { additionalProperties: false });
const BlockParams = Type.Object({ blockId: Uuid }, { additionalProperties: false });

const admin = { tags: ['admin: ip rules'], security: [{ bootstrapAdmin: [] }] };

/** The one place IP-rule domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof IpRulesError) throw new AppError(err.code, err.detail);
  throw err;
}

export interface IpRulesRoutesOptions {
  readonly service: IpRulesService;
  /** Who is acting, for the records (`created_by`). Default: the bootstrap admin. */
  readonly actor?: ((req: FastifyRequest) => string) | undefined;
}

/**
 * The admin API of IP rules and temporary blocks. Access is the mounting context's (the admin
 * face). Platform changes are checked against the caller's own address (`IP_RULE_LOCKOUT`).
 */
export const ipRulesAdminRoutes: FastifyPluginAsyncTypebox<IpRulesRoutesOptions> = async (
  app,
  { service, actor = (req) => `operator:${operatorActor(req).id}` },
) => {
  // ---- platform rules ----

  app.get(
    '/ip-rules',
    {
      schema: {
        ...admin,
        summary: 'List the platform IP rules (they apply to every request)',
        response: { 200: Rules, ...problems(401) },
      },
    },
    async () => ({ items: await service.listRules(null) }),
  );

  app.post(
    '/ip-rules',
    {
      schema: {
        ...admin,
        summary: 'Add a platform IP rule',
        body: Type.Object(
          { action: Action, cidr: Cidr, note: Type.Optional(Text) },
          { additionalProperties: false },
        ),
        response: { 201: Rule, ...problems(400, 401, 409, 415) },
      },
    },
    async (req, reply) => {
      const rule = await service
        .addRule({ kind: 'platform' }, req.body, actor(req), { guardIp: req.ip })
        .catch(http);
      return reply.code(201).send(rule);
    },
  );

  app.delete(
    '/ip-rules/:ruleId',
    {
      schema: {
        ...admin,
        summary: 'Delete a platform IP rule',
        params: RuleParams,
        response: { 204: Type.Null(), ...problems(401, 404, 409) },
      },
    },
    async (req, reply) => {
      await service.deleteRule(null, req.params.ruleId, actor(req), { guardIp: req.ip }).catch(http);
      return reply.code(204).send(null);
    },
  );

  // ---- tenant and app rules ----

  app.get(
    '/tenants/:tenantId/ip-rules',
    {
      schema: {
        ...admin,
        summary: 'List a tenant’s IP rules (tenant-wide and per app), or one app’s',
        params: TenantParams,
        querystring: Type.Object({ clientId: Type.Optional(ClientId) }, { additionalProperties: false }),
        response: { 200: Rules, ...problems(400, 401, 404) },
      },
    },
    async (req) => ({ items: await service.listRules(req.params.tenantId, req.query.clientId).catch(http) }),
  );

  app.post(
    '/tenants/:tenantId/ip-rules',
    {
      schema: {
        ...admin,
        summary: 'Add an IP rule for a tenant’s principals, or with `clientId` for one partner app',
        params: TenantParams,
        body: Type.Object(
          { action: Action, cidr: Cidr, clientId: Type.Optional(ClientId), note: Type.Optional(Text) },
          { additionalProperties: false },
        ),
        response: { 201: Rule, ...problems(400, 401, 404, 409, 415) },
      },
    },
    async (req, reply) => {
      const { tenantId } = req.params;
      const { clientId, ...input } = req.body;
      const scope: IpScope =
        clientId === undefined ? { kind: 'tenant', tenantId } : { kind: 'app', tenantId, clientId };
      return reply.code(201).send(await service.addRule(scope, input, actor(req)).catch(http));
    },
  );

  app.delete(
    '/tenants/:tenantId/ip-rules/:ruleId',
    {
      schema: {
        ...admin,
        summary: 'Delete an IP rule of a tenant (tenant-wide or an app’s)',
        params: TenantRuleParams,
        response: { 204: Type.Null(), ...problems(401, 404) },
      },
    },
    async (req, reply) => {
      await service.deleteRule(req.params.tenantId, req.params.ruleId, actor(req)).catch(http);
      return reply.code(204).send(null);
    },
  );

  // ---- temporary blocks ----

  app.get(
    '/ip-blocks',
    {
      schema: {
        ...admin,
        summary: 'List temporary IP blocks of every scope, newest first: the active ones, or all (history)',
        querystring: Type.Object(
          {
            state: Type.Union([Type.Literal('active'), Type.Literal('all')], { default: 'active' }),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            after: Type.Optional(
              Type.String({ pattern: UUID_PATTERN, description: 'The last id of the previous page' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Block), ...problems(400, 401) },
      },
    },
    async (req) => service.listBlocks(req.query),
  );

  app.post(
    '/ip-blocks',
    {
      schema: {
        ...admin,
        summary:
          'Block an address or CIDR block for a while: platform-wide, or for a tenant’s (or app’s) principals',
        body: Type.Object(
          {
            cidr: Cidr,
            ttlSeconds: Type.Integer({ minimum: 1, maximum: service.limits.maxTtlSeconds }),
            reason: Text,
            tenantId: Type.Optional(Uuid),
            clientId: Type.Optional(ClientId),
          },
          { additionalProperties: false, dependencies: { clientId: ['tenantId'] } },
        ),
        response: { 201: Block, ...problems(400, 401, 404, 409, 415, 503) },
      },
    },
    async (req, reply) => {
      const { cidr, ttlSeconds, reason, tenantId, clientId } = req.body;
      const scope: IpScope =
        tenantId === undefined
          ? { kind: 'platform' }
          : clientId === undefined
            ? { kind: 'tenant', tenantId }
            : { kind: 'app', tenantId, clientId };
      const block = await service
        .blockIp(scope, cidr, ttlSeconds, reason, actor(req), { guardIp: req.ip })
        .catch(http);
      return reply.code(201).send(block);
    },
  );

  app.delete(
    '/ip-blocks/:blockId',
    {
      schema: {
        ...admin,
        summary: 'End an active temporary block now (it stays in the history as revoked)',
        params: BlockParams,
        response: { 200: Block, ...problems(401, 404, 503) },
      },
    },
    async (req) => service.unblock(req.params.blockId, actor(req)).catch(http),
  );
};
