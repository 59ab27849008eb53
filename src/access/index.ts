/**
 * Authorization: Cedar policies (RBAC + ABAC) compiled once at boot, object-level checks that hide
 * what a caller may not know exists, property-level field rules, and a policy test harness.
 */
export {
  type Authorizer,
  type CompileOptions,
  compileAuthorizer,
  type PolicyInfo,
  type PolicyOutcome,
  validateTenantPolicies,
} from './authorizer.ts';
export {
  AccessError,
  type AccessErrorCode,
  AccessErrors,
  AccessEvaluationError,
  AccessPolicyError,
} from './errors.ts';
export {
  FIELD_ACCESS,
  type FieldOperation,
  readableView,
  rejectForbiddenFields,
  writableFields,
} from './fields.ts';
export {
  type AuthorizeOptions,
  accessPrincipal,
  authorize,
  type Caller,
  callerOf,
  mfaLevelOf,
} from './guard.ts';
export {
  type Expectation,
  formatPolicyTestReport,
  type PolicyTestCase,
  type PolicyTestReport,
  type PolicyTestResult,
  type PolicyTestSuite,
  parsePolicyTestSuite,
  runPolicyTestFile,
  runPolicyTestSuite,
  runPolicyTests,
} from './harness.ts';
export { type AccessOptions, type AccessOutcome, assertCanAccess, decideAccess } from './object-access.ts';
export * from './types.ts';
