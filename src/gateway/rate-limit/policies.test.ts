import { describe, expect, it } from 'vitest';
import { compilePolicies, DEFAULT_POLICIES, type PolicyTable, type RateLimitPolicy } from './policies.ts';

const names = (ps: readonly { name: string }[]) => ps.map((p) => p.name);

describe('DEFAULT_POLICIES', () => {
  const table = compilePolicies(DEFAULT_POLICIES);

  it('runs IP policies before authentication and the others after it', () => {
    const route = table.forRoute('default');
    expect(names(route.ip)).toEqual(['ip']);
    expect(names(route.principal)).toEqual(['client', 'client-route', 'user', 'tenant']);
    expect(route.whenUnavailable).toBe('local');
  });

  it('adds stricter limits for login, token and payment routes, which fail closed', () => {
    const login = table.forRoute('login');
    expect(names(login.ip)).toEqual(['ip', 'login-ip']);
    expect(names(login.principal)).toContain('login-client');
    const token = table.forRoute('token');
    expect(names(token.ip)).toEqual(['ip', 'token-ip']);
    const payment = table.forRoute('payment');
    expect(names(payment.principal)).toEqual(
      expect.arrayContaining(['payment-user', 'payment-client', 'payment-tenant']),
    );
    for (const cls of ['login', 'token', 'payment'] as const)
      expect(table.forRoute(cls).whenUnavailable).toBe('fail-closed');
    const ipLimit = (cls: 'login' | 'token') => table.forRoute(cls).ip.find((p) => p.name === `${cls}-ip`)!;
    const base = table.forRoute('default').ip[0]!;
    expect(ipLimit('login').limit).toBeLessThan(base.limit);
    expect(ipLimit('token').limit).toBeLessThan(base.limit);
  });

  it('renders each policy as a RateLimit-Policy item once', () => {
    expect(table.forRoute('default').ip[0]!.policyItem).toBe('"ip";q=600;w=60');
    expect(table.quota('starter')?.policyItem).toBe('"quota";q=100000');
  });

  it('finds the quota of a plan, the default plan for an unknown one, none for an unlimited one', () => {
    expect(table.quota('growth')?.limit).toBe(1_000_000);
    expect(table.quota(undefined)?.limit).toBe(10_000);
    expect(table.quota('no-such-plan')?.limit).toBe(10_000);
    expect(table.quota('enterprise')).toBeUndefined();
  });

  it('is frozen, so nothing can loosen it at run time', () => {
    expect(Object.isFrozen(DEFAULT_POLICIES.base[0])).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICIES.classes.login.limits)).toBe(true);
  });
});

describe('compilePolicies', () => {
  const withBase = (base: RateLimitPolicy[]): PolicyTable => ({ ...DEFAULT_POLICIES, base });
  const policy = (over: Partial<RateLimitPolicy>): RateLimitPolicy => ({
    name: 'p',
    by: ['ip'],
    limit: 10,
    periodMs: 1_000,
    burst: 5,
    ...over,
  });

  it.each([
    ['a sub-second period', policy({ periodMs: 1_500 })],
    ['a zero limit', policy({ limit: 0 })],
    ['a fractional burst', policy({ burst: 1.5 })],
    ['a name needing escapes', policy({ name: 'a"b' })],
    ['the reserved name quota', policy({ name: 'quota' })],
    ['no dimension', policy({ by: [] })],
    ['a repeated dimension', policy({ by: ['ip', 'ip'] })],
    ['an unknown dimension', policy({ by: ['cookie' as 'ip'] })],
  ])('refuses %s', (_what, bad) => {
    expect(() => compilePolicies(withBase([bad]))).toThrow();
  });

  it('refuses a name declared twice, in the table or by a route', () => {
    expect(() => compilePolicies(withBase([policy({}), policy({ by: ['client'] })]))).toThrow(/twice/);
    const table = compilePolicies(DEFAULT_POLICIES);
    expect(() => table.forRoute('default', [policy({ name: 'ip' })])).toThrow(/shadows/);
  });

  it('refuses a default plan that is not in the plans, and a bad quota', () => {
    expect(() => compilePolicies({ ...DEFAULT_POLICIES, defaultPlan: 'gold' })).toThrow();
    expect(() => compilePolicies({ ...DEFAULT_POLICIES, plans: { sandbox: 0 } })).toThrow();
  });

  it("places a route's own limits by their dimensions", () => {
    const table = compilePolicies(DEFAULT_POLICIES);
    const route = table.forRoute('payment', [
      policy({ name: 'route-global', by: ['route'] }),
      policy({ name: 'route-user', by: ['user', 'route'] }),
    ]);
    expect(names(route.ip)).toEqual(['ip', 'route-global']);
    expect(names(route.principal)).toContain('route-user');
    expect(route.whenUnavailable).toBe('fail-closed');
  });
});
