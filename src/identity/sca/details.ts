/**
 * The RFC 9396 `authorization_details` type that links a person's approval to one payment
 * (PSD2 RTS Art. 5, dynamic linking). Shaped after RFC 9396 §2's `payment_initiation` example,
 * plus the id of the Bulwark payment it approves:
 *
 *   { "type": "payment_initiation", "paymentId": "…uuid…",
 *     "instructedAmount": { "currency": "EUR", "amount": "123.50" },
 *     "creditorName": "Ada Lovelace", "creditorAccount": { "iban": "DE89370400440532013000" } }
 *
 * The amount is a decimal string in the currency's own minor-unit exponent, converted from and to
 * integer minor units as text (never through a float).
 */
import { isValidIban } from '../../kyc/validators/iban.ts';
import { currencyExponent, isCurrency } from '../../ledger/currencies.ts';
import { isUuid } from '../../platform/ids.ts';

export const PAYMENT_INITIATION = 'payment_initiation';

export interface PaymentInitiationDetail {
  readonly type: typeof PAYMENT_INITIATION;
  readonly paymentId: string;
  readonly instructedAmount: { readonly currency: string; readonly amount: string };
  readonly creditorName: string;
  readonly creditorAccount: { readonly iban: string };
}

/** The facts a detail states, in the form payments keeps them. */
export interface LinkedPayment {
  readonly paymentId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly payeeName: string;
  readonly payeeIban: string;
}

/** Digits after the decimal point for an ISO 4217 code (JPY 0, EUR 2, BHD 3): the ledger's table. */
export function minorDigits(currency: string): number {
  if (!isCurrency(currency)) throw new Error('currency must be an active ISO 4217 code');
  return currencyExponent(currency);
}

export function toDecimal(minor: bigint, currency: string): string {
  if (minor < 0n) throw new Error('amount must not be negative');
  const digits = minorDigits(currency);
  if (digits === 0) return minor.toString();
  const scale = 10n ** BigInt(digits);
  return `${minor / scale}.${(minor % scale).toString().padStart(digits, '0')}`;
}

/** The exact minor units of a decimal string, or undefined if it has more digits than the currency. */
export function fromDecimal(amount: string, currency: string): bigint | undefined {
  const digits = minorDigits(currency);
  const m = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]+))?$/.exec(amount);
  if (!m) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > digits) return undefined;
  return BigInt(m[1]!) * 10n ** BigInt(digits) + BigInt(frac.padEnd(digits, '0') || '0');
}

const normalIban = (iban: string) => iban.replace(/\s+/g, '').toUpperCase();

/** Names are compared as people write them: NFKC, case and inner whitespace folded. */
const normalName = (name: string) => name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

export function paymentDetail(p: LinkedPayment): PaymentInitiationDetail {
  return {
    type: PAYMENT_INITIATION,
    paymentId: p.paymentId,
    instructedAmount: { currency: p.currency, amount: toDecimal(p.amount, p.currency) },
    creditorName: p.payeeName,
    creditorAccount: { iban: normalIban(p.payeeIban) },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const exactKeys = (o: Record<string, unknown>, keys: readonly string[]) =>
  Object.keys(o).length === keys.length && keys.every((k) => Object.hasOwn(o, k));

/**
 * Why a detail is not a well-formed payment_initiation (for the authorization server's
 * `invalid_authorization_details`), or undefined when it is. No member beyond those defined.
 */
export function detailProblem(detail: unknown): string | undefined {
  if (!isObject(detail) || detail.type !== PAYMENT_INITIATION) return 'type must be payment_initiation';
  if (!exactKeys(detail, ['type', 'paymentId', 'instructedAmount', 'creditorName', 'creditorAccount']))
    return 'members: type, paymentId, instructedAmount, creditorName, creditorAccount — no others';
  if (typeof detail.paymentId !== 'string' || !isUuid(detail.paymentId)) return 'paymentId must be a UUID';
  const amount = detail.instructedAmount;
  if (!isObject(amount) || !exactKeys(amount, ['currency', 'amount']))
    return 'instructedAmount: currency, amount';
  if (typeof amount.currency !== 'string' || !isCurrency(amount.currency))
    return 'instructedAmount.currency must be an active ISO 4217 code';
  if (typeof amount.amount !== 'string' || fromDecimal(amount.amount, amount.currency) === undefined)
    return 'instructedAmount.amount must be a decimal string in the currency’s minor units';
  if (
    typeof detail.creditorName !== 'string' ||
    !detail.creditorName.trim() ||
    detail.creditorName.length > 140
  )
    return 'creditorName: 1-140 characters';
  const account = detail.creditorAccount;
  if (!isObject(account) || !exactKeys(account, ['iban'])) return 'creditorAccount: iban';
  if (typeof account.iban !== 'string' || !isValidIban(account.iban))
    return 'creditorAccount.iban must be a valid IBAN';
  return undefined;
}

/** The payment_initiation detail that names this payment, if the token carries one. */
export function detailFor(
  details: readonly Record<string, unknown>[] | undefined,
  paymentId: string,
): PaymentInitiationDetail | undefined {
  for (const d of details ?? []) {
    if (d.type === PAYMENT_INITIATION && d.paymentId === paymentId && detailProblem(d) === undefined) {
      return d as unknown as PaymentInitiationDetail;
    }
  }
  return undefined;
}

/** Which facts differ between what was approved and the payment as it stands (empty: it matches). */
export function mismatches(detail: PaymentInitiationDetail, p: LinkedPayment): string[] {
  const out: string[] = [];
  if (detail.instructedAmount.currency !== p.currency) out.push('currency');
  else if (fromDecimal(detail.instructedAmount.amount, p.currency) !== p.amount) out.push('amount');
  if (normalName(detail.creditorName) !== normalName(p.payeeName)) out.push('payee name');
  if (normalIban(detail.creditorAccount.iban) !== normalIban(p.payeeIban)) out.push('payee account');
  return out;
}
