import { AppError, defineErrors } from '../platform/errors/index.ts';

/** Stable codes of customers (parties) and identity verification. */
export const KycErrors = defineErrors({
  CUSTOMER_NOT_FOUND: { status: 404, title: 'No such customer' },
  CUSTOMER_DUPLICATE: {
    status: 409,
    title: 'This partner already has a customer with this national id or registration number',
  },
  CUSTOMER_KIND_FIELDS: {
    status: 422,
    title: 'The fields do not fit the customer kind (a person has a name, a business a legal name)',
  },
  CUSTOMER_PARTNER_REQUIRED: {
    status: 422,
    title: 'Customers are onboarded through a partner: call with a partner app or a partner-issued sign-in',
  },
  CUSTOMER_OWNER_INVALID: { status: 422, title: 'The owner user is not an active user of this tenant' },
  CUSTOMER_COUNTRY_INVALID: { status: 422, title: 'A country is not an ISO 3166-1 alpha-2 code' },
  CUSTOMER_DATE_OF_BIRTH_INVALID: {
    status: 422,
    title: 'The date of birth is not a real date, is in the future or is implausibly long ago',
  },
  CUSTOMER_NATIONAL_ID_INVALID: {
    status: 422,
    title: "The national id does not have the country's format or check digit",
  },
  CUSTOMER_IBAN_INVALID: {
    status: 422,
    title: 'The IBAN has an unknown country, the wrong length or a wrong check digit (ISO 13616)',
  },
  CUSTOMER_OWNERSHIP_INVALID: {
    status: 422,
    title: "Beneficial owners' shares must each be above 0 and together at most 100 percent",
  },
  KYC_CASE_NOT_FOUND: { status: 404, title: 'No such verification case' },
  KYC_CASE_OPEN: {
    status: 409,
    title: 'The customer already has a verification case that is not decided',
  },
  KYC_CASE_NOT_REVIEWABLE: { status: 409, title: 'Only a case that needs review can be decided by hand' },
  KYC_DOCUMENT_INVALID: {
    status: 422,
    title: 'A document is expired, issued in the future, or has an unknown country',
  },
  KYC_NOT_VERIFIED: {
    status: 409,
    title: 'The customer has no approved, current identity verification',
  },
});

export type KycErrorCode = keyof typeof KycErrors;

/**
 * Domain failure. An AppError (a registered code) because other modules call into KYC
 * (`assertVerified` from ledger and payments): whatever route it surfaces through, it answers
 * as its own 4xx problem, never as a 500.
 */
export class KycError extends AppError {
  constructor(
    readonly kycCode: KycErrorCode,
    detail?: string,
  ) {
    super(kycCode, detail);
    this.name = 'KycError';
  }
}
