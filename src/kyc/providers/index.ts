/**
 * Built-in verification providers. All work offline:
 *  - `field-validation`: plausibility of dates and age, national-id and IBAN check digits, address
 *    completeness, documents (expiry), ownership disclosure, high-risk jurisdictions;
 *  - `sanctions`: fuzzy name screening of the customer and every beneficial owner against the
 *    loaded sanctions lists;
 *  - `pep`: the same against politically exposed persons lists;
 *  - `sandbox`: deterministic outcomes for test identities (see SANDBOX_IDENTITIES).
 */
import type { NameScreener, SubjectKind } from '../screening/matcher.ts';
import type {
  Finding,
  KycDocument,
  PersonName,
  ProviderSet,
  VerificationProvider,
  VerificationSubject,
} from '../types.ts';
import {
  addressProblems,
  ageOn,
  dateOfBirthProblem,
  isCalendarDate,
  isCountryCode,
} from '../validators/fields.ts';
import { ibanProblem } from '../validators/iban.ts';
import { nationalIdProblem } from '../validators/national-id.ts';

const fullName = (n: PersonName) => `${n.given} ${n.family}`;

/** FATF "high-risk jurisdictions subject to a call for action" (black list). */
export const HIGH_RISK_COUNTRIES: ReadonlySet<string> = new Set(['KP', 'IR', 'MM']);

/** Age of majority assumed for contracting alone. */
export const ADULT_AGE = 18;

const DOCUMENT_NUMBER: Readonly<Record<string, RegExp>> = {
  // ICAO 9303: up to 9 characters in the machine-readable zone.
  passport: /^[A-Z0-9<]{5,9}$/,
  id_card: /^[A-Z0-9]{5,20}$/,
  driving_licence: /^[A-Z0-9]{5,20}$/,
  residence_permit: /^[A-Z0-9]{5,20}$/,
  company_extract: /^[A-Z0-9]{1,30}$/,
};

function documentFindings(docs: readonly KycDocument[], now: number, kind: 'person' | 'business'): Finding[] {
  const out: Finding[] = [];
  const today = new Date(now).toISOString().slice(0, 10);
  const provider = 'field-validation';
  docs.forEach((d, i) => {
    const which = `document ${i + 1} (${d.type})`;
    const number = d.number.replace(/[\s-]+/g, '').toUpperCase();
    if (!DOCUMENT_NUMBER[d.type]?.test(number)) {
      out.push({
        provider,
        code: 'document.number_format',
        severity: 'medium',
        weight: 20,
        message: `${which}: the number does not have the document's format`,
      });
    }
    if (d.expiresOn && d.expiresOn < today) {
      out.push({
        provider,
        code: 'document.expired',
        severity: 'high',
        weight: 40,
        message: `${which} expired on ${d.expiresOn}`,
      });
    }
    if (d.issuedOn && d.issuedOn > today) {
      out.push({
        provider,
        code: 'document.issued_in_future',
        severity: 'high',
        weight: 40,
        message: `${which} is dated after today`,
      });
    }
  });
  const identity = docs.some((d) => d.type !== 'company_extract');
  if (kind === 'person' && !identity) {
    out.push({
      provider,
      code: 'document.missing',
      severity: 'medium',
      weight: 25,
      message: 'no identity document was presented',
    });
  }
  return out;
}

