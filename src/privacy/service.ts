/**
 * Data-subject rights (GDPR Art. 12-20), consents and retention. No Fastify here.
 *
 * Erasure is crypto-shredding: the subject's data keys (`subject:<customer id>`, and
 * `subject:<user id>` for their policyholder login) are destroyed, so every field sealed under them
 * — in the database and in every copy of it — can no longer be decrypted; then each module's
 * source removes what the key does not cover (blind indexes, plaintext labels, authentication
 * factors). Financial records the law requires to be kept (ledger, payments: AML and accounting
 * law) defer the customer's erasure to the end of their retention period (`scheduled`); the
 * retention job (`runRetention`) carries it out then. A legal hold refuses erasure.
 */
import { sql } from 'drizzle-orm';
import { type AuditInput, appendAudit, appendAuditAsync } from '../audit/index.ts';
import { type Envelope, subjectScope } from '../platform/crypto/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { isUuid, uuidv7 } from '../platform/ids.ts';
import { PrivacyError } from './errors.ts';
import type { LawfulBasis, RequestKind, RequestOutcome } from './schema.ts';
import {
  auditSource,
  insuranceSource,
  kycSource,
  ledgerSource,
  paymentsSource,
  peopleSource,
} from './sources/builtin.ts';
import type { DataSubject, SubjectDataSource } from './sources/types.ts';
import * as store from './store.ts';

export type Actor = AuditInput['actor'];

export interface CallContext {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly requestId?: string | undefined;
  /** Object-level check of the subject (Cedar, in routes.ts); throws the not-found error to refuse. */
  readonly access?:
    | ((subject: { id: string; partner: string; owner?: string | undefined }) => void)
    | undefined;
}

/** Applies a rectification in the module that owns the data (kyc: the customer record). */
export type Rectifier = (
  ctx: CallContext,
  customerId: string,
  changes: Readonly<Record<string, unknown>>,
) => Promise<readonly string[]>;

export const RETENTION_CATEGORIES = {
  /** Closed data-subject requests (the record that a right was honoured: accountability, Art. 5(2)). */
  dsar_records: { defaultDays: 3 * 365, minDays: 30, maxDays: 10 * 366 },
  /** Withdrawn or expired consents (evidence of what was consented to, kept after the end). */
  ended_consents: { defaultDays: 3 * 365, minDays: 30, maxDays: 10 * 366 },
  /** Customers never verified, with no policy, account or payment: crypto-shredded. */
  unverified_customers: { defaultDays: 180, minDays: 7, maxDays: 10 * 366 },
} as const;
export type RetentionCategory = keyof typeof RETENTION_CATEGORIES;

export const CONSENT_PURPOSES = ['account_information', 'marketing', 'analytics', 'data_sharing'] as const;

export interface PrivacySettingsView {
  readonly accountConsentRequired: boolean;
  readonly retentionDays: Record<RetentionCategory, number>;
}

export interface PrivacyServiceOptions {
  readonly db: Database;
  readonly envelope: Envelope;
  readonly now?: () => number;
  readonly rectifier?: Rectifier;
  /** Extra sources (a module that lands later registers its own); the built-in ones come first. */
  readonly sources?: readonly SubjectDataSource[];
}

const DAY = 86_400_000;

function addMonths(d: Date, months: number): Date {
  const out = new Date(d);
  out.setUTCMonth(out.getUTCMonth() + months);
  return out;
}

export interface ExportDocument {
  readonly format: 'bulwark.subject-export.v1';
  readonly requestId: string;
  readonly generatedAt: string;
  readonly subject: { customerId: string | null; userId: string | null };
  readonly sources: Record<string, unknown>;
}

export class PrivacyService {
  readonly db: Database;
  private readonly envelope: Envelope;
  private readonly now: () => number;
  private rectifier: Rectifier | undefined;
  private readonly sources: SubjectDataSource[];

  constructor(options: PrivacyServiceOptions) {
    this.db = options.db;
    this.envelope = options.envelope;
    this.now = options.now ?? Date.now;
    this.rectifier = options.rectifier;
    this.sources = [
      kycSource(options.envelope),
      peopleSource(options.envelope),
      insuranceSource(options.envelope),
      ledgerSource(),
      paymentsSource(options.envelope),
      this.consentSource(),
      auditSource(),
      ...(options.sources ?? []),
    ];
  }

