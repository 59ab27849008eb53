import { describe, expect, it } from 'vitest';
import { PasswordPolicy, shippedBlocklist } from './password-policy.ts';

describe('password policy (NIST SP 800-63B-4 §3.1.1.2)', () => {
  const policy = new PasswordPolicy();
  const reason = (password: string, words: string[] = []) => {
    const r = policy.check(password, { words });
    return r.ok ? 'ok' : r.reason;
  };

  it('ships a blocklist of common passwords, loaded once', () => {
    const list = shippedBlocklist();
    expect(list.size).toBeGreaterThan(40_000);
    expect(list.has('password')).toBe(true);
    expect(list.has('123456')).toBe(true);
    expect(shippedBlocklist()).toBe(list);
  });

  it('needs 15 characters, counted in code points after NFKC', () => {
    expect(reason('fourteen chars')).toBe('too-short');
    expect(reason('fifteen chars!!')).toBe('ok');
    // 15 emoji are 30 UTF-16 units but 15 characters.
    expect(reason('🦊🐙🦉🐝🐢🦀🐠🦔🐿🦜🦩🐳🦒🦓🐧')).toBe('ok');
    expect(reason('🦊🐙🦉🐝🐢🦀🐠🦔🐿🦜🦩🐳🦒🦓')).toBe('too-short');
  });

  it('accepts long passphrases with spaces and any script, up to 128 characters', () => {
    expect(reason('Ünïcödé pässwörter sind erlaubt — ça va très bien, 日本語も大丈夫です')).toBe('ok');
    expect(reason(`${'word '.repeat(12)}tail end of a long phrase that keeps going`)).toBe('ok');
    expect(reason(`${'x'.repeat(64)}y z w q r s t u`)).toBe('ok');
    expect(reason('a quiet harbour '.repeat(9))).toBe('too-long');
  });

  it('has no composition rules: lower-case letters only is fine, a "complex" short one is not', () => {
    expect(reason('quiet lanterns drift over hills')).toBe('ok');
    expect(reason('Tr0ub4dor&3!')).toBe('too-short');
  });

  it('refuses control characters but accepts every printable one', () => {
    expect(reason('tab\tinside this password')).toBe('invalid-characters');
    expect(reason('nul\u0000inside this password')).toBe('invalid-characters');
    expect(reason(' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ok')).toBe('ok');
  });

  it('refuses listed passwords and their obvious variants', () => {
    expect(reason('password1234567')).toBe('breached');
    expect(reason('PASSWORD!!!!!!!!2024')).toBe('breached');
    expect(reason('passwordpassword')).toBe('breached');
    expect(reason('iloveyouiloveyou')).toBe('breached');
    expect(reason('aaaaaaaaaaaaaaaaaaaa')).toBe('breached');
    expect(reason('abababababababab')).toBe('breached');
    expect(reason('abcdefghijklmnop')).toBe('breached');
    expect(reason('1234567890123456')).toBe('breached');
    expect(reason('qwertyuiopasdfgh')).toBe('breached');
    expect(reason('ponmlkjihgfedcba')).toBe('breached');
  });

  it('refuses context words: service name, tenant, username and e-mail local part', () => {
    expect(reason('my bulwark login 2030')).toBe('context');
    expect(reason('acme mutual is my insurer', ['Acme Mutual'])).toBe('context');
    expect(reason('hello grace hopper here!', ['grace.hopper@example.com'])).toBe('context');
    expect(reason('hello grace hopper here!', ['Grace Hopper'])).toBe('context');
    // Short context words (< 4 characters) are too common to refuse.
    expect(reason('the quiet lanterns drift', ['the'])).toBe('ok');
  });

  it('can be made stricter, never weaker', () => {
    expect(() => new PasswordPolicy({ minLength: 8 })).toThrow(/minLength/);
    expect(() => new PasswordPolicy({ maxLength: 32 })).toThrow(/maxLength/);
    const strict = new PasswordPolicy({ minLength: 20, blocklist: ['correct horse battery staple'] });
    expect(strict.check('sixteen chars ok').ok).toBe(false);
    expect(strict.check('Correct Horse Battery Staple')).toEqual({ ok: false, reason: 'breached' });
  });

  it('returns the NFKC form to hash', () => {
    const r = policy.check('ﬁfteen ligatures here');
    expect(r).toEqual({ ok: true, normalized: 'fifteen ligatures here' });
  });
});
