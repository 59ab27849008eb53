import { describe, expect, it } from 'vitest';
import { auditEntry } from './append.ts';
import { canonicalJson, checkpointCanonical, recordCanonical } from './canonical.ts';
import { checkDetails, redactDetails, unprintable } from './details.ts';
import { AuditError } from './errors.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AuditError ? err.code : String(err);
  }
};

describe('audit details', () => {
  it('strips secrets and personal data on request, saying what was removed', () => {
    const out = redactDetails({
      rule: 'sqli-942100',
      password: 'hunter2',
      match: { Authorization: 'Bearer x', param: 'q', value: 'ada@example.com' },
      list: ['ok', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZGEifQ.sig'],
    });
    expect(out).toEqual({
      rule: 'sqli-942100',
      match: { param: 'q' },
      list: ['ok'],
      redacted: ['password', 'match.Authorization', 'match.value', 'list[1]'],
    });
  });

  it('refuses what is not small plain JSON', () => {
    expect(code(() => checkDetails({ when: new Date() }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails({ n: Number.NaN }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails({ a: { b: { c: { d: { e: 1 } } } } }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails({ 'bad key': 1 }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails({ s: 'a\u0000b' }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails({ s: '\ud800' }))).toBe('AUDIT_DETAILS_INVALID');
    expect(code(() => checkDetails([1, 2]))).toBe('AUDIT_DETAILS_INVALID');
    expect(
      code(() => checkDetails(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])))),
    ).toBe('AUDIT_DETAILS_INVALID');
    expect(checkDetails({ note: 'two\nlines', emoji: '🔒', skip: undefined })).toEqual({
      note: 'two\nlines',
      emoji: '🔒',
    });
    expect(unprintable('tab\there')).toBe(true);
    expect(unprintable('tab\there', true)).toBe(false);
  });

  it('validates the record fields and fixes the time to the millisecond', () => {
    const at = new Date('2031-05-06T07:08:09.123Z');
    const e = auditEntry({
      actor: { type: 'client', id: 'client-1' },
      action: 'payment.payout.approved',
      object: { type: 'claim', id: 'c-1' },
      tenantId: 'A1B2C3D4-0000-7000-8000-000000000000',
      outcome: 'success',
      at,
    });
    expect(e).toMatchObject({
      occurredAt: '2031-05-06T07:08:09.123Z',
      tenantId: 'a1b2c3d4-0000-7000-8000-000000000000',
    });
    const bad = (patch: Record<string, unknown>) =>
      code(() =>
        auditEntry({
          actor: { type: 'system' },
          action: 'a.b',
          tenantId: null,
          outcome: 'success',
          ...patch,
        } as never),
      );
    expect(bad({ action: 'single' })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ outcome: 'maybe' })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ actor: { type: 'root' } })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ tenantId: 'acme' })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ at: new Date('nope') })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ requestId: 'line\nbreak' })).toBe('AUDIT_RECORD_INVALID');
    expect(bad({ object: { type: 'user', id: 'ada@example.com' } })).toBe('AUDIT_DETAILS_PII');
  });
});

describe('canonical bytes (JCS, RFC 8785)', () => {
  it('sorts members by UTF-16 code units and writes numbers as ECMAScript does', () => {
    // RFC 8785 §3.2.3 sorting example (keys compared as UTF-16 code units).
    const sorted = canonicalJson({
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew',
      '1': 'One',
      '\ud83d\ude00': 'Emoji',
      '\u0080': 'Control',
      '\u00f6': 'Latin',
    });
    expect(sorted).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji","\ufb33":"Hebrew"}',
    );
    expect(canonicalJson({ b: [1e21, 0.1, -0, 333333333.3333333], a: null })).toBe(
      '{"a":null,"b":[1e+21,0.1,0,333333333.3333333]}',
    );
    expect(() => canonicalJson({ a: undefined })).toThrow();
  });

  it('gives the record and checkpoint bodies one fixed form', () => {
    const body = {
      seq: 7,
      occurredAt: '2031-01-01T00:00:00.000Z',
      tenantId: null,
      actorType: 'system' as const,
      actorId: null,
      clientId: null,
      action: 'a.b',
      objectType: null,
      objectId: null,
      outcome: 'success' as const,
      requestId: null,
      details: { z: 1, a: [true] },
      prevHash: '0'.repeat(64),
    };
    expect(recordCanonical(body)).toBe(canonicalJson({ ...body, v: 1 }));
    expect(checkpointCanonical({ seq: 1, treeSize: 2, rootHash: 'r', prevHash: 'p', time: 't' })).toBe(
      '{"prevHash":"p","rootHash":"r","seq":1,"time":"t","treeSize":2,"v":1}',
    );
  });
});
