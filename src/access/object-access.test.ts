import { describe, expect, it } from 'vitest';
import { toProblem } from '../platform/errors/index.ts';
import { compileAuthorizer } from './authorizer.ts';
import { AccessError, AccessEvaluationError } from './errors.ts';
import { assertCanAccess, decideAccess } from './object-access.ts';
import {
  ACTION_RESOURCES,
  ACTIONS,
  type AccessRequest,
  type Principal,
  type Resource,
  ROLES,
  type UserPrincipal,
} from './types.ts';

const authz = compileAuthorizer();

/** Stands in for a domain module's own not-found error (e.g. CLAIM_NOT_FOUND). */
class NotFound extends Error {}
const notFound = () => new NotFound('no such object');

function thrown(request: AccessRequest): unknown {
  try {
    assertCanAccess(authz, request, { notFound });
  } catch (err) {
    return err;
  }
  return undefined;
}

const user = (roles: UserPrincipal['roles'], extra: Partial<UserPrincipal> = {}): UserPrincipal => ({
  type: 'User',
  id: 'u-1',
  tenant: 't-1',
  roles,
  ...extra,
});

describe('tenant isolation', () => {
  it('hides every object of another tenant as not found: any role, any action, any MFA', () => {
    let checked = 0;
    for (const role of ROLES) {
      // The principal is as privileged as it can be made: owner, same partner, MFA, high limits.
      const principals: Principal[] = [
        user([role], { partner: 'p-1', approvalLimits: { EUR: { single: 1e12, multi: 1e12 } } }),
        { type: 'App', id: 'app-1', tenant: 't-1', partner: 'p-1', roles: [role] },
      ];
      for (const principal of principals) {
        for (const action of ACTIONS) {
          for (const type of ACTION_RESOURCES[action]) {
            const resource: Resource =
              type === 'AdminResource'
                ? { type, id: 'x', tenant: 't-2', kind: 'config' }
                : { type, id: 'x', tenant: 't-2', partner: 'p-1', owner: 'u-1' };
            const err = thrown({
              principal,
              action,
              resource,
              context: { mfa: 'multi', channel: 'api', amount: 100, currency: 'EUR' },
            });
            expect(err, `${role} ${principal.type} ${action} ${type}`).toBeInstanceOf(NotFound);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

describe('object level', () => {
  const claim: Resource = { type: 'Claim', id: 'c-1', tenant: 't-1', owner: 'u-ph1', partner: 'p-1' };
  const ctx = { mfa: 'single', channel: 'api' } as const;

  it("answers a policyholder reading another policyholder's claim exactly as a missing claim", () => {
    const err = thrown({
      principal: user(['policyholder'], { id: 'u-ph2' }),
      action: 'read',
      resource: claim,
      context: ctx,
    });
    expect(err).toBeInstanceOf(NotFound);
    expect(
      thrown({
        principal: user(['policyholder'], { id: 'u-ph1' }),
        action: 'read',
        resource: claim,
        context: ctx,
      }),
    ).toBe(undefined);
  });

  it("answers a partner asking for another partner's customer as not found", () => {
    const app: Principal = { type: 'App', id: 'app-2', tenant: 't-1', partner: 'p-2' };
    const customer: Resource = { type: 'Customer', id: 'cu-1', tenant: 't-1', partner: 'p-1' };
    expect(
      thrown({ principal: app, action: 'read', resource: customer, context: { ...ctx, mfa: 'none' } }),
    ).toBeInstanceOf(NotFound);
  });

  it('refuses a known object openly (403 ACCESS_DENIED), keeping the policy ids for the log only', () => {
    const err = thrown({ principal: user(['auditor']), action: 'update', resource: claim, context: ctx });
    expect(err).toBeInstanceOf(AccessError);
    expect((err as AccessError).reasons).toEqual(['auditor.read-only']);
    const { problem } = toProblem(err, 'req-1');
    expect(problem).toMatchObject({ status: 403, code: 'ACCESS_DENIED' });
    expect(JSON.stringify(problem)).not.toContain('auditor.read-only');
  });
});

describe('auditor', () => {
  it('reads, and cannot do any write action', () => {
    const auditor = user(['auditor']);
    const writes = ACTIONS.filter((a) => !['read', 'list', 'admin.read', 'admin.list'].includes(a));
    for (const action of writes) {
      for (const type of ACTION_RESOURCES[action]) {
        const resource: Resource =
          type === 'AdminResource'
            ? { type, id: 'x', tenant: 't-1', kind: 'config' }
            : { type, id: 'x', tenant: 't-1' };
        const err = thrown({
          principal: auditor,
          action,
          resource,
          context: { mfa: 'multi', channel: 'api', amount: 1, currency: 'EUR' },
        });
        expect((err as AccessError).code, `${action} ${type}`).toBe('ACCESS_DENIED');
      }
    }
    expect(
      thrown({
        principal: auditor,
        action: 'list',
        resource: { type: 'Payment', id: '*', tenant: 't-1' },
        context: { mfa: 'single', channel: 'api' },
      }),
    ).toBe(undefined);
  });
});

describe('function level (admin)', () => {
  const config: Resource = { type: 'AdminResource', id: 'cfg', tenant: 't-1', kind: 'config' };

  it('denies every non-admin role, even in a multi-factor session; auditors may only read', () => {
    for (const role of ROLES.filter((r) => r !== 'tenant_admin' && r !== 'security_operator')) {
      for (const action of ['admin.read', 'admin.update'] as const) {
        if (role === 'auditor' && action === 'admin.read') {
          expect(
            thrown({
              principal: user([role]),
              action,
              resource: config,
              context: { mfa: 'multi', channel: 'admin' },
            }),
          ).toBeUndefined();
          continue;
        }
        const err = thrown({
          principal: user([role]),
          action,
          resource: config,
          context: { mfa: 'multi', channel: 'admin' },
        });
        expect((err as AccessError).code, `${role} ${action}`).toBe('ACCESS_DENIED');
      }
    }
    const app: Principal = { type: 'App', id: 'a', tenant: 't-1', partner: 'p-1' };
    const err = thrown({
      principal: app,
      action: 'admin.list',
      resource: config,
      context: { mfa: 'none', channel: 'api' },
    });
    expect((err as AccessError).code).toBe('ACCESS_DENIED');
  });

  it('asks an admin without multi-factor to step up, naming the acr in the problem', () => {
    const err = thrown({
      principal: user(['tenant_admin']),
      action: 'admin.update',
      resource: config,
      context: { mfa: 'single', channel: 'admin' },
    });
    expect(err).toBeInstanceOf(AccessError);
    const { problem } = toProblem(err, 'req-1');
    expect(problem).toMatchObject({
      status: 403,
      code: 'ACCESS_MFA_REQUIRED',
      required_acr: 'urn:bulwark:acr:2fa',
    });
    expect(
      thrown({
        principal: user(['tenant_admin']),
        action: 'admin.update',
        resource: config,
        context: { mfa: 'multi', channel: 'admin' },
      }),
    ).toBe(undefined);
  });
});

describe('claims adjuster authority', () => {
  const adjuster = user(['claims_adjuster'], {
    approvalLimits: { EUR: { single: 100_000, multi: 500_000 } },
  });
  const claim: Resource = { type: 'Claim', id: 'c-1', tenant: 't-1' };
  const approve = (amount: number, mfa: 'single' | 'multi', currency = 'EUR'): AccessRequest => ({
    principal: adjuster,
    action: 'approve',
    resource: claim,
    context: { mfa, channel: 'console', amount, currency },
  });

  it('approves within authority, needs step-up above it, and never passes the ceiling', () => {
    expect(thrown(approve(100_000, 'single'))).toBe(undefined);
    expect((thrown(approve(100_001, 'single')) as AccessError).code).toBe('ACCESS_MFA_REQUIRED');
    expect(thrown(approve(100_001, 'multi'))).toBe(undefined);
    expect((thrown(approve(500_001, 'single')) as AccessError).code).toBe('ACCESS_DENIED');
    expect((thrown(approve(500_001, 'multi')) as AccessError).code).toBe('ACCESS_DENIED');
    expect((thrown(approve(1, 'multi', 'USD')) as AccessError).code).toBe('ACCESS_DENIED');
  });

  it('never offers a step-up to an app, which cannot do one', () => {
    const app: Principal = {
      type: 'App',
      id: 'a',
      tenant: 't-1',
      partner: 'p-1',
      roles: ['claims_adjuster'],
    };
    expect(
      decideAccess(authz, {
        ...approve(1, 'single'),
        principal: app,
        context: { mfa: 'none', channel: 'api', amount: 1, currency: 'EUR' },
      }).outcome,
    ).toBe('forbidden');
  });
});

describe('evaluation errors', () => {
  it('become an internal error (generic 500), never an allow', () => {
    const err = thrown({
      principal: user(['auditor']),
      action: 'read',
      resource: { type: 'Claim', id: 'c', tenant: 't-1' },
      context: { mfa: 'single', channel: 'api', ip: 'not-an-ip' },
    });
    expect(err).toBeInstanceOf(AccessEvaluationError);
    expect(toProblem(err, 'r')).toMatchObject({
      internal: true,
      problem: { status: 500, code: 'INTERNAL_ERROR' },
    });
  });

  it('still answer not found when a hiding forbid fired, so an error cannot reveal an object', () => {
    // Validation cannot rule out overflow: this tenant policy errors at runtime for amounts > 1.
    const overflowing = compileAuthorizer({
      extraPolicies: {
        't-1':
          'forbid (principal, action, resource) when { context has amount && context.amount * 9223372036854775807 > 0 };',
      },
    });
    const read = (tenant: string): AccessRequest => ({
      principal: user(['auditor']),
      action: 'read',
      resource: { type: 'Claim', id: 'c', tenant },
      context: { mfa: 'single', channel: 'api', amount: 2, currency: 'EUR' },
    });
    expect(decideAccess(overflowing, read('t-1')).outcome).toBe('error');
    expect(overflowing.isAuthorized(read('t-1')).errors.join()).toContain('overflow');
    expect(decideAccess(overflowing, read('t-2')).outcome).toBe('not_found');
  });
});
