import { readFileSync } from 'node:fs';
import { schemaToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { compileAuthorizer, validateTenantPolicies } from './authorizer.ts';
import { AccessPolicyError } from './errors.ts';
import { decideAccess } from './object-access.ts';
import {
  ACTION_RESOURCES,
  ACTIONS,
  type AccessRequest,
  type AdminResource,
  type BusinessResource,
  ROLES,
  type UserPrincipal,
} from './types.ts';

const base = compileAuthorizer();

const user = (roles: UserPrincipal['roles'], tenant = 't-1', id = 'u-1'): UserPrincipal => ({
  type: 'User',
  id,
  tenant,
  roles,
});
const claim = (tenant = 't-1', owner = 'u-ph'): BusinessResource => ({
  type: 'Claim',
  id: 'c-1',
  tenant,
  owner,
});
const config = (tenant = 't-1'): AdminResource => ({
  type: 'AdminResource',
  id: 'cfg',
  tenant,
  kind: 'config',
});

/** Throws the load error so its message can be asserted whole. */
function loadError(extraPolicies: Record<string, string>): string {
  try {
    compileAuthorizer({ extraPolicies });
  } catch (err) {
    expect(err).toBeInstanceOf(AccessPolicyError);
    return (err as Error).message;
  }
  throw new Error('expected the policies to be rejected');
}

describe('schema', () => {
  it('has exactly the roles, actions and action targets the TypeScript vocabulary names', () => {
    const answer = schemaToJson(readFileSync(new URL('./schema.cedarschema', import.meta.url), 'utf8'));
    if (answer.type !== 'success') throw new Error('schema does not parse');
    const ns = answer.json.Bulwark!;
    expect(ns.entityTypes.Role).toEqual({ enum: [...ROLES] });
    for (const action of ACTIONS) {
      const targets = ns.actions[action]?.appliesTo?.resourceTypes ?? [];
      expect([...targets].sort(), action).toEqual([...ACTION_RESOURCES[action]].sort());
    }
    // Groups (read-only, write, money, admin) apply to nothing themselves.
    const concrete = Object.keys(ns.actions).filter((a) => ns.actions[a]?.appliesTo?.resourceTypes.length);
    expect(concrete.sort()).toEqual([...ACTIONS].sort());
  });
});

describe('compileAuthorizer', () => {
  it('loads the base policies once, each named by its @id', () => {
    const ids = base.policies.map((p) => p.id);
    expect(ids).toContain('tenant.isolation');
    expect(base.policy('tenant.isolation')).toMatchObject({ effect: 'forbid', outcome: 'not_found' });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers with the deciding policy ids', () => {
    const allowed = base.isAuthorized({
      principal: user(['auditor']),
      action: 'read',
      resource: claim(),
      context: { mfa: 'single', channel: 'api' },
    });
    expect(allowed).toEqual({ decision: 'allow', reasons: ['role.auditor.read'], errors: [] });
    const denied = base.isAuthorized({
      principal: user(['auditor']),
      action: 'update',
      resource: claim(),
      context: { mfa: 'multi', channel: 'api' },
    });
    expect(denied).toEqual({ decision: 'deny', reasons: ['auditor.read-only'], errors: [] });
  });
});

describe('tenant policies', () => {
  const narrowing = `
    @id("auditors-no-claims")
    forbid (principal in Bulwark::Role::"auditor", action, resource is Bulwark::Claim);
  `;

  it('narrow access for requests in their own tenant only', () => {
    const authz = compileAuthorizer({ extraPolicies: { 't-1': narrowing } });
    const read = (tenant: string): AccessRequest => ({
      principal: user(['auditor'], tenant),
      action: 'read',
      resource: claim(tenant),
      context: { mfa: 'single', channel: 'api' },
    });
    expect(authz.isAuthorized(read('t-1'))).toEqual({
      decision: 'deny',
      reasons: ['tenant/t-1/auditors-no-claims'],
      errors: [],
    });
    expect(authz.isAuthorized(read('t-2')).decision).toBe('allow');
    expect(authz.policy('tenant/t-1/auditors-no-claims')).toMatchObject({
      tenant: 't-1',
      source: 'tenant t-1',
    });
  });

  it('name unannotated policies by position, under the tenant', () => {
    const authz = compileAuthorizer({
      extraPolicies: {
        't-1': `forbid (principal, action == Bulwark::Action::"delete", resource);\n${narrowing}`,
      },
    });
    expect(authz.policies.filter((p) => p.tenant).map((p) => p.id)).toEqual([
      'tenant/t-1/policy0',
      'tenant/t-1/auditors-no-claims',
    ]);
  });

  it('cannot widen past a base forbid, even with permit-everything', () => {
    const authz = compileAuthorizer({
      extraPolicies: { 't-1': '@id("everything") permit (principal, action, resource);' },
    });
    const cases: [AccessRequest, string][] = [
      [
        {
          principal: user(['tenant_admin'], 't-1'),
          action: 'read',
          resource: claim('t-2'),
          context: { mfa: 'multi', channel: 'api' },
        },
        'not_found',
      ],
      [
        {
          principal: user(['policyholder'], 't-1', 'u-other'),
          action: 'read',
          resource: claim('t-1', 'u-ph'),
          context: { mfa: 'multi', channel: 'api' },
        },
        'not_found',
      ],
      [
        {
          principal: user(['underwriter']),
          action: 'admin.update',
          resource: config(),
          context: { mfa: 'multi', channel: 'admin' },
        },
        'forbidden',
      ],
      [
        {
          principal: user(['tenant_admin']),
          action: 'admin.update',
          resource: config(),
          context: { mfa: 'single', channel: 'admin' },
        },
        'mfa_required',
      ],
      [
        {
          principal: user(['auditor']),
          action: 'delete',
          resource: claim(),
          context: { mfa: 'multi', channel: 'api' },
        },
        'forbidden',
      ],
      [
        {
          principal: { ...user(['claims_adjuster']), approvalLimits: { EUR: { single: 10, multi: 20 } } },
          action: 'approve',
          resource: claim(),
          context: { mfa: 'multi', channel: 'api', amount: 21, currency: 'EUR' },
        },
        'forbidden',
      ],
    ];
    for (const [request, outcome] of cases) {
      expect(decideAccess(authz, request).outcome, JSON.stringify(request)).toBe(outcome);
    }
    // Where no base forbid stands, the tenant's permit does apply: the tenant decides there.
    expect(
      authz.isAuthorized({
        principal: user(['underwriter']),
        action: 'delete',
        resource: { type: 'Policy', id: 'p', tenant: 't-1' },
        context: { mfa: 'single', channel: 'api' },
      }),
    ).toEqual({ decision: 'allow', reasons: ['tenant/t-1/everything'], errors: [] });
  });

  it('are rejected at load with the tenant, the line and what is wrong', () => {
    const message = loadError({
      't-1': 'permit (principal, action, resource)\n  when { resource.colour == "red" };',
    });
    expect(message).toContain('the policies of tenant "t-1" are invalid');
    expect(message).toMatch(
      /line 2:10: for policy `policy0`, attribute `colour` on entity type `Bulwark::\w+` not found/,
    );
  });

  it('reject an unknown role, naming the valid ones', () => {
    expect(
      loadError({ 't-1': 'permit (principal in Bulwark::Role::"superuser", action, resource);' }),
    ).toMatch(/"superuser"` is not declared as a valid eid.*valid entity eids: "tenant_admin"/);
  });

  it('reject syntax errors with the position', () => {
    expect(loadError({ 't-1': 'permit (principal, action, resource) when {' })).toMatch(
      /line 1:44: failed to parse policies from string: unexpected end of input/,
    );
  });

  it('reject a policy that can never apply (a forbid that would protect nothing)', () => {
    expect(
      loadError({
        't-1': 'forbid (principal, action, resource is Bulwark::AdminResource) when { resource has owner };',
      }),
    ).toContain('policy is impossible');
  });

  it('reject templates, a misplaced @outcome, duplicate ids and a bad tenant id', () => {
    expect(loadError({ 't-1': 'permit (principal == ?principal, action, resource);' })).toContain('template');
    expect(loadError({ 't-1': '@outcome("not_found") permit (principal, action, resource);' })).toContain(
      'only a forbid can carry @outcome',
    );
    expect(
      loadError({
        't-1':
          '@id("x") forbid (principal, action == Bulwark::Action::"delete", resource);\n@id("x") forbid (principal, action == Bulwark::Action::"pay", resource);',
      }),
    ).toContain('policy id "tenant/t-1/x" is used twice');
    expect(loadError({ '../etc': 'forbid (principal, action, resource);' })).toContain(
      'not a valid tenant id',
    );
  });

  it('can be checked before storing, without compiling', () => {
    expect(
      validateTenantPolicies('t-1', 'forbid (principal, action, resource) when { context.mfa == "none" };'),
    ).toEqual([]);
    expect(
      validateTenantPolicies('t-1', 'forbid (principal, action, resource) when { context.nope };'),
    ).toHaveLength(1);
  });
});

describe('fail closed', () => {
  const request: AccessRequest = {
    principal: user(['auditor']),
    action: 'read',
    resource: claim(),
    context: { mfa: 'single', channel: 'api' },
  };

  it('denies, with the error, when the request does not match the schema', () => {
    const decision = base.isAuthorized({
      ...request,
      action: 'pay',
      resource: { type: 'Account', id: 'a', tenant: 't-1' },
    });
    expect(decision.decision).toBe('deny');
    expect(decision.errors.join()).toContain('not valid for `Bulwark::Action::"pay"`');
  });

  it('denies an amount JavaScript cannot represent exactly, rather than compare a rounded one', () => {
    const decision = base.isAuthorized({ ...request, context: { ...request.context, amount: 2n ** 60n } });
    expect(decision).toMatchObject({ decision: 'deny', errors: [expect.stringContaining('not an integer')] });
    expect(
      base.isAuthorized({ ...request, context: { ...request.context, amount: 2n ** 40n, currency: 'EUR' } })
        .decision,
    ).toBe('allow');
  });

  it('denies an invalid IP or an unknown MFA level', () => {
    expect(base.isAuthorized({ ...request, context: { ...request.context, ip: 'not-an-ip' } }).decision).toBe(
      'deny',
    );
    const mfa = 'MULTI' as unknown as 'multi';
    expect(base.isAuthorized({ ...request, context: { ...request.context, mfa } }).errors.join()).toContain(
      'context.mfa',
    );
  });

  it('refuses extra entities that try to redefine the principal', () => {
    const decision = base.isAuthorized({
      ...request,
      principal: user(['policyholder']),
      entities: [
        {
          uid: { type: 'Bulwark::User', id: 'u-1' },
          attrs: { tenant: { __entity: { type: 'Bulwark::Tenant', id: 't-1' } }, mfaLevel: 'multi' },
          parents: [{ type: 'Bulwark::Role', id: 'tenant_admin' }],
        },
      ],
    });
    expect(decision.decision).toBe('deny');
    expect(decision.errors.join()).toContain('duplicate entity');
  });
});