/** Document and field validation. */
export function fieldValidationProvider(): VerificationProvider {
  const provider = 'field-validation';
  return {
    name: provider,
    async verify(s: VerificationSubject): Promise<Finding[]> {
      const out: Finding[] = [];
      const d = s.data;
      const add = (f: Omit<Finding, 'provider'>) => out.push({ provider, ...f });
      if (s.kind === 'person') {
        if (!d.dateOfBirth) {
          add({ code: 'date_of_birth.missing', severity: 'high', weight: 30, message: 'no date of birth' });
        } else if (dateOfBirthProblem(d.dateOfBirth, s.now)) {
          add({
            code: 'date_of_birth.implausible',
            severity: 'high',
            weight: 50,
            message: 'the date of birth is not plausible',
          });
        } else if (ageOn(d.dateOfBirth, s.now) < ADULT_AGE) {
          add({
            code: 'age.minor',
            severity: 'high',
            weight: 30,
            message: `younger than ${ADULT_AGE}: a guardian must contract`,
          });
        }
        if (d.nationalId) {
          const p = nationalIdProblem(d.nationalId.country, d.nationalId.value);
          if (p)
            add({
              code: 'national_id.invalid',
              severity: 'high',
              weight: 50,
              message: `the national id fails its ${p.replace('_', ' ')} check`,
            });
        }
      } else {
        if (!d.registrationNumber) {
          add({
            code: 'registration.missing',
            severity: 'medium',
            weight: 25,
            message: 'no registration number',
          });
        }
        const owners = d.beneficialOwners ?? [];
        if (!owners.length) {
          add({
            code: 'ownership.undisclosed',
            severity: 'high',
            weight: 30,
            message: 'no beneficial owner disclosed (AMLD Art. 30)',
          });
        }
        owners.forEach((o, i) => {
          if (o.dateOfBirth && dateOfBirthProblem(o.dateOfBirth, s.now)) {
            add({
              code: 'owner.date_of_birth_implausible',
              severity: 'medium',
              weight: 20,
              subject: `owner:${i + 1}`,
              message: `owner ${i + 1}: implausible date of birth`,
            });
          }
          if (o.nationality && HIGH_RISK_COUNTRIES.has(o.nationality)) {
            add({
              code: 'country.high_risk',
              severity: 'high',
              weight: 50,
              subject: `owner:${i + 1}`,
              message: `owner ${i + 1}: nationality of a FATF high-risk jurisdiction (${o.nationality})`,
            });
          }
        });
      }
      if (d.address) {
        const problems = addressProblems(d.address);
        if (problems.length) {
          add({
            code: 'address.incomplete',
            severity: 'medium',
            weight: 20,
            message: `address: ${problems.join(', ').replaceAll('_', ' ')}`,
          });
        }
      } else {
        add({ code: 'address.missing', severity: 'medium', weight: 20, message: 'no address' });
      }
      for (const c of [d.address?.country, d.country, d.nationalId?.country]) {
        if (c && HIGH_RISK_COUNTRIES.has(c)) {
          add({
            code: 'country.high_risk',
            severity: 'high',
            weight: 50,
            message: `a FATF high-risk jurisdiction is involved (${c})`,
          });
          break;
        }
      }
      if (d.iban && ibanProblem(d.iban)) {
        add({
          code: 'iban.invalid',
          severity: 'high',
          weight: 40,
          message: `the IBAN fails its ${ibanProblem(d.iban)} check`,
        });
      }
      for (const doc of s.documents) {
        if (!isCountryCode(doc.issuingCountry) || (doc.expiresOn && !isCalendarDate(doc.expiresOn))) {
          add({
            code: 'document.invalid',
            severity: 'high',
            weight: 40,
            message: `a ${doc.type} has an unknown country or date`,
          });
        }
      }
      out.push(...documentFindings(s.documents, s.now, s.kind));
      return out;
    },
  };
}

/** The names a subject is screened under: the customer, then each beneficial owner. */
function screenedNames(
  s: VerificationSubject,
): { who: string; name: string; kind: SubjectKind; birthDate?: string | undefined }[] {
  const out: { who: string; name: string; kind: SubjectKind; birthDate?: string | undefined }[] = [];
  if (s.kind === 'person' && s.data.name) {
    out.push({ who: 'customer', name: fullName(s.data.name), kind: 'person', birthDate: s.data.dateOfBirth });
  }
  if (s.kind === 'business' && s.data.legalName) {
    out.push({ who: 'customer', name: s.data.legalName, kind: 'organisation' });
  }
  for (const [i, o] of (s.data.beneficialOwners ?? []).entries()) {
    out.push({ who: `owner:${i + 1}`, name: fullName(o.name), kind: 'person', birthDate: o.dateOfBirth });
  }
  return out;
}

export interface ScreeningProviderOptions {
  /** At or above this score a match is treated as certain (critical: rejected); below it, reviewed. */
  readonly certain?: number;
}

