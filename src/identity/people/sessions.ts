/**
 * Server-side sessions of the login UI (sign-in, second factor, enrolment, consent pages).
 *
 * Kept in the KV store, not the database: they live minutes, every page view touches them (sliding
 * expiry), and expiry is what the store does natively (Redis PX, the memory Map's TTL) — nothing
 * to clean up, no write to PostgreSQL per page. With REDIS_URL they are shared by every instance;
 * in the embedded mode a restart signs people out of an unfinished login, which only costs a retry.
 *
 * - Idle timeout 5 minutes: PSD2 RTS Art. 4(3)(d) (no more than 5 minutes without activity), also
 *   within NIST SP 800-63B-4 §2.2.3's AAL2 inactivity limit. Absolute lifetime 30 minutes: a login
 *   UI session only spans one sign-in (OWASP Session Management: absolute timeout).
 * - The id is 256 random bits; the KV key is its SHA-256, so a dump of the store holds no usable id.
 * - The id changes when the user authenticates (`rotate`), against session fixation.
 * - Cookie: HttpOnly, SameSite=Lax, Path=/, Secure with the `__Host-` prefix (RFC 6265bis §4.1.3.2:
 *   the browser then refuses it unless Secure, host-only and Path=/) — outside development only.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kv } from '../../platform/kv/index.ts';
import type { Amr } from './amr.ts';
import type { PendingAuthn } from './service.ts';

export const SESSION_IDLE_MS = 5 * 60_000;
export const SESSION_ABSOLUTE_MS = 30 * 60_000;

const ID_RE = /^[A-Za-z0-9_-]{43}$/;
const COOKIE_SECURE = '__Host-bulwark_login';
const COOKIE_DEV = 'bulwark_login';

export interface LoginSession {
  /** The cookie value. Never stored as such. */
  readonly id: string;
  readonly tenantId: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** Secret behind the CSRF tokens of this session's forms (synchronizer token pattern). */
  readonly csrfSecret: string;
  /** Opaque binding for the caller, e.g. the authorization server's interaction uid. */
  readonly interaction?: string | undefined;
  /** After the password step: what `verifySecondFactor` needs. Server-side only. */
  readonly pending?: PendingAuthn | undefined;
  /** After full authentication. */
  readonly userId?: string | undefined;
  readonly amr?: readonly Amr[] | undefined;
  readonly authTime?: number | undefined;
  /** The current WebAuthn challenge (single use: `takeChallenge`). */
  readonly challenge?: { readonly purpose: 'register' | 'authenticate'; readonly value: string } | undefined;
}

type Stored = Omit<LoginSession, 'id'>;
type Patch = Partial<Omit<LoginSession, 'id' | 'tenantId' | 'createdAt' | 'lastSeenAt' | 'csrfSecret'>>;

export interface LoginSessionOptions {
  readonly kv: Kv;
  /** Default 5 minutes (PSD2 RTS Art. 4(3)(d) allows no more). */
  readonly idleMs?: number;
  /** Default 30 minutes. */
  readonly absoluteMs?: number;
  /** Secure cookie with the `__Host-` prefix; false only in development over plain HTTP. */
  readonly secureCookie: boolean;
  readonly now?: () => number;
}

