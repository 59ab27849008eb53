/**
 * Payments: direct-debit mandates, premium collections with retries, claim payouts with SCA, and
 * the rail's reports. Domain logic only (no HTTP). Every money-moving method takes the caller's
 * tenant transaction (the idempotency step opens it and stores the response in it), so the change,
 * its ledger postings, the claim's update, its audit record and its outbox events commit together.
 *
 * Every change of status goes through `move`, which asks the state machine (state.ts), posts what
 * the transition moves to the ledger, tells the claim, and writes the `payment.<status>` event.
 *
 * Checks come before writes: a refused request (bad IBAN, over a limit, wrong state) writes nothing.
 */
import { type Authorizer, authorize, type Caller } from '../access/index.ts';
import { type AuditInput, appendAudit, appendAuditAsync } from '../audit/index.ts';
import type { PaymentInitiationDetail } from '../identity/sca/details.ts';
import type { ScaPort } from '../identity/sca/types.ts';
import { isValidIban, normalizeIban } from '../kyc/validators/iban.ts';
import { isCurrency } from '../ledger/currencies.ts';
import type { LedgerService } from '../ledger/service.ts';
import type { Envelope } from '../platform/crypto/index.ts';
import { fieldAad, isKeyDestroyed, subjectScope } from '../platform/crypto/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { PaymentError } from './errors.ts';
import type { PayeeCheckResult } from './payee-check.ts';
import type { ClaimPayoutPort, CustomerPort } from './ports.ts';
import {
  isReasonCode,
  type RailAdapter,
  type RailOutcome,
  type RailReport,
  RETRYABLE_REASONS,
} from './rail/types.ts';
import type { MandateStatus } from './schema.ts';
import {
  assertTransition,
  canTransition,
  eventTopic,
  type LedgerLeg,
  ledgerEffect,
  type PaymentKind,
  type PaymentStatus,
} from './state.ts';
import type { Direction, MandateRow, PaymentRow } from './store.ts';
import * as store from './store.ts';

export type ScaStatus = 'not_required' | 'exempt' | 'required' | 'completed';

export interface Mandate {
  readonly id: string;
  readonly partnerId: string;
  readonly customerId: string;
  readonly reference: string;
  readonly debtorName: string;
  readonly debtorIban: string;
  readonly signedOn: string;
  readonly status: MandateStatus;
  readonly sandbox: boolean;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

export interface Payment {
  readonly id: string;
  readonly kind: PaymentKind;
  readonly status: PaymentStatus;
  readonly partnerId: string;
  readonly customerId: string;
  readonly mandateId: string | null;
  readonly claimId: string | null;
  readonly policyId: string | null;
  readonly amount: bigint;
  readonly currency: string;
  readonly payeeName: string;
  readonly payeeIban: string;
  readonly payeeCheck: { readonly result: PayeeCheckResult; readonly holderName?: string } | null;
  readonly reference: string | null;
  readonly scaStatus: ScaStatus;
  readonly authorizationDetail: PaymentInitiationDetail | null;
  readonly dueDate: string | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly nextAttemptAt: Date | null;
  readonly reasonCode: string | null;
  readonly rail: string;
  readonly sandbox: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly submittedAt: Date | null;
  readonly settledAt: Date | null;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface PaymentLimits {
  readonly maxPerPayment: bigint;
  readonly maxPerDay: bigint;
}

/** Who changed a setting (admin face), for the audit trail. */
export interface AuditActor {
  readonly actor: AuditInput['actor'];
  readonly requestId: string;
}

export interface PartnerLimit extends PaymentLimits {
  readonly partnerId: string;
  readonly direction: Direction;
  readonly currency: string;
}

export interface PaymentsServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly authz: Authorizer;
  readonly rail: RailAdapter;
  readonly ledger: Pick<LedgerService, 'post' | 'systemAccount'>;
  readonly sca: ScaPort;
  readonly customers: CustomerPort;
  readonly claims: ClaimPayoutPort;
  readonly now?: () => number;
  /** Per partner, direction and currency, unless a `payment_limits` row says otherwise. */
  readonly defaultLimits?: Partial<Record<Direction, PaymentLimits>>;
  /** Failed-collection retries: attempts in all (1 = no retry) and the spacing between them. */
  readonly retry?: { readonly maxAttempts: number; readonly spacingMs: number };
}

export interface CreateMandateInput {
  readonly customerId: string;
  readonly debtorName: string;
  readonly debtorIban: string;
  readonly reference: string;
  readonly signedOn: string;
}

export interface CreateCollectionInput {
  readonly mandateId: string;
  readonly amount: string | number;
  readonly currency: string;
  readonly dueDate: string;
  readonly policyId?: string | undefined;
  readonly reference?: string | undefined;
  readonly maxAttempts?: number | undefined;
  readonly retryIntervalHours?: number | undefined;
}

export interface CreatePayoutInput {
  readonly claimId: string;
  readonly amount: string | number;
  readonly currency: string;
  readonly reference?: string | undefined;
}

export const DEFAULT_LIMITS: Readonly<Record<Direction, PaymentLimits>> = Object.freeze({
  // 1,000,000.00 a payout, 5,000,000.00 a day; 100,000.00 a premium, 50,000,000.00 a day.
  payout: { maxPerPayment: 100_000_000n, maxPerDay: 500_000_000n },
  collection: { maxPerPayment: 10_000_000n, maxPerDay: 5_000_000_000n },
});

const MAX_AMOUNT = BigInt(Number.MAX_SAFE_INTEGER);
const DAY_MS = 86_400_000;

/** Integer minor units > 0 and ≤ 2^53 − 1, as a JSON integer or a decimal-integer string. */
export function parseAmount(value: string | number): bigint {
  let amount: bigint | undefined;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) amount = BigInt(value);
  } else if (/^[0-9]{1,16}$/.test(value)) {
    amount = BigInt(value);
  }
  if (amount === undefined || amount <= 0n || amount > MAX_AMOUNT) {
    throw new PaymentError('PAYMENT_AMOUNT_INVALID');
  }
  return amount;
}

