/**
 * GDPR Art. 30(1) record of processing activities, generated from one declarative table: each
 * module's processing purposes with the categories of data subjects and personal data, recipients,
 * transfers to third countries, retention and the security measures — which link to the controls
 * of the report, so the record cites live evidence rather than promises. Adding a purpose is adding
 * an entry here.
 */
import type { Config } from '../config/index.ts';

export interface ProcessingActivity {
  readonly id: string;
  /** The module that does the processing. */
  readonly module: string;
  readonly purpose: string;
  /** GDPR Art. 6(1) basis. */
  readonly lawfulBasis: string;
  readonly dataSubjects: readonly string[];
  readonly personalData: readonly string[];
  /** Art. 9/10 data, if any. */
  readonly specialCategories: readonly string[];
  readonly recipients: readonly string[];
  readonly transfers: string;
  readonly retention: string;
  /** Art. 32 measures: references of report controls (`iso27001:8.24`). */
  readonly securityMeasures: readonly string[];
}

export interface Ropa {
  readonly format: 'bulwark.ropa/v1';
  readonly generatedAt: string;
  readonly controller: { readonly name: string; readonly note: string };
  readonly processor: { readonly name: string; readonly deployment: string };
  readonly activities: readonly ProcessingActivity[];
}

const CRYPTO = 'iso27001:8.24';
const ACCESS = 'iso27001:8.3';
const LOGGING = 'iso27001:8.15';
const MASKING = 'iso27001:8.11';
const DELETION = 'iso27001:8.10';

