/**
 * Customers (parties) and their identity verification. Domain logic only (no HTTP).
 *
 * A verification case moves submitted -> checks_running -> approved | needs_review | rejected;
 * a case that needs review is decided by an underwriter (approved | rejected). The checks run
 * asynchronously: `runPendingChecks()` claims submitted cases (a lease, so a crashed worker's
 * cases are picked up again; SKIP LOCKED, so instances share the queue), runs the providers
 * outside any transaction, then writes the decision, the customer's status, the
 * `kyc.case.decided` event (outbox) and the audit record in one transaction.
 *
 * Authorization is the caller's: every method that touches one object takes a `check` callback
 * and calls it with the loaded object (partner, owner) inside the same transaction, before
 * anything is returned or written.
 */
import { appendAudit, appendAuditAsync } from '../audit/index.ts';
import { type Envelope, fieldAad, subjectScope } from '../platform/crypto/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { isUuid, uuidv7 } from '../platform/ids.ts';
import { KycError } from './errors.ts';
import { assess } from './risk.ts';
import type { NameMatch } from './screening/matcher.ts';
import * as store from './store.ts';
import type {
  BeneficialOwner,
  CaseStatus,
  Customer,
  CustomerData,
  CustomerKind,
  Environment,
  Finding,
  KycDocument,
  ProviderSet,
  VerificationSubject,
} from './types.ts';
import { dateOfBirthProblem, isCalendarDate, isCountryCode } from './validators/fields.ts';
import { ibanProblem, normalizeIban } from './validators/iban.ts';
import { nationalIdProblem, normalizeNationalId } from './validators/national-id.ts';

/** Who is acting, as the audit trail names them (ids only). */
export interface Actor {
  readonly type: 'user' | 'client';
  readonly id: string;
  readonly clientId?: string | undefined;
}

/** The caller of a service method, free of HTTP. */
export interface CallContext {
  readonly tenantId: string;
  /** The partner whose app the call came through. */
  readonly partnerId?: string | undefined;
  readonly clientId: string;
  readonly actor: Actor;
  readonly requestId?: string | undefined;
}

/** The object as authorization sees it. Throws to refuse (the caller's not-found or denied error). */
export type AccessCheck = (object: { id: string; partner: string; owner?: string | undefined }) => void;

export interface CreateCustomerInput extends CustomerData {
  readonly kind: CustomerKind;
  readonly externalRef?: string | undefined;
  readonly ownerUserId?: string | undefined;
}

export interface UpdateCustomerInput extends CustomerData {
  readonly externalRef?: string | undefined;
  readonly ownerUserId?: string | null | undefined;
}

export interface KycCaseView {
  readonly id: string;
  readonly customerId: string;
  readonly partnerId: string;
  readonly status: CaseStatus;
  readonly documents: readonly KycDocument[];
  /** The findings, heaviest first, without the list matches (in `sanctionsHits`). */
  readonly checks: readonly Omit<Finding, 'sanctions' | 'pep'>[];
  readonly riskScore: number | null;
  readonly pep: boolean | null;
  readonly sanctionsHits: readonly (NameMatch & { subject: string })[];
  readonly reviewerNotes: string | null;
  readonly decidedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface PageResult<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface KycServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly providers: ProviderSet;
  readonly now?: () => number;
  /** How long an approval counts before the customer must be verified again. Default 365 days. */
  readonly validityMs?: number;
  /** How long a worker may run one case before another may take it over. Default 60 s. */
  readonly leaseMs?: number;
  /** Runs that may fail (provider errors) before the case goes to review. Default 3. */
  readonly maxAttempts?: number;
}

/** Fields whose change invalidates a verification: identity data. */
const IDENTITY_FIELDS = [
  'name',
  'dateOfBirth',
  'nationalId',
  'legalName',
  'registrationNumber',
  'country',
  'beneficialOwners',
] as const;
const PERSON_ONLY = ['name', 'dateOfBirth', 'nationalId'] as const;
const BUSINESS_ONLY = ['legalName', 'registrationNumber', 'country', 'beneficialOwners'] as const;