export function checkIban(value: string): string {
  const iban = normalizeIban(value);
  if (!isValidIban(iban)) throw new PaymentError('PAYMENT_IBAN_INVALID');
  return iban;
}

/** A calendar date `YYYY-MM-DD` that exists, as epoch ms of its UTC midnight. */
function dateMs(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new PaymentError('PAYMENT_DATE_INVALID');
  }
  return ms;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const aad = {
  mandate: (column: string, id: string) => fieldAad('payment_mandates', column, id),
  payment: (column: string, id: string) => fieldAad('payments', column, id),
};

const ERASED = '[erased]';

export class PaymentsService {
  private readonly db: Database;
  private readonly envelope: Envelope;
  private readonly authz: Authorizer;
  readonly rail: RailAdapter;
  private readonly ledger: Pick<LedgerService, 'post' | 'systemAccount'>;
  private readonly sca: ScaPort;
  private readonly customers: CustomerPort;
  private readonly claims: ClaimPayoutPort;
  private readonly now: () => number;
  private readonly defaultLimits: Readonly<Record<Direction, PaymentLimits>>;
  private readonly retry: { readonly maxAttempts: number; readonly spacingMs: number };

  constructor(options: PaymentsServiceOptions) {
    this.db = options.db;
    this.envelope = options.envelope;
    this.authz = options.authz;
    this.rail = options.rail;
    this.ledger = options.ledger;
    this.sca = options.sca;
    this.customers = options.customers;
    this.claims = options.claims;
    this.now = options.now ?? Date.now;
    this.defaultLimits = { ...DEFAULT_LIMITS, ...options.defaultLimits };
    this.retry = options.retry ?? { maxAttempts: 3, spacingMs: 3 * DAY_MS };
  }

  // ---- mandates ----------------------------------------------------------------------------

  async createMandate(caller: Caller, input: CreateMandateInput): Promise<Mandate> {
    return this.db.withTenant(caller.tenantId, (tx) => this.createMandateIn(tx, caller, input));
  }

