import { describe, expect, it } from 'vitest';
import { addressProblems, dateOfBirthProblem, isCountryCode } from './fields.ts';
import { ibanProblem, isValidIban, normalizeIban } from './iban.ts';
import { isValidNationalId, nationalIdProblem } from './national-id.ts';

describe('IBAN (ISO 13616, MOD 97-10)', () => {
  // Examples published by the banks and the IBAN registry.
  const valid = [
    'GB82 WEST 1234 5698 7654 32',
    'DE89370400440532013000',
    'NL91ABNA0417164300',
    'FR1420041010050500013M02606',
    'ES9121000418450200051332',
    'IT60X0542811101000000123456',
    'BE68539007547034',
    'SE4550000000058398257466',
    'CH9300762011623852957',
    'NO9386011117947',
    'nl91 abna 0417 1643 00',
  ];
  it.each(valid)('accepts %s', (iban) => expect(isValidIban(iban)).toBe(true));

  it('names what is wrong with an invalid IBAN', () => {
    expect(ibanProblem('GB82WEST12345698765431')).toBe('checksum'); // last digit changed
    expect(ibanProblem('DE89370400440532013001')).toBe('checksum');
    expect(ibanProblem('NL91ABNA041716430')).toBe('length'); // one short
    expect(ibanProblem('DE8937040044053201300000')).toBe('length');
    expect(ibanProblem('ZZ12345678901234')).toBe('country');
    expect(ibanProblem('GB82-WEST-1234')).toBe('format');
    expect(ibanProblem('')).toBe('format');
    // A transposition of two digits is caught by MOD 97.
    expect(isValidIban('DE89370400440532031000')).toBe(false);
  });

  it('normalises the paper format', () => {
    expect(normalizeIban(' gb82 west 1234 5698 7654 32 ')).toBe('GB82WEST12345698765432');
  });
});

describe('national ids', () => {
  it.each([
    ['NL', '111222333'], // BSN 11-test
    ['NL', '123456782'],
    ['ES', '12345678Z'], // DNI letter
    ['ES', 'X1234567L'], // NIE
    ['IT', 'RSSMRA85T10A562S'], // codice fiscale check character
    ['IT', 'MRTMTT91D08F205J'],
    ['FR', '2 55 08 14 168 025 38'], // NIR key
    ['FR', '1 84 03 76 451 089 96'],
    ['SE', '811228-9874'], // personnummer Luhn
    ['SE', '19670919-9530'],
    ['PL', '44051401359'], // PESEL
    ['FI', '131052-308T'], // henkilötunnus
    ['BE', '85.07.30-033.28'], // rijksregisternummer
    ['DE', 'T22000129'], // no check rule: shape only
  ])('%s %s is valid', (country, id) => expect(isValidNationalId(country, id)).toBe(true));

  it.each([
    ['NL', '123456789', 'check_digit'],
    ['NL', '12345678', 'format'],
    ['ES', '12345678A', 'check_digit'],
    ['ES', 'X12345678L', 'format'],
    ['IT', 'RSSMRA85T10A562T', 'check_digit'],
    ['IT', 'RSSMRA85X10A562S', 'format'], // X is not a month letter
    ['FR', '2 55 08 14 168 025 39', 'check_digit'],
    ['SE', '811228-9875', 'check_digit'],
    ['SE', '811328-9874', 'date'],
    ['PL', '44051401358', 'check_digit'],
    ['FI', '131052-308U', 'check_digit'],
    ['BE', '85073003327', 'check_digit'],
    ['DE', '!!', 'format'],
  ])('%s %s fails its %s check', (country, id, problem) => {
    expect(nationalIdProblem(country, id)).toBe(problem);
  });
});

describe('fields', () => {
  const now = Date.UTC(2025, 5, 15);
  it('dates of birth must exist, be past and plausible', () => {
    expect(dateOfBirthProblem('1985-02-28', now)).toBeUndefined();
    expect(dateOfBirthProblem('2000-02-29', now)).toBeUndefined(); // leap year
    expect(dateOfBirthProblem('1985-02-29', now)).toBe('format');
    expect(dateOfBirthProblem('1985-13-01', now)).toBe('format');
    expect(dateOfBirthProblem('2025-06-16', now)).toBe('future');
    expect(dateOfBirthProblem('1890-01-01', now)).toBe('too_old');
  });

  it('countries are ISO 3166-1 alpha-2', () => {
    expect(isCountryCode('NL')).toBe(true);
    expect(isCountryCode('XX')).toBe(false);
    expect(isCountryCode('nl')).toBe(false);
  });

  it('addresses need a street, a city and, where used, a postal code of the right shape', () => {
    expect(
      addressProblems({ line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' }),
    ).toEqual([]);
    expect(addressProblems({ line1: 'Damrak 1', city: 'Amsterdam', country: 'NL' })).toEqual([
      'postal_code_missing',
    ]);
    expect(
      addressProblems({ line1: 'Damrak 1', postalCode: '10115', city: 'Amsterdam', country: 'NL' }),
    ).toEqual(['postal_code_format']);
    expect(addressProblems({ line1: '1', postalCode: '10115', city: 'Berlin', country: 'DE' })).toEqual([
      'street',
    ]);
    expect(addressProblems({ line1: 'Sheikh Zayed Road 1', city: 'Dubai', country: 'AE' })).toEqual([]);
  });
});
