import { AccessError } from './errors.ts';
import { type BusinessResourceType, ROLES, type Role } from './types.ts';

/**
 * Property-level authorization (OWASP API3:2023): for each business object, which roles may see
 * each field and which may set it on create or update. One declarative table; response schemas per
 * role are built from `readableView`, and write bodies pass `rejectForbiddenFields` so a caller
 * can never set what the table does not give them (no mass assignment). A field that is not in the
 * table is neither readable nor writable. The domain modules own the field names and change their
 * rows here when their objects change.
 *
 * Fields are top-level: a nested object (an address) is read and written as a whole.
 */
export type FieldOperation = 'create' | 'update';

interface FieldRule {
  readonly read: readonly Role[];
  readonly create: readonly Role[];
  readonly update: readonly Role[];
}

const ALL = ROLES;
/** The insurer's own people, who work the case and answer for it. */
const INSURER: readonly Role[] = [
  'tenant_admin',
  'security_operator',
  'underwriter',
  'claims_adjuster',
  'auditor',
];
/**
 * Who may see compliance findings (risk, PEP, sanctions). Not the customer or the partner: AML law
 * forbids tipping off the subject of a suspicion (EU AMLD, Art. 39).
 */
const COMPLIANCE: readonly Role[] = ['underwriter', 'security_operator', 'auditor', 'tenant_admin'];

const field = (
  read: readonly Role[],
  create: readonly Role[] = [],
  update: readonly Role[] = [],
): FieldRule => ({
  read,
  create,
  update,
});
/** Set by the server or a workflow, never by a request body. */
const serverSet = (read: readonly Role[] = ALL) => field(read);

