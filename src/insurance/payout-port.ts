/**
 * The claims side of a claim payout, as payments sees it (src/payments/ports.ts). Every call runs
 * in payments' tenant transaction, so the payment and the claim change commit together.
 */
import { appendAuditAsync } from '../audit/index.ts';
import type { ClaimForPayout, ClaimPayoutPort } from '../payments/ports.ts';
import type { Envelope } from '../platform/crypto/index.ts';
import { fieldAad } from '../platform/crypto/index.ts';
import type { Tx } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { InsuranceError } from './errors.ts';
import * as store from './store.ts';

const SYSTEM = { type: 'system' as const, id: 'insurance.payouts' };

async function statusChanged(tx: Tx, row: store.ClaimRow, from: string, to: string) {
  await enqueue(tx, {
    topic: 'claim.status_changed',
    tenantId: row.tenantId,
    payload: { claimId: row.id, policyId: row.policyId, partnerId: row.partnerId, from, to },
  });
  await appendAuditAsync(tx, {
    actor: SYSTEM,
    action: `insurance.claim.${to}`,
    tenantId: row.tenantId,
    object: { type: 'insurance.claim', id: row.id },
    outcome: 'success',
    details: { from, paidAmount: String(row.paidAmount), currency: row.currency },
  });
}

export function claimPayoutPort(envelope: Envelope): ClaimPayoutPort {
  return {
    async claimForPayout(tx, tenantId, claimId): Promise<ClaimForPayout> {
      const row = await store.findClaim(tx, tenantId, claimId, true);
      if (!row) throw new InsuranceError('CLAIM_NOT_FOUND');
      if (row.status !== 'approved' || row.approvedAmount === null) {
        throw new InsuranceError('CLAIM_INVALID_TRANSITION', `A claim in ${row.status} cannot be paid out`);
      }
      if (row.fraudReview) throw new InsuranceError('CLAIM_FRAUD_REVIEW_OPEN');
      if (row.paidAmount >= row.approvedAmount) throw new InsuranceError('CLAIM_NOTHING_TO_PAY');
      const open = (value: string, column: string) =>
        envelope.decryptField(tenantId, value, { aad: fieldAad('insurance_claims', column, row.id), tx });
      return {
        claimId: row.id,
        policyId: row.policyId,
        customerId: row.customerId,
        partnerId: row.partnerId,
        ownerUserId: row.ownerUserId ?? undefined,
        approvedAmount: row.approvedAmount,
        paidAmount: row.paidAmount,
        currency: row.currency,
        payeeName: await open(row.payeeNameEnc, 'payee_name'),
        payeeIban: await open(row.payeeIbanEnc, 'payee_iban'),
      };
    },

    async payoutSettled(tx, tenantId, claimId, paymentId, amount) {
      if (amount <= 0n) throw new Error('payoutSettled: the amount must be positive');
      const row = await store.findClaim(tx, tenantId, claimId, true);
      if (!row) throw new InsuranceError('CLAIM_NOT_FOUND');
      // At most once per payment: a redelivered settlement changes nothing.
      if (!(await store.recordPayout(tx, { tenantId, claimId, paymentId, kind: 'settled', amount }))) return;
      const approved = row.approvedAmount ?? 0n;
      const paidAmount = row.paidAmount + amount;
      if (paidAmount > approved) {
        // Payments checked the amount owed under the same row lock: this is a bug, not a request.
        throw new Error(`claim ${claimId}: payouts (${paidAmount}) exceed the approved amount (${approved})`);
      }
      const fullyPaid = row.status === 'approved' && paidAmount === approved;
      const updated = await store.updateClaim(tx, tenantId, claimId, {
        paidAmount,
        ...(fullyPaid ? { status: 'paid' } : {}),
      });
      if (fullyPaid) await statusChanged(tx, updated, row.status, 'paid');
    },

    async payoutReturned(tx, tenantId, claimId, paymentId, amount) {
      if (amount <= 0n) throw new Error('payoutReturned: the amount must be positive');
      const row = await store.findClaim(tx, tenantId, claimId, true);
      if (!row) throw new InsuranceError('CLAIM_NOT_FOUND');
      if (!(await store.recordPayout(tx, { tenantId, claimId, paymentId, kind: 'returned', amount }))) return;
      // A payout rejected before it settled was never counted as paid: nothing to undo.
      const settled = await store.payoutSettledAmount(tx, tenantId, claimId, paymentId);
      if (settled === undefined) return;
      // Never undo more than that payment settled.
      let undo = amount;
      if (undo > settled) undo = settled;
      const paidAmount = row.paidAmount - undo;
      const reopened = row.status === 'paid';
      const updated = await store.updateClaim(tx, tenantId, claimId, {
        paidAmount: paidAmount < 0n ? 0n : paidAmount,
        ...(reopened ? { status: 'approved' } : {}),
      });
      if (reopened) await statusChanged(tx, updated, 'paid', 'approved');
    },
  };
}
