import { AppError, defineErrors } from '../platform/errors/index.ts';

/** Stable codes of authorization (docs/errors.md, "Access"). */
export const AccessErrors = defineErrors({
  // RFC 9110 §15.5.4: understood, and refused. Only for objects the caller may know exist;
  // anything else is answered with the owning module's own not-found code.
  ACCESS_DENIED: { status: 403, title: 'The caller may not perform this action' },
  // Step-up: the same request would be allowed in a stronger session. `required_acr` names the
  // acr to request (compare RFC 9470 §3, which signals the same for bearer-token challenges).
  ACCESS_MFA_REQUIRED: { status: 403, title: 'This action needs a multi-factor session (step-up)' },
  // 403 rather than 400: the body is well-formed and the field exists (unknown fields are already
  // REQUEST_VALIDATION_FAILED); this caller is not allowed to set it (OWASP API3:2023).
  ACCESS_FIELD_NOT_WRITABLE: { status: 403, title: 'The request sets a field the caller may not write' },
});

export type AccessErrorCode = keyof typeof AccessErrors;

/**
 * A refusal by authorization. It is an AppError so every module renders it the same way without
 * mapping it in each routes.ts: the refusal is identical whatever the domain. `reasons` (policy
 * ids) stay on the object for logs and audit and are never sent to the caller.
 */
export class AccessError extends AppError {
  constructor(
    code: AccessErrorCode,
    detail?: string,
    extra?: Readonly<Record<string, unknown>>,
    readonly reasons: readonly string[] = [],
  ) {
    super(code, detail, extra);
    this.name = 'AccessError';
  }
}

/**
 * Policy evaluation itself failed (a policy raised an error, or the request did not match the
 * schema). The request is refused, and as this is a fault rather than a decision it is not an
 * AppError: the caller gets the generic 500 and the log gets these details.
 */
export class AccessEvaluationError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`authorization could not be evaluated: ${errors.join('; ')}`);
    this.name = 'AccessEvaluationError';
  }
}

/** Base or tenant policies that do not parse or validate against the schema; thrown at load. */
export class AccessPolicyError extends Error {
  constructor(
    message: string,
    readonly issues: readonly string[],
  ) {
    super(`${message}:\n  ${issues.join('\n  ')}`);
    this.name = 'AccessPolicyError';
  }
}
