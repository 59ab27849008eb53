import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../audit/index.ts';
import { cefHeader, cefSeverity, cefValue, parseCef, toCef } from './cef.ts';
import { toOcsf } from './ocsf.ts';

describe('CEF escaping', () => {
  it('header fields escape backslash and pipe; line breaks become spaces', () => {
    expect(cefHeader('a|b')).toBe('a\\|b');
    expect(cefHeader('a\\b')).toBe('a\\\\b');
    expect(cefHeader('a\\|b')).toBe('a\\\\\\|b');
    expect(cefHeader('line1\nline2\r\nline3\rx')).toBe('line1 line2 line3 x');
    // `=` needs no escape in the header.
    expect(cefHeader('k=v')).toBe('k=v');
  });

  it('extension values escape backslash and equals, and encode CR/LF; pipes stay as they are', () => {
    expect(cefValue('a=b')).toBe('a\\=b');
    expect(cefValue('a\\b')).toBe('a\\\\b');
    expect(cefValue('a\nb')).toBe('a\\nb');
    expect(cefValue('a\rb')).toBe('a\\rb');
    expect(cefValue('a|b')).toBe('a|b');
    // A literal backslash followed by n is not a newline once escaped.
    expect(cefValue('a\\nb')).toBe('a\\\\nb');
  });

  it('severity maps onto 0-10', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 99].map(cefSeverity)).toEqual([0, 1, 3, 5, 7, 9, 10, 0]);
  });

  it('hostile values survive a round trip through a CEF parser unchanged', () => {
    const hostile = 'x=1 cs1=evil | \\ \n\r end\\';
    const record: AuditRecord = {
      seq: 7,
      occurredAt: '2026-01-01T00:00:00.000Z',
      tenantId: null,
      actorType: 'client',
      actorId: 'client|with=odd\\chars',
      clientId: hostile,
      action: 'admin.config.changed',
      objectType: 'setting',
      objectId: hostile,
      outcome: 'success',
      requestId: 'r=1',
      details: {},
      prevHash: '0'.repeat(64),
      hash: 'b'.repeat(64),
    };
    const event = toOcsf(record, { productVersion: '1.0|beta' });
    const line = toCef(record, event);
    expect(line).not.toMatch(/[\r\n]/);
    const parsed = parseCef(line);
    expect(parsed.header[3]).toBe('1.0|beta');
    expect(parsed.ext.cs3).toBe(hostile);
    expect(parsed.ext.cs4).toBe(`setting:${hostile}`);
    expect(parsed.ext.suid).toBe('client|with=odd\\chars');
    expect(parsed.ext.cs2).toBe('r=1');
    // The injected "cs1=evil" did not become a field: cs1 (tenant) is absent for a platform record.
    expect(parsed.ext.cs1).toBeUndefined();
    expect(parsed.ext.cs1Label).toBeUndefined();
  });
});
