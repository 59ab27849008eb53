import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../platform/errors/index.ts';
import { PageOf, PageQuery, problems, Timestamp, Uuid } from '../../platform/http/schemas.ts';
import { TenantError } from '../../tenants/errors.ts';
import { PeopleError } from './errors.ts';
import { USER_ROLES } from './schema.ts';
import type { PeopleService } from './service.ts';

const Role = Type.Union([
  Type.Literal('tenant_admin'),
  Type.Literal('security_operator'),
  Type.Literal('underwriter'),
  Type.Literal('claims_adjuster'),
  Type.Literal('policyholder'),
  Type.Literal('auditor'),
]);
const Roles = Type.Array(Role, { maxItems: USER_ROLES.length, uniqueItems: true });
const Status = Type.Union([Type.Literal('invited'), Type.Literal('active'), Type.Literal('disabled')]);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/**
 * The user as the admin API shows it: the allow-list of what may leave (STYLE 9). No password
 * hash, invite token, TOTP seed, recovery code or passkey key is in it, by construction.
 */
const User = Type.Object(
  {
    id: Uuid,
    tenantId: Uuid,
    username: Type.String(),
    email: Nullable(Type.String()),
    displayName: Nullable(Type.String()),
    roles: Type.Array(Role),
    status: Status,
    locked: Type.Boolean(),
    lockedUntil: Nullable(Timestamp),
    mfa: Type.Object(
      { totp: Type.Boolean(), passkeys: Type.Integer(), recoveryCodesLeft: Type.Integer() },
      { additionalProperties: false },
    ),
    lastLoginAt: Nullable(Timestamp),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

const TenantParams = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const UserParams = Type.Object({ tenantId: Uuid, userId: Uuid }, { additionalProperties: false });
const admin = { tags: ['admin: users'], security: [{ bootstrapAdmin: [] }] };

/** The one place people domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof PeopleError || err instanceof TenantError) throw new AppError(err.code);
  throw err;
}

/**
 * Admin API for the people of one tenant. Mount under `/admin/tenants/:tenantId/users` in the
 * admin context (its authenticator and access declaration come from there).
 */
export const peopleAdminRoutes: FastifyPluginAsyncTypebox<{ service: PeopleService }> = async (
  app,
  { service },
) => {
  app.post(
    '/',
    {
      schema: {
        ...admin,
        summary: 'Create a user, with an initial password or an invitation (token returned once)',
        params: TenantParams,
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 254, pattern: '^\\S(.*\\S)?$' }),
            email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
            displayName: Type.Optional(
              Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$' }),
            ),
            roles: Roles,
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object(
            { user: User, inviteToken: Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
          ...problems(400, 401, 404, 409, 415, 422),
        },
      },
    },
    async (req, reply) => {
      const created = await service.createUser(req.params.tenantId, req.body).catch(http);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/',
    {
      schema: {
        ...admin,
        summary: 'List the users of a tenant',
        params: TenantParams,
        querystring: PageQuery,
        response: { 200: PageOf(User), ...problems(400, 401, 404) },
      },
    },
    async (req) => service.listUsers(req.params.tenantId, req.query.limit, req.query.after).catch(http),
  );

  app.get(
    '/:userId',
    {
      schema: {
        ...admin,
        summary: 'Get a user',
        params: UserParams,
        response: { 200: User, ...problems(400, 401, 404) },
      },
    },
    async (req) => service.getUser(req.params.tenantId, req.params.userId).catch(http),
  );

  app.put(
    '/:userId/roles',
    {
      schema: {
        ...admin,
        summary: 'Replace the roles of a user',
        params: UserParams,
        body: Type.Object({ roles: Roles }, { additionalProperties: false }),
        response: { 200: User, ...problems(400, 401, 404, 415) },
      },
    },
    async (req) => service.setRoles(req.params.tenantId, req.params.userId, req.body.roles).catch(http),
  );

  app.post(
    '/:userId/unlock',
    {
      schema: {
        ...admin,
        summary: 'Unblock a user locked out after failed attempts (PSD2 RTS Art. 4(4))',
        params: UserParams,
        response: { 200: User, ...problems(400, 401, 404) },
      },
    },
    async (req) => service.unlock(req.params.tenantId, req.params.userId).catch(http),
  );

  app.post(
    '/:userId/reset-mfa',
    {
      schema: {
        ...admin,
        summary: 'Remove every second factor of a user (authenticator app, recovery codes, passkeys)',
        params: UserParams,
        response: { 200: User, ...problems(400, 401, 404) },
      },
    },
    async (req) => service.resetMfa(req.params.tenantId, req.params.userId).catch(http),
  );
};
