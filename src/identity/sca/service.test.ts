import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../../test/support/backends.ts';
import type { Caller } from '../../access/guard.ts';
import type { Principal } from '../../gateway/authenticate/principal.ts';
import type { Database } from '../../platform/db/index.ts';
import { tenants } from '../../platform/db/schema.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { paymentDetail } from './details.ts';
import { ScaError } from './errors.ts';
import { DEFAULT_SCA_SETTINGS, ScaService } from './service.ts';
import type { PaymentForSca } from './types.ts';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof ScaError) return err.code;
    throw err;
  }
}

describe.each(dbBackends)('strong customer authentication on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let sca: ScaService;
  const tenantId = uuidv7();
  const otherTenant = uuidv7();

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    sca = new ScaService(db);
    await db.asSystem((tx) =>
      tx.insert(tenants).values([
        { id: tenantId, slug: `sca-${tenantId}`, name: 'SCA Mutual' },
        { id: otherTenant, slug: `sca-${otherTenant}`, name: 'Other Mutual' },
      ]),
    );
  });
  afterAll(() => dispose());

  const payment = (amount: bigint, extra: Partial<PaymentForSca> = {}): PaymentForSca => ({
    paymentId: uuidv7(),
    tenantId,
    amount,
    currency: 'EUR',
    payeeName: 'Ada Lovelace',
    payeeIban: 'DE89370400440532013000',
    payerRef: 'payer-1',
    ...extra,
  });
  const evaluate = (p: PaymentForSca) => db.withTenant(p.tenantId, (tx) => sca.evaluate(tx, p));

  /** The caller a verified token makes, as the access-token hook would build it. */
  const caller = (p: PaymentForSca | undefined, over: Partial<Caller> = {}, tokenId = uuidv7()): Caller => {
    const token: Principal = {
      kind: 'user',
      subject: 'user-1',
      clientId: 'client-1',
      tenantId,
      roles: ['claims_adjuster'],
      scopes: new Set(['payments:write']),
      acr: 'urn:bulwark:acr:2fa',
      amr: ['pwd', 'otp'],
      ...(p ? { authorizationDetails: [{ ...paymentDetail(p) }] } : {}),
      tokenId,
      binding: 'dpop',
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    };
    return {
      kind: 'user',
      tenantId,
      userId: 'user-1',
      clientId: 'client-1',
      roles: ['claims_adjuster'],
      mfa: 'multi',
      actor: { type: 'user', id: 'user-1', clientId: 'client-1' },
      requestId: 'req-1',
      token,
      ...over,
    };
  };
  const consume = (c: Caller, p: PaymentForSca) => db.withTenant(p.tenantId, (tx) => sca.consume(tx, c, p));

  it('exempts low-value payments until €100 or 5 payments since the last SCA (RTS Art. 16 defaults)', async () => {
    expect(await sca.settings(tenantId)).toEqual(DEFAULT_SCA_SETTINGS);
    const payer = { payerRef: `payer-${uuidv7()}` };
    expect(await evaluate(payment(3_001n, payer))).toMatchObject({
      required: true,
      reason: 'above_threshold',
    });
    for (let i = 0; i < 3; i++) {
      expect(await evaluate(payment(3_000n, payer))).toEqual({ required: false, exemption: 'low_value' });
    }
    // 90 so far: another 20 would make 110
    expect(await evaluate(payment(2_000n, payer))).toMatchObject({
      required: true,
      reason: 'cumulative_limit',
    });
    expect(await evaluate(payment(500n, payer))).toEqual({ required: false, exemption: 'low_value' });
    expect(await evaluate(payment(100n, payer))).toEqual({ required: false, exemption: 'low_value' });
    // five exempt payments taken: the sixth needs SCA whatever its amount
    expect(await evaluate(payment(1n, payer))).toMatchObject({ required: true, reason: 'count_limit' });
    // another currency is never exempt
    expect(await evaluate(payment(1n, { payerRef: `p-${uuidv7()}`, currency: 'GBP' }))).toMatchObject({
      required: true,
      reason: 'above_threshold',
    });
  });

  it('names the authorization detail to request when SCA is required', async () => {
    const p = payment(50_000n);
    const decided = await evaluate(p);
    expect(decided).toEqual({
      required: true,
      reason: 'above_threshold',
      authorizationDetail: paymentDetail(p),
    });
  });

  it('per-tenant settings: stricter is allowed, looser than the RTS is refused', async () => {
    const strict = {
      currency: 'EUR',
      lowValueLimit: 1_000n,
      cumulativeLimit: 2_000n,
      countLimit: 2,
      mode: 'consecutive_count' as const,
    };
    await db.withTenant(otherTenant, (tx) => sca.setSettings(tx, otherTenant, strict));
    expect(await sca.settings(otherTenant)).toEqual(strict);
    const p = (amount: bigint) => payment(amount, { tenantId: otherTenant });
    expect(await evaluate(p(1_001n))).toMatchObject({ required: true, reason: 'above_threshold' });
    // count mode: the cumulative amount does not matter, the count does
    expect(await evaluate(p(1_000n))).toMatchObject({ required: false });
    expect(await evaluate(p(1_000n))).toMatchObject({ required: false });
    expect(await evaluate(p(1_000n))).toMatchObject({ required: true, reason: 'count_limit' });
    for (const loose of [
      { ...strict, lowValueLimit: 3_001n },
      { ...strict, cumulativeLimit: 10_001n },
      { ...strict, countLimit: 6 },
      { ...strict, lowValueLimit: -1n },
      { ...strict, currency: 'eur' },
    ]) {
      expect(await codeOf(db.withTenant(otherTenant, (tx) => sca.setSettings(tx, otherTenant, loose)))).toBe(
        'SCA_SETTINGS_INVALID',
      );
    }
    expect(await sca.settings(otherTenant)).toEqual(strict);
  });

  it('consumes a two-factor approval of exactly this payment once, and resets the exemption count', async () => {
    const payer = { payerRef: `payer-${uuidv7()}` };
    for (let i = 0; i < 5; i++) await evaluate(payment(100n, payer));
    expect(await evaluate(payment(100n, payer))).toMatchObject({ required: true, reason: 'count_limit' });

    const p = payment(50_000n, payer);
    const approver = caller(p);
    expect(await codeOf(consume(approver, p))).toBeUndefined();
    // the same approval again, or the same token for another payment, or the payment again
    expect(await codeOf(consume(approver, p))).toBe('SCA_ALREADY_USED');
    expect(await codeOf(consume(caller(p), p))).toBe('SCA_ALREADY_USED');
    // after SCA the payer may use the exemption again
    expect(await evaluate(payment(100n, payer))).toEqual({ required: false, exemption: 'low_value' });
  });

  it('refuses approvals that do not match, are one-factor, belong to an app, or name another payment', async () => {
    const p = payment(50_000n);
    expect(await codeOf(consume(caller(p), { ...p, amount: 50_001n }))).toBe('SCA_MISMATCH');
    expect(await codeOf(consume(caller(p), { ...p, payeeIban: 'GB82WEST12345698765432' }))).toBe(
      'SCA_MISMATCH',
    );
    expect(await codeOf(consume(caller(p), { ...p, payeeName: 'Mallory' }))).toBe('SCA_MISMATCH');
    expect(await codeOf(consume(caller(p, { mfa: 'single' }), p))).toBe('SCA_REQUIRED');
    expect(await codeOf(consume(caller(p, { kind: 'client', userId: undefined }), p))).toBe('SCA_REQUIRED');
    expect(await codeOf(consume(caller(payment(50_000n)), p))).toBe('SCA_REQUIRED');
    expect(await codeOf(consume(caller(undefined), p))).toBe('SCA_REQUIRED');
    // none of these used the payment up
    expect(await codeOf(consume(caller(p), p))).toBeUndefined();
  });
});
