import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryKv, type Kv } from '../../platform/kv/index.ts';
import { checkCsrf, issueCsrf, LoginSessions } from './sessions.ts';

const TENANT = '0193a5c4-0000-7000-8000-000000000001';
const MINUTE = 60_000;

describe('login-UI sessions', () => {
  let now = Date.UTC(2030, 0, 1);
  const clock = () => now;
  let kv: Kv;
  afterEach(async () => {
    await kv?.close();
  });
  const setup = (secureCookie = true) => {
    kv = createMemoryKv({ prefix: 'test:', now: clock });
    return new LoginSessions({ kv, secureCookie, now: clock });
  };

  it('times out after 5 minutes idle; activity restarts the timer (PSD2 RTS Art. 4(3)(d))', async () => {
    const sessions = setup();
    const s = await sessions.create(TENANT, { interaction: 'uid-1' });
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    now += 4 * MINUTE;
    expect((await sessions.get(s.id))?.interaction).toBe('uid-1');
    now += 4 * MINUTE;
    expect(await sessions.get(s.id)).toBeDefined();
    now += 5 * MINUTE + 1;
    expect(await sessions.get(s.id)).toBeUndefined();
    // Gone for good, not just hidden.
    now -= 5 * MINUTE;
    expect(await sessions.get(s.id)).toBeUndefined();
  });

  it('ends after its absolute lifetime however active it is', async () => {
    const sessions = setup();
    const s = await sessions.create(TENANT);
    for (let i = 0; i < 7; i++) {
      now += 4 * MINUTE;
      expect(await sessions.get(s.id)).toBeDefined();
    }
    now += 4 * MINUTE; // 32 minutes in
    expect(await sessions.get(s.id)).toBeUndefined();
  });

  it('keeps no usable id in the store and ignores malformed ids', async () => {
    const sessions = setup();
    const s = await sessions.create(TENANT);
    expect(await kv.get(`people:session:${s.id}`)).toBeUndefined();
    expect(await sessions.get('../../etc/passwd')).toBeUndefined();
    expect(await sessions.get(undefined)).toBeUndefined();
  });

  it('rotates the id (and CSRF secret) on authentication; the old id stops working', async () => {
    const sessions = setup();
    const s = await sessions.create(TENANT);
    const rotated = await sessions.rotate(s, { userId: 'u1', amr: ['pwd', 'otp', 'mfa'] });
    expect(rotated.id).not.toBe(s.id);
    expect(rotated.csrfSecret).not.toBe(s.csrfSecret);
    expect(await sessions.get(s.id)).toBeUndefined();
    expect(await sessions.get(rotated.id)).toMatchObject({ userId: 'u1', amr: ['pwd', 'otp', 'mfa'] });
  });

  it('answers a WebAuthn challenge once', async () => {
    const sessions = setup();
    const s = await sessions.setChallenge(await sessions.create(TENANT), 'authenticate', 'chal-1');
    const first = await sessions.takeChallenge(s, 'authenticate');
    expect(first.challenge).toBe('chal-1');
    expect((await sessions.takeChallenge(first.session, 'authenticate')).challenge).toBeUndefined();
    const reg = await sessions.setChallenge(first.session, 'register', 'chal-2');
    expect((await sessions.takeChallenge(reg, 'authenticate')).challenge).toBeUndefined();
  });

  it('sets a __Host- cookie that is HttpOnly, Secure and SameSite=Lax; plain in development', async () => {
    const secure = setup(true);
    const s = await secure.create(TENANT);
    expect(secure.cookie(s.id)).toBe(`__Host-bulwark_login=${s.id}; Path=/; HttpOnly; SameSite=Lax; Secure`);
    expect(secure.clearCookie()).toContain('Max-Age=0');
    expect(secure.idFromCookieHeader(`a=b; __Host-bulwark_login=${s.id}; c=d`)).toBe(s.id);
    expect(secure.idFromCookieHeader(`bulwark_login=${s.id}`)).toBeUndefined();
    expect(secure.idFromCookieHeader('__Host-bulwark_login=<script>')).toBeUndefined();
    await kv.close();
    const dev = setup(false);
    expect(dev.cookie('x'.repeat(43))).toBe(
      `bulwark_login=${'x'.repeat(43)}; Path=/; HttpOnly; SameSite=Lax`,
    );
  });

  it('refuses idle and lifetime settings beyond the 5-minute rule', () => {
    kv = createMemoryKv({ prefix: 'test:' });
    expect(() => new LoginSessions({ kv, secureCookie: true, idleMs: 10 * MINUTE })).toThrow(/idleMs/);
    expect(() => new LoginSessions({ kv, secureCookie: true, idleMs: MINUTE, absoluteMs: 1000 })).toThrow(
      /absoluteMs/,
    );
  });
});

describe('CSRF tokens (synchronizer token bound to the session)', () => {
  const a = { csrfSecret: Buffer.alloc(32, 1).toString('base64url') };
  const b = { csrfSecret: Buffer.alloc(32, 2).toString('base64url') };

  it('accepts a token of the session, differently each time', () => {
    const t1 = issueCsrf(a);
    const t2 = issueCsrf(a);
    expect(t1).not.toBe(t2);
    expect(checkCsrf(a, t1)).toBe(true);
    expect(checkCsrf(a, t2)).toBe(true);
  });

  it('refuses another session’s token, a tampered, missing or malformed one', () => {
    const t = issueCsrf(a);
    expect(checkCsrf(b, t)).toBe(false);
    const tampered = `${t.slice(0, -2)}${t.endsWith('AA') ? 'AB' : 'AA'}`;
    expect(checkCsrf(a, tampered)).toBe(false);
    expect(checkCsrf(a, undefined)).toBe(false);
    expect(checkCsrf(a, '')).toBe(false);
    expect(checkCsrf(a, ['x'])).toBe(false);
    expect(checkCsrf(a, 'x'.repeat(500))).toBe(false);
    expect(checkCsrf(undefined, t)).toBe(false);
  });
});
