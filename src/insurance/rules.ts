/**
 * Pure rules of the module, free of storage: currencies, IBAN check digits, calendar dates and the
 * premium schedule generated at bind. Amounts are integer minor units as bigint (DESIGN invariant 3).
 */

import { isValidIban, normalizeIban as normalizeKycIban } from '../kyc/validators/iban.ts';
import { isCurrency } from '../ledger/currencies.ts';
import { InsuranceError } from './errors.ts';

/** ISO 4217: the ledger's table of active codes, the one list money is checked against. */
export { isCurrency };

/** Normalised IBAN (no spaces, upper case) that passes KYC's ISO 13616 check (country length, mod-97), or undefined. */
export function normalizeIban(raw: string): string | undefined {
  const iban = normalizeKycIban(raw);
  return isValidIban(iban) ? iban : undefined;
}

// --- calendar dates (YYYY-MM-DD, UTC) -------------------------------------------------------

const DAY_MS = 86_400_000;

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Whether `s` is a real calendar date (the schema's `format: date` checks the shape). */
export function isRealDate(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && isoDate(Date.parse(`${s}T00:00:00Z`)) === s;
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

export function addDays(date: string, days: number): string {
  return isoDate(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS);
}

/**
 * `date` plus `months` calendar months, clamped to the end of a shorter month (Jan 31 + 1 month =
 * Feb 28/29), always counted from the anchor so the day of month does not drift.
 */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const total = y * 12 + (m - 1) + months;
  const year = Math.floor(total / 12);
  const month = total % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return isoDate(Date.UTC(year, month, Math.min(d, lastDay)));
}

// --- products and premiums ------------------------------------------------------------------

export const LINES_OF_BUSINESS = [
  'motor',
  'home',
  'travel',
  'health',
  'life',
  'pet',
  'gadget',
  'liability',
  'other',
] as const;
export type LineOfBusiness = (typeof LINES_OF_BUSINESS)[number];

export const PREMIUM_FREQUENCIES = ['monthly', 'quarterly', 'annual', 'single'] as const;
export type PremiumFrequency = (typeof PREMIUM_FREQUENCIES)[number];

/** How a product prices its policies. */
export interface PremiumRules {
  readonly frequency: PremiumFrequency;
  /** Yearly premium before cover-dependent loading, minor units. */
  readonly annualBase: bigint;
  /** Yearly premium per 1,000 minor units of cover, in minor units (integer). */
  readonly ratePerMille: bigint;
}

export interface ProductRules {
  readonly currency: string;
  readonly premium: PremiumRules;
  readonly coverLimit: bigint;
  /** Policy term, months. */
  readonly termMonths: number;
  /** Incidents in the first N days of cover are not covered. */
  readonly waitingDays: number;
  /** A start date at most this many days after the quote. */
  readonly maxStartDelayDays: number;
  /** A quote can be bound for this many days. */
  readonly quoteValidDays: number;
  /** Unpaid instalments older than this lapse the policy. */
  readonly graceDays: number;
  /** Fraud signal: a claim whose incident is within N days of the start date. */
  readonly earlyClaimDays: number;
}

const MONTHS_PER_PERIOD: Readonly<Record<Exclude<PremiumFrequency, 'single'>, number>> = {
  monthly: 1,
  quarterly: 3,
  annual: 12,
};

/** Refuses rules that cannot price or schedule a policy. */
export function checkProductRules(rules: ProductRules): void {
  if (!isCurrency(rules.currency)) throw new InsuranceError('PRODUCT_CURRENCY_UNKNOWN');
  const fail = (detail: string) => new InsuranceError('PRODUCT_RULES_INVALID', detail);
  if (rules.coverLimit <= 0n) throw fail('coverLimit must be positive');
  if (rules.premium.annualBase < 0n || rules.premium.ratePerMille < 0n)
    throw fail('premiums are not negative');
  if (rules.premium.annualBase === 0n && rules.premium.ratePerMille === 0n) throw fail('a premium is needed');
  if (rules.premium.frequency !== 'single' && rules.termMonths % MONTHS_PER_PERIOD[rules.premium.frequency]) {
    throw fail(
      `a term of ${rules.termMonths} months is not a whole number of ${rules.premium.frequency} periods`,
    );
  }
}

/** The premium of a policy over its whole term, minor units (rounded down: never over-charge). */
export function termPremium(rules: ProductRules, coverAmount: bigint): bigint {
  const annual = rules.premium.annualBase + (coverAmount * rules.premium.ratePerMille) / 1000n;
  return (annual * BigInt(rules.termMonths)) / 12n;
}

export interface PlannedInstalment {
  readonly seq: number;
  readonly dueDate: string;
  readonly amount: bigint;
}

/**
 * The instalments of a policy: one per period from the start date, the term premium `total` split evenly
 * with the remainder on the first instalment, so the instalments add up to the premium exactly.
 */
export function premiumSchedule(rules: ProductRules, total: bigint, startDate: string): PlannedInstalment[] {
  const frequency = rules.premium.frequency;
  const step = frequency === 'single' ? rules.termMonths : MONTHS_PER_PERIOD[frequency];
  const count = Math.max(1, rules.termMonths / step);
  const each = total / BigInt(count);
  const first = total - each * BigInt(count - 1);
  return Array.from({ length: count }, (_, i) => ({
    seq: i + 1,
    dueDate: addMonths(startDate, i * step),
    amount: i === 0 ? first : each,
  }));
}
