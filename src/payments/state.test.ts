import { describe, expect, it } from 'vitest';
import type { Database } from '../platform/db/index.ts';
import { compareNames } from './payee-check.ts';
import { SimulatedRail } from './rail/simulated.ts';
import {
  assertTransition,
  canTransition,
  FINAL_STATUSES,
  InvalidTransition,
  ledgerEffect,
  PAYMENT_KINDS,
  PAYMENT_STATUSES,
} from './state.ts';

describe('payment state machine', () => {
  it('allows the documented paths of a payout', () => {
    const path = [
      ['created', 'awaiting_sca'],
      ['awaiting_sca', 'submitted'],
      ['submitted', 'settled'],
    ] as const;
    for (const [from, to] of path) expect(canTransition('claim_payout', from, to)).toBe(true);
    expect(canTransition('claim_payout', 'created', 'submitted')).toBe(true); // SCA exemption
    for (const end of ['returned', 'rejected', 'failed'] as const) {
      expect(canTransition('claim_payout', 'submitted', end)).toBe(true);
    }
    expect(canTransition('claim_payout', 'awaiting_sca', 'cancelled')).toBe(true);
  });

  it('allows the documented paths of a collection, with retries back to scheduled', () => {
    expect(canTransition('collection', 'created', 'scheduled')).toBe(true);
    expect(canTransition('collection', 'scheduled', 'submitted')).toBe(true);
    expect(canTransition('collection', 'submitted', 'scheduled')).toBe(true);
    expect(canTransition('collection', 'submitted', 'settled')).toBe(true);
    expect(canTransition('collection', 'scheduled', 'cancelled')).toBe(true);
  });

  it('refuses what would skip a step or leave a final state', () => {
    expect(canTransition('claim_payout', 'awaiting_sca', 'settled')).toBe(false);
    expect(canTransition('claim_payout', 'created', 'settled')).toBe(false);
    expect(canTransition('claim_payout', 'submitted', 'cancelled')).toBe(false);
    expect(canTransition('claim_payout', 'created', 'scheduled')).toBe(false);
    expect(canTransition('collection', 'created', 'awaiting_sca')).toBe(false);
    expect(canTransition('collection', 'submitted', 'cancelled')).toBe(false);
    for (const kind of PAYMENT_KINDS) {
      for (const from of FINAL_STATUSES) {
        for (const to of PAYMENT_STATUSES) expect(canTransition(kind, from, to)).toBe(false);
      }
    }
    expect(() => assertTransition('claim_payout', 'settled', 'returned')).toThrow(InvalidTransition);
  });

  it('posts a payout to the ledger on submission, settlement and return, and balances to zero', () => {
    expect(ledgerEffect('claim_payout', 'created', 'awaiting_sca')).toBeNull();
    expect(ledgerEffect('claim_payout', 'awaiting_sca', 'submitted')).toEqual({
      debit: 'claims_reserve',
      credit: 'payout_clearing',
    });
    expect(ledgerEffect('claim_payout', 'submitted', 'settled')).toEqual({
      debit: 'payout_clearing',
      credit: 'rail_settlement',
    });
    // A return undoes the submission: payout_clearing is back to zero, the reserve owes again.
    const returned = ledgerEffect('claim_payout', 'submitted', 'returned');
    expect(returned).toEqual({ debit: 'payout_clearing', credit: 'claims_reserve' });
    expect(ledgerEffect('claim_payout', 'awaiting_sca', 'cancelled')).toBeNull();
  });

  it('posts a collection only when it settles', () => {
    expect(ledgerEffect('collection', 'scheduled', 'submitted')).toBeNull();
    expect(ledgerEffect('collection', 'submitted', 'returned')).toBeNull();
    expect(ledgerEffect('collection', 'submitted', 'scheduled')).toBeNull();
    expect(ledgerEffect('collection', 'submitted', 'settled')).toEqual({
      debit: 'rail_settlement',
      credit: 'premium_receivable',
    });
  });

  it('asks the state machine before naming a posting for an impossible transition', () => {
    expect(() => ledgerEffect('collection', 'settled', 'submitted')).toThrow(InvalidTransition);
  });
});

describe('verification of payee', () => {
  it('matches the same name whatever the case, accents, titles or legal form', () => {
    expect(compareNames('erika mustermann', 'Erika Mustermann')).toBe('match');
    expect(compareNames('Mr José  Núñez', 'Jose Nunez')).toBe('match');
    expect(compareNames('ACME Insurance', 'Acme Insurance Ltd')).toBe('match');
  });

  it('calls swapped order, a typo or an initial a close match', () => {
    expect(compareNames('Mustermann Erika', 'Erika Mustermann')).toBe('close_match');
    expect(compareNames('Erika Mustermnn', 'Erika Mustermann')).toBe('close_match');
    expect(compareNames('E. Mustermann', 'Erika Mustermann')).toBe('close_match');
  });

  it('calls another person no match', () => {
    expect(compareNames('Max Mustermann', 'Erika Mustermann')).toBe('no_match');
    expect(compareNames('John Smith', 'Erika Mustermann')).toBe('no_match');
    expect(compareNames('   ', 'Erika Mustermann')).toBe('no_match');
  });
});

describe('simulated rail outcomes', () => {
  const rail = new SimulatedRail({ db: {} as Database });
  const sub = (amount: bigint, sandbox = true, iban = 'DE89370400440532013000') => ({
    tenantId: 't',
    paymentId: 'p',
    kind: 'claim_payout' as const,
    amount,
    currency: 'EUR',
    iban,
    sandbox,
    attempt: 1,
  });

  it('decides from the sandbox magic amounts, the account directory, else settles', () => {
    expect(rail.decide(sub(1000n))).toEqual({ status: 'settled' });
    expect(rail.decide(sub(1091n))).toEqual({ status: 'returned', reasonCode: 'AC04' });
    expect(rail.decide(sub(1092n))).toEqual({ status: 'returned', reasonCode: 'AM04' });
    expect(rail.decide(sub(1093n))).toEqual({ status: 'returned', reasonCode: 'MD01' });
    expect(rail.decide(sub(1094n))).toEqual({ status: 'rejected', reasonCode: 'AC01' });
    // Magic values are for the sandbox only.
    expect(rail.decide(sub(1094n, false))).toEqual({ status: 'settled' });
    expect(rail.decide(sub(1000n, false, 'IT60X0542811101000000123456'))).toEqual({
      status: 'returned',
      reasonCode: 'AC04',
    });
  });

  it('verifies the payee against the name its bank knows', async () => {
    expect(await rail.verifyPayee('DE89370400440532013000', 'Erika Mustermann')).toEqual({ result: 'match' });
    expect(await rail.verifyPayee('DE89370400440532013000', 'Mustermann, Erika')).toEqual({
      result: 'close_match',
      holderName: 'Erika Mustermann',
    });
    expect(await rail.verifyPayee('DE89370400440532013000', 'John Smith')).toEqual({ result: 'no_match' });
    expect(await rail.verifyPayee('FR7630006000011234567890189', 'Jean Dupont')).toEqual({
      result: 'unavailable',
    });
  });
});