  private async createMandateIn(tx: Tx, caller: Caller, input: CreateMandateInput): Promise<Mandate> {
    const tenantId = caller.tenantId;
    const iban = checkIban(input.debtorIban);
    const signed = dateMs(input.signedOn);
    if (signed > this.now() || signed < Date.UTC(2000, 0, 1)) throw new PaymentError('PAYMENT_DATE_INVALID');
    const customer = await this.customers.customerForPayment(tx, tenantId, input.customerId);
    const notFound = () => new PaymentError('PAYMENT_CUSTOMER_NOT_FOUND');
    if (!customer?.partnerId) throw notFound();
    const id = uuidv7(this.now());
    authorize(
      this.authz,
      caller,
      'create',
      { type: 'Payment', id, tenant: tenantId, partner: customer.partnerId, ...owner(customer.ownerUserId) },
      { notFound },
    );
    const sandbox = await this.sandboxOf(tx, caller);
    const scope = subjectScope(customer.customerId);
    const seal = (value: string, column: string) =>
      this.envelope.encryptField(tenantId, value, { aad: aad.mandate(column, id), scope, tx });
    let row: MandateRow;
    try {
      row = await store.insertMandate(tx, {
        id,
        tenantId,
        partnerId: customer.partnerId,
        customerId: customer.customerId,
        reference: input.reference,
        debtorIbanEnc: await seal(iban, 'debtor_iban'),
        debtorNameEnc: await seal(input.debtorName.normalize('NFC').trim(), 'debtor_name'),
        signedOn: input.signedOn,
        status: 'active',
        sandbox,
        createdAt: new Date(this.now()),
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new PaymentError('MANDATE_REFERENCE_TAKEN');
      throw err;
    }
    await enqueue(tx, {
      topic: 'payment.mandate.created',
      tenantId,
      payload: { mandateId: id, partnerId: row.partnerId, customerId: row.customerId, status: 'active' },
    });
    const mandate = await this.presentMandate(tx, row);
    await appendAudit(tx, {
      actor: caller.actor,
      action: 'payment.mandate.created',
      object: { type: 'mandate', id },
      tenantId,
      outcome: 'success',
      requestId: caller.requestId,
      details: { customerId: row.customerId, partnerId: row.partnerId },
    });
    return mandate;
  }

  async getMandate(caller: Caller, id: string): Promise<Mandate> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.visibleMandate(tx, caller, id, 'read');
      return this.presentMandate(tx, row);
    });
  }

  async listMandates(
    caller: Caller,
    query: { limit: number; after?: string | undefined; customerId?: string | undefined },
  ): Promise<Page<Mandate>> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const scope = this.listScope(caller);
      const rows = await store.listMandates(tx, caller.tenantId, {
        ...query,
        partnerId: scope.partnerId,
        sandbox: await this.sandboxOf(tx, caller),
      });
      // A policyholder's mandates are those of customers they own: checked per object.
      const items: Mandate[] = [];
      for (const row of rows) {
        if (scope.ownerUserId) {
          const c = await this.customers.customerForPayment(tx, caller.tenantId, row.customerId);
          if (c?.ownerUserId !== scope.ownerUserId) continue;
        }
        items.push(await this.presentMandate(tx, row));
      }
      return { items, nextCursor: rows.length === query.limit ? (rows.at(-1)?.id ?? null) : null };
    });
  }

  /** Revokes a mandate; its scheduled collections are cancelled with it. */
  async revokeMandate(caller: Caller, id: string): Promise<Mandate> {
    return this.db.withTenant(caller.tenantId, (tx) => this.revokeMandateIn(tx, caller, id));
  }

  private async revokeMandateIn(tx: Tx, caller: Caller, id: string): Promise<Mandate> {
    const row = await this.visibleMandate(tx, caller, id, 'update', true);
    if (row.status === 'revoked') throw new PaymentError('MANDATE_REVOKED');
    const revoked = await store.revokeMandate(tx, caller.tenantId, id, new Date(this.now()));
    for (const p of await store.scheduledOfMandate(tx, caller.tenantId, id)) {
      await this.move(tx, p, 'cancelled', {});
    }
    await enqueue(tx, {
      topic: 'payment.mandate.revoked',
      tenantId: caller.tenantId,
      payload: { mandateId: id, partnerId: row.partnerId, customerId: row.customerId, status: 'revoked' },
    });
    const mandate = await this.presentMandate(tx, revoked);
    await appendAudit(tx, {
      actor: caller.actor,
      action: 'payment.mandate.revoked',
      object: { type: 'mandate', id },
      tenantId: caller.tenantId,
      outcome: 'success',
      requestId: caller.requestId,
    });
    return mandate;
  }

  // ---- collections -------------------------------------------------------------------------

  /**
   * Schedules a premium collection against an active mandate; a collection due now is submitted
   * to the rail at once. A retryable return (insufficient funds…) schedules another attempt.
   */
  async createCollection(tx: Tx, caller: Caller, input: CreateCollectionInput): Promise<Payment> {
    const tenantId = caller.tenantId;
    const amount = parseAmount(input.amount);
    const currency = this.checkCurrency(input.currency);
    const now = this.now();
    const due = dateMs(input.dueDate);
    if (due < Date.parse(utcDay(now)) || due > now + 366 * DAY_MS)
      throw new PaymentError('PAYMENT_DATE_INVALID');
    const mandate = await store.findMandate(tx, tenantId, input.mandateId, true);
    const notFound = () => new PaymentError('MANDATE_NOT_FOUND');
    if (!mandate) throw notFound();
    const customer = await this.customers.customerForPayment(tx, tenantId, mandate.customerId);
    const id = uuidv7(now);
    authorize(
      this.authz,
      caller,
      'pay',
      { type: 'Payment', id, tenant: tenantId, partner: mandate.partnerId, ...owner(customer?.ownerUserId) },
      { notFound, amount, currency },
    );
    const sandbox = await this.sandboxOf(tx, caller);
    if (mandate.sandbox !== sandbox) throw notFound();
    if (mandate.status !== 'active') throw new PaymentError('MANDATE_REVOKED');
    await this.reserveLimit(tx, tenantId, mandate.partnerId, 'collection', currency, amount);

    const scope = subjectScope(mandate.customerId);
    const open = (value: string, column: string) =>
      this.envelope.decryptField(tenantId, value, { aad: aad.mandate(column, mandate.id), tx });
    const seal = (value: string, column: string) =>
      this.envelope.encryptField(tenantId, value, { aad: aad.payment(column, id), scope, tx });
    const created = await store.insertPayment(tx, {
      id,
      tenantId,
      partnerId: mandate.partnerId,
      customerId: mandate.customerId,
      ownerUserId: customer?.ownerUserId ?? null,
      kind: 'collection',
      status: 'created',
      mandateId: mandate.id,
      policyId: input.policyId ?? null,
      amount,
      currency,
      counterpartyNameEnc: await seal(await open(mandate.debtorNameEnc, 'debtor_name'), 'counterparty_name'),
      counterpartyIbanEnc: await seal(await open(mandate.debtorIbanEnc, 'debtor_iban'), 'counterparty_iban'),
      referenceEnc: input.reference ? await seal(input.reference, 'reference') : null,
      scaStatus: 'not_required',
      dueDate: input.dueDate,
      maxAttempts: input.maxAttempts ?? this.retry.maxAttempts,
      retrySpacingMs:
        input.retryIntervalHours !== undefined ? input.retryIntervalHours * 3_600_000 : this.retry.spacingMs,
      rail: this.rail.name,
      sandbox,
      createdBy: caller.clientId,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    });
    let row = await this.move(tx, created, 'scheduled', { nextAttemptAt: new Date(Math.max(due, now)) });
    if (due <= now) row = await this.submit(tx, row);
    await this.auditCreated(tx, caller, row);
    return this.present(tx, row);
  }

  // ---- claim payouts -----------------------------------------------------------------------

  /**
   * A credit transfer of (part of) an approved claim to its payee. Needs the customer's approved
   * verification; above the SCA exemption it waits in `awaiting_sca` for the approver.
   */
  async createClaimPayout(tx: Tx, caller: Caller, input: CreatePayoutInput): Promise<Payment> {
    const tenantId = caller.tenantId;
    const amount = parseAmount(input.amount);
    const currency = this.checkCurrency(input.currency);
    const claim = await this.claims.claimForPayout(tx, tenantId, input.claimId);
    const now = this.now();
    const id = uuidv7(now);
    authorize(
      this.authz,
      caller,
      'pay',
      { type: 'Payment', id, tenant: tenantId, partner: claim.partnerId, ...owner(claim.ownerUserId) },
      // The claim was visible to its own module; a caller who may not pay it learns no more here.
      { notFound: () => new PaymentError('PAYMENT_NOT_FOUND'), amount, currency },
    );
    if (currency !== claim.currency)
      throw new PaymentError('PAYMENT_AMOUNT_EXCEEDS_CLAIM', 'The claim is in another currency');
    const left =
      claim.approvedAmount - claim.paidAmount - (await store.claimInFlight(tx, tenantId, claim.claimId));
    if (amount > left) throw new PaymentError('PAYMENT_AMOUNT_EXCEEDS_CLAIM');
    const iban = checkIban(claim.payeeIban);
    await this.customers.assertVerified(tx, tenantId, claim.customerId);
    const sandbox = await this.sandboxOf(tx, caller);
    const check = await this.rail.verifyPayee(iban, claim.payeeName);
    await this.reserveLimit(tx, tenantId, claim.partnerId, 'payout', currency, amount);
    const decision = await this.sca.evaluate(tx, {
      paymentId: id,
      tenantId,
      amount,
      currency,
      payeeName: claim.payeeName,
      payeeIban: iban,
      payerRef: claim.customerId,
    });

    const scope = subjectScope(claim.customerId);
    const seal = (value: string, column: string) =>
      this.envelope.encryptField(tenantId, value, { aad: aad.payment(column, id), scope, tx });
    const created = await store.insertPayment(tx, {
      id,
      tenantId,
      partnerId: claim.partnerId,
      customerId: claim.customerId,
      ownerUserId: claim.ownerUserId ?? null,
      kind: 'claim_payout',
      status: 'created',
      claimId: claim.claimId,
      policyId: claim.policyId,
      amount,
      currency,
      counterpartyNameEnc: await seal(claim.payeeName, 'counterparty_name'),
      counterpartyIbanEnc: await seal(iban, 'counterparty_iban'),
      payeeCheck: check.result,
      payeeCheckNameEnc: check.holderName ? await seal(check.holderName, 'payee_check_name') : null,
      referenceEnc: input.reference ? await seal(input.reference, 'reference') : null,
      scaStatus: decision.required ? 'required' : 'exempt',
      scaDetailEnc: decision.required
        ? await seal(JSON.stringify(decision.authorizationDetail), 'sca_detail')
        : null,
      rail: this.rail.name,
      sandbox,
      createdBy: caller.clientId,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    });
    const row = decision.required
      ? await this.move(tx, created, 'awaiting_sca', {})
      : await this.submit(tx, created);
    await this.auditCreated(tx, caller, row);
    return this.present(tx, row);
  }

  /**
   * The approver's SCA for a payout awaiting it: consumed through the SCA port (two factors, the
   * token's authorization detail naming exactly this payment), then the payout goes to the rail.
   */
  async authorizePayment(tx: Tx, caller: Caller, id: string): Promise<Payment> {
    const tenantId = caller.tenantId;
    const row = await store.findPayment(tx, tenantId, id, true);
    const notFound = () => new PaymentError('PAYMENT_NOT_FOUND');
    if (!row || row.sandbox !== (await this.sandboxOf(tx, caller))) throw notFound();
    authorize(this.authz, caller, 'approve', resourceOf(row), {
      notFound,
      amount: row.amount,
      currency: row.currency,
    });
    if (row.status !== 'awaiting_sca') {
      throw new PaymentError('PAYMENT_INVALID_TRANSITION', `The payment is ${row.status}, not awaiting_sca`);
    }
    const open = (value: string, column: string) =>
      this.envelope.decryptField(tenantId, value, { aad: aad.payment(column, id), tx });
    await this.sca.consume(tx, caller, {
      paymentId: id,
      tenantId,
      amount: row.amount,
      currency: row.currency,
      payeeName: await open(row.counterpartyNameEnc, 'counterparty_name'),
      payeeIban: await open(row.counterpartyIbanEnc, 'counterparty_iban'),
      payerRef: row.customerId,
    });
    const approved = await store.updatePayment(tx, tenantId, id, { scaStatus: 'completed' });
    const submitted = await this.submit(tx, approved);
    const payment = await this.present(tx, submitted);
    await appendAudit(tx, {
      actor: caller.actor,
      action: 'payment.authorized',
      object: { type: 'payment', id },
      tenantId,
      outcome: 'success',
      requestId: caller.requestId,
      details: { amount: row.amount.toString(), currency: row.currency, kind: row.kind },
    });
    return payment;
  }

  /** Cancels a payment that has not reached the rail (scheduled, or awaiting SCA). */
  async cancelPayment(tx: Tx, caller: Caller, id: string): Promise<Payment> {
    const row = await this.visiblePayment(tx, caller, id, 'update', true);
    if (!canTransition(row.kind, row.status as PaymentStatus, 'cancelled')) {
      throw new PaymentError('PAYMENT_INVALID_TRANSITION', `A ${row.status} payment cannot be cancelled`);
    }
    const cancelled = await this.move(tx, row, 'cancelled', { nextAttemptAt: null });
    await appendAuditAsync(tx, {
      actor: caller.actor,
      action: 'payment.cancelled',
      object: { type: 'payment', id },
      tenantId: caller.tenantId,
      outcome: 'success',
      requestId: caller.requestId,
    });
    return this.present(tx, cancelled);
  }

  async getPayment(caller: Caller, id: string): Promise<Payment> {
    return this.db.withTenant(caller.tenantId, async (tx) =>
      this.present(tx, await this.visiblePayment(tx, caller, id, 'read')),
    );
  }

  async listPayments(
    caller: Caller,
    query: {
      limit: number;
      after?: string | undefined;
      status?: string | undefined;
      kind?: string | undefined;
      claimId?: string | undefined;
      mandateId?: string | undefined;
    },
  ): Promise<Page<Payment>> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const rows = await store.listPayments(tx, caller.tenantId, {
        ...query,
        ...this.listScope(caller),
        sandbox: await this.sandboxOf(tx, caller),
      });
      const items: Payment[] = [];
      for (const row of rows) items.push(await this.present(tx, row));
      return { items, nextCursor: rows.length === query.limit ? (rows.at(-1)?.id ?? null) : null };
    });
  }

  // ---- sandbox control ---------------------------------------------------------------------

  /** Forces the rail's answer for a submitted sandbox payment, applied at once. */
  async forceOutcome(
    tx: Tx,
    caller: Caller,
    id: string,
    outcome: { status: RailOutcome['status']; reasonCode?: string | undefined },
  ): Promise<Payment> {
    if (!(await this.sandboxOf(tx, caller))) throw new PaymentError('PAYMENT_SANDBOX_ONLY');
    let forced: RailOutcome;
    if (outcome.status === 'settled') {
      if (outcome.reasonCode !== undefined) throw new PaymentError('PAYMENT_REASON_CODE_INVALID');
      forced = { status: 'settled' };
    } else {
      const code = outcome.reasonCode ?? (outcome.status === 'returned' ? 'AC04' : 'AC01');
      if (!isReasonCode(code)) throw new PaymentError('PAYMENT_REASON_CODE_INVALID');
      forced = { status: outcome.status, reasonCode: code };
    }
    const row = await this.visiblePayment(tx, caller, id, 'update');
    if (!row.sandbox) throw new PaymentError('PAYMENT_SANDBOX_ONLY');
    const force = this.rail.force?.bind(this.rail);
    if (row.status !== 'submitted' || !row.railRef || !force) {
      throw new PaymentError('PAYMENT_INVALID_TRANSITION', `The payment is ${row.status}, not submitted`);
    }
    const applied = await force(tx, caller.tenantId, row.railRef, forced, (t, report) =>
      this.applyReport(t, report),
    );
    if (!applied) throw new PaymentError('PAYMENT_INVALID_TRANSITION', 'The rail has already answered');
    await appendAuditAsync(tx, {
      actor: caller.actor,
      action: 'payment.sandbox.outcome_forced',
      object: { type: 'payment', id },
      tenantId: caller.tenantId,
      outcome: 'success',
      requestId: caller.requestId,
      details: {
        status: forced.status,
        ...(forced.status !== 'settled' ? { reasonCode: forced.reasonCode } : {}),
      },
    });
    return this.present(tx, (await store.findPayment(tx, caller.tenantId, id))!);
  }

  // ---- limits (admin) ----------------------------------------------------------------------

  async setLimit(tenantId: string, limit: PartnerLimit, actor: AuditActor): Promise<PartnerLimit> {
    if (limit.maxPerPayment <= 0n || limit.maxPerDay < limit.maxPerPayment || limit.maxPerDay > MAX_AMOUNT) {
      throw new PaymentError('PAYMENT_LIMIT_INVALID');
    }
    this.checkCurrency(limit.currency, false);
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.partnerExists(tx, tenantId, limit.partnerId))) {
        throw new PaymentError('PAYMENT_PARTNER_NOT_FOUND');
      }
      const row = await store.upsertLimit(tx, { tenantId, ...limit, updatedAt: new Date(this.now()) });
      await appendAudit(tx, {
        actor: actor.actor,
        action: 'payment.limit.changed',
        object: { type: 'partner', id: limit.partnerId },
        tenantId,
        outcome: 'success',
        requestId: actor.requestId,
        details: {
          direction: limit.direction,
          currency: limit.currency,
          maxPerPayment: limit.maxPerPayment.toString(),
          maxPerDay: limit.maxPerDay.toString(),
        },
      });
      return { partnerId: row.partnerId, direction: row.direction, currency: row.currency, ...limitsOf(row) };
    });
  }

  async listLimits(tenantId: string, partnerId: string): Promise<PartnerLimit[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.partnerExists(tx, tenantId, partnerId))) {
        throw new PaymentError('PAYMENT_PARTNER_NOT_FOUND');
      }
      return (await store.listLimits(tx, tenantId, partnerId)).map((row) => ({
        partnerId: row.partnerId,
        direction: row.direction,
        currency: row.currency,
        ...limitsOf(row),
      }));
    });
  }

  // ---- the worker --------------------------------------------------------------------------

  /**
   * One round of the payments worker: submits collections whose attempt is due, then applies
   * what the rail has to report. Safe on every instance at once (row locks, SKIP LOCKED).
   */
  async tick(limit = 500): Promise<{ submitted: number; reported: number }> {
    const now = new Date(this.now());
    const due = await this.db.asSystem((tx) => store.dueCollections(tx, now, limit));
    let submitted = 0;
    for (const { id, tenantId } of due) {
      const done = await this.db.withTenant(tenantId, async (tx) => {
        const row = await store.findPayment(tx, tenantId, id, true);
        if (row?.status !== 'scheduled' || !row.nextAttemptAt || row.nextAttemptAt > now) return false;
        const mandate = row.mandateId ? await store.findMandate(tx, tenantId, row.mandateId) : undefined;
        if (mandate?.status !== 'active') {
          await this.move(tx, row, 'cancelled', { nextAttemptAt: null });
          return false;
        }
        await this.submit(tx, row);
        return true;
      });
      if (done) submitted++;
    }
    const reported = await this.rail.drain(now, (tx, report) => this.applyReport(tx, report), limit);
    return { submitted, reported };
  }

  /** Applies one rail report in `tx`; a stale or repeated report (not the current submission) is ignored. */
  async applyReport(tx: Tx, report: RailReport): Promise<void> {
    const row = await store.findPayment(tx, report.tenantId, report.paymentId, true);
    if (row?.status !== 'submitted' || row.railRef !== report.railRef) return;
    const { outcome } = report;
    if (outcome.status === 'settled') {
      await this.move(tx, row, 'settled', { settledAt: new Date(this.now()), reasonCode: null });
      return;
    }
    const reasonCode = outcome.reasonCode;
    if (row.kind === 'collection' && RETRYABLE_REASONS.has(reasonCode)) {
      if (row.attempts < row.maxAttempts) {
        await this.move(
          tx,
          row,
          'scheduled',
          { reasonCode, nextAttemptAt: new Date(this.now() + row.retrySpacingMs) },
          `payment.${outcome.status}`,
        );
      } else {
        await this.move(tx, row, 'failed', { reasonCode });
      }
      return;
    }
    await this.move(tx, row, outcome.status, { reasonCode });
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Hands a payment to the rail in `tx` and moves it to `submitted`. */
  private async submit(tx: Tx, row: PaymentRow): Promise<PaymentRow> {
    const iban = await this.envelope.decryptField(row.tenantId, row.counterpartyIbanEnc, {
      aad: aad.payment('counterparty_iban', row.id),
      tx,
    });
    const attempt = row.attempts + 1;
    const { railRef } = await this.rail.submit(tx, {
      tenantId: row.tenantId,
      paymentId: row.id,
      kind: row.kind,
      amount: row.amount,
      currency: row.currency,
      iban,
      sandbox: row.sandbox,
      attempt,
    });
    return this.move(tx, row, 'submitted', {
      railRef,
      attempts: attempt,
      submittedAt: new Date(this.now()),
      nextAttemptAt: null,
    });
  }

  /**
   * The one way a payment changes status: the state machine allows it or it is refused; the
   * ledger gets the transition's posting, the claim hears of a settled or failed payout, and
   * `payment.<status>` (or `topic`) is written to the outbox — all in `tx`.
   */
  private async move(
    tx: Tx,
    row: PaymentRow,
    to: PaymentStatus,
    patch: Partial<PaymentRow>,
    topic = eventTopic(to),
  ): Promise<PaymentRow> {
    const from = row.status as PaymentStatus;
    try {
      assertTransition(row.kind, from, to);
    } catch {
      throw new PaymentError('PAYMENT_INVALID_TRANSITION', `A ${row.kind} cannot go from ${from} to ${to}`);
    }
    const leg = ledgerEffect(row.kind, from, to);
    if (leg) await this.post(tx, row, leg, `${from}->${to}`);
    const updated = await store.updatePayment(tx, row.tenantId, row.id, {
      ...patch,
      status: to,
      updatedAt: new Date(this.now()),
    });
    if (row.kind === 'claim_payout' && row.claimId) {
      if (to === 'settled')
        await this.claims.payoutSettled(tx, row.tenantId, row.claimId, row.id, row.amount);
      else if (from === 'submitted') {
        await this.claims.payoutReturned(tx, row.tenantId, row.claimId, row.id, row.amount);
      }
    }
    await enqueue(tx, {
      topic,
      tenantId: row.tenantId,
      payload: {
        paymentId: row.id,
        kind: row.kind,
        partnerId: row.partnerId,
        customerId: row.customerId,
        ...(row.claimId ? { claimId: row.claimId } : {}),
        ...(row.policyId ? { policyId: row.policyId } : {}),
        ...(row.mandateId ? { mandateId: row.mandateId } : {}),
        amount: row.amount.toString(),
        currency: row.currency,
        status: to,
        ...(updated.reasonCode ? { reasonCode: updated.reasonCode } : {}),
        ...(to === 'scheduled' && updated.nextAttemptAt
          ? { nextAttemptAt: updated.nextAttemptAt.toISOString() }
          : {}),
        attempts: updated.attempts,
        sandbox: row.sandbox,
      },
    });
    return updated;
  }

  private async post(tx: Tx, row: PaymentRow, leg: LedgerLeg, transition: string): Promise<void> {
    const debit = await this.ledger.systemAccount(tx, row.tenantId, leg.debit, row.currency);
    const credit = await this.ledger.systemAccount(tx, row.tenantId, leg.credit, row.currency);
    await this.ledger.post(tx, row.tenantId, {
      id: uuidv7(this.now()),
      postings: [
        { accountId: debit.id, amount: row.amount, direction: 'debit' },
        { accountId: credit.id, amount: row.amount, direction: 'credit' },
      ],
      description: `${row.kind} ${transition}`,
      metadata: {
        paymentId: row.id,
        kind: row.kind,
        transition,
        ...(row.claimId ? { claimId: row.claimId } : {}),
        ...(row.policyId ? { policyId: row.policyId } : {}),
      },
    });
  }

  private async reserveLimit(
    tx: Tx,
    tenantId: string,
    partnerId: string,
    direction: Direction,
    currency: string,
    amount: bigint,
  ): Promise<void> {
    const row = await store.findLimit(tx, tenantId, partnerId, direction, currency);
    const limits = row ? limitsOf(row) : this.defaultLimits[direction];
    if (amount > limits.maxPerPayment) throw new PaymentError('PAYMENT_LIMIT_EXCEEDED');
    const key = { tenantId, partnerId, direction, currency, day: utcDay(this.now()) };
    if (!(await store.addDailyUsage(tx, key, amount, limits.maxPerDay))) {
      throw new PaymentError('PAYMENT_DAILY_LIMIT_EXCEEDED');
    }
  }

  private checkCurrency(code: string, rail = true): string {
    if (!isCurrency(code)) throw new PaymentError('PAYMENT_CURRENCY_UNKNOWN');
    if (rail && !this.rail.currencies.includes(code)) throw new PaymentError('PAYMENT_CURRENCY_UNSUPPORTED');
    return code;
  }

  /** Payments made by a sandbox app are sandbox payments, visible to sandbox apps only. */
  private async sandboxOf(tx: Tx, caller: Caller): Promise<boolean> {
    return (await store.appEnvironment(tx, caller.tenantId, caller.clientId)) !== 'live';
  }

  private listScope(caller: Caller): { partnerId?: string; ownerUserId?: string } {
    const scope: { partnerId?: string; ownerUserId?: string } = {};
    if (caller.kind === 'client' && caller.partnerId) scope.partnerId = caller.partnerId;
    if (caller.roles.includes('policyholder') && caller.userId) scope.ownerUserId = caller.userId;
    authorize(
      this.authz,
      caller,
      'list',
      {
        type: 'Payment',
        id: '*',
        tenant: caller.tenantId,
        ...(scope.partnerId ? { partner: scope.partnerId } : {}),
        ...owner(scope.ownerUserId),
      },
      { notFound: () => new PaymentError('PAYMENT_NOT_FOUND') },
    );
    return scope;
  }

  private async visiblePayment(
    tx: Tx,
    caller: Caller,
    id: string,
    action: 'read' | 'update',
    forUpdate = false,
  ): Promise<PaymentRow> {
    const row = await store.findPayment(tx, caller.tenantId, id, forUpdate);
    const notFound = () => new PaymentError('PAYMENT_NOT_FOUND');
    if (!row || row.sandbox !== (await this.sandboxOf(tx, caller))) throw notFound();
    authorize(this.authz, caller, action, resourceOf(row), { notFound });
    return row;
  }

  private async visibleMandate(
    tx: Tx,
    caller: Caller,
    id: string,
    action: 'read' | 'update',
    forUpdate = false,
  ): Promise<MandateRow> {
    const row = await store.findMandate(tx, caller.tenantId, id, forUpdate);
    const notFound = () => new PaymentError('MANDATE_NOT_FOUND');
    if (!row || row.sandbox !== (await this.sandboxOf(tx, caller))) throw notFound();
    const customer = await this.customers.customerForPayment(tx, caller.tenantId, row.customerId);
    authorize(
      this.authz,
      caller,
      action,
      { type: 'Payment', id, tenant: row.tenantId, partner: row.partnerId, ...owner(customer?.ownerUserId) },
      { notFound },
    );
    return row;
  }

  private async auditCreated(tx: Tx, caller: Caller, row: PaymentRow): Promise<void> {
    await appendAuditAsync(tx, {
      actor: caller.actor,
      action: 'payment.created',
      object: { type: 'payment', id: row.id },
      tenantId: row.tenantId,
      outcome: 'success',
      requestId: caller.requestId,
      details: {
        kind: row.kind,
        amount: row.amount.toString(),
        currency: row.currency,
        status: row.status,
        scaStatus: row.scaStatus,
      },
    });
  }

  private async openField(tx: Tx, tenantId: string, value: string, where: string): Promise<string> {
    try {
      return await this.envelope.decryptField(tenantId, value, { aad: where, tx });
    } catch (err) {
      // The customer's data was erased (crypto-shredded): the payment record stays, without it.
      if (isKeyDestroyed(err)) return ERASED;
      throw err;
    }
  }

  private async presentMandate(tx: Tx, row: MandateRow): Promise<Mandate> {
    const open = (value: string, column: string) =>
      this.openField(tx, row.tenantId, value, aad.mandate(column, row.id));
    return {
      id: row.id,
      partnerId: row.partnerId,
      customerId: row.customerId,
      reference: row.reference,
      debtorName: await open(row.debtorNameEnc, 'debtor_name'),
      debtorIban: await open(row.debtorIbanEnc, 'debtor_iban'),
      signedOn: row.signedOn,
      status: row.status,
      sandbox: row.sandbox,
      createdAt: row.createdAt,
      revokedAt: row.revokedAt,
    };
  }

  private async present(tx: Tx, row: PaymentRow): Promise<Payment> {
    const open = (value: string, column: string) =>
      this.openField(tx, row.tenantId, value, aad.payment(column, row.id));
    const holderName = row.payeeCheckNameEnc
      ? await open(row.payeeCheckNameEnc, 'payee_check_name')
      : undefined;
    let authorizationDetail: PaymentInitiationDetail | null = null;
    if (row.scaDetailEnc && row.status === 'awaiting_sca') {
      const text = await open(row.scaDetailEnc, 'sca_detail');
      authorizationDetail = text === ERASED ? null : (JSON.parse(text) as PaymentInitiationDetail);
    }
    return {
      id: row.id,
      kind: row.kind,
      status: row.status as PaymentStatus,
      partnerId: row.partnerId,
      customerId: row.customerId,
      mandateId: row.mandateId,
      claimId: row.claimId,
      policyId: row.policyId,
      amount: row.amount,
      currency: row.currency,
      payeeName: await open(row.counterpartyNameEnc, 'counterparty_name'),
      payeeIban: await open(row.counterpartyIbanEnc, 'counterparty_iban'),
      payeeCheck: row.payeeCheck
        ? { result: row.payeeCheck as PayeeCheckResult, ...(holderName ? { holderName } : {}) }
        : null,
      reference: row.referenceEnc ? await open(row.referenceEnc, 'reference') : null,
      scaStatus: row.scaStatus as ScaStatus,
      authorizationDetail,
      dueDate: row.dueDate,
      attempts: row.attempts,
      maxAttempts: row.maxAttempts,
      nextAttemptAt: row.nextAttemptAt,
      reasonCode: row.reasonCode,
      rail: row.rail,
      sandbox: row.sandbox,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      submittedAt: row.submittedAt,
      settledAt: row.settledAt,
    };
  }
}

const owner = (userId: string | null | undefined) => (userId ? { owner: userId } : {});

function resourceOf(row: PaymentRow) {
  return {
    type: 'Payment' as const,
    id: row.id,
    tenant: row.tenantId,
    partner: row.partnerId,
    ...owner(row.ownerUserId),
  };
}

function limitsOf(row: store.LimitRow): PaymentLimits {
  return { maxPerPayment: row.maxPerPayment, maxPerDay: row.maxPerDay };
}
