/**
 * National identification numbers: format and check digit for the countries whose scheme has
 * one, a plausible shape for the rest. Each rule cites the scheme it follows. What is checked is
 * the number's internal consistency, never that it was issued to this person (that is the
 * verification provider's job).
 */

export type NationalIdProblem = 'format' | 'check_digit' | 'date';

/** Upper case, without spaces, dots, dashes or slashes (people type them as printed). */
export function normalizeNationalId(value: string): string {
  return value.replace(/[\s.\-/]+/g, '').toUpperCase();
}

/** Luhn (ISO/IEC 7812-1 Annex B) over a digit string, check digit last. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function validDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** NL burgerservicenummer: nine digits passing the "elfproef" (weights 9..2, and -1 for the last). */
function nl(id: string): NationalIdProblem | undefined {
  if (!/^\d{9}$/.test(id)) return 'format';
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (id.charCodeAt(i) - 48) * (9 - i);
  sum -= id.charCodeAt(8) - 48;
  return sum % 11 === 0 && id !== '000000000' ? undefined : 'check_digit';
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
/** ES DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): letter = table[number mod 23]. */
function es(id: string): NationalIdProblem | undefined {
  const m = /^([XYZ]?)(\d{7,8})([A-Z])$/.exec(id);
  if (!m) return 'format';
  const [, prefix, digits, letter] = m as unknown as [string, string, string, string];
  if (prefix ? digits.length !== 7 : digits.length !== 8) return 'format';
  const number = Number(`${prefix ? 'XYZ'.indexOf(prefix) : ''}${digits}`);
  return DNI_LETTERS[number % 23] === letter ? undefined : 'check_digit';
}

// IT codice fiscale (DM 23/12/1976): values of characters in odd (1st, 3rd…) positions.
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
const cfValue = (ch: string) => (ch >= '0' && ch <= '9' ? ch.charCodeAt(0) - 48 : ch.charCodeAt(0) - 65);
/**
 * IT codice fiscale: 6 letters, 2 digits (year), month letter, 2 digits (day, +40 for women),
 * place code, check letter. Digits may be replaced by LMNPQRSTUV (omocodia).
 */
function it(id: string): NationalIdProblem | undefined {
  const d = '[0-9LMNPQRSTUV]';
  if (!new RegExp(`^[A-Z]{6}${d}{2}[ABCDEHLMPRST]${d}{2}[A-Z]${d}{3}[A-Z]$`).test(id)) return 'format';
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const ch = id[i]!;
    // Positions are counted from 1, so index 0 is "odd".
    sum += i % 2 === 0 ? CF_ODD[cfValue(ch)]! : cfValue(ch);
  }
  return String.fromCharCode(65 + (sum % 26)) === id[15] ? undefined : 'check_digit';
}

/**
 * FR NIR (numéro de sécurité sociale): sex, year, month, department (2A/2B for Corsica), commune,
 * order, then key = 97 - (number mod 97), with 2A read as 19 and 2B as 18.
 */
function fr(id: string): NationalIdProblem | undefined {
  if (!/^[1278]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}$/.test(id)) return 'format';
  const body = id.slice(0, 13).replace('2A', '19').replace('2B', '18');
  const key = 97 - Number(BigInt(body) % 97n);
  return key === Number(id.slice(13)) ? undefined : 'check_digit';
}

/**
 * SE personnummer (Skatteverket SKV 704): (YY)YYMMDD, three digits, Luhn check digit over the last
 * ten. Samordningsnummer add 60 to the day.
 */
function se(id: string): NationalIdProblem | undefined {
  const clean = id.replace('+', '');
  if (!/^(\d{2})?\d{10}$/.test(clean)) return 'format';
  const ten = clean.slice(-10);
  const month = Number(ten.slice(2, 4));
  let day = Number(ten.slice(4, 6));
  if (day > 60) day -= 60;
  // Any year with this day: 2000 is a leap year, so 29 February stays possible.
  if (!validDate(2000, month, day)) return 'date';
  return luhnValid(ten) ? undefined : 'check_digit';
}

/** PL PESEL: 11 digits, weights 1,3,7,9,1,3,7,9,1,3, check = (10 - sum mod 10) mod 10. */
function pl(id: string): NationalIdProblem | undefined {
  if (!/^\d{11}$/.test(id)) return 'format';
  const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (id.charCodeAt(i) - 48) * w[i]!;
  const month = Number(id.slice(2, 4)) % 20;
  if (!validDate(2000, month, Number(id.slice(4, 6)))) return 'date';
  return (10 - (sum % 10)) % 10 === id.charCodeAt(10) - 48 ? undefined : 'check_digit';
}

const FI_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';
/** FI henkilötunnus: DDMMYY, century sign, three digits, check = table[DDMMYYNNN mod 31]. */
function fi(id: string): NationalIdProblem | undefined {
  const m = /^(\d{6})[-+AB-FU-Y](\d{3})([0-9A-Y])$/.exec(id);
  if (!m) return 'format';
  const [, date, order, check] = m as unknown as [string, string, string, string];
  if (!validDate(2000, Number(date.slice(2, 4)), Number(date.slice(0, 2)))) return 'date';
  return FI_CHECK[Number(date + order) % 31] === check ? undefined : 'check_digit';
}

/**
 * BE rijksregisternummer / numéro de registre national: YYMMDD, order, and a two-digit check =
 * 97 - (first nine digits mod 97); for births from 2000 the nine digits are prefixed with 2.
 */
function be(id: string): NationalIdProblem | undefined {
  if (!/^\d{11}$/.test(id)) return 'format';
  const body = id.slice(0, 9);
  const check = Number(id.slice(9));
  if (97 - (Number(body) % 97) === check) return undefined;
  return 97 - (Number(`2${body}`) % 97) === check ? undefined : 'check_digit';
}

const RULES: Readonly<Record<string, (id: string) => NationalIdProblem | undefined>> = {
  NL: nl,
  ES: es,
  IT: it,
  FR: fr,
  SE: se,
  PL: pl,
  FI: fi,
  BE: be,
};

/** Countries whose national id is checked beyond its shape. */
export const CHECKED_COUNTRIES: readonly string[] = Object.keys(RULES);

/**
 * Why `value` is not a valid national id of `country` (ISO 3166-1 alpha-2), or undefined.
 * Countries without a rule here accept 4-20 letters and digits.
 */
export function nationalIdProblem(country: string, value: string): NationalIdProblem | undefined {
  const id = normalizeNationalId(value);
  const rule = RULES[country.toUpperCase()];
  if (!rule) return /^[A-Z0-9]{4,20}$/.test(id) ? undefined : 'format';
  // The Finnish century sign is a '-' or '+': keep separators there.
  const upper = country.toUpperCase();
  if (upper === 'FI') return rule(value.replace(/\s+/g, '').toUpperCase());
  if (upper === 'SE') return rule(value.replace(/[\s-]+/g, ''));
  return rule(id);
}

export function isValidNationalId(country: string, value: string): boolean {
  return nationalIdProblem(country, value) === undefined;
}
