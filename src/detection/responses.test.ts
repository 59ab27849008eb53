import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import type { Principal } from '../gateway/authenticate/index.ts';
import { ACCESS_TOKEN_TTL_SEC } from '../identity/oauth/provider.ts';
import { AppError } from '../platform/errors/index.ts';
import { createMemoryKv } from '../platform/kv/index.ts';
import { ResponseActions } from './responses.ts';

const T = '0195f6b0-0000-7000-8000-000000000001';

function request(principal: Partial<Principal>) {
  const headers: Record<string, unknown> = {};
  const req = {
    principal: {
      kind: 'user',
      subject: 'u1',
      clientId: 'app_a',
      tenantId: T,
      roles: [],
      scopes: new Set<string>(),
      tokenId: 'jti',
      binding: 'dpop',
      expiresAt: 0,
      ...principal,
    },
  } as unknown as FastifyRequest;
  const reply = {
    header(name: string, value: unknown) {
      headers[name] = value;
      return reply;
    },
  } as unknown as FastifyReply;
  return { req, reply, headers };
}

describe('step-up flag on the request path', () => {
  const kv = createMemoryKv({ prefix: 'resp:' });
  afterAll(() => kv.close());
  let now = Date.UTC(2026, 0, 5, 12);
  const actions = new ResponseActions({ kv, now: () => now, cacheMs: 0 });
  const guard = actions.guard();

  it('refuses the user tokens issued before the flag with 401 insufficient_user_authentication, not later ones', async () => {
    const applied = await actions.apply({
      kind: 'step_up',
      tenantId: T,
      context: { userId: 'u1' },
      ttlSeconds: 600,
      throttlePerMinute: 1,
      reason: 'test',
      actor: 'test',
      actionId: 'a1',
    });
    expect(applied.status).toBe('applied');
    // Issued a minute before the flag.
    const old = request({ expiresAt: Math.floor((now - 60_000) / 1000) + ACCESS_TOKEN_TTL_SEC });
    const err = await guard(old.req, old.reply).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('DETECTION_STEP_UP_REQUIRED');
    expect(String(old.headers['www-authenticate'])).toContain('insufficient_user_authentication');
    // Issued after a fresh sign-in: admitted. Another user, and a client token: untouched.
    now += 5_000;
    const fresh = request({ expiresAt: Math.floor(now / 1000) + ACCESS_TOKEN_TTL_SEC });
    await expect(guard(fresh.req, fresh.reply)).resolves.toBeUndefined();
    const other = request({ subject: 'u2', expiresAt: 1 });
    await expect(guard(other.req, other.reply)).resolves.toBeUndefined();
    const client = request({ kind: 'client', subject: 'app_a', expiresAt: 1 });
    await expect(guard(client.req, client.reply)).resolves.toBeUndefined();
    // Reverted: the old token is admitted again.
    await actions.revert('step_up', applied.target, null, 'test');
    await expect(guard(old.req, old.reply)).resolves.toBeUndefined();
  });
});