const aad = {
  data: (id: string) => fieldAad('customers', 'data', id),
  documents: (id: string) => fieldAad('kyc_cases', 'documents', id),
  findings: (id: string) => fieldAad('kyc_cases', 'findings', id),
  notes: (id: string) => fieldAad('kyc_cases', 'reviewer_notes', id),
};

const DAY_MS = 86_400_000;

export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/** The identifier a blind index is computed over: `<country>:<normalised id>`. */
function identifierOf(kind: CustomerKind, data: CustomerData): string | undefined {
  if (kind === 'person' && data.nationalId) {
    return `${data.nationalId.country}:${normalizeNationalId(data.nationalId.value)}`;
  }
  if (kind === 'business' && data.registrationNumber && data.country) {
    return `${data.country}:${normalizeNationalId(data.registrationNumber)}`;
  }
  return undefined;
}

/** Validates a customer's data for its kind; throws the first problem as a KycError. */
export function validateCustomerData(kind: CustomerKind, data: CustomerData, now: number): void {
  const present = (k: keyof CustomerData) => data[k] !== undefined;
  if (kind === 'person' && BUSINESS_ONLY.some(present)) {
    throw new KycError('CUSTOMER_KIND_FIELDS', `a person has no ${BUSINESS_ONLY.filter(present).join(', ')}`);
  }
  if (kind === 'business' && PERSON_ONLY.some(present)) {
    throw new KycError('CUSTOMER_KIND_FIELDS', `a business has no ${PERSON_ONLY.filter(present).join(', ')}`);
  }
  const countries = [data.country, data.nationalId?.country, data.address?.country].concat(
    (data.beneficialOwners ?? []).map((o) => o.nationality),
  );
  if (countries.some((c) => c !== undefined && !isCountryCode(c)))
    throw new KycError('CUSTOMER_COUNTRY_INVALID');
  for (const dob of [data.dateOfBirth, ...(data.beneficialOwners ?? []).map((o) => o.dateOfBirth)]) {
    const problem = dob === undefined ? undefined : dateOfBirthProblem(dob, now);
    if (problem)
      throw new KycError('CUSTOMER_DATE_OF_BIRTH_INVALID', `date of birth: ${problem.replace('_', ' ')}`);
  }
  if (data.nationalId) {
    const problem = nationalIdProblem(data.nationalId.country, data.nationalId.value);
    if (problem) {
      throw new KycError(
        'CUSTOMER_NATIONAL_ID_INVALID',
        `national id: ${problem.replace('_', ' ')} check failed`,
      );
    }
  }
  if (data.iban !== undefined) {
    const problem = ibanProblem(data.iban);
    if (problem) throw new KycError('CUSTOMER_IBAN_INVALID', `IBAN: ${problem} check failed`);
  }
  if (data.beneficialOwners) validateOwners(data.beneficialOwners);
}

function validateOwners(owners: readonly BeneficialOwner[]): void {
  // Hundredths of a percent as integers: no float drift in the sum.
  let total = 0;
  for (const o of owners) {
    const bp = Math.round(o.ownershipPercent * 100);
    if (!(bp > 0 && bp <= 10_000)) throw new KycError('CUSTOMER_OWNERSHIP_INVALID');
    total += bp;
  }
  if (total > 10_000) throw new KycError('CUSTOMER_OWNERSHIP_INVALID', 'shares add up to more than 100%');
}

function validateDocuments(docs: readonly KycDocument[], now: number): void {
  const today = new Date(now).toISOString().slice(0, 10);
  for (const d of docs) {
    if (!isCountryCode(d.issuingCountry))
      throw new KycError('KYC_DOCUMENT_INVALID', 'unknown issuing country');
    for (const date of [d.issuedOn, d.expiresOn]) {
      if (date !== undefined && !isCalendarDate(date))
        throw new KycError('KYC_DOCUMENT_INVALID', 'not a date');
    }
    if (d.expiresOn && d.expiresOn < today)
      throw new KycError('KYC_DOCUMENT_INVALID', 'the document has expired');
    if (d.issuedOn && d.issuedOn > today) throw new KycError('KYC_DOCUMENT_INVALID', 'issued in the future');
  }
}

