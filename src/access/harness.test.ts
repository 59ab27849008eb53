import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileAuthorizer } from './authorizer.ts';
import { AccessPolicyError } from './errors.ts';
import {
  formatPolicyTestReport,
  type PolicyTestCase,
  parsePolicyTestSuite,
  runPolicyTestFile,
  runPolicyTests,
} from './harness.ts';

const testdata = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

describe('policy test harness', () => {
  it('runs the base-policy suite (roles, ownership, MFA, limits, admin) with every case passing', () => {
    const report = runPolicyTestFile(testdata('base.suite.json'));
    expect(formatPolicyTestReport(report)).toBe(`${report.results.length} passed, 0 failed`);
    expect(report.results.length).toBeGreaterThan(25);
  });

  it("runs a tenant's policies (policy file beside the suite) against base + tenant", () => {
    const report = runPolicyTestFile(testdata('acme.suite.json'));
    expect(formatPolicyTestReport(report)).toBe(`${report.results.length} passed, 0 failed`);
  });

  it('reports a case whose expectation is wrong, with the deciding policies', () => {
    const wrong: PolicyTestCase = {
      name: 'wrongly expects a policyholder to see a stranger’s claim',
      principal: { type: 'User', id: 'u-2', tenant: 't', roles: ['policyholder'] },
      action: 'read',
      resource: { type: 'Claim', id: 'c', tenant: 't', owner: 'u-1' },
      expect: 'allow',
    };
    const report = runPolicyTests(compileAuthorizer(), [wrong]);
    expect(report).toMatchObject({ passed: 0, failed: 1 });
    expect(formatPolicyTestReport(report)).toContain(
      'expected allow, got not_found (policies: policyholder.own-objects)',
    );
  });

  it('does not count an evaluation error as the expected "deny"', () => {
    const broken: PolicyTestCase = {
      name: 'pay does not apply to accounts',
      principal: { type: 'App', id: 'a', tenant: 't', partner: 'p' },
      action: 'pay',
      resource: { type: 'Account', id: 'x', tenant: 't', partner: 'p' },
      context: { mfa: 'none', amount: 1, currency: 'EUR' },
      expect: 'deny',
    };
    const [result] = runPolicyTests(compileAuthorizer(), [broken]).results;
    expect(result).toMatchObject({ pass: false, actual: 'error' });
    expect(result?.errors.join()).toContain('not valid for `Bulwark::Action::"pay"`');
  });

  it('refuses a malformed suite, naming where', () => {
    expect(() =>
      parsePolicyTestSuite({
        cases: [
          {
            name: 'x',
            principal: { type: 'User', id: 'u', tenant: 't', roles: ['root'] },
            action: 'read',
            resource: { type: 'Claim', id: 'c', tenant: 't' },
            expect: 'allow',
          },
        ],
      }),
    ).toThrow(/\/cases\/0\/principal/);
    expect(() => parsePolicyTestSuite({ cases: [] })).toThrow(/invalid policy test suite/);
  });

  it('fails a suite whose tenant policies do not validate before running any case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-policy-'));
    writeFileSync(
      join(dir, 'bad.cedar'),
      'forbid (principal, action, resource) when { resource.colour == "red" };',
    );
    writeFileSync(
      join(dir, 'suite.json'),
      JSON.stringify({
        policyFiles: { 't-1': './bad.cedar' },
        cases: [
          {
            name: 'x',
            principal: { type: 'User', id: 'u', tenant: 't-1', roles: ['auditor'] },
            action: 'read',
            resource: { type: 'Claim', id: 'c', tenant: 't-1' },
            expect: 'allow',
          },
        ],
      }),
    );
    expect(() => runPolicyTestFile(join(dir, 'suite.json'))).toThrow(AccessPolicyError);
    expect(() => runPolicyTestFile(join(dir, 'suite.json'))).toThrow(/attribute `colour`/);
  });
});
