import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { type Authorizer, compileAuthorizer } from './authorizer.ts';
import { type AccessOutcome, decideAccess } from './object-access.ts';
import {
  ACTIONS,
  type AccessContext,
  ADMIN_KINDS,
  BUSINESS_RESOURCE_TYPES,
  CHANNELS,
  MFA_LEVELS,
  ROLES,
} from './types.ts';

/**
 * A policy test harness: cases as data (who, does what, to which object, in which context → the
 * expected outcome), run against the base policies plus a tenant's own. Tenants test their
 * policies with it before loading them (`bulwark policy test FILE` runs `runPolicyTestFile`), and
 * our own tests state the base rules with it.
 *
 * A suite file is JSON:
 *   {
 *     "policyFiles": { "<tenant id>": "./tenant.cedar" },   // paths relative to the suite file
 *     "policies":    { "<tenant id>": "forbid (...) ...;" }, // or inline text
 *     "cases": [{
 *       "name": "adjuster cannot approve above authority",
 *       "principal": { "type": "User", "id": "u1", "tenant": "t1", "roles": ["claims_adjuster"],
 *                      "approvalLimits": { "EUR": { "single": 100000, "multi": 500000 } } },
 *       "action": "approve",
 *       "resource": { "type": "Claim", "id": "c1", "tenant": "t1" },
 *       "context": { "mfa": "single", "amount": 250000, "currency": "EUR" },
 *       "expect": "mfa_required"
 *     }]
 *   }
 * `expect` is an outcome ("allow", "not_found", "forbidden", "mfa_required") or "deny" for any
 * refusal. Context defaults: mfa "single", channel "api", time now.
 */

const EXPECTATIONS = ['allow', 'deny', 'not_found', 'forbidden', 'mfa_required'] as const;
export type Expectation = (typeof EXPECTATIONS)[number];

const Id = Type.String({ minLength: 1, maxLength: 200 });
const Amount = Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER });
const Currency = Type.String({ pattern: '^[A-Z]{3}$' });
const strict = { additionalProperties: false } as const;

const UserPrincipalSchema = Type.Object(
  {
    type: Type.Literal('User'),
    id: Id,
    tenant: Id,
    roles: Type.Array(Type.Enum([...ROLES]), { maxItems: ROLES.length }),
    partner: Type.Optional(Id),
    mfaLevel: Type.Optional(Type.Enum([...MFA_LEVELS])),
    approvalLimits: Type.Optional(
      Type.Record(Currency, Type.Object({ single: Amount, multi: Amount }, strict), strict),
    ),
  },
  strict,
);
const AppPrincipalSchema = Type.Object(
  {
    type: Type.Literal('App'),
    id: Id,
    tenant: Id,
    partner: Id,
    roles: Type.Optional(Type.Array(Type.Enum([...ROLES]), { maxItems: ROLES.length })),
  },
  strict,
);
const BusinessResourceSchema = Type.Object(
  {
    type: Type.Enum([...BUSINESS_RESOURCE_TYPES]),
    id: Id,
    tenant: Id,
    partner: Type.Optional(Id),
    owner: Type.Optional(Id),
  },
  strict,
);
const AdminResourceSchema = Type.Object(
  { type: Type.Literal('AdminResource'), id: Id, tenant: Id, kind: Type.Enum([...ADMIN_KINDS]) },
  strict,
);
const CaseContextSchema = Type.Object(
  {
    mfa: Type.Optional(Type.Enum([...MFA_LEVELS])),
    channel: Type.Optional(Type.Enum([...CHANNELS])),
    // RFC 3339 date-time, as Cedar's datetime() takes it.
    time: Type.Optional(
      Type.String({
        pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?(Z|[+-]\\d{2}:\\d{2})$',
      }),
    ),
    ip: Type.Optional(Type.String({ minLength: 2, maxLength: 64 })),
    amount: Type.Optional(Amount),
    currency: Type.Optional(Currency),
  },
  strict,
);
const CaseSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    principal: Type.Union([UserPrincipalSchema, AppPrincipalSchema]),
    action: Type.Enum([...ACTIONS]),
    resource: Type.Union([BusinessResourceSchema, AdminResourceSchema]),
    context: Type.Optional(CaseContextSchema),
    expect: Type.Enum([...EXPECTATIONS]),
  },
  strict,
);
const SuiteSchema = Type.Object(
  {
    policyFiles: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1 }), strict)),
    policies: Type.Optional(Type.Record(Type.String(), Type.String(), strict)),
    cases: Type.Array(CaseSchema, { minItems: 1 }),
  },
  strict,
);