/** Normalised stored form: IBANs without spaces, emails as given (the index is normalised). */
function canonical(data: CustomerData): CustomerData {
  return { ...data, ...(data.iban !== undefined ? { iban: normalizeIban(data.iban) } : {}) };
}

const DATA_KEYS: readonly (keyof CustomerData)[] = [
  'name',
  'dateOfBirth',
  'nationalId',
  'email',
  'phone',
  'address',
  'iban',
  'legalName',
  'registrationNumber',
  'country',
  'beneficialOwners',
];

function pickData(input: CustomerData): CustomerData {
  const out: Record<string, unknown> = {};
  for (const k of DATA_KEYS) if (input[k] !== undefined) out[k] = input[k];
  return out as CustomerData;
}

export class KycService {
  private readonly db: Database;
  private readonly envelope: Envelope;
  private readonly providers: ProviderSet;
  private readonly now: () => number;
  private readonly validityMs: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;

  constructor(options: KycServiceOptions) {
    this.db = options.db;
    this.envelope = options.envelope;
    this.providers = options.providers;
    this.now = options.now ?? Date.now;
    this.validityMs = options.validityMs ?? 365 * DAY_MS;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  // ---- customers ----------------------------------------------------------------------------

  async createCustomer(ctx: CallContext, input: CreateCustomerInput, check: AccessCheck): Promise<Customer> {
    const now = this.now();
    const partnerId = ctx.partnerId;
    if (!partnerId) throw new KycError('CUSTOMER_PARTNER_REQUIRED');
    const data = canonical(pickData(input));
    if (input.kind === 'person' && !data.name)
      throw new KycError('CUSTOMER_KIND_FIELDS', 'a person needs a name');
    if (input.kind === 'business' && (!data.legalName || !data.country)) {
      throw new KycError('CUSTOMER_KIND_FIELDS', 'a business needs a legal name and a country');
    }
    validateCustomerData(input.kind, data, now);
    const id = uuidv7(now);
    check({ id, partner: partnerId, owner: input.ownerUserId });
    try {
      return await this.db.withTenant(ctx.tenantId, async (tx) => {
        if (input.ownerUserId && !(await store.activeUserExists(tx, ctx.tenantId, input.ownerUserId))) {
          throw new KycError('CUSTOMER_OWNER_INVALID');
        }
        const environment: Environment =
          (await store.appEnvironment(tx, ctx.tenantId, ctx.clientId)) ?? 'sandbox';
        const at = new Date(now);
        const row = await store.insertCustomer(tx, {
          id,
          tenantId: ctx.tenantId,
          partnerId,
          ownerUserId: input.ownerUserId ?? null,
          kind: input.kind,
          environment,
          externalRef: input.externalRef ?? null,
          dataEnc: await this.sealData(tx, ctx.tenantId, id, data),
          ...(await this.indexes(tx, ctx.tenantId, input.kind, data)),
          createdAt: at,
          updatedAt: at,
        });
        await enqueue(tx, {
          topic: 'customer.created',
          tenantId: ctx.tenantId,
          payload: { customerId: id, partnerId, kind: input.kind },
        });
        await appendAuditAsync(tx, {
          actor: ctx.actor,
          action: 'kyc.customer.created',
          object: { type: 'customer', id },
          tenantId: ctx.tenantId,
          outcome: 'success',
          requestId: ctx.requestId,
          details: { partnerId, kind: input.kind, environment },
        });
        return this.present(row, data);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new KycError('CUSTOMER_DUPLICATE');
      throw err;
    }
  }

  async getCustomer(tenantId: string, id: string, check: AccessCheck): Promise<Customer> {
    if (!isUuid(id)) throw new KycError('CUSTOMER_NOT_FOUND');
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findCustomer(tx, tenantId, id);
      if (!row) throw new KycError('CUSTOMER_NOT_FOUND');
      check(accessOf(row));
      return this.present(row, await this.openData(tx, row));
    });
  }

  /**
   * A page of customers; `filter` is the slice the caller may see (their partner's, or their
   * own), which the caller has authorized.
   */
  async listCustomers(
    tenantId: string,
    filter: { partnerId?: string | undefined; ownerUserId?: string | undefined },
    page: store.Page,
  ): Promise<PageResult<Customer>> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await store.listCustomers(tx, tenantId, filter, page);
      const items = await Promise.all(rows.map(async (r) => this.present(r, await this.openData(tx, r))));
      return { items, nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null };
    });
  }

  /** Exact look-up by e-mail or national id / registration number (blind index), within `filter`. */
  async findCustomers(
    tenantId: string,
    by: { email?: string | undefined; nationalId?: { country: string; value: string } | undefined },
    filter: { partnerId?: string | undefined; ownerUserId?: string | undefined },
  ): Promise<Customer[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const emailIdx = by.email
        ? await this.envelope.blindIndex(tenantId, normalizeEmail(by.email), 'customers.email', { tx })
        : undefined;
      const identifierIdx = by.nationalId
        ? await this.envelope.blindIndex(
            tenantId,
            `${by.nationalId.country}:${normalizeNationalId(by.nationalId.value)}`,
            'customers.identifier',
            { tx },
          )
        : undefined;
      const rows = await store.listCustomers(
        tx,
        tenantId,
        { ...filter, emailIdx, identifierIdx },
        { limit: 50 },
      );
      return Promise.all(rows.map(async (r) => this.present(r, await this.openData(tx, r))));
    });
  }

  async updateCustomer(
    ctx: CallContext,
    id: string,
    input: UpdateCustomerInput,
    check: AccessCheck,
  ): Promise<Customer> {
    if (!isUuid(id)) throw new KycError('CUSTOMER_NOT_FOUND');
    const now = this.now();
    try {
      return await this.db.withTenant(ctx.tenantId, async (tx) => {
        const row = await store.findCustomer(tx, ctx.tenantId, id, { forUpdate: true });
        if (!row) throw new KycError('CUSTOMER_NOT_FOUND');
        check(accessOf(row));
        const before = await this.openData(tx, row);
        const changes = pickData(canonical(input));
        const data = { ...before, ...changes };
        validateCustomerData(row.kind, data, now);
        const changed = (Object.keys(changes) as (keyof CustomerData)[]).filter(
          (k) => JSON.stringify(before[k]) !== JSON.stringify(changes[k]),
        );
        const identityChanged = changed.some((k) => (IDENTITY_FIELDS as readonly string[]).includes(k));
        if (identityChanged && ['pending', 'needs_review'].includes(row.kycStatus)) {
          throw new KycError('KYC_CASE_OPEN', 'identity data cannot change while a verification is open');
        }
        if (input.ownerUserId && !(await store.activeUserExists(tx, ctx.tenantId, input.ownerUserId))) {
          throw new KycError('CUSTOMER_OWNER_INVALID');
        }
        const at = new Date(now);
        const updated = await store.updateCustomer(tx, ctx.tenantId, id, {
          dataEnc: await this.sealData(tx, ctx.tenantId, id, data),
          ...(await this.indexes(tx, ctx.tenantId, row.kind, data)),
          ...(input.externalRef !== undefined ? { externalRef: input.externalRef } : {}),
          ...(input.ownerUserId !== undefined ? { ownerUserId: input.ownerUserId } : {}),
          // New identity data is unverified data: a verification must be done again.
          ...(identityChanged
            ? { kycStatus: 'unverified' as const, verifiedCaseId: null, verifiedUntil: null, riskScore: null }
            : {}),
          updatedAt: at,
        });
        const fields = [
          ...changed,
          ...(input.externalRef !== undefined ? ['externalRef'] : []),
          ...(input.ownerUserId !== undefined ? ['ownerUserId'] : []),
        ];
        await enqueue(tx, {
          topic: 'customer.updated',
          tenantId: ctx.tenantId,
          payload: { customerId: id, partnerId: row.partnerId, fields, verificationReset: identityChanged },
        });
        await appendAuditAsync(tx, {
          actor: ctx.actor,
          action: 'kyc.customer.updated',
          object: { type: 'customer', id },
          tenantId: ctx.tenantId,
          outcome: 'success',
          requestId: ctx.requestId,
          details: { fields, verificationReset: identityChanged },
        });
        return this.present(updated!, data);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new KycError('CUSTOMER_DUPLICATE');
      throw err;
    }
  }

  // ---- verification cases -------------------------------------------------------------------

  /** Opens a case for the customer; the checks run asynchronously (`runPendingChecks`). */
  async submitCase(
    ctx: CallContext,
    input: { customerId: string; documents?: readonly KycDocument[] | undefined },
    check: AccessCheck,
  ): Promise<KycCaseView> {
    if (!isUuid(input.customerId)) throw new KycError('CUSTOMER_NOT_FOUND');
    const now = this.now();
    const documents = input.documents ?? [];
    try {
      return await this.db.withTenant(ctx.tenantId, async (tx) => {
        const customer = await store.findCustomer(tx, ctx.tenantId, input.customerId, { forUpdate: true });
        if (!customer) throw new KycError('CUSTOMER_NOT_FOUND');
        check(accessOf(customer));
        validateDocuments(documents, now);
        const id = uuidv7(now);
        const at = new Date(now);
        const row = await store.insertCase(tx, {
          id,
          tenantId: ctx.tenantId,
          customerId: customer.id,
          partnerId: customer.partnerId,
          environment: customer.environment,
          status: 'submitted',
          documentsEnc: await this.envelope.encryptField(ctx.tenantId, JSON.stringify(documents), {
            aad: aad.documents(id),
            scope: subjectScope(customer.id),
            tx,
          }),
          createdAt: at,
          updatedAt: at,
        });
        // A customer who is verified and current stays verified while being checked again.
        if (!this.isCurrent(customer, now)) {
          await store.setCustomerStatus(tx, ctx.tenantId, customer.id, {
            kycStatus: 'pending',
            updatedAt: at,
          });
        }
        await enqueue(tx, {
          topic: 'kyc.case.submitted',
          tenantId: ctx.tenantId,
          payload: { caseId: id, customerId: customer.id, partnerId: customer.partnerId },
        });
        await appendAuditAsync(tx, {
          actor: ctx.actor,
          action: 'kyc.case.submitted',
          object: { type: 'kyc_case', id },
          tenantId: ctx.tenantId,
          outcome: 'success',
          requestId: ctx.requestId,
          details: { customerId: customer.id, documents: documents.length },
        });
        return this.presentCase(tx, row, documents);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new KycError('KYC_CASE_OPEN');
      throw err;
    }
  }

  async getCase(tenantId: string, id: string, check: AccessCheck): Promise<KycCaseView> {
    if (!isUuid(id)) throw new KycError('KYC_CASE_NOT_FOUND');
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findCase(tx, tenantId, id);
      if (!row) throw new KycError('KYC_CASE_NOT_FOUND');
      const customer = await store.findCustomer(tx, tenantId, row.customerId);
      check({ id: row.id, partner: row.partnerId, owner: customer?.ownerUserId ?? undefined });
      return this.presentCase(tx, row);
    });
  }

  async listCases(
    tenantId: string,
    customerId: string,
    page: store.Page,
    check: AccessCheck,
  ): Promise<PageResult<KycCaseView>> {
    if (!isUuid(customerId)) throw new KycError('CUSTOMER_NOT_FOUND');
    return this.db.withTenant(tenantId, async (tx) => {
      const customer = await store.findCustomer(tx, tenantId, customerId);
      if (!customer) throw new KycError('CUSTOMER_NOT_FOUND');
      check(accessOf(customer));
      const rows = await store.listCases(tx, tenantId, customerId, page);
      const items: KycCaseView[] = [];
      for (const r of rows) items.push(await this.presentCase(tx, r));
      return { items, nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null };
    });
  }

  /** An underwriter decides a case that needs review. Audited in the same transaction. */
  async reviewCase(
    ctx: CallContext,
    caseId: string,
    input: { decision: 'approved' | 'rejected'; reviewerNotes?: string | undefined },
    check: AccessCheck,
  ): Promise<KycCaseView> {
    if (!isUuid(caseId)) throw new KycError('KYC_CASE_NOT_FOUND');
    const now = this.now();
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await store.findCase(tx, ctx.tenantId, caseId, { forUpdate: true });
      if (!row) throw new KycError('KYC_CASE_NOT_FOUND');
      const customer = await store.findCustomer(tx, ctx.tenantId, row.customerId, { forUpdate: true });
      check({ id: row.id, partner: row.partnerId, owner: customer?.ownerUserId ?? undefined });
      if (row.status !== 'needs_review' || !customer) throw new KycError('KYC_CASE_NOT_REVIEWABLE');
      const at = new Date(now);
      const updated = await store.updateCase(
        tx,
        ctx.tenantId,
        caseId,
        { status: 'needs_review' },
        {
          status: input.decision,
          decidedBy: ctx.actor.id,
          decidedAt: at,
          updatedAt: at,
          ...(input.reviewerNotes
            ? {
                reviewerNotesEnc: await this.envelope.encryptField(ctx.tenantId, input.reviewerNotes, {
                  aad: aad.notes(caseId),
                  scope: subjectScope(row.customerId),
                  tx,
                }),
              }
            : {}),
        },
      );
      if (!updated) throw new KycError('KYC_CASE_NOT_REVIEWABLE');
      await this.applyDecision(tx, updated, customer, input.decision, row.riskScore, row.pep ?? false, at);
      const view = await this.presentCase(tx, updated);
      // Last in the transaction: it holds the audit chain lock until commit.
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'kyc.case.reviewed',
        object: { type: 'kyc_case', id: caseId },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId,
        details: { customerId: row.customerId, status: input.decision, riskScore: row.riskScore },
      });
      return view;
    });
  }

  /**
   * Runs the checks of up to `limit` claimed cases and decides them. Returns how many were
   * decided. Deterministic: tests call it directly; the app runs it in a loop (worker.ts).
   */
  async runPendingChecks(options: { limit?: number } = {}): Promise<number> {
    const now = this.now();
    const claimed = await this.db.asSystem((tx) =>
      store.claimCases(tx, new Date(now), new Date(now + this.leaseMs), options.limit ?? 20),
    );
    let decided = 0;
    for (const c of claimed) {
      if (await this.checkCase(c)) decided++;
    }
    return decided;
  }

  /**
   * For account opening (ledger) and payouts (payments): the customer's partner and owner, or a
   * 4xx KycError — CUSTOMER_NOT_FOUND, or KYC_NOT_VERIFIED unless an approved verification is
   * current. Runs in the caller's tenant transaction.
   */
  async assertVerified(
    tx: Tx,
    tenantId: string,
    customerId: string,
  ): Promise<{ partnerId: string; ownerUserId?: string }> {
    if (!isUuid(customerId)) throw new KycError('CUSTOMER_NOT_FOUND');
    const row = await store.findCustomer(tx, tenantId, customerId);
    if (!row) throw new KycError('CUSTOMER_NOT_FOUND');
    if (!this.isCurrent(row, this.now())) throw new KycError('KYC_NOT_VERIFIED');
    return { partnerId: row.partnerId, ...(row.ownerUserId ? { ownerUserId: row.ownerUserId } : {}) };
  }

  /**
   * For other modules (insurance's CustomerLookup, payments' CustomerPort): who a customer belongs
   * to, in the caller's tenant transaction, or undefined when the tenant has no such customer.
   * No personal data.
   */
  async customerRef(
    tx: Tx,
    tenantId: string,
    customerId: string,
  ): Promise<{ customerId: string; partnerId: string; ownerUserId?: string } | undefined> {
    if (!isUuid(customerId)) return undefined;
    const row = await store.findCustomer(tx, tenantId, customerId);
    if (!row) return undefined;
    return {
      customerId: row.id,
      partnerId: row.partnerId,
      ...(row.ownerUserId ? { ownerUserId: row.ownerUserId } : {}),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private isCurrent(row: store.CustomerRow, now: number): boolean {
    return row.kycStatus === 'approved' && !!row.verifiedUntil && row.verifiedUntil.getTime() > now;
  }

  private async checkCase(claim: store.Claimed): Promise<boolean> {
    const loaded = await this.db.withTenant(claim.tenantId, async (tx) => {
      const row = await store.findCase(tx, claim.tenantId, claim.id);
      if (row?.status !== 'checks_running' || row.attempts !== claim.attempts) return undefined;
      const customer = await store.findCustomer(tx, claim.tenantId, row.customerId);
      if (!customer) return undefined;
      const documents = row.documentsEnc
        ? (JSON.parse(
            await this.envelope.decryptField(claim.tenantId, row.documentsEnc, {
              aad: aad.documents(row.id),
              tx,
            }),
          ) as KycDocument[])
        : [];
      return { row, customer, data: await this.openData(tx, customer), documents };
    });
    if (!loaded) return false;
    const { row, customer, data, documents } = loaded;
    const now = this.now();
    const subject: VerificationSubject = {
      tenantId: claim.tenantId,
      customerId: customer.id,
      kind: customer.kind,
      environment: row.environment,
      data,
      documents,
      now,
    };
    const findings: Finding[] = [];
    let failed = false;
    for (const provider of row.environment === 'sandbox' ? this.providers.sandbox : this.providers.live) {
      try {
        findings.push(...(await provider.verify(subject)));
      } catch {
        // The provider could not check: try again later, and send to review after the last attempt.
        failed = true;
        findings.push({
          provider: provider.name,
          code: 'provider.unavailable',
          severity: 'high',
          weight: 0,
          message: `${provider.name} could not complete its checks`,
        });
      }
    }
    if (failed && claim.attempts < this.maxAttempts) return false;
    const result = assess(findings);
    const at = new Date(now);
    return this.db.withTenant(claim.tenantId, async (tx) => {
      const findingsEnc = await this.envelope.encryptField(
        claim.tenantId,
        JSON.stringify([...findings].sort((a, b) => b.weight - a.weight)),
        { aad: aad.findings(row.id), scope: subjectScope(customer.id), tx },
      );
      const decided = result.outcome !== 'needs_review';
      const updated = await store.updateCase(
        tx,
        claim.tenantId,
        row.id,
        { status: 'checks_running', attempts: claim.attempts },
        {
          status: result.outcome,
          findingsEnc,
          riskScore: result.riskScore,
          pep: result.pep,
          sanctionsHit: result.sanctionsHit,
          leaseUntil: null,
          updatedAt: at,
          ...(decided ? { decidedBy: 'system', decidedAt: at } : {}),
        },
      );
      // Another worker took the case over after our lease ran out: its run counts.
      if (!updated) return false;
      const current = await store.findCustomer(tx, claim.tenantId, customer.id, { forUpdate: true });
      if (!current) return false;
      await this.applyDecision(tx, updated, current, result.outcome, result.riskScore, result.pep, at);
      await appendAudit(tx, {
        actor: { type: 'system', id: 'kyc-worker' },
        action: 'kyc.case.decided',
        object: { type: 'kyc_case', id: row.id },
        tenantId: claim.tenantId,
        outcome: 'success',
        details: {
          customerId: customer.id,
          status: result.outcome,
          riskScore: result.riskScore,
          pep: result.pep,
          sanctionsHit: result.sanctionsHit,
          codes: findings
            .filter((f) => f.weight > 0)
            .map((f) => f.code)
            .slice(0, 20),
        },
      });
      return true;
    });
  }

  /** The customer's status follows the decision; the event tells the partner (no PII). */
  private async applyDecision(
    tx: Tx,
    kase: store.CaseRow,
    customer: store.CustomerRow,
    status: 'approved' | 'needs_review' | 'rejected',
    riskScore: number | null,
    pep: boolean,
    at: Date,
  ): Promise<void> {
    // Whatever the customer's status was, the latest decision is what counts.
    await store.setCustomerStatus(tx, kase.tenantId, customer.id, {
      kycStatus: status,
      riskScore,
      pep,
      verifiedCaseId: status === 'approved' ? kase.id : null,
      verifiedUntil: status === 'approved' ? new Date(at.getTime() + this.validityMs) : null,
      updatedAt: at,
    });
    await enqueue(tx, {
      topic: 'kyc.case.decided',
      tenantId: kase.tenantId,
      payload: { caseId: kase.id, customerId: customer.id, partnerId: kase.partnerId, status, riskScore },
    });
  }

  private sealData(tx: Tx, tenantId: string, id: string, data: CustomerData): Promise<string> {
    return this.envelope.encryptField(tenantId, JSON.stringify(data), {
      aad: aad.data(id),
      scope: subjectScope(id),
      tx,
    });
  }

  private async openData(tx: Tx, row: store.CustomerRow): Promise<CustomerData> {
    return JSON.parse(
      await this.envelope.decryptField(row.tenantId, row.dataEnc, { aad: aad.data(row.id), tx }),
    ) as CustomerData;
  }

  private async indexes(tx: Tx, tenantId: string, kind: CustomerKind, data: CustomerData) {
    const identifier = identifierOf(kind, data);
    return {
      emailIdx: data.email
        ? await this.envelope.blindIndex(tenantId, normalizeEmail(data.email), 'customers.email', { tx })
        : null,
      identifierIdx: identifier
        ? await this.envelope.blindIndex(tenantId, identifier, 'customers.identifier', { tx })
        : null,
    };
  }

  private present(row: store.CustomerRow, data: CustomerData): Customer {
    return {
      id: row.id,
      tenantId: row.tenantId,
      partnerId: row.partnerId,
      ownerUserId: row.ownerUserId,
      kind: row.kind,
      environment: row.environment,
      externalRef: row.externalRef,
      ...data,
      kycStatus:
        this.isCurrent(row, this.now()) || row.kycStatus !== 'approved' ? row.kycStatus : 'unverified',
      riskScore: row.riskScore,
      pep: row.pep,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  private async presentCase(
    tx: Tx,
    row: store.CaseRow,
    documents?: readonly KycDocument[],
  ): Promise<KycCaseView> {
    const open = (value: string, where: string) =>
      this.envelope.decryptField(row.tenantId, value, { aad: where, tx });
    const docs =
      documents ??
      (row.documentsEnc
        ? (JSON.parse(await open(row.documentsEnc, aad.documents(row.id))) as KycDocument[])
        : []);
    const findings = row.findingsEnc
      ? (JSON.parse(await open(row.findingsEnc, aad.findings(row.id))) as Finding[])
      : [];
    return {
      id: row.id,
      customerId: row.customerId,
      partnerId: row.partnerId,
      status: row.status,
      documents: docs,
      checks: findings.map(({ sanctions: _s, pep: _p, ...rest }) => rest),
      riskScore: row.riskScore,
      pep: row.pep,
      sanctionsHits: findings.flatMap((f) =>
        (f.sanctions ?? []).map((m) => ({ ...m, subject: f.subject ?? 'customer' })),
      ),
      reviewerNotes: row.reviewerNotesEnc ? await open(row.reviewerNotesEnc, aad.notes(row.id)) : null,
      decidedAt: row.decidedAt?.toISOString() ?? null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }
}

function accessOf(row: store.CustomerRow) {
  return { id: row.id, partner: row.partnerId, owner: row.ownerUserId ?? undefined };
}
