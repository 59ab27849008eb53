import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { type Database, rows, type Tx } from '../platform/db/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { PaymentError } from './errors.ts';
import { type PaymentsFixture, partnerCaller, paymentsFixture, userCaller } from './testing/fixtures.ts';

const SEC = 1_000;
const IBAN = 'DE89370400440532013000';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
}

describe.each(dbBackends)('payments service on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let f: PaymentsFixture;
  let tenantId: string;
  let partnerId: string;
  const inTx = <T>(fn: (tx: Tx) => Promise<T>) => db.withTenant(tenantId, fn);
  const app = () => partnerCaller(tenantId, partnerId);
  const today = () => new Date(f.clock.now).toISOString().slice(0, 10);

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    f = paymentsFixture(db);
    ({ tenantId, partnerId } = await f.newTenant());
  });
  afterAll(() => dispose());

  async function mandate(customerId = f.newCustomer(tenantId, partnerId)) {
    return f.service.createMandate(app(), {
      customerId,
      debtorName: 'Erika Mustermann',
      debtorIban: 'DE89 3704 0044 0532 0130 00',
      reference: `M-${uuidv7().slice(0, 18)}`,
      signedOn: '2029-12-01',
    });
  }

  describe('mandates', () => {
    it('registers a mandate with the IBAN normalised and sealed at rest', async () => {
      const m = await mandate();
      expect(m).toMatchObject({ debtorIban: IBAN, debtorName: 'Erika Mustermann', status: 'active' });
      expect(await f.service.getMandate(app(), m.id)).toEqual(m);
      const raw = await inTx((tx) =>
        rows(tx, sql`SELECT debtor_iban_enc, debtor_name_enc FROM payment_mandates WHERE id = ${m.id}`),
      );
      expect(raw).toHaveLength(1);
      expect(JSON.stringify(raw)).not.toContain(IBAN);
      expect(JSON.stringify(raw)).not.toContain('Mustermann');
    });

    it('refuses a bad IBAN, an unknown customer, a future signature and a taken reference, writing nothing', async () => {
      const before = await f.count('payment_mandates', tenantId);
      const customerId = f.newCustomer(tenantId, partnerId);
      const base = { customerId, debtorName: 'Erika', reference: 'REF-1', signedOn: '2029-12-01' };
      expect(
        await codeOf(f.service.createMandate(app(), { ...base, debtorIban: 'DE89370400440532013001' })),
      ).toBe('PAYMENT_IBAN_INVALID');
      expect(
        await codeOf(f.service.createMandate(app(), { ...base, debtorIban: IBAN, customerId: uuidv7() })),
      ).toBe('PAYMENT_CUSTOMER_NOT_FOUND');
      expect(
        await codeOf(f.service.createMandate(app(), { ...base, debtorIban: IBAN, signedOn: '2031-01-01' })),
      ).toBe('PAYMENT_DATE_INVALID');
      expect(
        await codeOf(f.service.createMandate(app(), { ...base, debtorIban: IBAN, signedOn: '2029-02-30' })),
      ).toBe('PAYMENT_DATE_INVALID');
      expect(await f.count('payment_mandates', tenantId)).toBe(before);
      await f.service.createMandate(app(), { ...base, debtorIban: IBAN });
      expect(await codeOf(f.service.createMandate(app(), { ...base, debtorIban: IBAN }))).toBe(
        'MANDATE_REFERENCE_TAKEN',
      );
    });

    it("hides another partner's mandate as missing", async () => {
      const m = await mandate();
      const other = partnerCaller(tenantId, uuidv7());
      expect(await codeOf(f.service.getMandate(other, m.id))).toBe('MANDATE_NOT_FOUND');
    });
  });

  describe('collections', () => {
    it('collects a premium due today: submitted now, settled by a later tick, posted to the ledger', async () => {
      const m = await mandate();
      const receivable = await f.balance(tenantId, 'premium_receivable');
      const p = await inTx((tx) =>
        f.service.createCollection(tx, app(), {
          mandateId: m.id,
          amount: '4250',
          currency: 'EUR',
          dueDate: today(),
          policyId: uuidv7(),
        }),
      );
      expect(p).toMatchObject({ status: 'submitted', attempts: 1, payeeIban: IBAN, amount: 4250n });
      // Not yet: the rail settles 10 s after submission.
      f.clock.now += 5 * SEC;
      await f.service.tick();
      expect((await f.service.getPayment(app(), p.id)).status).toBe('submitted');
      f.clock.now += 6 * SEC;
      await f.service.tick();
      const settled = await f.service.getPayment(app(), p.id);
      expect(settled.status).toBe('settled');
      expect(await f.balance(tenantId, 'premium_receivable')).toBe(receivable + 4250n);
      // A second tick reports nothing again.
      expect((await f.service.tick()).reported).toBe(0);
      expect(await f.balance(tenantId, 'premium_receivable')).toBe(receivable + 4250n);
    });

    it('waits for a future due date, then submits', async () => {
      const m = await mandate();
      const due = new Date(f.clock.now + 2 * 86_400_000).toISOString().slice(0, 10);
      const p = await inTx((tx) =>
        f.service.createCollection(tx, app(), {
          mandateId: m.id,
          amount: 1000,
          currency: 'EUR',
          dueDate: due,
        }),
      );
      expect(p.status).toBe('scheduled');
      await f.service.tick();
      expect((await f.service.getPayment(app(), p.id)).status).toBe('scheduled');
      f.clock.now += 2 * 86_400_000;
      await f.service.tick();
      expect((await f.service.getPayment(app(), p.id)).status).toBe('submitted');
    });

    it('retries a collection returned for insufficient funds, and fails it when attempts run out', async () => {
      const m = await mandate();
      // Sandbox magic value: ..92 is returned AM04 (insufficient funds).
      const p = await inTx((tx) =>
        f.service.createCollection(tx, app(), {
          mandateId: m.id,
          amount: '1092',
          currency: 'EUR',
          dueDate: today(),
        }),
      );
      f.clock.now += 21 * SEC;
      await f.service.tick();
      const retry = await f.service.getPayment(app(), p.id);
      expect(retry).toMatchObject({ status: 'scheduled', reasonCode: 'AM04', attempts: 1 });
      f.clock.now += 3_600_000;
      await f.service.tick();
      expect((await f.service.getPayment(app(), p.id)).status).toBe('submitted');
      f.clock.now += 21 * SEC;
      await f.service.tick();
      expect(await f.service.getPayment(app(), p.id)).toMatchObject({ status: 'failed', attempts: 2 });
      const topics = await f.topics(tenantId);
      expect(topics).toContain('payment.returned');
      expect(topics).toContain('payment.failed');
    });

    it('does not retry a final return (no mandate) and posts nothing for it', async () => {
      const m = await mandate();
      const receivable = await f.balance(tenantId, 'premium_receivable');
      const p = await inTx((tx) =>
        f.service.createCollection(tx, app(), {
          mandateId: m.id,
          amount: '1093',
          currency: 'EUR',
          dueDate: today(),
        }),
      );
      f.clock.now += 21 * SEC;
      await f.service.tick();
      expect(await f.service.getPayment(app(), p.id)).toMatchObject({
        status: 'returned',
        reasonCode: 'MD01',
      });
      expect(await f.balance(tenantId, 'premium_receivable')).toBe(receivable);
    });

    it('cancels scheduled collections when the mandate is revoked, and refuses new ones', async () => {
      const m = await mandate();
      const due = new Date(f.clock.now + 86_400_000).toISOString().slice(0, 10);
      const p = await inTx((tx) =>
        f.service.createCollection(tx, app(), {
          mandateId: m.id,
          amount: 500,
          currency: 'EUR',
          dueDate: due,
        }),
      );
      await f.service.revokeMandate(app(), m.id);
      expect((await f.service.getPayment(app(), p.id)).status).toBe('cancelled');
      expect(
        await codeOf(
          inTx((tx) =>
            f.service.createCollection(tx, app(), {
              mandateId: m.id,
              amount: 500,
              currency: 'EUR',
              dueDate: due,
            }),
          ),
        ),
      ).toBe('MANDATE_REVOKED');
      expect(await codeOf(f.service.revokeMandate(app(), m.id))).toBe('MANDATE_REVOKED');
    });

    it('refuses bad amounts, currencies and dates with their own codes, writing nothing', async () => {
      const m = await mandate();
      const before = await f.count('payments', tenantId);
      const attempt = (over: Record<string, unknown>) =>
        codeOf(
          inTx((tx) =>
            f.service.createCollection(tx, app(), {
              mandateId: m.id,
              amount: '100',
              currency: 'EUR',
              dueDate: today(),
              ...over,
            } as never),
          ),
        );
      for (const amount of ['0', '-5', '12.50', '1e3', 0, -1, 10.5, 2 ** 60, '99999999999999999'])
        expect(await attempt({ amount })).toBe('PAYMENT_AMOUNT_INVALID');
      expect(await attempt({ currency: 'XYZ' })).toBe('PAYMENT_CURRENCY_UNKNOWN');
      expect(await attempt({ currency: 'USD' })).toBe('PAYMENT_CURRENCY_UNSUPPORTED');
      expect(await attempt({ dueDate: '2020-01-01' })).toBe('PAYMENT_DATE_INVALID');
      expect(await attempt({ mandateId: uuidv7() })).toBe('MANDATE_NOT_FOUND');
      expect(await attempt({ amount: '10000001' })).toBe('PAYMENT_LIMIT_EXCEEDED');
      expect(await f.count('payments', tenantId)).toBe(before);
      expect(await f.count('payment_daily_usage', tenantId)).toBeGreaterThan(0);
    });
  });

  describe('claim payouts', () => {
    it('pays a small payout at once (SCA exemption), settles it, and tells the claim', async () => {
      const customerId = f.newCustomer(tenantId, partnerId);
      const claim = f.newClaim({ customerId, partnerId, approvedAmount: 10_000n });
      const reserve = await f.balance(tenantId, 'claims_reserve');
      const p = await inTx((tx) =>
        f.service.createClaimPayout(tx, app(), { claimId: claim.claimId, amount: '2500', currency: 'EUR' }),
      );
      expect(p).toMatchObject({ status: 'submitted', scaStatus: 'exempt', payeeCheck: { result: 'match' } });
      expect(await f.balance(tenantId, 'claims_reserve')).toBe(reserve - 2500n);
      expect(await f.balance(tenantId, 'payout_clearing')).toBe(2500n);
      f.clock.now += 11 * SEC;
      await f.service.tick();
      expect((await f.service.getPayment(app(), p.id)).status).toBe('settled');
      expect(claim.paidAmount).toBe(2500n);
      expect(await f.balance(tenantId, 'payout_clearing')).toBe(0n);
      expect(await f.sumOfBalances(tenantId)).toBe(0n);
    });

    it("holds a payout above the exemption for SCA, then submits it on the approver's token", async () => {
      const owner = uuidv7();
      const customerId = f.newCustomer(tenantId, partnerId, { ownerUserId: owner });
      const claim = f.newClaim({ customerId, partnerId, approvedAmount: 500_000n, ownerUserId: owner });
      const p = await inTx((tx) =>
        f.service.createClaimPayout(tx, app(), { claimId: claim.claimId, amount: 120_000, currency: 'EUR' }),
      );
      expect(p).toMatchObject({ status: 'awaiting_sca', scaStatus: 'required' });
      expect(p.authorizationDetail).toMatchObject({
        type: 'payment_initiation',
        paymentId: p.id,
        instructedAmount: { currency: 'EUR', amount: '1200.00' },
        creditorAccount: { iban: IBAN },
      });
      // Nothing moved yet; the amount counts as in flight against the claim.
      expect(
        await codeOf(
          inTx((tx) =>
            f.service.createClaimPayout(tx, app(), {
              claimId: claim.claimId,
              amount: 400_000,
              currency: 'EUR',
            }),
          ),
        ),
      ).toBe('PAYMENT_AMOUNT_EXCEEDS_CLAIM');
      // The partner app cannot approve; a detail for another amount does not either.
      expect(await codeOf(inTx((tx) => f.service.authorizePayment(tx, app(), p.id)))).toBe('ACCESS_DENIED');
      const wrong = { ...p.authorizationDetail!, instructedAmount: { currency: 'EUR', amount: '12.00' } };
      expect(
        await codeOf(
          inTx((tx) =>
            f.service.authorizePayment(tx, userCaller(tenantId, owner, ['policyholder'], [wrong]), p.id),
          ),
        ),
      ).toBe('SCA_MISMATCH');
      // Someone else's policyholder does not even see it.
      const stranger = userCaller(tenantId, uuidv7(), ['policyholder'], [p.authorizationDetail!]);
      expect(await codeOf(inTx((tx) => f.service.authorizePayment(tx, stranger, p.id)))).toBe(
        'PAYMENT_NOT_FOUND',
      );

      const approver = userCaller(tenantId, owner, ['policyholder'], [p.authorizationDetail!]);
      const done = await inTx((tx) => f.service.authorizePayment(tx, approver, p.id));
      expect(done).toMatchObject({ status: 'submitted', scaStatus: 'completed', authorizationDetail: null });
      expect(await codeOf(inTx((tx) => f.service.authorizePayment(tx, approver, p.id)))).toBe(
        'PAYMENT_INVALID_TRANSITION',
      );
    });

    it('compensates the ledger when the rail rejects or returns a payout, and the claim owes it again', async () => {
      const customerId = f.newCustomer(tenantId, partnerId);
      const claim = f.newClaim({ customerId, partnerId, approvedAmount: 10_000n });
      const reserve = await f.balance(tenantId, 'claims_reserve');
      const rejected = await inTx((tx) =>
        f.service.createClaimPayout(tx, app(), { claimId: claim.claimId, amount: '1094', currency: 'EUR' }),
      );
      const returned = await inTx((tx) =>
        f.service.createClaimPayout(tx, app(), { claimId: claim.claimId, amount: '1000', currency: 'EUR' }),
      );
      await inTx((tx) =>
        f.service.forceOutcome(tx, app(), returned.id, { status: 'returned', reasonCode: 'AC06' }),
      );
      f.clock.now += 2 * SEC;
      await f.service.tick();
      expect(await f.service.getPayment(app(), rejected.id)).toMatchObject({
        status: 'rejected',
        reasonCode: 'AC01',
      });
      expect(await f.service.getPayment(app(), returned.id)).toMatchObject({
        status: 'returned',
        reasonCode: 'AC06',
      });
      expect(await f.balance(tenantId, 'claims_reserve')).toBe(reserve);
      expect(claim.returned).toEqual(new Set([rejected.id, returned.id]));
      expect(claim.paidAmount).toBe(0n);
      // The full approved amount can be paid again.
      const again = await inTx((tx) =>
        f.service.createClaimPayout(tx, app(), { claimId: claim.claimId, amount: 2000, currency: 'EUR' }),
      );
      expect(again.status).toBe('submitted');
      expect(await f.sumOfBalances(tenantId)).toBe(0n);
    });

    it('needs approved KYC, a valid payee IBAN, and stays within the claim and the limits', async () => {
      const unverified = f.newCustomer(tenantId, partnerId, { verified: false });
      const c1 = f.newClaim({ customerId: unverified, partnerId, approvedAmount: 10_000n });
      const pay = (claimId: string, amount: string) =>
        codeOf(inTx((tx) => f.service.createClaimPayout(tx, app(), { claimId, amount, currency: 'EUR' })));
      const before = await f.count('payments', tenantId);
      expect(await pay(c1.claimId, '100')).toBe('KYC_NOT_VERIFIED');
      const customerId = f.newCustomer(tenantId, partnerId);
      const badIban = f.newClaim({ customerId, partnerId, approvedAmount: 10_000n, payeeIban: 'DE00123' });
      expect(await pay(badIban.claimId, '100')).toBe('PAYMENT_IBAN_INVALID');
      const c2 = f.newClaim({ customerId, partnerId, approvedAmount: 10_000n });
      expect(await pay(c2.claimId, '10001')).toBe('PAYMENT_AMOUNT_EXCEEDS_CLAIM');
      expect(await pay(uuidv7(), '100')).toBe('CLAIM_NOT_FOUND');

      const { tenantId: t2, partnerId: p2 } = await f.newTenant();
      await f.service.setLimit(
        t2,
        { partnerId: p2, direction: 'payout', currency: 'EUR', maxPerPayment: 5_000n, maxPerDay: 8_000n },
        { actor: { type: 'operator', id: 'test' }, requestId: 'r' },
      );
      const big = f.newClaim({ customerId: f.newCustomer(t2, p2), partnerId: p2, approvedAmount: 100_000n });
      const payIn = (amount: string) =>
        codeOf(
          db.withTenant(t2, (tx) =>
            f.service.createClaimPayout(tx, partnerCaller(t2, p2), {
              claimId: big.claimId,
              amount,
              currency: 'EUR',
            }),
          ),
        );
      expect(await payIn('5001')).toBe('PAYMENT_LIMIT_EXCEEDED');
      expect(await payIn('5000')).toBeUndefined();
      expect(await payIn('3001')).toBe('PAYMENT_DAILY_LIMIT_EXCEEDED');
      expect(await payIn('3000')).toBeUndefined();
      expect(await f.count('payments', tenantId)).toBe(before);
      expect(await f.count('payments', t2)).toBe(2);
    });
  });

  it("hides one tenant's payments from another tenant's caller", async () => {
    const m = await mandate();
    const p = await inTx((tx) =>
      f.service.createCollection(tx, app(), {
        mandateId: m.id,
        amount: 700,
        currency: 'EUR',
        dueDate: today(),
      }),
    );
    const { tenantId: t2, partnerId: p2 } = await f.newTenant();
    expect(await codeOf(f.service.getPayment(partnerCaller(t2, p2), p.id))).toBe('PAYMENT_NOT_FOUND');
    expect(await codeOf(f.service.getMandate(partnerCaller(t2, p2), m.id))).toBe('MANDATE_NOT_FOUND');
    const list = await f.service.listPayments(partnerCaller(t2, p2), { limit: 50 });
    expect(list.items).toEqual([]);
  });

  it("lists a partner's payments by cursor", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await f.service.listPayments(app(), { limit: 3, after });
      seen.push(...page.items.map((p) => p.id));
      if (!page.nextCursor) break;
      after = page.nextCursor;
    }
    expect(seen.length).toBe(await f.count('payments', tenantId));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses to cancel a payment already on the rail', async () => {
    const m = await mandate();
    const p = await inTx((tx) =>
      f.service.createCollection(tx, app(), {
        mandateId: m.id,
        amount: 800,
        currency: 'EUR',
        dueDate: today(),
      }),
    );
    const err = await inTx((tx) => f.service.cancelPayment(tx, app(), p.id)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentError);
    expect((err as PaymentError).code).toBe('PAYMENT_INVALID_TRANSITION');
  });
});