export type PolicyTestCase = Static<typeof CaseSchema>;
export type PolicyTestSuite = Static<typeof SuiteSchema>;

const suiteValidator = Compile(SuiteSchema);

export interface PolicyTestResult {
  readonly name: string;
  readonly expected: Expectation;
  readonly actual: AccessOutcome['outcome'];
  readonly pass: boolean;
  readonly reasons: readonly string[];
  readonly errors: readonly string[];
}

export interface PolicyTestReport {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
}

/** Check a parsed suite's shape; throws with every problem's JSON path. */
export function parsePolicyTestSuite(data: unknown): PolicyTestSuite {
  if (suiteValidator.Check(data)) return data;
  const problems = suiteValidator
    .Errors(data)
    .slice(0, 20)
    .map((e) => `${e.instancePath || '/'}: ${e.message}`);
  throw new Error(`invalid policy test suite:\n  ${problems.join('\n  ')}`);
}

/** Run cases against an authorizer; every case is run, failures are reported, nothing throws. */
export function runPolicyTests(
  authorizer: Authorizer,
  cases: readonly PolicyTestCase[],
  now: () => Date = () => new Date(),
): PolicyTestReport {
  const results = cases.map((c): PolicyTestResult => {
    const context: AccessContext = {
      mfa: c.context?.mfa ?? 'single',
      channel: c.context?.channel ?? 'api',
      time: c.context?.time !== undefined ? new Date(c.context.time) : now(),
      ...(c.context?.ip !== undefined ? { ip: c.context.ip } : {}),
      ...(c.context?.amount !== undefined ? { amount: c.context.amount } : {}),
      ...(c.context?.currency !== undefined ? { currency: c.context.currency } : {}),
    };
    const decided = decideAccess(authorizer, {
      principal: c.principal,
      action: c.action,
      resource: c.resource,
      context,
    });
    const actual = decided.outcome;
    // "deny" accepts any refusal, but not an evaluation error: that is a broken case or policy.
    const pass = c.expect === 'deny' ? actual !== 'allow' && actual !== 'error' : actual === c.expect;
    return {
      name: c.name,
      expected: c.expect,
      actual,
      pass,
      reasons: decided.reasons,
      errors: decided.outcome === 'error' ? decided.errors : [],
    };
  });
  const passed = results.filter((r) => r.pass).length;
  return { passed, failed: results.length - passed, results };
}

/**
 * Compile the base policies plus the suite's tenant policies and run its cases. Invalid tenant
 * policies throw AccessPolicyError (with lines) before any case runs.
 */
export function runPolicyTestSuite(suite: PolicyTestSuite, baseDir = process.cwd()): PolicyTestReport {
  const extraPolicies: Record<string, string> = { ...suite.policies };
  for (const [tenant, file] of Object.entries(suite.policyFiles ?? {})) {
    const text = readFileSync(resolve(baseDir, file), 'utf8');
    extraPolicies[tenant] = extraPolicies[tenant] ? `${extraPolicies[tenant]}\n${text}` : text;
  }
  return runPolicyTests(compileAuthorizer({ extraPolicies }), suite.cases);
}

/** `bulwark policy test FILE`: read a JSON suite, resolve its policy files next to it, run it. */
export function runPolicyTestFile(path: string): PolicyTestReport {
  const suite = parsePolicyTestSuite(JSON.parse(readFileSync(path, 'utf8')));
  return runPolicyTestSuite(suite, dirname(resolve(path)));
}

/** A report as lines for a terminal: one per failure, then the count. */
export function formatPolicyTestReport(report: PolicyTestReport): string {
  const lines = report.results
    .filter((r) => !r.pass)
    .map((r) => {
      const why = r.errors.length
        ? `errors: ${r.errors.join('; ')}`
        : `policies: ${r.reasons.join(', ') || 'none'}`;
      return `FAIL ${r.name}: expected ${r.expected}, got ${r.actual} (${why})`;
    });
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines.join('\n');
}
