import type { Authorizer } from './authorizer.ts';
import { AccessError, AccessEvaluationError } from './errors.ts';
import { ACR_FOR_MFA, type AccessRequest } from './types.ts';

/** A decision as the caller must experience it. */
export type AccessOutcome =
  | { readonly outcome: 'allow'; readonly reasons: readonly string[] }
  /** The caller may not know the object exists: answer exactly as for a missing one. */
  | { readonly outcome: 'not_found'; readonly reasons: readonly string[] }
  | { readonly outcome: 'forbidden'; readonly reasons: readonly string[] }
  /** The same request would be allowed after a multi-factor step-up. */
  | { readonly outcome: 'mfa_required'; readonly requiredAcr: string; readonly reasons: readonly string[] }
  /** Evaluation failed: refused, and a fault to log. */
  | { readonly outcome: 'error'; readonly errors: readonly string[]; readonly reasons: readonly string[] };

/**
 * Decide, then classify a deny:
 *  1. a fired forbid marked `@outcome("not_found")` (another tenant's object, another
 *     policyholder's claim, another partner's customer) hides the object — checked first, so no
 *     other answer (not even an evaluation error) can tell an existing object from a missing one;
 *  2. an evaluation error is a fault;
 *  3. a person in a weaker session whose request would pass with multi-factor gets a step-up —
 *     found by asking Cedar again rather than by guessing from policy names, so it stays right
 *     whatever policies a tenant adds (apps cannot step up, so they never get one);
 *  4. anything else is forbidden.
 * Only a deny costs the second decision; an allow costs one.
 */
export function decideAccess(authorizer: Authorizer, request: AccessRequest): AccessOutcome {
  const first = authorizer.isAuthorized(request);
  const { reasons } = first;
  if (first.decision === 'allow' && !first.errors.length) return { outcome: 'allow', reasons };
  if (reasons.some((id) => authorizer.policy(id)?.outcome === 'not_found')) {
    return { outcome: 'not_found', reasons };
  }
  if (first.errors.length) return { outcome: 'error', errors: first.errors, reasons };
  if (request.principal.type === 'User' && request.context.mfa !== 'multi') {
    const stepped = authorizer.isAuthorized({ ...request, context: { ...request.context, mfa: 'multi' } });
    if (stepped.decision === 'allow') {
      return { outcome: 'mfa_required', requiredAcr: ACR_FOR_MFA.multi, reasons };
    }
  }
  return { outcome: 'forbidden', reasons };
}

export interface AccessOptions {
  /**
   * The owning module's own not-found error for this object (e.g. its CLAIM_NOT_FOUND), thrown
   * when the caller may not learn the object exists. It must be the very error a missing object
   * gets: a distinct "hidden" code would itself reveal the object.
   */
  readonly notFound: () => Error;
}

/**
 * Object-level check (OWASP API1:2023) for a loaded object, or for the object about to be created.
 * Returns on allow; otherwise throws the module's not-found error, ACCESS_MFA_REQUIRED (with
 * `required_acr`), ACCESS_DENIED, or — when evaluation failed — AccessEvaluationError (a 500).
 */
export function assertCanAccess(
  authorizer: Authorizer,
  request: AccessRequest,
  options: AccessOptions,
): void {
  const decided = decideAccess(authorizer, request);
  switch (decided.outcome) {
    case 'allow':
      return;
    case 'not_found':
      throw options.notFound();
    case 'mfa_required':
      throw new AccessError(
        'ACCESS_MFA_REQUIRED',
        'Authenticate again with a second factor, then retry',
        { required_acr: decided.requiredAcr },
        decided.reasons,
      );
    case 'forbidden':
      throw new AccessError('ACCESS_DENIED', undefined, undefined, decided.reasons);
    case 'error':
      throw new AccessEvaluationError(decided.errors);
  }
}