export const PROCESSING_ACTIVITIES: readonly ProcessingActivity[] = [
  {
    id: 'identity',
    module: 'identity',
    purpose:
      'Sign-in of policyholders, partner staff and operators; multi-factor and strong customer authentication',
    lawfulBasis: 'contract (Art. 6(1)(b)); legal obligation for SCA (PSD2 Art. 97)',
    dataSubjects: ['policyholders', 'partner staff', 'insurer staff', 'platform operators'],
    personalData: [
      'username',
      'e-mail address',
      'display name',
      'password hash',
      'second-factor secrets',
      'sign-in times and addresses',
    ],
    specialCategories: [],
    recipients: [
      'the insurer (tenant)',
      'the partner app the person signs in to (identity claims they consent to)',
    ],
    transfers: 'none',
    retention: 'while the account exists; sign-in records as audit records',
    securityMeasures: ['iso27001:5.17', 'iso27001:8.5', 'psd2-rts:art22', CRYPTO],
  },
  {
    id: 'kyc',
    module: 'kyc',
    purpose: 'Customer due diligence: identity verification and sanctions / PEP screening',
    lawfulBasis: 'legal obligation (Art. 6(1)(c): AML Directive (EU) 2015/849)',
    dataSubjects: ['customers (policyholders, beneficiaries)'],
    personalData: [
      'name',
      'date of birth',
      'national identifier',
      'address',
      'nationality',
      'screening results',
    ],
    specialCategories: ['data relating to criminal convictions (sanctions/PEP matches, Art. 10)'],
    recipients: [
      'the insurer',
      'the partner that onboarded the customer',
      'verification providers (processors)',
    ],
    transfers: 'none by default; a verification provider outside the EEA needs SCCs (Art. 46)',
    retention: '5 years after the end of the business relationship (AMLD Art. 40)',
    securityMeasures: [CRYPTO, MASKING, ACCESS, LOGGING],
  },
  {
    id: 'accounts',
    module: 'ledger',
    purpose: 'Accounts and double-entry bookkeeping of premiums, claims and payouts',
    lawfulBasis: 'contract (Art. 6(1)(b)); legal obligation for bookkeeping (Art. 6(1)(c))',
    dataSubjects: ['customers'],
    personalData: ['account holder reference', 'balances and transactions'],
    specialCategories: [],
    recipients: ['the insurer', 'auditors'],
    transfers: 'none',
    retention:
      '10 years (commercial and tax record keeping); entries stay, personal fields are crypto-shredded on erasure',
    securityMeasures: [ACCESS, LOGGING, 'iso27001:8.32'],
  },
  {
    id: 'payments',
    module: 'payments',
    purpose: 'Premium collection (direct debit mandates) and claim payouts',
    lawfulBasis: 'contract (Art. 6(1)(b))',
    dataSubjects: ['customers', 'payees'],
    personalData: ['IBAN', 'account holder name', 'payment reference', 'mandate', 'SCA approval details'],
    specialCategories: [],
    recipients: ['the insurer', 'payment service providers and the payment rail'],
    transfers: 'none (SEPA)',
    retention: '10 years (payment records)',
    securityMeasures: [CRYPTO, 'psd2-rts:art5', 'psd2-rts:art16', 'owasp-api:api6'],
  },
  {
    id: 'insurance',
    module: 'insurance',
    purpose: 'Policy administration and claims handling (first notice of loss to payout)',
    lawfulBasis: 'contract (Art. 6(1)(b)); Art. 9(2)(f) for health data in claims',
    dataSubjects: ['policyholders', 'insured persons', 'claimants', 'third parties named in claims'],
    personalData: ['policy details', 'claim descriptions and notes', 'claim documents'],
    specialCategories: ['health data in injury claims (Art. 9)'],
    recipients: ['the insurer', 'adjusters', 'the distributing partner'],
    transfers: 'none',
    retention: 'policy term plus the limitation period for claims',
    securityMeasures: [CRYPTO, ACCESS, 'owasp-api:api1', 'owasp-api:api3'],
  },
  {
    id: 'webhooks',
    module: 'webhooks',
    purpose: 'Notifying partners of events about their customers',
    lawfulBasis: 'contract (Art. 6(1)(b))',
    dataSubjects: ['customers'],
    personalData: ['ids only: event payloads carry ids and facts, no personal fields'],
    specialCategories: [],
    recipients: ['the partner that owns the subscription'],
    transfers: 'to wherever the partner receives webhooks (partner is a separate controller)',
    retention: 'delivery records 30 days',
    securityMeasures: ['owasp-api:api7', 'iso27001:8.12'],
  },
  {
    id: 'audit',
    module: 'audit',
    purpose: 'Security audit trail and evidence (who did what, when)',
    lawfulBasis: 'legal obligation (DORA Art. 12, PSD2 Art. 95) and legitimate interests (Art. 6(1)(f))',
    dataSubjects: ['people and operators acting through the platform'],
    personalData: ['user and client ids', 'IP addresses', 'actions'],
    specialCategories: [],
    recipients: ['the insurer (its own records)', 'the platform security team', 'the SIEM'],
    transfers: 'to the configured SIEM, if outside the EEA',
    retention: 'as the audit retention policy (append-only; no personal fields beyond ids)',
    securityMeasures: [LOGGING, 'iso27001:5.28', 'iso27001:8.16'],
  },
  {
    id: 'detection',
    module: 'detection',
    purpose: 'Fraud and attack detection, incident response',
    lawfulBasis: 'legitimate interests (Art. 6(1)(f), Recital 49 network and information security)',
    dataSubjects: ['API callers', 'people signing in', 'payees'],
    personalData: ['IP addresses', 'account digests', 'client and user ids', 'IBAN blind indexes'],
    specialCategories: [],
    recipients: ['the platform security team'],
    transfers: 'none',
    retention: 'alerts and incidents 2 years',
    securityMeasures: ['iso27001:5.24', 'iso27001:5.26', ACCESS],
  },
  {
    id: 'privacy',
    module: 'privacy',
    purpose: 'Handling data-subject requests, consents, legal holds and retention',
    lawfulBasis: 'legal obligation (Art. 6(1)(c): GDPR Art. 7, 12-22)',
    dataSubjects: ['customers', 'policyholders'],
    personalData: ['request records (ids, dates, outcomes)', 'consent records'],
    specialCategories: [],
    recipients: ['the insurer', 'the partner holding a consent'],
    transfers: 'none',
    retention: 'request records 3 years after completion; consents while valid plus 3 years',
    securityMeasures: [DELETION, 'iso27001:5.34'],
  },
];

export function buildRopa(config: Pick<Config, 'publicUrl' | 'env'>, now: Date): Ropa {
  return {
    format: 'bulwark.ropa/v1',
    generatedAt: now.toISOString(),
    controller: {
      name: 'each insurer (tenant) for its customers',
      note: 'Each tenant is the controller of its customers’ data; the platform operator acts as processor (Art. 28) and keeps this record under Art. 30(2) for what it processes on their behalf.',
    },
    processor: { name: 'Bulwark platform operator', deployment: `${config.publicUrl} (${config.env})` },
    activities: PROCESSING_ACTIVITIES,
  };
}