  /** The registry: a module adds its source at boot. Names are unique. */
  register(source: SubjectDataSource): void {
    if (this.sources.some((s) => s.name === source.name)) throw new Error(`source ${source.name} twice`);
    this.sources.push(source);
  }

  get sourceNames(): string[] {
    return this.sources.map((s) => s.name);
  }

  setRectifier(rectifier: Rectifier): void {
    this.rectifier = rectifier;
  }

  // ---- requests ------------------------------------------------------------------------------

  async createRequest(
    ctx: CallContext,
    input: {
      kind: RequestKind;
      customerId?: string | undefined;
      userId?: string | undefined;
      changes?: Readonly<Record<string, unknown>> | undefined;
    },
  ): Promise<store.RequestRow> {
    if ((input.kind === 'rectification') !== (input.changes !== undefined))
      throw new PrivacyError('PRIVACY_REQUEST_INVALID');
    if (input.kind === 'rectification' && !input.customerId)
      throw new PrivacyError('PRIVACY_REQUEST_INVALID');
    const received = new Date(this.now());
    // Rectification runs in the owning module's own transaction first (its validation, its
    // audit); the request is recorded once it succeeded.
    let changed: readonly string[] | undefined;
    if (input.kind === 'rectification') {
      await this.db.withTenant(ctx.tenantId, (tx) => this.subject(tx, ctx, input));
      if (!this.rectifier) throw new PrivacyError('PRIVACY_REQUEST_INVALID', 'rectification is not wired');
      changed = await this.rectifier(ctx, input.customerId!, input.changes!);
    }
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const subject = await this.subject(tx, ctx, input);
      let row = await store.insertRequest(tx, {
        id: uuidv7(received.getTime()),
        tenantId: ctx.tenantId,
        partnerId: subject.partnerId ?? null,
        customerId: subject.customerId ?? null,
        userId: subject.userId ?? null,
        kind: input.kind,
        status: 'received',
        receivedAt: received,
        dueAt: addMonths(received, 1),
        requestedByType: ctx.actor.type,
        requestedById: ctx.actor.id ?? 'unknown',
      });
      if (input.kind === 'access' || input.kind === 'portability') {
        row = await store.updateRequest(tx, ctx.tenantId, row.id, {
          status: 'completed',
          completedAt: received,
          outcome: { sources: this.sourceNames },
        });
      } else if (input.kind === 'rectification') {
        row = await store.updateRequest(tx, ctx.tenantId, row.id, {
          status: 'completed',
          completedAt: received,
          outcome: { fields: [...(changed ?? [])] },
        });
      } else {
        row = await this.erase(tx, row, subject, received);
      }
      await enqueue(tx, {
        topic: 'privacy.request.updated',
        tenantId: ctx.tenantId,
        payload: { partnerId: row.partnerId, requestId: row.id, kind: row.kind, status: row.status },
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: `privacy.request.${input.kind}`,
        object: { type: 'privacy_request', id: row.id },
        tenantId: ctx.tenantId,
        outcome: row.status === 'refused' ? 'denied' : 'success',
        requestId: ctx.requestId ?? null,
        details: {
          customerId: row.customerId,
          userId: row.userId,
          status: row.status,
          ...(row.outcome.destroyedKeys !== undefined ? { destroyedKeys: row.outcome.destroyedKeys } : {}),
        },
      });
      return row;
    });
  }

  async getRequest(ctx: CallContext, id: string): Promise<store.RequestRow> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_REQUEST_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, (tx) => this.visibleRequest(tx, ctx, id));
  }

  listRequests(
    tenantId: string,
    filter: {
      partnerId?: string | undefined;
      customerId?: string | undefined;
      ownerUserId?: string | undefined;
    },
    page: { after?: string | undefined; limit: number },
  ): Promise<store.RequestRow[]> {
    return this.db.withTenant(tenantId, (tx) => store.listRequests(tx, tenantId, filter, page));
  }

  /** GDPR Art. 12(3): extended once, by up to two further months, telling the subject why. */
  async extendRequest(ctx: CallContext, id: string, reason: string): Promise<store.RequestRow> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_REQUEST_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await this.visibleRequest(tx, ctx, id, true);
      if (row.status !== 'received' || row.extendedDueAt)
        throw new PrivacyError('PRIVACY_EXTENSION_NOT_ALLOWED');
      const updated = await store.updateRequest(tx, ctx.tenantId, id, {
        extendedDueAt: addMonths(row.dueAt, 2),
        extensionReason: reason,
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.request.extended',
        object: { type: 'privacy_request', id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { dueAt: updated.extendedDueAt!.toISOString() },
      });
      return updated;
    });
  }

  /**
   * The Art. 15/20 export: everything the modules hold about the subject, assembled now (never
   * stored: a stored export would be a plaintext copy of the personal data). Audited.
   */
  async exportRequest(ctx: CallContext, id: string): Promise<ExportDocument> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_REQUEST_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await this.visibleRequest(tx, ctx, id);
      if ((row.kind !== 'access' && row.kind !== 'portability') || row.status !== 'completed')
        throw new PrivacyError('PRIVACY_EXPORT_UNAVAILABLE');
      const subject: DataSubject = {
        customerId: row.customerId ?? undefined,
        userId: row.userId ?? undefined,
        partnerId: row.partnerId ?? undefined,
      };
      const doc = await this.assemble(tx, ctx.tenantId, subject, row.id);
      await appendAuditAsync(tx, {
        actor: ctx.actor,
        action: 'privacy.export.generated',
        object: { type: 'privacy_request', id: row.id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { customerId: row.customerId, userId: row.userId },
      });
      return doc;
    });
  }

  /** Every source's export for a subject, in the caller's transaction. */
  async assemble(tx: Tx, tenantId: string, subject: DataSubject, requestId: string): Promise<ExportDocument> {
    const sources: Record<string, unknown> = {};
    for (const source of this.sources) sources[source.name] = await source.export(tx, tenantId, subject);
    return {
      format: 'bulwark.subject-export.v1',
      requestId,
      generatedAt: new Date(this.now()).toISOString(),
      subject: { customerId: subject.customerId ?? null, userId: subject.userId ?? null },
      sources,
    };
  }

  // ---- erasure -------------------------------------------------------------------------------

  private async erase(
    tx: Tx,
    row: store.RequestRow,
    subject: DataSubject,
    now: Date,
  ): Promise<store.RequestRow> {
    const tenantId = row.tenantId;
    if (subject.customerId) {
      const holds = await store.activeHolds(tx, tenantId, subject.customerId);
      if (holds.length > 0) {
        return store.updateRequest(tx, tenantId, row.id, {
          status: 'refused',
          completedAt: now,
          outcome: {
            kept: [
              {
                source: 'all',
                legalBasis:
                  'GDPR Art. 17(3)(e): legal hold (establishment, exercise or defence of legal claims)',
                until: null,
              },
            ],
          },
        });
      }
    }
    // Records the law requires to be kept decide when the customer's key may go.
    const kept: { source: string; legalBasis: string; until: string | null }[] = [];
    let until: Date | undefined;
    for (const source of this.sources) {
      const r = source.retention ? await source.retention(tx, tenantId, subject) : undefined;
      if (r?.until && r.until.getTime() > now.getTime()) {
        kept.push({ source: source.name, legalBasis: r.legalBasis, until: r.until.toISOString() });
        if (!until || r.until > until) until = r.until;
      }
    }
    if (until && subject.customerId) {
      // Partly refused until then: the login (not a financial record) goes now; the customer's
      // records, sealed under the customer's key, stay readable for the supervisor until `until`.
      const erased = subject.userId ? await this.shredUser(tx, tenantId, subject.userId, now) : 0;
      await store.withdrawAllOfCustomer(tx, tenantId, subject.customerId, now);
      return store.updateRequest(tx, tenantId, row.id, {
        status: 'scheduled',
        scheduledFor: until,
        outcome: { erased: erased > 0 ? ['identity'] : [], kept, destroyedKeys: erased },
      });
    }
    const destroyed = await this.shredAll(tx, tenantId, subject, now);
    return store.updateRequest(tx, tenantId, row.id, {
      status: 'completed',
      completedAt: now,
      outcome: { erased: this.sources.filter((s) => s.erase).map((s) => s.name), destroyedKeys: destroyed },
    });
  }

  private async shredUser(tx: Tx, tenantId: string, userId: string, now: Date): Promise<number> {
    const n = await this.envelope.destroyDataKey(tenantId, subjectScope(userId), { tx });
    const people = this.sources.find((s) => s.name === 'identity');
    await people?.erase?.(tx, tenantId, { userId }, { now });
    return n;
  }

  /** Destroys the subject's keys and runs every source's erase (blind indexes, labels, factors). */
  private async shredAll(tx: Tx, tenantId: string, subject: DataSubject, now: Date): Promise<number> {
    let destroyed = 0;
    if (subject.customerId)
      destroyed += await this.envelope.destroyDataKey(tenantId, subjectScope(subject.customerId), { tx });
    if (subject.userId)
      destroyed += await this.envelope.destroyDataKey(tenantId, subjectScope(subject.userId), { tx });
    for (const source of this.sources) await source.erase?.(tx, tenantId, subject, { now });
    if (subject.customerId) await store.withdrawAllOfCustomer(tx, tenantId, subject.customerId, now);
    return destroyed;
  }

  // ---- retention -----------------------------------------------------------------------------

  /**
   * One retention pass over every tenant: scheduled erasures now due, then each data category's
   * purge. Every purge that removed something is audited. Returns counts per category.
   */
  async runRetention(now: Date = new Date(this.now())): Promise<Record<string, number>> {
    const tenants = await this.db.asSystem(
      async (tx) => (await tx.execute(sqlTenants)) as unknown as { rows: { id: string }[] },
    );
    const totals: Record<string, number> = { scheduled_erasures: 0 };
    for (const category of Object.keys(RETENTION_CATEGORIES)) totals[category] = 0;
    for (const { id: tenantId } of tenants.rows) {
      await this.db.withTenant(tenantId, async (tx) => {
        const settings = await this.settingsIn(tx, tenantId);
        const counts: Record<string, number> = {};
        for (const req of await store.dueScheduled(tx, tenantId, now)) {
          const subject = { customerId: req.customerId ?? undefined, userId: req.userId ?? undefined };
          if (req.customerId && (await store.activeHolds(tx, tenantId, req.customerId)).length > 0) continue;
          const destroyed = await this.shredAll(tx, tenantId, subject, now);
          await store.updateRequest(tx, tenantId, req.id, {
            status: 'completed',
            completedAt: now,
            outcome: {
              ...req.outcome,
              erased: this.sources.filter((s) => s.erase).map((s) => s.name),
              destroyedKeys: (req.outcome.destroyedKeys ?? 0) + destroyed,
            },
          });
          counts.scheduled_erasures = (counts.scheduled_erasures ?? 0) + 1;
        }
        const before = (c: RetentionCategory) => new Date(now.getTime() - settings.retentionDays[c] * DAY);
        counts.dsar_records = await store.purgeClosedRequests(tx, tenantId, before('dsar_records'));
        counts.ended_consents = await store.purgeEndedConsents(tx, tenantId, before('ended_consents'));
        let stale = 0;
        for (const c of await store.staleUnverifiedCustomers(tx, tenantId, before('unverified_customers'))) {
          await this.shredAll(tx, tenantId, { customerId: c.id, userId: c.owner_user_id ?? undefined }, now);
          stale++;
        }
        counts.unverified_customers = stale;
        for (const [category, count] of Object.entries(counts)) {
          if (!count) continue;
          totals[category] = (totals[category] ?? 0) + count;
        }
        const purged = Object.entries(counts).filter(([, n]) => n > 0);
        if (purged.length > 0) {
          await appendAudit(tx, {
            actor: { type: 'system', id: 'privacy.retention' },
            action: 'privacy.retention.purged',
            object: { type: 'tenant', id: tenantId },
            tenantId,
            outcome: 'success',
            details: Object.fromEntries(purged),
            at: now,
          });
        }
      });
    }
    return totals;
  }

  // ---- consents ------------------------------------------------------------------------------

  async grantConsent(
    ctx: CallContext,
    input: {
      customerId: string;
      partnerId: string;
      purpose: string;
      lawfulBasis: LawfulBasis;
      accountIds?: readonly string[] | undefined;
      expiresAt?: Date | undefined;
      method: string;
    },
  ): Promise<store.ConsentRow> {
    const now = new Date(this.now());
    if (!(CONSENT_PURPOSES as readonly string[]).includes(input.purpose))
      throw new PrivacyError('PRIVACY_CONSENT_INVALID', 'unknown purpose');
    if (input.expiresAt && input.expiresAt.getTime() <= now.getTime())
      throw new PrivacyError('PRIVACY_CONSENT_INVALID', 'expiresAt is in the past');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const subject = await this.subject(tx, ctx, { customerId: input.customerId });
      for (const accountId of input.accountIds ?? []) {
        const a = await store.accountRef(tx, ctx.tenantId, accountId);
        if (a?.customer_id !== subject.customerId)
          throw new PrivacyError('PRIVACY_CONSENT_INVALID', 'an account is not the customer’s');
      }
      const row = await store.insertConsent(tx, {
        id: uuidv7(now.getTime()),
        tenantId: ctx.tenantId,
        partnerId: input.partnerId,
        customerId: input.customerId,
        purpose: input.purpose,
        lawfulBasis: input.lawfulBasis,
        accountIds: [...new Set(input.accountIds ?? [])],
        status: 'granted',
        grantedAt: now,
        expiresAt: input.expiresAt ?? null,
        evidence: evidenceOf(ctx, input.method),
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.consent.granted',
        object: { type: 'consent', id: row.id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { customerId: row.customerId, partnerId: row.partnerId, purpose: row.purpose },
      });
      return row;
    });
  }

  /**
   * Withdrawal takes effect at once: every account read checks the consent in its own
   * transaction, so the next read after this commit is refused. Partners learn of it by the
   * `privacy.consent.withdrawn` event (webhooks), so they stop processing too.
   */
  async withdrawConsent(ctx: CallContext, id: string, method: string): Promise<store.ConsentRow> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_CONSENT_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await store.findConsent(tx, ctx.tenantId, id, true);
      if (!row) throw new PrivacyError('PRIVACY_CONSENT_NOT_FOUND');
      await this.subjectAccess(tx, ctx, row.customerId, () => new PrivacyError('PRIVACY_CONSENT_NOT_FOUND'));
      if (row.status === 'withdrawn') throw new PrivacyError('PRIVACY_CONSENT_ALREADY_WITHDRAWN');
      const updated = await store.withdrawConsent(
        tx,
        ctx.tenantId,
        id,
        new Date(this.now()),
        evidenceOf(ctx, method),
      );
      await enqueue(tx, {
        topic: 'privacy.consent.withdrawn',
        tenantId: ctx.tenantId,
        payload: {
          partnerId: row.partnerId,
          consentId: row.id,
          customerId: row.customerId,
          purpose: row.purpose,
        },
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.consent.withdrawn',
        object: { type: 'consent', id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { customerId: row.customerId, partnerId: row.partnerId, purpose: row.purpose },
      });
      return updated;
    });
  }

  async getConsent(ctx: CallContext, id: string): Promise<store.ConsentRow> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_CONSENT_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await store.findConsent(tx, ctx.tenantId, id);
      if (!row) throw new PrivacyError('PRIVACY_CONSENT_NOT_FOUND');
      await this.subjectAccess(tx, ctx, row.customerId, () => new PrivacyError('PRIVACY_CONSENT_NOT_FOUND'));
      return row;
    });
  }

  async listConsents(
    ctx: CallContext,
    filter: { customerId?: string | undefined; partnerId?: string | undefined },
    page: { after?: string | undefined; limit: number },
  ): Promise<store.ConsentRow[]> {
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      if (filter.customerId) await this.subject(tx, ctx, { customerId: filter.customerId });
      return store.listConsents(tx, ctx.tenantId, filter, page);
    });
  }

  /**
   * PSD2-style account-information consent: throws PRIVACY_CONSENT_REQUIRED unless the account's
   * customer holds an active, unexpired `account_information` consent to `partnerId` covering it.
   */
  async assertAccountConsent(tx: Tx, tenantId: string, partnerId: string, accountId: string): Promise<void> {
    const account = await store.accountRef(tx, tenantId, accountId);
    if (!account?.customer_id) return; // system accounts hold no one's data
    const ok = await store.activeAccountConsent(
      tx,
      tenantId,
      partnerId,
      account.customer_id,
      accountId,
      new Date(this.now()),
    );
    if (!ok) throw new PrivacyError('PRIVACY_CONSENT_REQUIRED');
  }

  /**
   * The ledger's account-read hook: a partner app reading a customer account needs the consent
   * when the tenant requires it. A policyholder reading their own account needs none.
   */
  async accountReadCheck(
    tx: Tx,
    caller: { kind: 'client' | 'user'; tenantId: string; partnerId?: string | undefined },
    account: { id: string; customerId?: string | null | undefined },
  ): Promise<void> {
    if (caller.kind !== 'client' || !account.customerId) return;
    const settings = await this.settingsIn(tx, caller.tenantId);
    if (!settings.accountConsentRequired) return;
    if (!caller.partnerId) throw new PrivacyError('PRIVACY_CONSENT_REQUIRED');
    await this.assertAccountConsent(tx, caller.tenantId, caller.partnerId, account.id);
  }

  // ---- legal holds and settings (operators) --------------------------------------------------

  async placeHold(ctx: CallContext, customerId: string, reason: string): Promise<store.HoldRow> {
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      await this.subject(tx, ctx, { customerId });
      const row = await store.insertHold(tx, {
        id: uuidv7(),
        tenantId: ctx.tenantId,
        customerId,
        reason,
        placedBy: ctx.actor.id ?? 'unknown',
        placedAt: new Date(this.now()),
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.hold.placed',
        object: { type: 'legal_hold', id: row.id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { customerId },
      });
      return row;
    });
  }

  async releaseHold(ctx: CallContext, id: string): Promise<store.HoldRow> {
    if (!isUuid(id)) throw new PrivacyError('PRIVACY_HOLD_NOT_FOUND');
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const row = await store.releaseHold(tx, ctx.tenantId, id, new Date(this.now()));
      if (!row) throw new PrivacyError('PRIVACY_HOLD_NOT_FOUND');
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.hold.released',
        object: { type: 'legal_hold', id },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { customerId: row.customerId },
      });
      return row;
    });
  }

  listHolds(tenantId: string): Promise<store.HoldRow[]> {
    return this.db.withTenant(tenantId, (tx) => store.listHolds(tx, tenantId));
  }

  getSettings(tenantId: string): Promise<PrivacySettingsView> {
    return this.db.withTenant(tenantId, (tx) => this.settingsIn(tx, tenantId));
  }

  async putSettings(
    ctx: CallContext,
    input: { accountConsentRequired: boolean; retentionDays?: Readonly<Record<string, number>> | undefined },
  ): Promise<PrivacySettingsView> {
    const retention: Record<string, number> = {};
    for (const [category, days] of Object.entries(input.retentionDays ?? {})) {
      const rule = RETENTION_CATEGORIES[category as RetentionCategory];
      if (!rule || !Number.isInteger(days) || days < rule.minDays || days > rule.maxDays)
        throw new PrivacyError('PRIVACY_RETENTION_INVALID', `retention ${category}`);
      retention[category] = days;
    }
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      await store.putSettings(tx, {
        tenantId: ctx.tenantId,
        accountConsentRequired: input.accountConsentRequired,
        retentionDays: retention,
      });
      await appendAudit(tx, {
        actor: ctx.actor,
        action: 'privacy.settings.updated',
        object: { type: 'tenant', id: ctx.tenantId },
        tenantId: ctx.tenantId,
        outcome: 'success',
        requestId: ctx.requestId ?? null,
        details: { accountConsentRequired: input.accountConsentRequired, ...retention },
      });
      return this.settingsIn(tx, ctx.tenantId);
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  private async settingsIn(tx: Tx, tenantId: string): Promise<PrivacySettingsView> {
    const row = await store.findSettings(tx, tenantId);
    const retentionDays = {} as Record<RetentionCategory, number>;
    for (const [category, rule] of Object.entries(RETENTION_CATEGORIES))
      retentionDays[category as RetentionCategory] = row?.retentionDays[category] ?? rule.defaultDays;
    return { accountConsentRequired: row?.accountConsentRequired ?? false, retentionDays };
  }

  /** Resolves a subject (customer and linked user, or a user alone) and runs the access check. */
  private async subject(
    tx: Tx,
    ctx: CallContext,
    input: { customerId?: string | undefined; userId?: string | undefined },
  ): Promise<DataSubject> {
    const notFound = () => new PrivacyError('PRIVACY_SUBJECT_NOT_FOUND');
    if (input.customerId) {
      if (!isUuid(input.customerId)) throw notFound();
      const c = await store.customerRef(tx, ctx.tenantId, input.customerId);
      if (!c) throw notFound();
      if (input.userId && input.userId !== c.ownerUserId) throw notFound();
      ctx.access?.({ id: c.id, partner: c.partnerId, owner: c.ownerUserId ?? undefined });
      return { customerId: c.id, userId: c.ownerUserId ?? undefined, partnerId: c.partnerId };
    }
    if (input.userId) {
      if (!isUuid(input.userId) || !(await store.userExists(tx, ctx.tenantId, input.userId)))
        throw notFound();
      const c = await store.customerOfUser(tx, ctx.tenantId, input.userId);
      if (c) return this.subject(tx, ctx, { customerId: c.id });
      // A user with no customer record: only operators reach this (routes give no access check).
      if (ctx.access) throw notFound();
      return { userId: input.userId };
    }
    throw notFound();
  }

  private async subjectAccess(tx: Tx, ctx: CallContext, customerId: string, notFound: () => Error) {
    if (!ctx.access) return;
    const c = await store.customerRef(tx, ctx.tenantId, customerId);
    if (!c) throw notFound();
    try {
      ctx.access({ id: c.id, partner: c.partnerId, owner: c.ownerUserId ?? undefined });
    } catch (err) {
      if (err instanceof PrivacyError && err.code === 'PRIVACY_SUBJECT_NOT_FOUND') throw notFound();
      throw err;
    }
  }

  private async visibleRequest(tx: Tx, ctx: CallContext, id: string, forUpdate = false) {
    const row = await store.findRequest(tx, ctx.tenantId, id, { forUpdate });
    if (!row) throw new PrivacyError('PRIVACY_REQUEST_NOT_FOUND');
    if (ctx.access) {
      if (!row.customerId) throw new PrivacyError('PRIVACY_REQUEST_NOT_FOUND');
      await this.subjectAccess(tx, ctx, row.customerId, () => new PrivacyError('PRIVACY_REQUEST_NOT_FOUND'));
    }
    return row;
  }

  private consentSource(): SubjectDataSource {
    return {
      name: 'consents',
      export: async (tx, tenantId, s) => {
        if (!s.customerId) return { consents: [] };
        const list = await store.listConsents(tx, tenantId, { customerId: s.customerId }, { limit: 1000 });
        return { consents: list.map(consentJson) };
      },
    };
  }
}

const sqlTenants = sql`SELECT id FROM tenants ORDER BY id`;

function evidenceOf(ctx: CallContext, method: string): Record<string, string | null> {
  return {
    actorType: ctx.actor.type,
    actorId: ctx.actor.id ?? null,
    clientId: ctx.actor.clientId ?? null,
    requestId: ctx.requestId ?? null,
    method,
  };
}

export function consentJson(c: store.ConsentRow) {
  return {
    id: c.id,
    customerId: c.customerId,
    partnerId: c.partnerId,
    purpose: c.purpose,
    lawfulBasis: c.lawfulBasis,
    accountIds: c.accountIds,
    status: c.status,
    grantedAt: c.grantedAt.toISOString(),
    expiresAt: c.expiresAt?.toISOString() ?? null,
    withdrawnAt: c.withdrawnAt?.toISOString() ?? null,
    evidence: c.evidence,
    withdrawalEvidence: c.withdrawalEvidence ?? null,
  };
}

export type { RequestOutcome };
