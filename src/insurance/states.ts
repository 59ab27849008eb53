/**
 * The two life cycles of the module, as data: which state may follow which. Every status change
 * in service.ts goes through `assertPolicyTransition` / `assertClaimTransition`, and the store
 * updates only `WHERE status = <from>`, so a race between two requests cannot skip a step.
 */
import { InsuranceError } from './errors.ts';

export const POLICY_STATUSES = ['quoted', 'bound', 'active', 'cancelled', 'lapsed', 'expired'] as const;
export type PolicyStatus = (typeof POLICY_STATUSES)[number];

/**
 * quote -> bind -> active -> cancelled / lapsed.
 * - `bound`: bound before its start date; it becomes `active` on the start date (`advancePolicies`).
 *   A quote whose start date has come is bound straight into `active`.
 * - `expired`: a quote nobody bound before it expired.
 * - `lapsed`: cover ended because premiums went unpaid past the grace period, or the term ended.
 */
const POLICY_NEXT: Readonly<Record<PolicyStatus, readonly PolicyStatus[]>> = {
  quoted: ['bound', 'active', 'cancelled', 'expired'],
  bound: ['active', 'cancelled'],
  active: ['cancelled', 'lapsed'],
  cancelled: [],
  lapsed: [],
  expired: [],
};

export const CLAIM_STATUSES = [
  'fnol',
  'triage',
  'assessment',
  'approved',
  'denied',
  'paid',
  'closed',
] as const;
export type ClaimStatus = (typeof CLAIM_STATUSES)[number];

/**
 * first notice of loss -> triage -> assessment -> approved / denied -> paid -> closed.
 * - a claim plainly not covered may be denied at triage;
 * - `paid` -> `approved` only when a payout is returned (the amount is owed again);
 * - an approved claim may be closed without payment (e.g. settled otherwise), a denied one closes.
 */
const CLAIM_NEXT: Readonly<Record<ClaimStatus, readonly ClaimStatus[]>> = {
  fnol: ['triage'],
  triage: ['assessment', 'denied'],
  assessment: ['approved', 'denied'],
  approved: ['paid', 'closed'],
  denied: ['closed'],
  paid: ['closed', 'approved'],
  closed: [],
};

export function canPolicyMove(from: PolicyStatus, to: PolicyStatus): boolean {
  return POLICY_NEXT[from].includes(to);
}

export function canClaimMove(from: ClaimStatus, to: ClaimStatus): boolean {
  return CLAIM_NEXT[from].includes(to);
}

export function assertPolicyTransition(from: PolicyStatus, to: PolicyStatus): void {
  if (!canPolicyMove(from, to)) {
    throw new InsuranceError('POLICY_INVALID_TRANSITION', `A ${from} policy cannot become ${to}`);
  }
}

export function assertClaimTransition(from: ClaimStatus, to: ClaimStatus): void {
  if (!canClaimMove(from, to)) {
    throw new InsuranceError('CLAIM_INVALID_TRANSITION', `A claim in ${from} cannot move to ${to}`);
  }
}

/**
 * Policies that were in force at some point: claims may be filed against them for incidents inside
 * the cover period (a claim can arrive after a cancellation, for a loss that happened before it).
 */
export const CLAIMABLE: readonly PolicyStatus[] = ['bound', 'active', 'cancelled', 'lapsed'];