/** Sanctions screening against the loaded lists. */
export function sanctionsProvider(
  screener: NameScreener,
  options: ScreeningProviderOptions = {},
): VerificationProvider {
  const certain = options.certain ?? 0.97;
  return {
    name: 'sanctions',
    async verify(s) {
      const out: Finding[] = [];
      for (const { who, name, kind, birthDate } of screenedNames(s)) {
        const matches = screener.screen(name, { kind, birthDate }).slice(0, 5);
        if (!matches.length) continue;
        const best = matches[0]!;
        const sure = best.score >= certain;
        out.push({
          provider: 'sanctions',
          code: sure ? 'sanctions.match' : 'sanctions.possible_match',
          severity: sure ? 'critical' : 'high',
          weight: sure ? 100 : 60,
          subject: who,
          message: `${who === 'customer' ? 'the customer' : who.replace(':', ' ')} matches ${best.list} ${best.reference ?? best.entryId} (score ${best.score}): ${best.explanation}`,
          sanctions: matches,
        });
      }
      return out;
    },
  };
}

/** Politically exposed persons screening: a match is a flag for enhanced due diligence, not a refusal. */
export function pepProvider(screener: NameScreener): VerificationProvider {
  return {
    name: 'pep',
    async verify(s) {
      const out: Finding[] = [];
      for (const { who, name, kind, birthDate } of screenedNames(s)) {
        if (kind !== 'person') continue;
        const matches = screener.screen(name, { kind, birthDate }).slice(0, 5);
        if (!matches.length) continue;
        out.push({
          provider: 'pep',
          code: 'pep.match',
          severity: 'high',
          weight: 40,
          subject: who,
          message: `${who === 'customer' ? 'the customer' : who.replace(':', ' ')} may be a politically exposed person (${matches[0]!.explanation}): enhanced due diligence (AMLD Art. 20)`,
          pep: matches,
        });
      }
      return out;
    },
  };
}

/**
 * Sandbox test identities: the family name (or a business's legal name's first word) decides the
 * outcome, whatever else is sent. Documented in the README and docs/kyc.md.
 */
export const SANDBOX_IDENTITIES = {
  approved: 'Approved',
  review: 'Review',
  pep: 'Pep',
  sanctioned: 'Sanctioned',
} as const;

export function sandboxProvider(): VerificationProvider {
  return {
    name: 'sandbox',
    async verify(s) {
      const key = (s.kind === 'person' ? s.data.name?.family : s.data.legalName?.split(/\s+/)[0]) ?? '';
      switch (key.toLowerCase()) {
        case 'sanctioned':
          return [
            {
              provider: 'sandbox',
              code: 'sanctions.match',
              severity: 'critical',
              weight: 100,
              subject: 'customer',
              message: 'sandbox identity "Sanctioned": a certain sanctions match',
            },
          ];
        case 'review':
          return [
            {
              provider: 'sandbox',
              code: 'sandbox.review',
              severity: 'high',
              weight: 50,
              subject: 'customer',
              message: 'sandbox identity "Review": sent to manual review',
            },
          ];
        case 'pep':
          return [
            {
              provider: 'sandbox',
              code: 'pep.match',
              severity: 'high',
              weight: 40,
              subject: 'customer',
              message: 'sandbox identity "Pep": a politically exposed person',
            },
          ];
        default:
          // "Approved" and every other name: nothing found.
          return [];
      }
    },
  };
}

/**
 * The built-in provider sets. Sandbox customers get the field checks and the sandbox adapter,
 * never the lists; live customers get field checks, sanctions and PEP screening, plus any extra
 * (external) providers.
 */
export function builtInProviders(options: {
  sanctions: NameScreener;
  pep: NameScreener;
  extra?: readonly VerificationProvider[];
}): ProviderSet {
  const fields = fieldValidationProvider();
  return {
    live: [fields, sanctionsProvider(options.sanctions), pepProvider(options.pep), ...(options.extra ?? [])],
    sandbox: [fields, sandboxProvider()],
  };
}
