/**
 * The vocabulary of parties and verification: what a customer is made of, what a provider is
 * given and what it answers.
 */
import type { NameMatch } from './screening/matcher.ts';
import type { PostalAddress } from './validators/fields.ts';

export type CustomerKind = 'person' | 'business';
export type Environment = 'sandbox' | 'live';
export type KycStatus = 'unverified' | 'pending' | 'approved' | 'needs_review' | 'rejected';
export type CaseStatus = 'submitted' | 'checks_running' | 'approved' | 'needs_review' | 'rejected';

export interface PersonName {
  readonly given: string;
  readonly family: string;
}

export interface NationalId {
  /** ISO 3166-1 alpha-2 of the issuing country. */
  readonly country: string;
  readonly value: string;
}

export interface BeneficialOwner {
  readonly name: PersonName;
  readonly dateOfBirth?: string | undefined;
  /** ISO 3166-1 alpha-2. */
  readonly nationality?: string | undefined;
  /** Share of ownership or control, in percent (two decimals). */
  readonly ownershipPercent: number;
}

export type Address = PostalAddress;

/** Every personal field of a customer: stored as one encrypted document. */
export interface CustomerData {
  readonly name?: PersonName | undefined;
  readonly dateOfBirth?: string | undefined;
  readonly nationalId?: NationalId | undefined;
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
  readonly address?: Address | undefined;
  readonly iban?: string | undefined;
  readonly legalName?: string | undefined;
  readonly registrationNumber?: string | undefined;
  /** Country of registration (businesses). */
  readonly country?: string | undefined;
  readonly beneficialOwners?: readonly BeneficialOwner[] | undefined;
}

export interface Customer extends CustomerData {
  readonly id: string;
  readonly tenantId: string;
  readonly partnerId: string;
  readonly ownerUserId: string | null;
  readonly kind: CustomerKind;
  readonly environment: Environment;
  readonly externalRef: string | null;
  readonly kycStatus: KycStatus;
  readonly riskScore: number | null;
  readonly pep: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const DOCUMENT_TYPES = [
  'passport',
  'id_card',
  'driving_licence',
  'residence_permit',
  'company_extract',
] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

/** An identity document as presented (its metadata: images are a provider's business). */
export interface KycDocument {
  readonly type: DocumentType;
  readonly number: string;
  readonly issuingCountry: string;
  readonly issuedOn?: string | undefined;
  readonly expiresOn?: string | undefined;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** One thing a provider found, with its weight in the risk score and why. */
export interface Finding {
  readonly provider: string;
  /** Stable, dotted: `sanctions.match`, `document.expired`, `age.minor`… */
  readonly code: string;
  readonly severity: Severity;
  /** Points added to the risk score (0–100 after capping). */
  readonly weight: number;
  readonly message: string;
  /** Whose data it is about: `customer`, or `owner:<n>` for the n-th beneficial owner (1-based). */
  readonly subject?: string | undefined;
  readonly sanctions?: readonly NameMatch[] | undefined;
  readonly pep?: readonly NameMatch[] | undefined;
}

/** What a provider verifies: the customer's data and the documents of the case. */
export interface VerificationSubject {
  readonly tenantId: string;
  readonly customerId: string;
  readonly kind: CustomerKind;
  readonly environment: Environment;
  readonly data: CustomerData;
  readonly documents: readonly KycDocument[];
  /** The clock of the run (ms since the epoch). */
  readonly now: number;
}

/**
 * A verification provider: the built-in offline checks, the sandbox adapter, or an adapter for an
 * external service. It returns findings and throws only when it could not check at all (the case
 * is then retried, and sent to review after the last attempt).
 */
export interface VerificationProvider {
  readonly name: string;
  verify(subject: VerificationSubject): Promise<readonly Finding[]>;
}

/** Providers per environment: sandbox customers never reach a live provider. */
export interface ProviderSet {
  readonly live: readonly VerificationProvider[];
  readonly sandbox: readonly VerificationProvider[];
}
