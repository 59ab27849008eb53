/**
 * IBAN validation (ISO 13616-1): country code, two check digits, then the BBAN whose length is
 * fixed per country (SWIFT IBAN Registry). The check digits are valid when the number formed by
 * moving the first four characters to the end, letters as 10..35, is 1 modulo 97 (ISO 7064
 * MOD 97-10). Payments import this too.
 */

/** IBAN length per country, from the SWIFT IBAN Registry. */
// biome-ignore format: a registry table reads best in rows
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
});

/** Upper case, without spaces (the paper format groups by four). Does not validate. */
export function normalizeIban(value: string): string {
  return value.replace(/[\s\u00a0]+/g, '').toUpperCase();
}

/** ISO 7064 MOD 97-10 over an alphanumeric string, letters A=10..Z=35, computed piecewise. */
export function mod97(value: string): number {
  let rest = 0;
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (code >= 48 && code <= 57) rest = (rest * 10 + (code - 48)) % 97;
    else if (code >= 65 && code <= 90) rest = (rest * 100 + (code - 55)) % 97;
    else return -1;
  }
  return rest;
}

export type IbanProblem = 'format' | 'country' | 'length' | 'checksum';

/** Why an IBAN is invalid, or undefined when it is valid. `value` may hold spaces. */
export function ibanProblem(value: string): IbanProblem | undefined {
  const iban = normalizeIban(value);
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$/.test(iban)) return 'format';
  const length = IBAN_LENGTHS[iban.slice(0, 2)];
  if (length === undefined) return 'country';
  if (iban.length !== length) return 'length';
  // Check digits 00, 01 and 99 are never issued (ISO 13616-1 §6.1).
  const check = iban.slice(2, 4);
  if (check === '00' || check === '01' || check === '99') return 'checksum';
  return mod97(iban.slice(4) + iban.slice(0, 4)) === 1 ? undefined : 'checksum';
}

export function isValidIban(value: string): boolean {
  return ibanProblem(value) === undefined;
}
