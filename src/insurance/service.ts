/**
 * Products, policies and claims: the insurance workflow, free of HTTP. Every object-level action
 * is authorized here, inside the transaction that loaded the object (so what Cedar judged is what
 * gets changed), through `authorize` with the caller the route passes in. Each status change
 * writes its outbox event in the same transaction; decisions are audited last in it.
 */
import {
  AccessError,
  type ApprovalLimit,
  type Authorizer,
  authorize,
  type BusinessResource,
  type Caller,
  type Role,
  readableView,
} from '../access/index.ts';
import { appendAudit, appendAuditAsync } from '../audit/index.ts';
import type { Envelope } from '../platform/crypto/index.ts';
import { fieldAad, subjectScope } from '../platform/crypto/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { InsuranceError } from './errors.ts';
import {
  DEFAULT_FRAUD_SETTINGS,
  evaluateFraudSignals,
  type FraudSettings,
  type FraudSignal,
} from './fraud.ts';
import {
  addDays,
  addMonths,
  checkProductRules,
  isCurrency,
  isoDate,
  isRealDate,
  type LineOfBusiness,
  normalizeIban,
  type PremiumFrequency,
  type ProductRules,
  premiumSchedule,
  termPremium,
} from './rules.ts';
import type { insuranceClaims } from './schema.ts';
import {
  assertClaimTransition,
  assertPolicyTransition,
  CLAIMABLE,
  type ClaimStatus,
  type PolicyStatus,
} from './states.ts';
import * as store from './store.ts';

type ClaimInsert = typeof insuranceClaims.$inferInsert;

/** What insurance needs to know of a customer (the KYC module answers; wired in src/app.ts). */
export interface CustomerRef {
  readonly partnerId: string;
  /** The policyholder's user, when the customer has one. */
  readonly ownerUserId?: string | undefined;
}

export interface CustomerLookup {
  /** The customer in the caller's tenant transaction, or undefined when there is none. */
  customer(tx: Tx, tenantId: string, customerId: string): Promise<CustomerRef | undefined>;
}

/** An operator of the admin API (no Cedar principal: the admin face has its own authentication). */
export interface OperatorContext {
  readonly actor: { readonly type: 'operator' | 'system'; readonly id: string };
  readonly requestId?: string | undefined;
}

