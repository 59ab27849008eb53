/**
 * Fraud signals of a claim: pure functions over the facts the store gathers. Each signal carries a
 * stable code and an explanation an adjuster can act on (ids and amounts, never personal data: the
 * explanation is stored in clear and shown to adjusters, auditors and security operators). Any
 * signal routes the claim to fraud review, which an adjuster must clear before it can be approved.
 *
 * Evaluated at first notice of loss and again at assessment (amounts may have been corrected,
 * claims filed since may now duplicate this one).
 */
import { daysBetween } from './rules.ts';

export const FRAUD_SIGNAL_CODES = [
  'duplicate_claim',
  'early_claim',
  'amount_above_cover',
  'shared_payee_iban',
] as const;
export type FraudSignalCode = (typeof FRAUD_SIGNAL_CODES)[number];

export interface FraudSignal {
  readonly code: FraudSignalCode;
  readonly explanation: string;
  /** Other claims the signal points at. */
  readonly relatedClaimIds: string[];
  readonly stage: 'fnol' | 'assessment';
  readonly detectedAt: string;
}

export interface FraudSettings {
  /** Claims whose amounts differ by at most this share of the larger one count as "similar". */
  readonly duplicateTolerancePercent: number;
  /** A claim whose incident is within this many days of the policy's start is early. */
  readonly earlyClaimDays: number;
}

export const DEFAULT_FRAUD_SETTINGS: FraudSettings = { duplicateTolerancePercent: 10, earlyClaimDays: 30 };

/** What the signals look at; the store gathers it in the claim's transaction. */
export interface FraudFacts {
  readonly claim: {
    readonly id: string;
    readonly customerId: string;
    readonly incidentDate: string;
    readonly amountClaimed: bigint;
    readonly currency: string;
  };
  readonly policy: { readonly startDate: string; readonly coverAmount: bigint };
  /** The policy's other claims (any status). */
  readonly siblingClaims: readonly {
    readonly id: string;
    readonly incidentDate: string;
    readonly amountClaimed: bigint;
    readonly status: string;
    readonly approvedAmount: bigint | null;
  }[];
  /** Other claims of the tenant paying to the same IBAN (by blind index), with their customer. */
  readonly samePayeeClaims: readonly { readonly id: string; readonly customerId: string }[];
}

/** |a - b| <= tolerance% of max(a, b), in integers. */
export function similarAmounts(a: bigint, b: bigint, tolerancePercent: number): boolean {
  const diff = a > b ? a - b : b - a;
  const larger = a > b ? a : b;
  return diff * 100n <= larger * BigInt(tolerancePercent);
}

export function evaluateFraudSignals(
  facts: FraudFacts,
  settings: FraudSettings,
  stage: FraudSignal['stage'],
  now: Date,
): FraudSignal[] {
  const signals: FraudSignal[] = [];
  const detectedAt = now.toISOString();
  const { claim, policy } = facts;
  const add = (code: FraudSignalCode, explanation: string, related: string[] = []) =>
    signals.push({ code, explanation, relatedClaimIds: related, stage, detectedAt });

  const duplicates = facts.siblingClaims.filter(
    (c) =>
      c.id !== claim.id &&
      c.incidentDate === claim.incidentDate &&
      similarAmounts(c.amountClaimed, claim.amountClaimed, settings.duplicateTolerancePercent),
  );
  if (duplicates.length) {
    add(
      'duplicate_claim',
      `${duplicates.length} other claim(s) on the same policy for the same incident date (${claim.incidentDate}) ` +
        `with an amount within ${settings.duplicateTolerancePercent}% of ${claim.amountClaimed} ${claim.currency}`,
      duplicates.map((c) => c.id),
    );
  }

  const daysIn = daysBetween(policy.startDate, claim.incidentDate);
  if (daysIn < settings.earlyClaimDays) {
    add(
      'early_claim',
      `The incident is ${daysIn} day(s) after the policy started (${policy.startDate}); ` +
        `claims within ${settings.earlyClaimDays} days of inception are reviewed`,
    );
  }

  // Cover left for this claim: the cover amount less what other claims were granted.
  const granted = facts.siblingClaims
    .filter((c) => c.id !== claim.id && c.approvedAmount !== null && c.status !== 'denied')
    .reduce((sum, c) => sum + (c.approvedAmount ?? 0n), 0n);
  const remaining = policy.coverAmount - granted;
  if (claim.amountClaimed > remaining) {
    add(
      'amount_above_cover',
      `The amount claimed (${claim.amountClaimed} ${claim.currency}) is above the cover left on the policy ` +
        `(${remaining} of ${policy.coverAmount} ${claim.currency})`,
    );
  }

  const unrelated = facts.samePayeeClaims.filter(
    (c) => c.id !== claim.id && c.customerId !== claim.customerId,
  );
  if (unrelated.length) {
    const customers = new Set(unrelated.map((c) => c.customerId)).size;
    add(
      'shared_payee_iban',
      `The payee IBAN is also the payee of ${unrelated.length} claim(s) of ${customers} other customer(s)`,
      unrelated.map((c) => c.id),
    );
  }
  return signals;
}
