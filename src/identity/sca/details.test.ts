import { describe, expect, it } from 'vitest';
import { detailFor, detailProblem, fromDecimal, mismatches, paymentDetail, toDecimal } from './details.ts';

const payment = {
  paymentId: '01936f3e-7a1b-7cde-8f00-123456789abc',
  amount: 12_350n,
  currency: 'EUR',
  payeeName: 'Ada Lovelace',
  payeeIban: 'DE89 3704 0044 0532 0130 00',
};

describe('payment_initiation authorization details', () => {
  it('converts minor units and decimal strings exactly, in the currency’s exponent', () => {
    expect(toDecimal(12_350n, 'EUR')).toBe('123.50');
    expect(toDecimal(5n, 'EUR')).toBe('0.05');
    expect(toDecimal(1_000n, 'JPY')).toBe('1000');
    expect(toDecimal(1_234n, 'BHD')).toBe('1.234');
    expect(fromDecimal('123.50', 'EUR')).toBe(12_350n);
    expect(fromDecimal('123.5', 'EUR')).toBe(12_350n);
    expect(fromDecimal('123', 'EUR')).toBe(12_300n);
    expect(fromDecimal('9007199254740993.01', 'EUR')).toBe(900719925474099301n);
    for (const bad of ['123.456', '-1', '1e3', '01.00', '', '1.', 'NaN', '1,00']) {
      expect(fromDecimal(bad, 'EUR'), bad).toBeUndefined();
    }
    expect(fromDecimal('1.5', 'JPY')).toBeUndefined();
  });

  it('builds the detail for a payment and finds it again in a token’s details', () => {
    const detail = paymentDetail(payment);
    expect(detail).toEqual({
      type: 'payment_initiation',
      paymentId: payment.paymentId,
      instructedAmount: { currency: 'EUR', amount: '123.50' },
      creditorName: 'Ada Lovelace',
      creditorAccount: { iban: 'DE89370400440532013000' },
    });
    expect(detailProblem(detail)).toBeUndefined();
    expect(detailFor([{ type: 'other' }, { ...detail }], payment.paymentId)).toEqual(detail);
    expect(detailFor([{ ...detail }], '01936f3e-7a1b-7cde-8f00-000000000000')).toBeUndefined();
    expect(detailFor(undefined, payment.paymentId)).toBeUndefined();
  });

  it('refuses malformed details with a reason', () => {
    const good = paymentDetail(payment) as unknown as Record<string, unknown>;
    const cases: Record<string, unknown>[] = [
      { ...good, type: 'account_information' },
      { ...good, extra: 1 },
      { ...good, paymentId: 'not-a-uuid' },
      { ...good, instructedAmount: { currency: 'EUR', amount: 123.5 } },
      { ...good, instructedAmount: { currency: 'euro', amount: '1.00' } },
      { ...good, instructedAmount: { currency: 'EUR', amount: '1.001' } },
      { ...good, creditorName: '' },
      { ...good, creditorName: 'x'.repeat(141) },
      { ...good, creditorAccount: { iban: 'not an iban' } },
      { ...good, creditorAccount: { iban: 'DE89370400440532013000', bic: 'X' } },
    ];
    for (const c of cases) expect(detailProblem(c), JSON.stringify(c)).toEqual(expect.any(String));
  });

  it('names what changed between the approval and the payment', () => {
    const detail = paymentDetail(payment);
    expect(mismatches(detail, payment)).toEqual([]);
    // formatting differences are not changes
    expect(
      mismatches(detail, { ...payment, payeeName: '  ada   LOVELACE ', payeeIban: 'de89370400440532013000' }),
    ).toEqual([]);
    expect(mismatches(detail, { ...payment, amount: 12_351n })).toEqual(['amount']);
    expect(mismatches(detail, { ...payment, currency: 'GBP' })).toEqual(['currency']);
    expect(mismatches(detail, { ...payment, payeeName: 'Mallory' })).toEqual(['payee name']);
    expect(mismatches(detail, { ...payment, payeeIban: 'GB82WEST12345698765432' })).toEqual([
      'payee account',
    ]);
  });
});
