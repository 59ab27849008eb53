/**
 * Verification of payee (EU Instant Payments Regulation 2024/886, Art. 5c; EPC VOP scheme): the
 * name given for an IBAN is compared with the account holder's name the payee's bank knows, and
 * the payer is told `match`, `close_match` (with the holder's name), `no_match`, or that the check
 * was not possible (`unavailable`). The comparison is ours; the name comes from the rail.
 */
import { jaroWinkler } from '../kyc/screening/jaro-winkler.ts';
import { LEGAL_FORMS, nameTokens } from '../kyc/screening/transliterate.ts';

export const PAYEE_CHECKS = ['match', 'close_match', 'no_match', 'unavailable'] as const;
export type PayeeCheckResult = (typeof PAYEE_CHECKS)[number];

// Titles do not tell one holder from another, nor do legal forms (KYC's list).
const TITLES = new Set(['mr', 'mrs', 'ms', 'miss', 'dr', 'prof', 'herr', 'frau', 'mme', 'mlle', 'm']);

/** Folded (transliterated, lower case, no diacritics or punctuation), titles and legal forms dropped. */
export function payeeTokens(name: string): string[] {
  return nameTokens(name).filter((w) => !TITLES.has(w) && !LEGAL_FORMS.has(w));
}

/** Compares a given name with the holder's: same words -> match; same words in another order, a
 * typo, or an initial for a first name -> close_match; else no_match. */
export function compareNames(given: string, holder: string): Exclude<PayeeCheckResult, 'unavailable'> {
  const g = payeeTokens(given);
  const h = payeeTokens(holder);
  if (!g.length || !h.length) return 'no_match';
  if (g.join(' ') === h.join(' ')) return 'match';
  const sorted = (t: string[]) => [...t].sort().join(' ');
  if (sorted(g) === sorted(h)) return 'close_match';
  if (jaroWinkler(g.join(' '), h.join(' ')) >= 0.92) return 'close_match';
  // "J. Smith" for "John Smith": same surname (last word), initials agree.
  if (g.length === h.length && g.at(-1) === h.at(-1)) {
    const agree = g.slice(0, -1).every((w, i) => {
      const other = h[i] ?? '';
      return (
        w === other || (w.length === 1 && other.startsWith(w)) || (other.length === 1 && w.startsWith(other))
      );
    });
    if (agree) return 'close_match';
  }
  return 'no_match';
}
