/**
 * Strong customer authentication with dynamic linking (PSD2 RTS Art. 4, 5 and 16):
 *  - `evaluate`: does this payment need SCA, or does the tenant's low-value exemption apply
 *    (≤ the single limit, and the payer's exempt payments since their last SCA within the
 *    cumulative amount and/or consecutive count)? An exemption taken is counted in the caller's tx.
 *  - `consume`: the approver's access token must come from a two-factor sign-in and carry a
 *    `payment_initiation` authorization detail naming this payment with exactly its amount,
 *    currency and payee. It is consumed once: one approval per payment, one payment per token.
 */
import { and, eq } from 'drizzle-orm';
import type { Caller } from '../../access/guard.ts';
import { appendAuditAsync } from '../../audit/index.ts';
import type { Database, Tx } from '../../platform/db/index.ts';
import { detailFor, mismatches, paymentDetail } from './details.ts';
import { ScaError } from './errors.ts';
import { type ScaExemptionMode, scaApprovals, scaExemptionCounters, scaSettings } from './schema.ts';
import type { PaymentForSca, ScaDecision, ScaPort } from './types.ts';

export interface ScaSettings {
  readonly currency: string;
  readonly lowValueLimit: bigint;
  readonly cumulativeLimit: bigint;
  readonly countLimit: number;
  readonly mode: ScaExemptionMode;
}

/** The RTS Art. 16 defaults: €30 a payment, €100 or 5 payments since the last SCA (both apply). */
export const DEFAULT_SCA_SETTINGS: ScaSettings = Object.freeze({
  currency: 'EUR',
  lowValueLimit: 3_000n,
  cumulativeLimit: 10_000n,
  countLimit: 5,
  mode: 'both',
});

export class ScaService implements ScaPort {
  constructor(private readonly db: Database) {}

  async settings(tenantId: string, tx?: Tx): Promise<ScaSettings> {
    const read = async (t: Tx) => {
      const [row] = await t.select().from(scaSettings).where(eq(scaSettings.tenantId, tenantId));
      if (!row) return DEFAULT_SCA_SETTINGS;
      const { currency, lowValueLimit, cumulativeLimit, countLimit, mode } = row;
      return { currency, lowValueLimit, cumulativeLimit, countLimit, mode };
    };
    return tx ? read(tx) : this.db.withTenant(tenantId, read);
  }

  /** Replaces a tenant's exemption settings; the RTS ceilings cannot be exceeded. */
  async setSettings(tx: Tx, tenantId: string, s: ScaSettings): Promise<ScaSettings> {
    if (!/^[A-Z]{3}$/.test(s.currency)) throw new ScaError('SCA_SETTINGS_INVALID', 'currency: ISO 4217 code');
    if (s.lowValueLimit < 0n || s.cumulativeLimit < 0n || s.countLimit < 0) {
      throw new ScaError('SCA_SETTINGS_INVALID', 'limits must not be negative');
    }
    // The RTS caps are stated in euro; a tenant may be stricter, never looser.
    if (
      s.currency === 'EUR' &&
      (s.lowValueLimit > 3_000n || s.cumulativeLimit > 10_000n || s.countLimit > 5)
    ) {
      throw new ScaError(
        'SCA_SETTINGS_INVALID',
        'PSD2 RTS Art. 16 allows at most €30 a payment, €100 cumulative and 5 consecutive payments',
      );
    }
    const values = { tenantId, ...s, updatedAt: new Date() };
    await tx
      .insert(scaSettings)
      .values(values)
      .onConflictDoUpdate({ target: scaSettings.tenantId, set: { ...s, updatedAt: values.updatedAt } });
    return s;
  }