export const FIELD_ACCESS = {
  Customer: {
    id: serverSet(),
    partnerId: serverSet(),
    kind: field(ALL, ['partner_app', 'underwriter']),
    externalRef: field(['partner_app', ...INSURER], ['partner_app'], ['partner_app']),
    name: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter', 'policyholder']),
    email: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter', 'policyholder']),
    phone: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter', 'policyholder']),
    address: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter', 'policyholder']),
    // Identity data was verified (KYC): only the insurer may correct it afterwards.
    dateOfBirth: field(ALL, ['partner_app', 'underwriter'], ['underwriter']),
    nationalId: field(
      ['partner_app', 'policyholder', 'underwriter', 'auditor'],
      ['partner_app', 'underwriter'],
      ['underwriter'],
    ),
    // Businesses (KYB): identity data too, corrected by the insurer once verified.
    legalName: field(ALL, ['partner_app', 'underwriter'], ['underwriter']),
    registrationNumber: field(ALL, ['partner_app', 'underwriter'], ['underwriter']),
    country: field(ALL, ['partner_app', 'underwriter'], ['underwriter']),
    // Ownership changes over time and the partner reports it; a change resets the verification.
    beneficialOwners: field(
      ['partner_app', 'policyholder', 'underwriter', 'auditor', 'tenant_admin'],
      ['partner_app', 'underwriter'],
      ['partner_app', 'underwriter'],
    ),
    // The customer's own account for payouts (validated: ISO 13616 check digits).
    iban: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter']),
    // The policyholder's user (Cedar's `owner`): links the record to the person who signs in.
    ownerUserId: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter']),
    // sandbox | live, from the onboarding app: sandbox customers only meet the sandbox adapter.
    environment: serverSet(),
    kycStatus: serverSet(),
    riskScore: serverSet(COMPLIANCE),
    pep: serverSet(COMPLIANCE),
    createdAt: serverSet(),
    updatedAt: serverSet(),
  },
  Account: {
    id: serverSet(),
    customerId: field(ALL, ['partner_app', 'underwriter']),
    kind: field(ALL, ['partner_app', 'underwriter']),
    currency: field(ALL, ['partner_app', 'underwriter']),
    name: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter']),
    iban: serverSet(),
    // Frozen or closed through the account workflow, not by editing the field.
    status: serverSet(),
    // Balances come from the ledger only.
    balance: serverSet(),
    overdraftLimit: field(['partner_app', ...INSURER], [], ['underwriter']),
    createdAt: serverSet(),
  },
  Payment: {
    id: serverSet(),
    kind: serverSet(),
    partnerId: serverSet(),
    customerId: serverSet(),
    // What a collection or payout is made against; the payee comes from the mandate or the claim,
    // never from the body, so a payout cannot be redirected to another account.
    mandateId: field(ALL, ['partner_app']),
    claimId: field(ALL, ['partner_app']),
    policyId: field(ALL, ['partner_app']),
    amount: field(ALL, ['partner_app']),
    currency: field(ALL, ['partner_app']),
    dueDate: field(ALL, ['partner_app']),
    maxAttempts: field(ALL, ['partner_app']),
    retryIntervalHours: field(ALL, ['partner_app']),
    reference: field(ALL, ['partner_app']),
    payeeName: serverSet(),
    payeeIban: serverSet(),
    payeeCheck: serverSet(),
    // The state machine moves these; amount and payee are fixed once SCA may bind to them.
    status: serverSet(),
    scaStatus: serverSet(),
    authorizationDetail: serverSet(),
    attempts: serverSet(),
    nextAttemptAt: serverSet(),
    reasonCode: serverSet(),
    rail: serverSet(),
    sandbox: serverSet(),
    createdAt: serverSet(),
    updatedAt: serverSet(),
    submittedAt: serverSet(),
    settledAt: serverSet(),
  },
  Policy: {
    id: serverSet(),
    customerId: field(ALL, ['partner_app', 'underwriter']),
    productId: field(ALL, ['partner_app', 'underwriter']),
    partnerId: serverSet(),
    startDate: field(ALL, ['partner_app', 'underwriter']),
    endDate: serverSet(),
    // Cover within the product's limit is the buyer's choice; the premium follows the product's rules.
    coverAmount: field(ALL, ['partner_app', 'underwriter']),
    currency: field(ALL, ['partner_app', 'underwriter']),
    // Pricing is the insurer's decision (product rules, or an underwriter's override on the quote):
    // a distributor cannot set its own premium.
    premiumAmount: field(ALL, ['underwriter']),
    premiumFrequency: serverSet(),
    // Generated at bind from the product's rules.
    premiumSchedule: serverSet(),
    status: serverSet(),
    quoteExpiresAt: serverSet(),
    boundAt: serverSet(),
    endedOn: serverSet(),
    endReason: serverSet(),
    createdAt: serverSet(),
    updatedAt: serverSet(),
  },
  Claim: {
    id: serverSet(),
    policyId: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster']),
    customerId: serverSet(),
    partnerId: serverSet(),
    incidentDate: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster'], ['claims_adjuster']),
    description: field(
      ALL,
      ['policyholder', 'partner_app', 'claims_adjuster'],
      ['policyholder', 'partner_app', 'claims_adjuster'],
    ),
    amountClaimed: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster'], ['claims_adjuster']),
    currency: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster']),
    // A changed payee after filing is a classic fraud pattern: only an adjuster may change it.
    payeeName: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster'], ['claims_adjuster']),
    payeeIban: field(ALL, ['policyholder', 'partner_app', 'claims_adjuster'], ['claims_adjuster']),
    // Set by the approve action, whose amount Cedar checks against the adjuster's authority.
    approvedAmount: serverSet(),
    // Moved by payouts (payments), never by a request.
    paidAmount: serverSet(),
    status: serverSet(),
    adjusterId: serverSet(INSURER),
    adjusterNotes: field(['claims_adjuster', 'underwriter', 'auditor'], [], ['claims_adjuster']),
    decisionReason: serverSet(),
    decidedAt: serverSet(),
    // Fraud signals are not shown to the claimant or the distributor (no tipping off).
    fraudReview: serverSet(['claims_adjuster', 'security_operator', 'auditor']),
    fraudSignals: serverSet(['claims_adjuster', 'security_operator', 'auditor']),
    createdAt: serverSet(),
    updatedAt: serverSet(),
  },
  KycCase: {
    id: serverSet(),
    customerId: field(ALL, ['partner_app', 'underwriter']),
    documents: field(ALL, ['partner_app', 'underwriter'], ['partner_app', 'underwriter']),
    status: serverSet(),
    checks: serverSet(COMPLIANCE),
    riskScore: serverSet(COMPLIANCE),
    sanctionsHits: serverSet(COMPLIANCE),
    pep: serverSet(COMPLIANCE),
    reviewerNotes: field(COMPLIANCE, [], ['underwriter']),
    partnerId: serverSet(),
    decidedAt: serverSet(),
    createdAt: serverSet(),
    updatedAt: serverSet(),
  },
} as const satisfies Record<BusinessResourceType, Record<string, FieldRule>>;

