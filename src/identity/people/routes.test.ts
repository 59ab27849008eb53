import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import { createCrypto } from '../../platform/crypto/index.ts';
import type { Database } from '../../platform/db/index.ts';
import { tenants } from '../../platform/db/schema.ts';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { validatorCompiler } from '../../platform/http/validation.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import { peopleAdminRoutes } from './routes.ts';
import { PeopleService } from './service.ts';

const PASSWORD = 'quiet lanterns drift over copper hills';
const USER_KEYS = [
  'createdAt',
  'displayName',
  'email',
  'id',
  'lastLoginAt',
  'locked',
  'lockedUntil',
  'mfa',
  'roles',
  'status',
  'tenantId',
  'username',
];

describe.each(dbBackends)('people admin API on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let kv: Kv;
  let app: FastifyInstance;
  let service: PeopleService;
  const tenantA = uuidv7();
  const tenantB = uuidv7();
  const base = (tenantId: string) => `/admin/tenants/${tenantId}/users`;
  const post = (url: string, payload?: object) =>
    app.inject({ method: 'POST', url, ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    kv = createMemoryKv({ prefix: 'test:' });
    const { envelope } = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    service = new PeopleService({
      db,
      envelope,
      kv,
      webauthn: { rpId: 'login.example.test', rpName: 'Bulwark', origins: ['https://login.example.test'] },
    });
    await db.asSystem((tx) =>
      tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA}`, name: 'Acme Mutual' },
        { id: tenantB, slug: `b-${tenantB}`, name: 'Bravo Life' },
      ]),
    );
    app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
    app.setValidatorCompiler(validatorCompiler());
    installProblemHandlers(app);
    await app.register(peopleAdminRoutes, { prefix: '/admin/tenants/:tenantId/users', service });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await kv?.close();
    await dispose?.();
  });

  it('creates a user with a password; the answer holds no secret', async () => {
    const res = await post(base(tenantA), {
      username: 'ada@example.test',
      email: 'ada@example.test',
      displayName: 'Ada Lovelace',
      roles: ['claims_adjuster'],
      password: PASSWORD,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body)).toEqual(['user']);
    expect(Object.keys(body.user).sort()).toEqual(USER_KEYS);
    expect(body.user).toMatchObject({
      username: 'ada@example.test',
      roles: ['claims_adjuster'],
      status: 'active',
    });
    expect(res.body).not.toMatch(/argon2|password/i);
  });

  it('creates an invited user and returns the invite token once', async () => {
    const res = await post(base(tenantA), { username: 'grace', roles: ['auditor'] });
    expect(res.statusCode).toBe(201);
    expect(res.json().user.status).toBe('invited');
    expect(res.json().inviteToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await app.inject({ method: 'GET', url: `${base(tenantA)}/${res.json().user.id}` });
    expect(again.body).not.toContain(res.json().inviteToken);
  });

  it('answers refusals with stable codes', async () => {
    const codeOf = async (payload: object, tenantId = tenantA) => {
      const res = await post(base(tenantId), payload);
      return `${res.statusCode} ${res.json().code}`;
    };
    expect(await codeOf({ username: 'ADA@example.test', roles: [], password: PASSWORD })).toBe(
      '409 USERNAME_TAKEN',
    );
    expect(await codeOf({ username: 'x1', email: 'ada@example.test', roles: [], password: PASSWORD })).toBe(
      '409 USER_EMAIL_TAKEN',
    );
    expect(await codeOf({ username: 'x2', roles: [], password: 'letmein' })).toBe(
      '422 PEOPLE_PASSWORD_TOO_SHORT',
    );
    expect(await codeOf({ username: 'x3', roles: [], password: 'letmeinletmeinletmein' })).toBe(
      '422 PEOPLE_PASSWORD_BREACHED',
    );
    expect(await codeOf({ username: 'x4', roles: ['root'], password: PASSWORD })).toBe(
      '400 REQUEST_VALIDATION_FAILED',
    );
    expect(await codeOf({ username: 'x5', roles: [], passwordHash: 'x' })).toBe(
      '400 REQUEST_VALIDATION_FAILED',
    );
    expect(await codeOf({ username: 'x6', roles: [], password: PASSWORD }, uuidv7())).toBe(
      '404 TENANT_NOT_FOUND',
    );
  });

  it('lists, gets, sets roles, unlocks and resets MFA', async () => {
    const created = await post(base(tenantA), {
      username: 'joan',
      roles: ['underwriter'],
      password: PASSWORD,
    });
    const id = created.json().user.id as string;
    const list = await app.inject({ method: 'GET', url: `${base(tenantA)}?limit=200` });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((u: { id: string }) => u.id)).toContain(id);

    const roles = await app.inject({
      method: 'PUT',
      url: `${base(tenantA)}/${id}/roles`,
      payload: { roles: ['underwriter', 'tenant_admin'] },
    });
    expect(roles.statusCode).toBe(200);
    expect(roles.json().roles).toEqual(['underwriter', 'tenant_admin']);

    for (let i = 0; i < 5; i++)
      await service.authenticate(tenantA, { username: 'joan', password: `${PASSWORD}!` });
    expect((await app.inject({ method: 'GET', url: `${base(tenantA)}/${id}` })).json().locked).toBe(true);
    const unlocked = await post(`${base(tenantA)}/${id}/unlock`);
    expect(unlocked.statusCode).toBe(200);
    expect(unlocked.json().locked).toBe(false);

    const reset = await post(`${base(tenantA)}/${id}/reset-mfa`);
    expect(reset.statusCode).toBe(200);
    expect(reset.json().mfa).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
  });

  it('never shows a user through another tenant’s path (404, not 403)', async () => {
    const b = await post(base(tenantB), { username: 'bob', roles: [], password: PASSWORD });
    const id = b.json().user.id as string;
    for (const res of [
      await app.inject({ method: 'GET', url: `${base(tenantA)}/${id}` }),
      await post(`${base(tenantA)}/${id}/unlock`),
      await post(`${base(tenantA)}/${id}/reset-mfa`),
      await app.inject({ method: 'PUT', url: `${base(tenantA)}/${id}/roles`, payload: { roles: [] } }),
    ]) {
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('USER_NOT_FOUND');
    }
    const list = await app.inject({ method: 'GET', url: base(tenantA) });
    expect(list.json().items.map((u: { id: string }) => u.id)).not.toContain(id);
  });
});
