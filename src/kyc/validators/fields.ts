/**
 * Field validation shared by customer input and the offline verification checks: countries
 * (ISO 3166-1 alpha-2), dates of birth, postal addresses.
 */

// ISO 3166-1 alpha-2, officially assigned codes (plus XK, used by the EU and SWIFT for Kosovo).
const ISO_COUNTRIES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT ' +
    'BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ' +
    'ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT ' +
    'HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS ' +
    'LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI ' +
    'NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG ' +
    'SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG ' +
    'UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK'
  ).split(' '),
);

export function isCountryCode(value: string): boolean {
  return ISO_COUNTRIES.has(value);
}

/** Oldest plausible age of a living person, in years (the oldest verified lifespan is 122). */
export const MAX_AGE_YEARS = 125;

/** Whole years between `date` (YYYY-MM-DD) and `now`. */
export function ageOn(date: string, now: number): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const today = new Date(now);
  let age = today.getUTCFullYear() - y;
  const month = today.getUTCMonth() + 1;
  if (month < m || (month === m && today.getUTCDate() < d)) age -= 1;
  return age;
}

export type DateProblem = 'format' | 'future' | 'too_old';

/** Why a date of birth is implausible, or undefined. */
export function dateOfBirthProblem(value: string, now: number): DateProblem | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return 'format';
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const check = new Date(t);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) {
    return 'format';
  }
  if (t > now) return 'future';
  if (ageOn(value, now) > MAX_AGE_YEARS) return 'too_old';
  return undefined;
}

/** A calendar date YYYY-MM-DD that exists. */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const t = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return t.toISOString().slice(0, 10) === value;
}

export interface PostalAddress {
  readonly line1: string;
  readonly line2?: string | undefined;
  readonly postalCode?: string | undefined;
  readonly city: string;
  readonly region?: string | undefined;
  readonly country: string;
}

/** Postal code shapes of countries where mail without one is not delivered (UPU addressing S42). */
const POSTAL_CODES: Readonly<Record<string, RegExp>> = {
  NL: /^\d{4} ?[A-Z]{2}$/,
  DE: /^\d{5}$/,
  FR: /^\d{5}$/,
  ES: /^\d{5}$/,
  IT: /^\d{5}$/,
  AT: /^\d{4}$/,
  BE: /^\d{4}$/,
  CH: /^\d{4}$/,
  LU: /^(?:L-)?\d{4}$/,
  DK: /^\d{4}$/,
  NO: /^\d{4}$/,
  SE: /^\d{3} ?\d{2}$/,
  FI: /^\d{5}$/,
  PL: /^\d{2}-\d{3}$/,
  PT: /^\d{4}-\d{3}$/,
  IE: /^[A-Z]\d{2} ?[A-Z0-9]{4}$/,
  GB: /^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$/,
  US: /^\d{5}(?:-\d{4})?$/,
  CA: /^[A-Z]\d[A-Z] ?\d[A-Z]\d$/,
};
/** Countries without postal codes (or where they are optional), so none is expected. */
const NO_POSTAL_CODE = new Set(['AE', 'AG', 'AO', 'BS', 'BZ', 'CW', 'FJ', 'HK', 'JM', 'QA', 'TV', 'YE']);

export type AddressProblem = 'country' | 'postal_code_missing' | 'postal_code_format' | 'street' | 'city';

/** What makes an address undeliverable or incomplete (empty when it is complete). */
export function addressProblems(address: PostalAddress): AddressProblem[] {
  const problems: AddressProblem[] = [];
  const country = address.country.toUpperCase();
  if (!isCountryCode(country)) problems.push('country');
  // A street line needs a name; a house number alone (or a name alone) is usually incomplete,
  // but PO boxes and rural addresses vary too much to require a number.
  if (!/\p{L}{2,}/u.test(address.line1)) problems.push('street');
  if (!/\p{L}{2,}/u.test(address.city)) problems.push('city');
  const code = address.postalCode?.trim().toUpperCase();
  if (!code) {
    if (!NO_POSTAL_CODE.has(country)) problems.push('postal_code_missing');
  } else {
    const shape = POSTAL_CODES[country];
    if (shape && !shape.test(code)) problems.push('postal_code_format');
  }
  return problems;
}