export const DENIAL_REASONS = [
  'not_covered',
  'excluded',
  'below_excess',
  'fraud',
  'duplicate',
  'insufficient_evidence',
  'other',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

// --- views (what the routes serialise; amounts are JSON integers, minor units) -----------------

export interface Product {
  id: string;
  name: string;
  lineOfBusiness: string;
  currency: string;
  premium: { frequency: string; annualBase: number; ratePerMille: number };
  coverLimit: number;
  termMonths: number;
  waitingDays: number;
  maxStartDelayDays: number;
  quoteValidDays: number;
  graceDays: number;
  earlyClaimDays: number;
  status: 'active' | 'retired';
  createdAt: string;
}

export interface Instalment {
  id: string;
  seq: number;
  dueDate: string;
  amount: number;
  status: 'due' | 'paid' | 'void';
}

export interface Policy {
  id: string;
  customerId: string;
  productId: string;
  partnerId: string;
  status: PolicyStatus;
  currency: string;
  coverAmount: number;
  premiumAmount: number;
  premiumFrequency: string;
  startDate: string;
  endDate: string;
  quoteExpiresAt: string;
  boundAt: string | null;
  endedOn: string | null;
  endReason: string | null;
  premiumSchedule: Instalment[];
  createdAt: string;
  updatedAt: string;
}

export interface Claim {
  id: string;
  policyId: string;
  customerId: string;
  partnerId: string;
  status: ClaimStatus;
  incidentDate: string;
  amountClaimed: number;
  currency: string;
  description: string;
  payeeName: string;
  payeeIban: string;
  approvedAmount: number | null;
  paidAmount: number;
  fraudReview: boolean;
  fraudSignals: FraudSignal[];
  adjusterId: string | null;
  adjusterNotes: string | null;
  decisionReason: string | null;
  decidedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ClaimDocument {
  id: string;
  claimId: string;
  filename: string;
  mediaType: string;
  size: number;
  sha256: string;
  uploadedBy: { type: 'user' | 'client'; id: string };
  uploadedAt: string;
}

export interface AdjusterAuthority {
  userId: string;
  limits: Record<string, { single: number; multi: number }>;
}

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}

// --- inputs --------------------------------------------------------------------------------

export interface ProductInput {
  name: string;
  lineOfBusiness: LineOfBusiness;
  currency: string;
  premium: { frequency: PremiumFrequency; annualBase: bigint; ratePerMille?: bigint | undefined };
  coverLimit: bigint;
  termMonths?: number | undefined;
  waitingDays?: number | undefined;
  maxStartDelayDays?: number | undefined;
  quoteValidDays?: number | undefined;
  graceDays?: number | undefined;
  earlyClaimDays?: number | undefined;
}

export interface QuoteInput {
  customerId: string;
  productId: string;
  startDate: string;
  /** Default: the product's cover limit. */
  coverAmount?: bigint | undefined;
  /** When given, must be the product's currency. */
  currency?: string | undefined;
  /** An underwriter's price for the whole term, instead of the product's rules (fields.ts allows underwriters only). */
  premiumAmount?: bigint | undefined;
}

export interface ClaimInput {
  policyId: string;
  incidentDate: string;
  amountClaimed: bigint;
  currency: string;
  description: string;
  payeeName: string;
  payeeIban: string;
}

export interface ClaimUpdate {
  description?: string | undefined;
  incidentDate?: string | undefined;
  amountClaimed?: bigint | undefined;
  payeeName?: string | undefined;
  payeeIban?: string | undefined;
  adjusterNotes?: string | undefined;
}

export interface DocumentInput {
  filename: string;
  mediaType: string;
  size: number;
  sha256: string;
}

/**
 * The transaction of an idempotent request (`idempotentTransaction`), so the change and its stored
 * response commit together. It must be the caller's tenant's.
 */
export interface InTx {
  readonly tx?: Tx | undefined;
}

export interface InsuranceServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly authz: Authorizer;
  readonly customers: CustomerLookup;
  readonly fraud?: Partial<Pick<FraudSettings, 'duplicateTolerancePercent'>>;
  /** Documents per claim. Default 50. */
  readonly maxDocuments?: number;
  readonly now?: () => number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A bigint amount as a JSON integer; amounts are bounded on input, so this never loses a unit. */
function num(value: bigint): number {
  if (value > MAX_SAFE || value < -MAX_SAFE)
    throw new Error('amount beyond 2^53 cannot be sent as a JSON integer');
  return Number(value);
}
const iso = (d: Date | null) => (d ? d.toISOString() : null);

const notFound = {
  product: () => new InsuranceError('PRODUCT_NOT_FOUND'),
  policy: () => new InsuranceError('POLICY_NOT_FOUND'),
  claim: () => new InsuranceError('CLAIM_NOT_FOUND'),
};

const aad = {
  description: (id: string) => fieldAad('insurance_claims', 'description', id),
  payeeName: (id: string) => fieldAad('insurance_claims', 'payee_name', id),
  payeeIban: (id: string) => fieldAad('insurance_claims', 'payee_iban', id),
  adjusterNotes: (id: string) => fieldAad('insurance_claims', 'adjuster_notes', id),
  filename: (id: string) => fieldAad('insurance_claim_documents', 'filename', id),
};

const PRODUCT_MANAGERS: readonly Role[] = ['underwriter', 'tenant_admin'];

function rulesOf(p: store.ProductRow): ProductRules {
  return {
    currency: p.currency,
    premium: {
      frequency: p.premiumFrequency as PremiumFrequency,
      annualBase: p.annualBase,
      ratePerMille: p.ratePerMille,
    },
    coverLimit: p.coverLimit,
    termMonths: p.termMonths,
    waitingDays: p.waitingDays,
    maxStartDelayDays: p.maxStartDelayDays,
    quoteValidDays: p.quoteValidDays,
    graceDays: p.graceDays,
    earlyClaimDays: p.earlyClaimDays,
  };
}

function toProduct(p: store.ProductRow): Product {
  return {
    id: p.id,
    name: p.name,
    lineOfBusiness: p.lineOfBusiness,
    currency: p.currency,
    premium: {
      frequency: p.premiumFrequency,
      annualBase: num(p.annualBase),
      ratePerMille: num(p.ratePerMille),
    },
    coverLimit: num(p.coverLimit),
    termMonths: p.termMonths,
    waitingDays: p.waitingDays,
    maxStartDelayDays: p.maxStartDelayDays,
    quoteValidDays: p.quoteValidDays,
    graceDays: p.graceDays,
    earlyClaimDays: p.earlyClaimDays,
    status: p.status,
    createdAt: p.createdAt.toISOString(),
  };
}

function toPolicy(p: store.PolicyRow, instalments: store.InstalmentRow[]): Policy {
  return {
    id: p.id,
    customerId: p.customerId,
    productId: p.productId,
    partnerId: p.partnerId,
    status: p.status as PolicyStatus,
    currency: p.currency,
    coverAmount: num(p.coverAmount),
    premiumAmount: num(p.premiumAmount),
    premiumFrequency: p.premiumFrequency,
    startDate: p.startDate,
    endDate: p.endDate,
    quoteExpiresAt: p.quoteExpiresAt.toISOString(),
    boundAt: iso(p.boundAt),
    endedOn: p.endedOn,
    endReason: p.endReason,
    premiumSchedule: instalments
      .filter((i) => i.policyId === p.id)
      .map((i) => ({ id: i.id, seq: i.seq, dueDate: i.dueDate, amount: num(i.amount), status: i.status })),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

const policyResource = (p: store.PolicyRow): BusinessResource => ({
  type: 'Policy',
  id: p.id,
  tenant: p.tenantId,
  partner: p.partnerId,
  ...(p.ownerUserId ? { owner: p.ownerUserId } : {}),
});

const claimResource = (c: store.ClaimRow): BusinessResource => ({
  type: 'Claim',
  id: c.id,
  tenant: c.tenantId,
  partner: c.partnerId,
  ...(c.ownerUserId ? { owner: c.ownerUserId } : {}),
});

/** The slice of a list a caller may see: a partner app its customers', a policyholder their own. */
function scopeOf(caller: Caller): store.Scope {
  if (caller.kind === 'client')
    return { partnerId: caller.partnerId ?? '00000000-0000-0000-0000-000000000000' };
  if (caller.roles.includes('policyholder')) return { ownerUserId: caller.userId };
  return {};
}

function listResource(type: 'Policy' | 'Claim', caller: Caller): BusinessResource {
  const scope = scopeOf(caller);
  return {
    type,
    id: '*',
    tenant: caller.tenantId,
    ...(scope.partnerId ? { partner: scope.partnerId } : {}),
    ...(scope.ownerUserId ? { owner: scope.ownerUserId } : {}),
  };
}

function page<T extends { id: string }>(items: T[], limit: number): PageResult<T> {
  return { items, nextCursor: items.length === limit ? (items.at(-1)?.id ?? null) : null };
}

/** Claim workflow steps are the insurer's decisions: a partner app may file and amend, not decide. */
function requireAdjuster(caller: Caller): void {
  if (caller.kind !== 'user' || !caller.roles.includes('claims_adjuster')) {
    throw new AccessError('ACCESS_DENIED', 'Only a claims adjuster may move a claim through its workflow');
  }
}

export class InsuranceService {
  private readonly db: Database;
  private readonly envelope: Envelope;
  private readonly authz: Authorizer;
  private readonly customers: CustomerLookup;
  private readonly duplicateTolerancePercent: number;
  private readonly maxDocuments: number;
  private readonly now: () => number;

  constructor(options: InsuranceServiceOptions) {
    this.db = options.db;
    this.envelope = options.envelope;
    this.authz = options.authz;
    this.customers = options.customers;
    this.duplicateTolerancePercent =
      options.fraud?.duplicateTolerancePercent ?? DEFAULT_FRAUD_SETTINGS.duplicateTolerancePercent;
    this.maxDocuments = options.maxDocuments ?? 50;
    this.now = options.now ?? Date.now;
  }

  private today(): string {
    return isoDate(this.now());
  }

  // --- products ----------------------------------------------------------------------------

  /** A product created by an underwriter or tenant admin through `/v1` (two factors: it sets prices). */
  async createProductAs(caller: Caller, input: ProductInput): Promise<Product> {
    if (caller.kind !== 'user' || !caller.roles.some((r) => PRODUCT_MANAGERS.includes(r))) {
      throw new AccessError('ACCESS_DENIED', 'Products are managed by underwriters and tenant admins');
    }
    if (caller.mfa !== 'multi') {
      throw new AccessError('ACCESS_MFA_REQUIRED', 'Authenticate again with a second factor, then retry', {
        required_acr: 'urn:bulwark:acr:2fa',
      });
    }
    return this.createProduct(caller.tenantId, input, { actor: caller.actor, requestId: caller.requestId });
  }

  async createProduct(
    tenantId: string,
    input: ProductInput,
    who: OperatorContext | { actor: Caller['actor']; requestId?: string | undefined },
  ): Promise<Product> {
    const rules: ProductRules = {
      currency: input.currency,
      premium: {
        frequency: input.premium.frequency,
        annualBase: input.premium.annualBase,
        ratePerMille: input.premium.ratePerMille ?? 0n,
      },
      coverLimit: input.coverLimit,
      termMonths: input.termMonths ?? 12,
      waitingDays: input.waitingDays ?? 0,
      maxStartDelayDays: input.maxStartDelayDays ?? 90,
      quoteValidDays: input.quoteValidDays ?? 30,
      graceDays: input.graceDays ?? 30,
      earlyClaimDays: input.earlyClaimDays ?? DEFAULT_FRAUD_SETTINGS.earlyClaimDays,
    };
    checkProductRules(rules);
    try {
      return await this.db.withTenant(tenantId, async (tx) => {
        const row = await store.insertProduct(tx, {
          id: uuidv7(this.now()),
          tenantId,
          name: input.name,
          lineOfBusiness: input.lineOfBusiness,
          currency: rules.currency,
          premiumFrequency: rules.premium.frequency,
          annualBase: rules.premium.annualBase,
          ratePerMille: rules.premium.ratePerMille,
          coverLimit: rules.coverLimit,
          termMonths: rules.termMonths,
          waitingDays: rules.waitingDays,
          maxStartDelayDays: rules.maxStartDelayDays,
          quoteValidDays: rules.quoteValidDays,
          graceDays: rules.graceDays,
          earlyClaimDays: rules.earlyClaimDays,
        });
        await appendAudit(tx, {
          actor: who.actor,
          action: 'insurance.product.created',
          tenantId,
          object: { type: 'insurance.product', id: row.id },
          outcome: 'success',
          requestId: who.requestId,
          details: { currency: row.currency, coverLimit: String(row.coverLimit) },
        });
        return toProduct(row);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new InsuranceError('PRODUCT_NAME_TAKEN');
      // The tenant row is the products' foreign key: a missing tenant is a missing tenant.
      if (isForeignKeyViolation(err)) throw new InsuranceError('PRODUCT_NOT_FOUND', 'No such tenant');
      throw err;
    }
  }

  async getProduct(tenantId: string, productId: string): Promise<Product> {
    const row = await this.db.withTenant(tenantId, (tx) => store.findProduct(tx, tenantId, productId));
    if (!row) throw notFound.product();
    return toProduct(row);
  }

  async listProducts(tenantId: string, limit: number, after?: string): Promise<PageResult<Product>> {
    const rows = await this.db.withTenant(tenantId, (tx) =>
      store.listProducts(tx, tenantId, { limit, after }),
    );
    return page(rows.map(toProduct), limit);
  }

  // --- policies ----------------------------------------------------------------------------

  /** A quote: prices the product for the customer and holds the price until `quoteExpiresAt`. */
  async quote(caller: Caller, input: QuoteInput): Promise<Policy> {
    const tenantId = caller.tenantId;
    if (!isRealDate(input.startDate)) throw new InsuranceError('POLICY_START_DATE_INVALID');
    return this.db.withTenant(tenantId, async (tx) => {
      const customer = await this.customers.customer(tx, tenantId, input.customerId);
      if (!customer) throw new InsuranceError('POLICY_CUSTOMER_NOT_FOUND');
      const id = uuidv7(this.now());
      // A policy for another partner's customer is one this caller may not know of: the customer
      // is answered as missing.
      authorize(
        this.authz,
        caller,
        'create',
        {
          type: 'Policy',
          id,
          tenant: tenantId,
          partner: customer.partnerId,
          ...(customer.ownerUserId ? { owner: customer.ownerUserId } : {}),
        },
        { notFound: () => new InsuranceError('POLICY_CUSTOMER_NOT_FOUND') },
      );
      const product = await store.findProduct(tx, tenantId, input.productId);
      if (!product) throw new InsuranceError('POLICY_PRODUCT_NOT_FOUND');
      if (product.status !== 'active') throw new InsuranceError('PRODUCT_RETIRED');
      if (input.currency !== undefined && input.currency !== product.currency) {
        throw new InsuranceError('POLICY_CURRENCY_MISMATCH');
      }
      const rules = rulesOf(product);
      const cover = input.coverAmount ?? rules.coverLimit;
      if (cover > rules.coverLimit) throw new InsuranceError('POLICY_COVER_ABOVE_LIMIT');
      const today = this.today();
      if (input.startDate < today || input.startDate > addDays(today, rules.maxStartDelayDays)) {
        throw new InsuranceError('POLICY_START_DATE_INVALID');
      }
      const row = await store.insertPolicy(tx, {
        id,
        tenantId,
        productId: product.id,
        customerId: input.customerId,
        partnerId: customer.partnerId,
        ownerUserId: customer.ownerUserId ?? null,
        status: 'quoted',
        currency: product.currency,
        coverAmount: cover,
        premiumAmount: input.premiumAmount ?? termPremium(rules, cover),
        premiumFrequency: rules.premium.frequency,
        startDate: input.startDate,
        endDate: addMonths(input.startDate, rules.termMonths),
        quoteExpiresAt: new Date(this.now() + rules.quoteValidDays * 86_400_000),
      });
      await this.policyEvent(tx, row, null, 'quoted');
      return toPolicy(row, []);
    });
  }

  async getPolicy(caller: Caller, policyId: string): Promise<Policy> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await store.findPolicy(tx, caller.tenantId, policyId);
      if (!row) throw notFound.policy();
      authorize(this.authz, caller, 'read', policyResource(row), { notFound: notFound.policy });
      return toPolicy(row, await store.instalmentsOf(tx, caller.tenantId, [row.id]));
    });
  }

  async listPolicies(caller: Caller, limit: number, after?: string): Promise<PageResult<Policy>> {
    authorize(this.authz, caller, 'list', listResource('Policy', caller), { notFound: notFound.policy });
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const rows = await store.listPolicies(tx, caller.tenantId, scopeOf(caller), { limit, after });
      const instalments = await store.instalmentsOf(
        tx,
        caller.tenantId,
        rows.map((r) => r.id),
      );
      return page(
        rows.map((r) => toPolicy(r, instalments)),
        limit,
      );
    });
  }

  /**
   * Binds a quote (Cedar `approve` on the policy): generates the premium schedule and puts the
   * policy in force — `active` if its start date has come, `bound` until then.
   */
  async bind(caller: Caller, policyId: string, options: InTx = {}): Promise<Policy> {
    const tenantId = caller.tenantId;
    return this.run(tenantId, options, async (tx) => {
      const row = await store.findPolicy(tx, tenantId, policyId, true);
      if (!row) throw notFound.policy();
      authorize(this.authz, caller, 'approve', policyResource(row), { notFound: notFound.policy });
      const today = this.today();
      const to: PolicyStatus = row.startDate <= today ? 'active' : 'bound';
      assertPolicyTransition(row.status as PolicyStatus, to);
      if (row.quoteExpiresAt.getTime() <= this.now() || row.startDate < today) {
        throw new InsuranceError('POLICY_QUOTE_EXPIRED');
      }
      const product = await store.findProduct(tx, tenantId, row.productId);
      if (!product) throw new Error(`policy ${row.id} has no product`);
      const bound = await store.updatePolicy(tx, tenantId, row.id, row.status, {
        status: to,
        boundAt: new Date(this.now()),
      });
      if (!bound) throw new InsuranceError('POLICY_INVALID_TRANSITION');
      const planned = premiumSchedule(rulesOf(product), row.premiumAmount, row.startDate);
      const instalments = await store.insertInstalments(
        tx,
        planned.map((p) => ({
          id: uuidv7(this.now()),
          tenantId,
          policyId: row.id,
          seq: p.seq,
          dueDate: p.dueDate,
          amount: p.amount,
          currency: row.currency,
        })),
      );
      await this.policyEvent(tx, bound, row.status, to);
      await appendAudit(tx, {
        actor: caller.actor,
        action: 'insurance.policy.bound',
        tenantId,
        object: { type: 'insurance.policy', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: {
          premium: String(row.premiumAmount),
          currency: row.currency,
          instalments: instalments.length,
          status: to,
        },
      });
      return toPolicy(bound, instalments);
    });
  }

  /** Cancels a quote or a policy in force from `effectiveDate` (default today); later instalments are voided. */
  async cancel(
    caller: Caller,
    policyId: string,
    input: { reason: string; effectiveDate?: string | undefined },
  ): Promise<Policy> {
    const tenantId = caller.tenantId;
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.findPolicy(tx, tenantId, policyId, true);
      if (!row) throw notFound.policy();
      authorize(this.authz, caller, 'update', policyResource(row), { notFound: notFound.policy });
      assertPolicyTransition(row.status as PolicyStatus, 'cancelled');
      const today = this.today();
      const effective = input.effectiveDate ?? today;
      if (!isRealDate(effective) || effective < today) throw new InsuranceError('POLICY_START_DATE_INVALID');
      // Cover ends on the effective date, kept inside the policy's term.
      let endedOn = effective;
      if (endedOn < row.startDate) endedOn = row.startDate;
      if (endedOn > row.endDate) endedOn = row.endDate;
      const cancelled = await store.updatePolicy(tx, tenantId, row.id, row.status, {
        status: 'cancelled',
        endedOn,
        endReason: input.reason,
      });
      if (!cancelled) throw new InsuranceError('POLICY_INVALID_TRANSITION');
      await store.voidInstalmentsAfter(tx, tenantId, row.id, endedOn);
      await this.policyEvent(tx, cancelled, row.status, 'cancelled');
      await appendAudit(tx, {
        actor: caller.actor,
        action: 'insurance.policy.cancelled',
        tenantId,
        object: { type: 'insurance.policy', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: { from: row.status, endedOn, reason: input.reason },
      });
      return toPolicy(cancelled, await store.instalmentsOf(tx, tenantId, [row.id]));
    });
  }

  /**
   * The policies' clock, run by a scheduler per tenant: bound policies whose start date has come
   * become active; quotes past their validity expire; active policies past their end date, or with
   * an instalment unpaid beyond the product's grace days, lapse. Returns how many changed.
   */
  async advancePolicies(tenantId: string, batch = 500): Promise<number> {
    const today = this.today();
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await store.policiesIn(tx, tenantId, ['quoted', 'bound', 'active'], batch);
      const instalments = await store.instalmentsOf(
        tx,
        tenantId,
        rows.filter((r) => r.status === 'active').map((r) => r.id),
      );
      const products = new Map<string, store.ProductRow | undefined>();
      let changed = 0;
      for (const row of rows) {
        let to: PolicyStatus | undefined;
        let endedOn: string | undefined;
        let reason: string | undefined;
        if (row.status === 'quoted' && row.quoteExpiresAt.getTime() <= this.now()) to = 'expired';
        else if (row.status === 'bound' && row.startDate <= today) to = 'active';
        else if (row.status === 'active') {
          if (!products.has(row.productId)) {
            products.set(row.productId, await store.findProduct(tx, tenantId, row.productId));
          }
          const grace = products.get(row.productId)?.graceDays ?? 30;
          const overdue = instalments.find(
            (i) => i.policyId === row.id && i.status === 'due' && addDays(i.dueDate, grace) < today,
          );
          if (row.endDate <= today) {
            to = 'lapsed';
            endedOn = row.endDate;
            reason = 'term_ended';
          } else if (overdue) {
            to = 'lapsed';
            endedOn = today;
            reason = 'premium_unpaid';
          }
        }
        if (!to) continue;
        const moved = await store.updatePolicy(tx, tenantId, row.id, row.status, {
          status: to,
          ...(endedOn ? { endedOn, endReason: reason } : {}),
        });
        if (!moved) continue;
        if (endedOn) await store.voidInstalmentsAfter(tx, tenantId, row.id, endedOn);
        await this.policyEvent(tx, moved, row.status, to);
        changed += 1;
      }
      return changed;
    });
  }

  /**
   * Premium collection reports an instalment paid (payments calls this in its transaction).
   * Idempotent for the same payment; false when the instalment was not due.
   */
  async instalmentPaid(tx: Tx, tenantId: string, instalmentId: string, paymentId: string): Promise<boolean> {
    return (await store.markInstalmentPaid(tx, tenantId, instalmentId, paymentId)) !== undefined;
  }

  private async policyEvent(tx: Tx, row: store.PolicyRow, from: string | null, to: PolicyStatus) {
    await enqueue(tx, {
      topic: 'policy.status_changed',
      tenantId: row.tenantId,
      payload: { policyId: row.id, partnerId: row.partnerId, from, to },
    });
  }

  // --- claims --------------------------------------------------------------------------------

  /** First notice of loss, by the partner app or the policyholder. Fraud signals run at once. */
  async fileClaim(caller: Caller, input: ClaimInput, options: InTx = {}): Promise<Claim> {
    const tenantId = caller.tenantId;
    const iban = normalizeIban(input.payeeIban);
    if (!iban) throw new InsuranceError('CLAIM_PAYEE_IBAN_INVALID');
    if (!isRealDate(input.incidentDate)) throw new InsuranceError('CLAIM_INCIDENT_DATE_INVALID');
    return this.run(tenantId, options, async (tx) => {
      const policyNotFound = () => new InsuranceError('CLAIM_POLICY_NOT_FOUND');
      const policy = await store.findPolicy(tx, tenantId, input.policyId);
      if (!policy) throw policyNotFound();
      authorize(this.authz, caller, 'read', policyResource(policy), { notFound: policyNotFound });
      const id = uuidv7(this.now());
      authorize(
        this.authz,
        caller,
        'create',
        { ...policyResource(policy), type: 'Claim', id },
        { notFound: policyNotFound },
      );
      if (!CLAIMABLE.includes(policy.status as PolicyStatus))
        throw new InsuranceError('CLAIM_POLICY_NOT_IN_FORCE');
      if (input.currency !== policy.currency) throw new InsuranceError('CLAIM_CURRENCY_MISMATCH');
      const product = await store.findProduct(tx, tenantId, policy.productId);
      if (!product) throw new Error(`policy ${policy.id} has no product`);
      this.checkIncident(policy, product, input.incidentDate);

      const scope = subjectScope(policy.customerId);
      const enc = (value: string, where: string) =>
        this.envelope.encryptField(tenantId, value, { aad: where, scope, tx });
      const payeeIbanIdx = await this.envelope.blindIndex(tenantId, iban, 'insurance_claims.payee_iban', {
        tx,
      });
      const signals = await this.signals(tx, product, policy, {
        id,
        customerId: policy.customerId,
        incidentDate: input.incidentDate,
        amountClaimed: input.amountClaimed,
        currency: input.currency,
        payeeIbanIdx,
        stage: 'fnol',
      });
      const row = await store.insertClaim(tx, {
        id,
        tenantId,
        policyId: policy.id,
        customerId: policy.customerId,
        partnerId: policy.partnerId,
        ownerUserId: policy.ownerUserId,
        status: 'fnol',
        incidentDate: input.incidentDate,
        amountClaimed: input.amountClaimed,
        currency: input.currency,
        descriptionEnc: await enc(input.description, aad.description(id)),
        payeeNameEnc: await enc(input.payeeName, aad.payeeName(id)),
        payeeIbanEnc: await enc(iban, aad.payeeIban(id)),
        payeeIbanIdx,
        fraudReview: signals.length > 0,
        fraudSignals: signals,
        filedByType: caller.actor.type,
        filedById: caller.actor.id,
      });
      await this.claimEvent(tx, row, null, 'fnol');
      await appendAuditAsync(tx, {
        actor: caller.actor,
        action: 'insurance.claim.filed',
        tenantId,
        object: { type: 'insurance.claim', id },
        outcome: 'success',
        requestId: caller.requestId,
        details: {
          policyId: policy.id,
          amount: String(input.amountClaimed),
          currency: input.currency,
          fraudSignals: signals.map((s) => s.code),
        },
      });
      return this.toClaim(tx, row);
    });
  }

  async getClaim(caller: Caller, claimId: string): Promise<Claim> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.loadClaim(tx, caller, 'read', claimId);
      return this.toClaim(tx, row, caller.roles);
    });
  }

  async listClaims(
    caller: Caller,
    filter: { policyId?: string | undefined },
    limit: number,
    after?: string,
  ): Promise<PageResult<Claim>> {
    authorize(this.authz, caller, 'list', listResource('Claim', caller), { notFound: notFound.claim });
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const rows = await store.listClaims(
        tx,
        caller.tenantId,
        { ...scopeOf(caller), policyId: filter.policyId },
        { limit, after },
      );
      const items: Claim[] = [];
      for (const row of rows) items.push(await this.toClaim(tx, row, caller.roles));
      return page(items, limit);
    });
  }

  /** Amends a claim before its decision; which fields a caller may set is checked by the route. */
  async updateClaim(caller: Caller, claimId: string, patch: ClaimUpdate): Promise<Claim> {
    const tenantId = caller.tenantId;
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await this.loadClaim(tx, caller, 'update', claimId, true);
      if (!['fnol', 'triage', 'assessment'].includes(row.status)) {
        throw new InsuranceError('CLAIM_INVALID_TRANSITION', 'A decided claim cannot be amended');
      }
      const scope = subjectScope(row.customerId);
      const enc = (value: string, where: string) =>
        this.envelope.encryptField(tenantId, value, { aad: where, scope, tx });
      const set: Partial<ClaimInsert> = {};
      if (patch.description !== undefined)
        set.descriptionEnc = await enc(patch.description, aad.description(row.id));
      if (patch.payeeName !== undefined) set.payeeNameEnc = await enc(patch.payeeName, aad.payeeName(row.id));
      if (patch.payeeIban !== undefined) {
        const iban = normalizeIban(patch.payeeIban);
        if (!iban) throw new InsuranceError('CLAIM_PAYEE_IBAN_INVALID');
        set.payeeIbanEnc = await enc(iban, aad.payeeIban(row.id));
        set.payeeIbanIdx = await this.envelope.blindIndex(tenantId, iban, 'insurance_claims.payee_iban', {
          tx,
        });
      }
      if (patch.adjusterNotes !== undefined) {
        set.adjusterNotesEnc = await enc(patch.adjusterNotes, aad.adjusterNotes(row.id));
      }
      if (patch.incidentDate !== undefined || patch.amountClaimed !== undefined) {
        const policy = await store.findPolicy(tx, tenantId, row.policyId);
        const product = policy && (await store.findProduct(tx, tenantId, policy.productId));
        if (!policy || !product) throw new Error(`claim ${row.id} has no policy or product`);
        if (patch.incidentDate !== undefined) {
          if (!isRealDate(patch.incidentDate)) throw new InsuranceError('CLAIM_INCIDENT_DATE_INVALID');
          this.checkIncident(policy, product, patch.incidentDate);
          set.incidentDate = patch.incidentDate;
        }
        if (patch.amountClaimed !== undefined) set.amountClaimed = patch.amountClaimed;
      }
      const updated = await store.updateClaim(tx, tenantId, row.id, set);
      await appendAuditAsync(tx, {
        actor: caller.actor,
        action: 'insurance.claim.updated',
        tenantId,
        object: { type: 'insurance.claim', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: { fields: Object.keys(patch).sort() },
      });
      return this.toClaim(tx, updated, caller.roles);
    });
  }

  /** fnol -> triage: an adjuster takes the claim. */
  async triage(caller: Caller, claimId: string): Promise<Claim> {
    return this.step(caller, claimId, 'triage', async () => ({}));
  }

  /** triage -> assessment: fraud signals are evaluated again; any new one reopens the review. */
  async startAssessment(caller: Caller, claimId: string): Promise<Claim> {
    return this.step(caller, claimId, 'assessment', async (tx, row) => {
      const policy = await store.findPolicy(tx, row.tenantId, row.policyId);
      const product = policy && (await store.findProduct(tx, row.tenantId, policy.productId));
      if (!policy || !product) throw new Error(`claim ${row.id} has no policy or product`);
      const fresh = await this.signals(tx, product, policy, { ...row, stage: 'assessment' });
      const known = new Set(row.fraudSignals.map((s) => s.code));
      const added = fresh.filter((s) => !known.has(s.code));
      return added.length ? { fraudSignals: [...row.fraudSignals, ...added], fraudReview: true } : {};
    });
  }

  async deny(caller: Caller, claimId: string, input: { reason: DenialReason; note?: string | undefined }) {
    return this.step(
      caller,
      claimId,
      'denied',
      async (tx, row) => ({
        decidedAt: new Date(this.now()),
        decidedBy: caller.userId ?? null,
        decisionReason: input.reason,
        ...(input.note !== undefined
          ? {
              adjusterNotesEnc: await this.envelope.encryptField(row.tenantId, input.note, {
                aad: aad.adjusterNotes(row.id),
                scope: subjectScope(row.customerId),
                tx,
              }),
            }
          : {}),
      }),
      { action: 'insurance.claim.denied', details: { reason: input.reason }, sync: true },
    );
  }

  async close(caller: Caller, claimId: string): Promise<Claim> {
    return this.step(caller, claimId, 'closed', async () => ({}));
  }

  /**
   * Approves the claim for `amount` (Cedar `approve` on the claim, with the amount, the currency
   * and the adjuster's approval limits: above the single-factor limit it needs a multi-factor
   * session, above the multi-factor limit nobody may). The fraud review must be cleared first.
   */
  async approve(
    caller: Caller,
    claimId: string,
    input: { amount: bigint; note?: string | undefined },
    options: InTx = {},
  ): Promise<Claim> {
    const tenantId = caller.tenantId;
    return this.run(tenantId, options, async (tx) => {
      const row = await store.findClaim(tx, tenantId, claimId, true);
      if (!row) throw notFound.claim();
      const approvalLimits =
        caller.kind === 'user' && caller.userId
          ? await this.limitsOf(tx, tenantId, caller.userId)
          : undefined;
      authorize(this.authz, caller, 'approve', claimResource(row), {
        notFound: notFound.claim,
        amount: input.amount,
        currency: row.currency,
        approvalLimits,
      });
      requireAdjuster(caller);
      assertClaimTransition(row.status as ClaimStatus, 'approved');
      if (row.fraudReview) throw new InsuranceError('CLAIM_FRAUD_REVIEW_OPEN');
      if (input.amount > row.amountClaimed) throw new InsuranceError('CLAIM_APPROVAL_ABOVE_CLAIMED');
      const updated = await store.updateClaim(tx, tenantId, row.id, {
        status: 'approved',
        approvedAmount: input.amount,
        decidedAt: new Date(this.now()),
        decidedBy: caller.userId ?? null,
        decisionReason: null,
        adjusterId: row.adjusterId ?? caller.userId ?? null,
        ...(input.note !== undefined
          ? {
              adjusterNotesEnc: await this.envelope.encryptField(tenantId, input.note, {
                aad: aad.adjusterNotes(row.id),
                scope: subjectScope(row.customerId),
                tx,
              }),
            }
          : {}),
      });
      await this.claimEvent(tx, updated, row.status, 'approved');
      await appendAudit(tx, {
        actor: caller.actor,
        action: 'insurance.claim.approved',
        tenantId,
        object: { type: 'insurance.claim', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: { amount: String(input.amount), currency: row.currency, mfa: caller.mfa },
      });
      return this.toClaim(tx, updated, caller.roles);
    });
  }

  /** An adjuster clears the fraud review after looking at the signals (audited with the note's presence). */
  async clearFraudReview(caller: Caller, claimId: string, input: { note: string }): Promise<Claim> {
    const tenantId = caller.tenantId;
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await this.loadClaim(tx, caller, 'update', claimId, true);
      requireAdjuster(caller);
      if (!row.fraudReview) throw new InsuranceError('CLAIM_NO_FRAUD_REVIEW');
      if (!['fnol', 'triage', 'assessment'].includes(row.status)) {
        throw new InsuranceError('CLAIM_INVALID_TRANSITION', 'The claim is already decided');
      }
      const updated = await store.updateClaim(tx, tenantId, row.id, {
        fraudReview: false,
        adjusterNotesEnc: await this.envelope.encryptField(tenantId, input.note, {
          aad: aad.adjusterNotes(row.id),
          scope: subjectScope(row.customerId),
          tx,
        }),
      });
      await appendAudit(tx, {
        actor: caller.actor,
        action: 'insurance.claim.fraud_review_cleared',
        tenantId,
        object: { type: 'insurance.claim', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: { signals: row.fraudSignals.map((s) => s.code) },
      });
      return this.toClaim(tx, updated, caller.roles);
    });
  }

  // --- documents -----------------------------------------------------------------------------

  async addDocument(caller: Caller, claimId: string, input: DocumentInput): Promise<ClaimDocument> {
    const tenantId = caller.tenantId;
    return this.db.withTenant(tenantId, async (tx) => {
      // Adding evidence to a claim is filing on it: whoever may create the claim may add to it.
      const row = await store.findClaim(tx, tenantId, claimId, true);
      if (!row) throw notFound.claim();
      authorize(this.authz, caller, 'read', claimResource(row), { notFound: notFound.claim });
      authorize(
        this.authz,
        caller,
        caller.roles.includes('policyholder') ? 'create' : 'update',
        claimResource(row),
        {
          notFound: notFound.claim,
        },
      );
      if (row.status === 'closed')
        throw new InsuranceError('CLAIM_INVALID_TRANSITION', 'The claim is closed');
      if ((await store.countDocuments(tx, tenantId, row.id)) >= this.maxDocuments) {
        throw new InsuranceError('CLAIM_DOCUMENT_LIMIT');
      }
      const id = uuidv7(this.now());
      const doc = await store.insertDocument(tx, {
        id,
        tenantId,
        claimId: row.id,
        filenameEnc: await this.envelope.encryptField(tenantId, input.filename, {
          aad: aad.filename(id),
          scope: subjectScope(row.customerId),
          tx,
        }),
        mediaType: input.mediaType,
        sizeBytes: input.size,
        sha256: input.sha256.toLowerCase(),
        uploadedByType: caller.actor.type,
        uploadedById: caller.actor.id,
      });
      await appendAuditAsync(tx, {
        actor: caller.actor,
        action: 'insurance.claim.document_added',
        tenantId,
        object: { type: 'insurance.claim', id: row.id },
        outcome: 'success',
        requestId: caller.requestId,
        details: { documentId: id, sha256: doc.sha256, size: input.size },
      });
      return this.toDocument(tx, doc);
    });
  }

  async listDocuments(caller: Caller, claimId: string, limit: number, after?: string) {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.loadClaim(tx, caller, 'read', claimId);
      const docs = await store.listDocuments(tx, caller.tenantId, row.id, { limit, after });
      const items: ClaimDocument[] = [];
      for (const d of docs) items.push(await this.toDocument(tx, d));
      return page(items, limit);
    });
  }

  // --- adjuster authorities (admin API) ------------------------------------------------------

  async getAuthority(tenantId: string, userId: string): Promise<AdjusterAuthority> {
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.userRoles(tx, tenantId, userId))) throw new InsuranceError('ADJUSTER_NOT_FOUND');
      return toAuthority(userId, await store.authoritiesOf(tx, tenantId, userId));
    });
  }

  /** Replaces a user's approval limits (all currencies at once; an empty set removes every authority). */
  async setAuthority(
    tenantId: string,
    userId: string,
    limits: Readonly<Record<string, { single: bigint; multi: bigint }>>,
    who: OperatorContext,
  ): Promise<AdjusterAuthority> {
    const entries = Object.entries(limits);
    for (const [currency, l] of entries) {
      if (!isCurrency(currency) || l.single < 0n || l.single > l.multi) {
        throw new InsuranceError('ADJUSTER_LIMITS_INVALID', `The ${currency} limit is invalid`);
      }
    }
    return this.db.withTenant(tenantId, async (tx) => {
      const roles = await store.userRoles(tx, tenantId, userId);
      if (!roles) throw new InsuranceError('ADJUSTER_NOT_FOUND');
      if (entries.length && !roles.includes('claims_adjuster'))
        throw new InsuranceError('ADJUSTER_ROLE_REQUIRED');
      const before = await store.authoritiesOf(tx, tenantId, userId);
      const rows = await store.replaceAuthorities(
        tx,
        tenantId,
        userId,
        entries.map(([currency, l]) => ({ currency, singleLimit: l.single, multiLimit: l.multi })),
      );
      const authority = toAuthority(userId, rows);
      await appendAudit(tx, {
        actor: who.actor,
        action: 'insurance.adjuster.authority_changed',
        tenantId,
        object: { type: 'user', id: userId },
        outcome: 'success',
        requestId: who.requestId,
        details: { before: toAuthority(userId, before).limits, after: authority.limits },
      });
      return authority;
    });
  }

  // --- internals -----------------------------------------------------------------------------

  /** In the caller's transaction when given (an idempotent request's), else in a new one. */
  private run<T>(tenantId: string, options: InTx, work: (tx: Tx) => Promise<T>): Promise<T> {
    return options.tx ? work(options.tx) : this.db.withTenant(tenantId, work);
  }

  private async limitsOf(tx: Tx, tenantId: string, userId: string): Promise<Record<string, ApprovalLimit>> {
    const rows = await store.authoritiesOf(tx, tenantId, userId);
    return Object.fromEntries(rows.map((r) => [r.currency, { single: r.singleLimit, multi: r.multiLimit }]));
  }

  private checkIncident(policy: store.PolicyRow, product: store.ProductRow, incidentDate: string) {
    const lastDay = policy.endedOn && policy.endedOn < policy.endDate ? policy.endedOn : policy.endDate;
    if (incidentDate > this.today() || incidentDate < policy.startDate || incidentDate > lastDay) {
      throw new InsuranceError('CLAIM_INCIDENT_DATE_INVALID');
    }
    if (incidentDate < addDays(policy.startDate, product.waitingDays)) {
      throw new InsuranceError('CLAIM_IN_WAITING_PERIOD');
    }
  }

  private async signals(
    tx: Tx,
    product: store.ProductRow,
    policy: store.PolicyRow,
    claim: {
      id: string;
      customerId: string;
      incidentDate: string;
      amountClaimed: bigint;
      currency: string;
      payeeIbanIdx: string;
      stage: FraudSignal['stage'];
    },
  ): Promise<FraudSignal[]> {
    const [siblings, samePayee] = [
      await store.siblingClaims(tx, policy.tenantId, policy.id, claim.id),
      await store.samePayeeClaims(tx, policy.tenantId, claim.payeeIbanIdx, claim.id),
    ];
    return evaluateFraudSignals(
      {
        claim,
        policy: { startDate: policy.startDate, coverAmount: policy.coverAmount },
        siblingClaims: siblings,
        samePayeeClaims: samePayee,
      },
      { duplicateTolerancePercent: this.duplicateTolerancePercent, earlyClaimDays: product.earlyClaimDays },
      claim.stage,
      new Date(this.now()),
    );
  }

  /** Loads a claim and checks `action` on it; a hidden claim is a missing one. */
  private async loadClaim(
    tx: Tx,
    caller: Caller,
    action: 'read' | 'update',
    claimId: string,
    lock = false,
  ): Promise<store.ClaimRow> {
    const row = await store.findClaim(tx, caller.tenantId, claimId, lock);
    if (!row) throw notFound.claim();
    authorize(this.authz, caller, action, claimResource(row), { notFound: notFound.claim });
    return row;
  }

  /** One adjuster workflow step: load, authorize, check the transition, change, announce. */
  private async step(
    caller: Caller,
    claimId: string,
    to: ClaimStatus,
    change: (tx: Tx, row: store.ClaimRow) => Promise<Partial<ClaimInsert>>,
    audit: { action: string; details: Record<string, unknown>; sync: boolean } = {
      action: `insurance.claim.${to}`,
      details: {},
      sync: false,
    },
  ): Promise<Claim> {
    const tenantId = caller.tenantId;
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await this.loadClaim(tx, caller, 'update', claimId, true);
      requireAdjuster(caller);
      assertClaimTransition(row.status as ClaimStatus, to);
      const set = await change(tx, row);
      const updated = await store.updateClaim(tx, tenantId, row.id, {
        ...set,
        status: to,
        ...(to === 'triage' ? { adjusterId: caller.userId ?? null } : {}),
      });
      await this.claimEvent(tx, updated, row.status, to);
      const record = {
        actor: caller.actor,
        action: audit.action,
        tenantId,
        object: { type: 'insurance.claim', id: row.id },
        outcome: 'success' as const,
        requestId: caller.requestId,
        details: { from: row.status, ...audit.details },
      };
      if (audit.sync) await appendAudit(tx, record);
      else await appendAuditAsync(tx, record);
      return this.toClaim(tx, updated, caller.roles);
    });
  }

  async claimEvent(tx: Tx, row: store.ClaimRow, from: string | null, to: ClaimStatus): Promise<void> {
    await enqueue(tx, {
      topic: 'claim.status_changed',
      tenantId: row.tenantId,
      payload: { claimId: row.id, policyId: row.policyId, partnerId: row.partnerId, from, to },
    });
  }

  /** The claim with its personal data opened — only the fields `roles` may read are decrypted. */
  private async toClaim(tx: Tx, row: store.ClaimRow, roles?: readonly Role[]): Promise<Claim> {
    const readable = roles ? new Set(readableClaimFields(roles)) : undefined;
    const open = async (field: string, value: string | null, where: string) =>
      value === null || (readable && !readable.has(field))
        ? ''
        : this.envelope.decryptField(row.tenantId, value, { aad: where, tx });
    return {
      id: row.id,
      policyId: row.policyId,
      customerId: row.customerId,
      partnerId: row.partnerId,
      status: row.status as ClaimStatus,
      incidentDate: row.incidentDate,
      amountClaimed: num(row.amountClaimed),
      currency: row.currency,
      description: await open('description', row.descriptionEnc, aad.description(row.id)),
      payeeName: await open('payeeName', row.payeeNameEnc, aad.payeeName(row.id)),
      payeeIban: await open('payeeIban', row.payeeIbanEnc, aad.payeeIban(row.id)),
      approvedAmount: row.approvedAmount === null ? null : num(row.approvedAmount),
      paidAmount: num(row.paidAmount),
      fraudReview: row.fraudReview,
      fraudSignals: row.fraudSignals,
      adjusterId: row.adjusterId,
      adjusterNotes: row.adjusterNotesEnc
        ? await open('adjusterNotes', row.adjusterNotesEnc, aad.adjusterNotes(row.id))
        : null,
      decisionReason: row.decisionReason,
      decidedAt: iso(row.decidedAt),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  private async toDocument(tx: Tx, d: store.DocumentRow): Promise<ClaimDocument> {
    return {
      id: d.id,
      claimId: d.claimId,
      filename: await this.envelope.decryptField(d.tenantId, d.filenameEnc, { aad: aad.filename(d.id), tx }),
      mediaType: d.mediaType,
      size: d.sizeBytes,
      sha256: d.sha256,
      uploadedBy: { type: d.uploadedByType, id: d.uploadedById },
      uploadedAt: d.uploadedAt.toISOString(),
    };
  }
}

function toAuthority(userId: string, rows: store.AuthorityRow[]): AdjusterAuthority {
  return {
    userId,
    limits: Object.fromEntries(
      rows.map((r) => [r.currency, { single: num(r.singleLimit), multi: num(r.multiLimit) }]),
    ),
  };
}

function readableClaimFields(roles: readonly Role[]): readonly string[] {
  return readableView(roles, 'Claim');
}