  async evaluate(tx: Tx, payment: PaymentForSca): Promise<ScaDecision> {
    const s = await this.settings(payment.tenantId, tx);
    const required = (reason: 'above_threshold' | 'cumulative_limit' | 'count_limit'): ScaDecision => ({
      required: true,
      reason,
      authorizationDetail: { ...paymentDetail(payment) },
    });
    if (s.mode === 'disabled' || payment.currency !== s.currency || payment.amount > s.lowValueLimit) {
      return required('above_threshold');
    }
    // Take the counter row's lock first, so concurrent payments of one payer are counted in turn.
    await tx
      .insert(scaExemptionCounters)
      .values({ tenantId: payment.tenantId, payerRef: payment.payerRef, cumulative: 0n, count: 0 })
      .onConflictDoNothing();
    const [counter] = await tx
      .select()
      .from(scaExemptionCounters)
      .where(
        and(
          eq(scaExemptionCounters.tenantId, payment.tenantId),
          eq(scaExemptionCounters.payerRef, payment.payerRef),
        ),
      )
      .for('update');
    const cumulative = (counter?.cumulative ?? 0n) + payment.amount;
    const count = (counter?.count ?? 0) + 1;
    const checkAmount = s.mode === 'cumulative_amount' || s.mode === 'both';
    const checkCount = s.mode === 'consecutive_count' || s.mode === 'both';
    if (checkAmount && cumulative > s.cumulativeLimit) return required('cumulative_limit');
    if (checkCount && count > s.countLimit) return required('count_limit');
    await tx
      .update(scaExemptionCounters)
      .set({ cumulative, count, updatedAt: new Date() })
      .where(
        and(
          eq(scaExemptionCounters.tenantId, payment.tenantId),
          eq(scaExemptionCounters.payerRef, payment.payerRef),
        ),
      );
    return { required: false, exemption: 'low_value' };
  }

  async consume(tx: Tx, caller: Caller, payment: PaymentForSca): Promise<void> {
    const expected = paymentDetail(payment);
    if (caller.tenantId !== payment.tenantId) throw new ScaError('SCA_REQUIRED');
    // Two factors, always (PSD2 Art. 97(1)); an app acting for itself cannot authenticate anyone.
    if (caller.kind !== 'user' || caller.mfa !== 'multi') {
      throw new ScaError('SCA_REQUIRED', 'Approve the payment in a two-factor sign-in', {
        authorization_details: [expected],
      });
    }
    const detail = detailFor(
      caller.token.authorizationDetails as readonly Record<string, unknown>[] | undefined,
      payment.paymentId,
    );
    if (!detail) {
      throw new ScaError('SCA_REQUIRED', 'The access token carries no approval of this payment', {
        authorization_details: [expected],
      });
    }
    const differs = mismatches(detail, payment);
    if (differs.length) {
      throw new ScaError('SCA_MISMATCH', `The approval was for another ${differs.join(', ')}`, {
        authorization_details: [expected],
      });
    }
    // One approval per payment and one payment per token: either conflict leaves no row.
    const inserted = await tx
      .insert(scaApprovals)
      .values({
        tenantId: payment.tenantId,
        paymentId: payment.paymentId,
        tokenId: caller.token.tokenId,
        userId: caller.userId!,
        clientId: caller.clientId,
        detail: detail as unknown as Record<string, unknown>,
      })
      .onConflictDoNothing()
      .returning({ paymentId: scaApprovals.paymentId });
    if (!inserted.length) throw new ScaError('SCA_ALREADY_USED');
    // A successful SCA starts the payer's exemption counting afresh (RTS Art. 16(b)).
    await tx
      .delete(scaExemptionCounters)
      .where(
        and(
          eq(scaExemptionCounters.tenantId, payment.tenantId),
          eq(scaExemptionCounters.payerRef, payment.payerRef),
        ),
      );
    await appendAuditAsync(tx, {
      actor: caller.actor,
      action: 'sca.payment.approved',
      object: { type: 'payment', id: payment.paymentId },
      tenantId: payment.tenantId,
      outcome: 'success',
      requestId: caller.requestId,
      details: {
        tokenId: caller.token.tokenId,
        currency: payment.currency,
        amount: payment.amount.toString(),
      },
    });
  }
}
