import { describe, expect, it } from 'vitest';
import { toProblem } from '../platform/errors/index.ts';
import { AccessError } from './errors.ts';
import { FIELD_ACCESS, readableView, rejectForbiddenFields, writableFields } from './fields.ts';
import { BUSINESS_RESOURCE_TYPES, ROLES } from './types.ts';

function refusal(run: () => void): AccessError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AccessError);
    return err as AccessError;
  }
  throw new Error('expected the body to be refused');
}

describe('property level: writes', () => {
  it('refuses a partner setting a read-only field, naming it (ACCESS_FIELD_NOT_WRITABLE)', () => {
    const err = refusal(() =>
      rejectForbiddenFields(
        { description: 'hail damage', approvedAmount: 1_000_000 },
        'partner_app',
        'Claim',
      ),
    );
    const { problem } = toProblem(err, 'req-1');
    expect(problem).toMatchObject({
      status: 403,
      code: 'ACCESS_FIELD_NOT_WRITABLE',
      detail: 'This caller may not set "approvedAmount" on update',
      errors: [{ path: 'body/approvedAmount', message: 'not writable by this caller' }],
    });
  });

  it('refuses a distributor pricing its own policy on create, and lets the underwriter', () => {
    const body = { customerId: 'cu-1', productId: 'home', currency: 'EUR', premiumAmount: 1 };
    expect(refusal(() => rejectForbiddenFields(body, 'partner_app', 'Policy', 'create')).detail).toContain(
      '"premiumAmount"',
    );
    expect(() => rejectForbiddenFields(body, 'underwriter', 'Policy', 'create')).not.toThrow();
  });

  it('lets through a body of writable fields', () => {
    expect(() =>
      rejectForbiddenFields(
        { policyId: 'pol-1', description: 'x', amountClaimed: 5000, currency: 'EUR' },
        'policyholder',
        'Claim',
        'create',
      ),
    ).not.toThrow();
  });

  it('treats fields outside the table, and inherited names, as not writable', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'isAdmin']) {
      const body = JSON.parse(`{"${name}": 1}`) as Record<string, unknown>;
      expect(refusal(() => rejectForbiddenFields(body, 'underwriter', 'Customer')).code).toBe(
        'ACCESS_FIELD_NOT_WRITABLE',
      );
    }
  });

  it('distinguishes create from update (identity data is fixed after verification)', () => {
    expect(writableFields('partner_app', 'Customer', 'create')).toContain('nationalId');
    expect(writableFields('partner_app', 'Customer', 'update')).not.toContain('nationalId');
    expect(writableFields('policyholder', 'Claim', 'update')).toEqual(['description']);
  });

  it('never lets any role write server-set fields', () => {
    for (const role of ROLES) {
      for (const type of BUSINESS_RESOURCE_TYPES) {
        for (const op of ['create', 'update'] as const) {
          const writable = writableFields(role, type, op);
          expect(writable).not.toContain('id');
          expect(writable).not.toContain('status');
          expect(writable).not.toContain('createdAt');
        }
      }
    }
    expect(writableFields('auditor', 'Claim', 'update')).toEqual([]);
  });
});

describe('property level: reads', () => {
  it('gives each role its view: fraud signals and sanctions findings stay with the insurer', () => {
    expect(readableView('policyholder', 'Claim')).not.toContain('fraudSignals');
    expect(readableView('claims_adjuster', 'Claim')).toContain('fraudSignals');
    expect(readableView('partner_app', 'KycCase')).not.toContain('sanctionsHits');
    expect(readableView('underwriter', 'KycCase')).toContain('sanctionsHits');
  });

  it('unions several roles, in table order', () => {
    const both = readableView(['policyholder', 'claims_adjuster'], 'Claim');
    expect(both).toEqual(Object.keys(FIELD_ACCESS.Claim).filter((f) => both.includes(f)));
    expect(both).toContain('fraudSignals');
    expect(both).toContain('adjusterNotes');
  });

  it('shows every role at least the id of what it can reach', () => {
    for (const role of ROLES) {
      for (const type of BUSINESS_RESOURCE_TYPES) expect(readableView(role, type)).toContain('id');
    }
  });
});