export class LoginSessions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly cookieName: string;
  private readonly kv: Kv;
  private readonly secure: boolean;
  private readonly now: () => number;

  constructor(options: LoginSessionOptions) {
    this.kv = options.kv;
    this.idleMs = options.idleMs ?? SESSION_IDLE_MS;
    this.absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS;
    if (!Number.isInteger(this.idleMs) || this.idleMs < 1000 || this.idleMs > SESSION_IDLE_MS) {
      throw new Error('session idleMs must be between 1 s and 5 min (PSD2 RTS Art. 4(3)(d))');
    }
    if (!Number.isInteger(this.absoluteMs) || this.absoluteMs < this.idleMs) {
      throw new Error('session absoluteMs must be an integer >= idleMs');
    }
    this.secure = options.secureCookie;
    this.cookieName = this.secure ? COOKIE_SECURE : COOKIE_DEV;
    this.now = options.now ?? Date.now;
  }

  async create(tenantId: string, init: { interaction?: string } = {}): Promise<LoginSession> {
    const now = this.now();
    const session: LoginSession = {
      id: randomBytes(32).toString('base64url'),
      tenantId,
      createdAt: now,
      lastSeenAt: now,
      csrfSecret: randomBytes(32).toString('base64url'),
      interaction: init.interaction,
    };
    await this.write(session);
    return session;
  }

  /**
   * The live session with this id, its idle timer restarted; undefined when unknown, idle for
   * longer than `idleMs` or older than `absoluteMs`. Expiry is judged on our clock (injectable),
   * the store's TTL only cleans up.
   */
  async get(id: string | undefined): Promise<LoginSession | undefined> {
    if (!id || !ID_RE.test(id)) return undefined;
    const raw = await this.kv.get(keyOf(id));
    if (raw === undefined) return undefined;
    const stored = JSON.parse(raw) as Stored;
    const now = this.now();
    if (now - stored.lastSeenAt > this.idleMs || now - stored.createdAt > this.absoluteMs) {
      await this.kv.del(keyOf(id));
      return undefined;
    }
    const session: LoginSession = { ...stored, id, lastSeenAt: now };
    await this.write(session);
    return session;
  }

  /** Applies `patch` (an `undefined` member removes that field) and saves. */
  async update(session: LoginSession, patch: Patch): Promise<LoginSession> {
    const next = { ...session, ...patch, lastSeenAt: this.now() };
    await this.write(next);
    return next;
  }

  /**
   * A new id and CSRF secret for the same session (after the user authenticates or changes
   * privilege: OWASP ASVS V3.2.1); the old id stops working at once.
   */
  async rotate(session: LoginSession, patch: Patch = {}): Promise<LoginSession> {
    const next: LoginSession = {
      ...session,
      ...patch,
      id: randomBytes(32).toString('base64url'),
      csrfSecret: randomBytes(32).toString('base64url'),
      lastSeenAt: this.now(),
    };
    await this.write(next);
    await this.kv.del(keyOf(session.id));
    return next;
  }

  async destroy(id: string): Promise<void> {
    if (ID_RE.test(id)) await this.kv.del(keyOf(id));
  }

  /** Stores a WebAuthn challenge for this session, replacing any earlier one. */
  setChallenge(session: LoginSession, purpose: 'register' | 'authenticate', value: string) {
    return this.update(session, { challenge: { purpose, value } });
  }

  /** The stored challenge for `purpose`, removed as it is read: each is answered once. */
  async takeChallenge(
    session: LoginSession,
    purpose: 'register' | 'authenticate',
  ): Promise<{ session: LoginSession; challenge: string | undefined }> {
    const c = session.challenge;
    const next = await this.update(session, { challenge: undefined });
    return { session: next, challenge: c?.purpose === purpose ? c.value : undefined };
  }

  // ---- cookies ------------------------------------------------------------------------------

  /** `Set-Cookie` value for the session id. No Max-Age: the server decides when it ends. */
  cookie(id: string): string {
    return `${this.cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  /** `Set-Cookie` value that removes the session cookie. */
  clearCookie(): string {
    return `${this.cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${this.secure ? '; Secure' : ''}`;
  }

  /** The session id from a `Cookie` request header, if well-formed. */
  idFromCookieHeader(header: string | undefined): string | undefined {
    if (!header) return undefined;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() !== this.cookieName) continue;
      const value = part.slice(eq + 1).trim();
      if (ID_RE.test(value)) return value;
    }
    return undefined;
  }

  private async write(session: LoginSession): Promise<void> {
    const { id, ...stored } = session;
    const left = Math.min(this.idleMs, session.createdAt + this.absoluteMs - session.lastSeenAt);
    // A little slack over our own clock: expiry is judged in `get`, the TTL only collects garbage.
    await this.kv.set(keyOf(id), JSON.stringify(stored), { ttlMs: Math.max(1000, left) + 5_000 });
  }
}

function keyOf(id: string): string {
  return `people:session:${createHash('sha256').update(id).digest('base64url')}`;
}

// ---- CSRF ---------------------------------------------------------------------------------------

const CSRF_NONCE = 16;
const CSRF_MAC = 32;

/**
 * A CSRF token for a form of this session (synchronizer token, OWASP CSRF Prevention Cheat Sheet):
 * a fresh nonce and its HMAC under the session's secret. Every render differs (no fixed secret in
 * the page for compression side channels to recover), and any token of the session is accepted
 * until the session ends or rotates.
 */
export function issueCsrf(session: Pick<LoginSession, 'csrfSecret'>): string {
  const nonce = randomBytes(CSRF_NONCE);
  return Buffer.concat([nonce, csrfMac(session.csrfSecret, nonce)]).toString('base64url');
}

export function checkCsrf(session: Pick<LoginSession, 'csrfSecret'> | undefined, token: unknown): boolean {
  if (!session || typeof token !== 'string' || token.length > 128) return false;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== CSRF_NONCE + CSRF_MAC) return false;
  const expected = csrfMac(session.csrfSecret, raw.subarray(0, CSRF_NONCE));
  return timingSafeEqual(expected, raw.subarray(CSRF_NONCE));
}

function csrfMac(secret: string, nonce: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'base64url'))
    .update('bulwark.csrf.v1')
    .update(nonce)
    .digest();
}
