import { describe, expect, it } from 'vitest';
import { InsuranceError } from './errors.ts';
import { evaluateFraudSignals, type FraudFacts, similarAmounts } from './fraud.ts';
import {
  addMonths,
  checkProductRules,
  isRealDate,
  normalizeIban,
  type ProductRules,
  premiumSchedule,
  termPremium,
} from './rules.ts';
import {
  assertClaimTransition,
  assertPolicyTransition,
  CLAIM_STATUSES,
  canClaimMove,
  canPolicyMove,
  POLICY_STATUSES,
} from './states.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof InsuranceError ? err.code : String(err);
  }
};

describe('policy state machine', () => {
  it('allows exactly quote -> bind -> active -> cancelled / lapsed (and quote expiry)', () => {
    const allowed = POLICY_STATUSES.flatMap((from) =>
      POLICY_STATUSES.filter((to) => canPolicyMove(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'quoted->bound',
        'quoted->active',
        'quoted->cancelled',
        'quoted->expired',
        'bound->active',
        'bound->cancelled',
        'active->cancelled',
        'active->lapsed',
      ].sort(),
    );
  });
  it('refuses leaving a final state with POLICY_INVALID_TRANSITION', () => {
    for (const from of ['cancelled', 'lapsed', 'expired'] as const) {
      for (const to of POLICY_STATUSES)
        expect(codeOf(() => assertPolicyTransition(from, to))).toBe('POLICY_INVALID_TRANSITION');
    }
    expect(codeOf(() => assertPolicyTransition('active', 'bound'))).toBe('POLICY_INVALID_TRANSITION');
    expect(codeOf(() => assertPolicyTransition('quoted', 'lapsed'))).toBe('POLICY_INVALID_TRANSITION');
    expect(codeOf(() => assertPolicyTransition('quoted', 'bound'))).toBeUndefined();
  });
});

describe('claim state machine', () => {
  it('allows exactly fnol -> triage -> assessment -> approved/denied -> paid -> closed', () => {
    const allowed = CLAIM_STATUSES.flatMap((from) =>
      CLAIM_STATUSES.filter((to) => canClaimMove(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'fnol->triage',
        'triage->assessment',
        'triage->denied',
        'assessment->approved',
        'assessment->denied',
        'approved->paid',
        'approved->closed',
        'denied->closed',
        'paid->closed',
        'paid->approved',
      ].sort(),
    );
  });
  it('cannot skip assessment, re-open a closed claim or approve a denied one', () => {
    expect(codeOf(() => assertClaimTransition('fnol', 'approved'))).toBe('CLAIM_INVALID_TRANSITION');
    expect(codeOf(() => assertClaimTransition('triage', 'approved'))).toBe('CLAIM_INVALID_TRANSITION');
    expect(codeOf(() => assertClaimTransition('denied', 'approved'))).toBe('CLAIM_INVALID_TRANSITION');
    for (const to of CLAIM_STATUSES) expect(canClaimMove('closed', to)).toBe(false);
  });
});

const RULES: ProductRules = {
  currency: 'EUR',
  premium: { frequency: 'monthly', annualBase: 12_000n, ratePerMille: 5n },
  coverLimit: 1_000_000n,
  termMonths: 12,
  waitingDays: 0,
  maxStartDelayDays: 90,
  quoteValidDays: 30,
  graceDays: 30,
  earlyClaimDays: 30,
};

describe('premium rules', () => {
  it('prices base + per-mille of cover, pro rata to the term, in integers', () => {
    expect(termPremium(RULES, 1_000_000n)).toBe(12_000n + 5_000n);
    expect(
      termPremium(
        { ...RULES, termMonths: 6, premium: { ...RULES.premium, frequency: 'quarterly' } },
        1_000_000n,
      ),
    ).toBe(8_500n);
  });
  it('splits the premium into instalments that add up exactly, remainder first', () => {
    const schedule = premiumSchedule(RULES, termPremium(RULES, 1_000_001n), '2030-01-31');
    expect(schedule).toHaveLength(12);
    expect(schedule.reduce((s, i) => s + i.amount, 0n)).toBe(termPremium(RULES, 1_000_001n));
    expect(schedule[0]!.amount).toBe(1_424n); // 17,000 = 1,424 + 11 × 1,416
    expect(schedule[1]!.amount).toBe(1_416n);
    expect(schedule.map((i) => i.dueDate).slice(0, 3)).toEqual(['2030-01-31', '2030-02-28', '2030-03-31']);
    expect(
      premiumSchedule(
        { ...RULES, premium: { ...RULES.premium, frequency: 'single' } },
        12_000n,
        '2030-01-01',
      ),
    ).toEqual([{ seq: 1, dueDate: '2030-01-01', amount: 12_000n }]);
  });
  it('refuses rules that cannot schedule or price a policy', () => {
    expect(codeOf(() => checkProductRules({ ...RULES, currency: 'EURO' }))).toBe('PRODUCT_CURRENCY_UNKNOWN');
    expect(codeOf(() => checkProductRules({ ...RULES, currency: 'XYZ' }))).toBe('PRODUCT_CURRENCY_UNKNOWN');
    expect(
      codeOf(() =>
        checkProductRules({
          ...RULES,
          termMonths: 10,
          premium: { ...RULES.premium, frequency: 'quarterly' },
        }),
      ),
    ).toBe('PRODUCT_RULES_INVALID');
    expect(
      codeOf(() =>
        checkProductRules({ ...RULES, premium: { ...RULES.premium, annualBase: 0n, ratePerMille: 0n } }),
      ),
    ).toBe('PRODUCT_RULES_INVALID');
    expect(codeOf(() => checkProductRules(RULES))).toBeUndefined();
  });
  it('dates: real calendar dates, month arithmetic clamps to month end', () => {
    expect(isRealDate('2030-02-29')).toBe(false);
    expect(isRealDate('2028-02-29')).toBe(true);
    expect(addMonths('2028-01-31', 1)).toBe('2028-02-29');
    expect(addMonths('2030-11-15', 3)).toBe('2031-02-15');
  });
  it('IBAN: ISO 13616 mod-97, spaces and case ignored', () => {
    expect(normalizeIban('de89 3704 0044 0532 0130 00')).toBe('DE89370400440532013000');
    expect(normalizeIban('DE89370400440532013001')).toBeUndefined();
    expect(normalizeIban('GB82WEST12345698765432')).toBe('GB82WEST12345698765432');
    expect(normalizeIban('XX')).toBeUndefined();
  });
});

describe('fraud signals', () => {
  const NOW = new Date('2030-06-01T12:00:00Z');
  const base: FraudFacts = {
    claim: {
      id: 'c0',
      customerId: 'cust-1',
      incidentDate: '2030-05-20',
      amountClaimed: 100_000n,
      currency: 'EUR',
    },
    policy: { startDate: '2030-01-01', coverAmount: 500_000n },
    siblingClaims: [],
    samePayeeClaims: [],
  };
  const settings = { duplicateTolerancePercent: 10, earlyClaimDays: 30 };
  const codes = (facts: FraudFacts) => evaluateFraudSignals(facts, settings, 'fnol', NOW).map((s) => s.code);

  it('a plain claim raises nothing', () => {
    expect(codes(base)).toEqual([]);
  });

  it('duplicate: same policy, same incident date, amount within the tolerance', () => {
    const sibling = {
      id: 'c1',
      incidentDate: '2030-05-20',
      amountClaimed: 109_000n,
      status: 'fnol',
      approvedAmount: null,
    };
    const [signal] = evaluateFraudSignals({ ...base, siblingClaims: [sibling] }, settings, 'fnol', NOW);
    expect(signal).toMatchObject({ code: 'duplicate_claim', relatedClaimIds: ['c1'], stage: 'fnol' });
    expect(signal!.explanation).toContain('2030-05-20');
    // Another day, or an amount 11% away: not a duplicate.
    expect(codes({ ...base, siblingClaims: [{ ...sibling, incidentDate: '2030-05-21' }] })).toEqual([]);
    expect(codes({ ...base, siblingClaims: [{ ...sibling, amountClaimed: 112_400n }] })).toEqual([]);
    expect(similarAmounts(100n, 110n, 10)).toBe(true);
    expect(similarAmounts(100n, 112n, 10)).toBe(false);
  });

  it('early claim: incident within the configured days of inception, not after', () => {
    expect(codes({ ...base, claim: { ...base.claim, incidentDate: '2030-01-30' } })).toEqual(['early_claim']);
    expect(codes({ ...base, claim: { ...base.claim, incidentDate: '2030-01-31' } })).toEqual([]);
    expect(
      evaluateFraudSignals(
        { ...base, claim: { ...base.claim, incidentDate: '2030-01-31' } },
        { ...settings, earlyClaimDays: 45 },
        'fnol',
        NOW,
      ).map((s) => s.code),
    ).toEqual(['early_claim']);
  });

  it('amount above cover: counts what other claims were already granted', () => {
    expect(codes({ ...base, claim: { ...base.claim, amountClaimed: 500_001n } })).toEqual([
      'amount_above_cover',
    ]);
    expect(codes({ ...base, claim: { ...base.claim, amountClaimed: 500_000n } })).toEqual([]);
    const granted = {
      id: 'c9',
      incidentDate: '2030-03-01',
      amountClaimed: 450_000n,
      status: 'paid',
      approvedAmount: 450_000n,
    };
    expect(codes({ ...base, siblingClaims: [granted] })).toEqual(['amount_above_cover']);
    // A denied claim grants nothing.
    expect(codes({ ...base, siblingClaims: [{ ...granted, status: 'denied' }] })).toEqual([]);
  });

  it('shared payee IBAN: only claims of other customers count', () => {
    expect(codes({ ...base, samePayeeClaims: [{ id: 'c5', customerId: 'cust-1' }] })).toEqual([]);
    const signals = evaluateFraudSignals(
      {
        ...base,
        samePayeeClaims: [
          { id: 'c5', customerId: 'cust-2' },
          { id: 'c6', customerId: 'cust-3' },
          { id: 'c7', customerId: 'cust-1' },
        ],
      },
      settings,
      'assessment',
      NOW,
    );
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({
      code: 'shared_payee_iban',
      relatedClaimIds: ['c5', 'c6'],
      stage: 'assessment',
    });
    expect(signals[0]!.explanation).toContain('2 other customer(s)');
  });
});