// --- lookups, computed once ----------------------------------------------------------------

type Access = 'read' | FieldOperation;
/** Per type, per access, per role: the field names, in table order. A Map, so no key is inherited. */
const INDEX = new Map<BusinessResourceType, Map<Access, Map<Role, readonly string[]>>>();
for (const [type, fields] of Object.entries(FIELD_ACCESS) as [
  BusinessResourceType,
  Record<string, FieldRule>,
][]) {
  const byAccess = new Map<Access, Map<Role, readonly string[]>>();
  for (const access of ['read', 'create', 'update'] as const) {
    const byRole = new Map<Role, readonly string[]>();
    for (const role of ROLES) {
      byRole.set(
        role,
        Object.freeze(
          Object.entries(fields)
            .filter(([, rule]) => rule[access].includes(role))
            .map(([name]) => name),
        ),
      );
    }
    byAccess.set(access, byRole);
  }
  INDEX.set(type, byAccess);
}

function fieldsFor(
  roles: Role | readonly Role[],
  type: BusinessResourceType,
  access: Access,
): readonly string[] {
  const byRole = INDEX.get(type)?.get(access);
  if (!byRole) throw new Error(`no field table for ${type}`);
  if (typeof roles === 'string') return byRole.get(roles) ?? [];
  if (roles.length === 1 && roles[0]) return byRole.get(roles[0]) ?? [];
  // Several roles: the union, kept in table order.
  const granted = new Set(roles.flatMap((r) => byRole.get(r) ?? []));
  return Object.keys(FIELD_ACCESS[type]).filter((name) => granted.has(name));
}

/** The fields a role (or the union of several) may set on create or update. */
export function writableFields(
  roles: Role | readonly Role[],
  type: BusinessResourceType,
  operation: FieldOperation = 'update',
): readonly string[] {
  return fieldsFor(roles, type, operation);
}

/** The fields a role (or the union of several) may see: the allow-list for its response schema. */
export function readableView(roles: Role | readonly Role[], type: BusinessResourceType): readonly string[] {
  return fieldsFor(roles, type, 'read');
}

/**
 * Refuse a write body that sets any field the caller may not set, naming each one. Runs after
 * schema validation (which refuses unknown fields with 400) and before the body reaches the
 * domain, so a handler never sees, and cannot accidentally persist, a forbidden field.
 */
export function rejectForbiddenFields(
  body: Readonly<Record<string, unknown>>,
  roles: Role | readonly Role[],
  type: BusinessResourceType,
  operation: FieldOperation = 'update',
): void {
  const allowed = new Set(writableFields(roles, type, operation));
  const refused = Object.keys(body).filter((name) => !allowed.has(name));
  if (!refused.length) return;
  // Names come from the body: bounded, as validation errors are.
  refused.splice(20);
  throw new AccessError(
    'ACCESS_FIELD_NOT_WRITABLE',
    `This caller may not set ${refused.map((f) => `"${f}"`).join(', ')} on ${operation}`,
    { errors: refused.map((name) => ({ path: `body/${name}`, message: 'not writable by this caller' })) },
  );
}
