import type { BusinessEvent, Finding } from '../types.ts';
import type { Detector } from './types.ts';

/**
 * The business-flow detectors read outbox events of the payments and insurance modules. Their
 * payloads are other modules' contracts, still settling, so fields are read tolerantly: the first
 * of several names that is a non-empty string.
 */
function field(payload: Readonly<Record<string, unknown>>, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = payload[name];
    if (typeof v === 'string' && v.length > 0 && v.length <= 200) return v;
  }
  return undefined;
}

const ibanOf = (p: Readonly<Record<string, unknown>>) =>
  field(p, 'ibanIndex', 'ibanBlindIndex', 'payeeIbanIndex', 'beneficiaryIbanIndex', 'counterpartyIbanIndex');

export interface PayoutIbanTuning {
  readonly windowMs: number;
  /** Distinct unrelated claims (distinct policies) paid to one IBAN within the window. */
  readonly claims: number;
}

export const PAYOUT_IBAN_DEFAULTS: PayoutIbanTuning = { windowMs: 30 * 86_400_000, claims: 3 };

/**
 * Many claim payouts to one IBAN from unrelated claims (claims of different policies): the pattern
 * of a fraud ring collecting on several claims. The IBAN is known only by its blind index. Payees
 * that legitimately collect many claims (a repair shop) are what suppressions are for.
 */
export function payoutIban(tuning: PayoutIbanTuning = PAYOUT_IBAN_DEFAULTS): Detector {
  return {
    id: 'payout_iban',
    kinds: ['business'],
    async observe(event, { windows }): Promise<Finding | undefined> {
      if (event.kind !== 'business' || !event.topic.startsWith('payment.')) return undefined;
      const p = event.payload;
      if (p.kind !== undefined && p.kind !== 'claim_payout') return undefined;
      const iban = ibanOf(p);
      const claimId = field(p, 'claimId');
      if (!iban || !claimId) return undefined;
      const related = field(p, 'policyId') ?? claimId;
      const counts = await windows.add({
        key: `iban:${event.tenantId}:${iban}`,
        at: event.at,
        windowMs: tuning.windowMs,
        member: related,
        weight: 1,
      });
      if (counts.distinct < tuning.claims) return undefined;
      const paymentId = field(p, 'paymentId');
      return {
        detector: 'payout_iban',
        tenantId: event.tenantId,
        subject: { type: 'iban', id: iban },
        severity: counts.distinct >= tuning.claims * 3 ? 'critical' : 'high',
        at: event.at,
        explanation: {
          what: 'Payouts of unrelated claims to one IBAN',
          why: `Payouts for claims of ${counts.distinct} different policies went to the same IBAN within ${tuning.windowMs / 86_400_000} days (threshold ${tuning.claims})`,
          numbers: {
            unrelatedClaims: counts.distinct,
            payoutEvents: counts.count,
            lastClaimId: claimId,
            ...(paymentId ? { lastPaymentId: paymentId } : {}),
            windowDays: tuning.windowMs / 86_400_000,
          },
        },
        context: {},
      };
    },
  };
}

export interface ClaimBurstTuning {
  /** A claim this soon after its policy was bound is an early claim. */
  readonly earlyMs: number;
  readonly windowMs: number;
  /** Early claims (distinct policies) of one partner within the window. */
  readonly claims: number;
}

export const CLAIM_BURST_DEFAULTS: ClaimBurstTuning = {
  earlyMs: 72 * 3_600_000,
  windowMs: 24 * 3_600_000,
  claims: 3,
};

const BOUND = new Set(['bound', 'active', 'in_force', 'issued']);
const FILED = new Set(['filed', 'submitted', 'reported', 'open', 'opened', 'fnol']);

const isBinding = (e: BusinessEvent) =>
  e.topic === 'policy.bound' ||
  (e.topic === 'policy.status_changed' && BOUND.has(field(e.payload, 'status', 'to', 'newStatus') ?? ''));
const isFiling = (e: BusinessEvent) =>
  e.topic === 'claim.filed' ||
  e.topic === 'claim.created' ||
  (e.topic === 'claim.status_changed' && FILED.has(field(e.payload, 'status', 'to', 'newStatus') ?? ''));

/**
 * Claim bursts right after policy binding: several policies of one partner each getting a claim
 * within days of being bound — policies bought to claim on. Binding times are kept in the shared
 * KV for `earlyMs`.
 */
export function claimBurst(tuning: ClaimBurstTuning = CLAIM_BURST_DEFAULTS): Detector {
  return {
    id: 'claim_burst',
    kinds: ['business'],
    async observe(event, { windows, kv }): Promise<Finding | undefined> {
      if (event.kind !== 'business') return undefined;
      const policyId = field(event.payload, 'policyId');
      if (!policyId) return undefined;
      const bindKey = `detection:bound:${event.tenantId}:${policyId}`;
      if (isBinding(event)) {
        // The first binding counts (quoted -> bound); a later bound -> active keeps that time.
        await kv.setIfAbsent(bindKey, String(event.at), tuning.earlyMs);
        return undefined;
      }
      if (!isFiling(event)) return undefined;
      const boundAt = Number(await kv.get(bindKey));
      if (!Number.isFinite(boundAt) || boundAt <= 0 || event.at - boundAt > tuning.earlyMs) return undefined;
      const partnerId = field(event.payload, 'partnerId');
      const subject = partnerId
        ? { type: 'partner' as const, id: partnerId }
        : { type: 'tenant' as const, id: event.tenantId };
      const counts = await windows.add({
        key: `burst:${event.tenantId}:${subject.type}:${subject.id}`,
        at: event.at,
        windowMs: tuning.windowMs,
        member: policyId,
        weight: 1,
      });
      if (counts.distinct < tuning.claims) return undefined;
      const hours = Math.round(((event.at - boundAt) / 3_600_000) * 10) / 10;
      return {
        detector: 'claim_burst',
        tenantId: event.tenantId,
        subject,
        severity: counts.distinct >= tuning.claims * 3 ? 'high' : 'medium',
        at: event.at,
        explanation: {
          what: 'Burst of claims on freshly bound policies',
          why: `${counts.distinct} policies of this ${subject.type} had a claim filed within ${tuning.earlyMs / 3_600_000} h of binding, all within ${tuning.windowMs / 3_600_000} h (threshold ${tuning.claims}); the latest ${hours} h after binding`,
          numbers: {
            earlyClaims: counts.distinct,
            hoursAfterBinding: hours,
            lastPolicyId: policyId,
            ...(field(event.payload, 'claimId')
              ? { lastClaimId: field(event.payload, 'claimId') as string }
              : {}),
            windowHours: tuning.windowMs / 3_600_000,
          },
        },
        context: {},
      };
    },
  };
}
