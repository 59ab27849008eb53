import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { markRevoked } from '../gateway/authenticate/index.ts';
import { canonicalIp, clientCidr, type IpRulesService } from '../gateway/ip-rules/index.ts';
import { ACCESS_TOKEN_TTL_SEC } from '../identity/oauth/provider.ts';
import { AppError } from '../platform/errors/index.ts';
import type { Kv } from '../platform/kv/index.ts';
import { DetectionErrors } from './errors.ts';
import type { FindingContext } from './types.ts';

/**
 * Response actions and the request-path checks that make two of them bite.
 *  - `ip_block`: a temporary platform block of the source (IpRulesService; IPv6 per /64), every
 *    instance refuses it from its next request (the block mirror).
 *  - `throttle`: a KV flag per (tenant, client) that the detection guard honours on `/v1` after the
 *    per-principal rate limit: at most N requests per minute, then 429 DETECTION_THROTTLED.
 *  - `revoke_token`: the access token's `jti` goes on the shared revocation list (`markRevoked`).
 *  - `step_up`: a KV flag per (tenant, user); the guard refuses that user's tokens issued before the
 *    flag with 401 and `insufficient_user_authentication` (RFC 9470 §3), so the app sends the person
 *    through a fresh sign-in, which always takes a second factor here.
 */
export const ACTION_KINDS = ['ip_block', 'throttle', 'revoke_token', 'step_up'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface ActionTarget {
  readonly cidr?: string;
  readonly clientId?: string;
  readonly tenantId?: string;
  readonly tokenId?: string;
  readonly userId?: string;
}

export interface Applied {
  readonly status: 'applied' | 'skipped';
  readonly target: ActionTarget;
  readonly ref?: string | undefined;
  readonly note?: string | undefined;
  readonly expiresAt?: Date | undefined;
}

export interface ApplyInput {
  readonly kind: ActionKind;
  readonly tenantId: string | null;
  readonly context: FindingContext;
  readonly ttlSeconds: number;
  readonly throttlePerMinute: number;
  readonly reason: string;
  readonly actor: string;
  readonly actionId: string;
}

export class NotApplicable extends Error {}

const throttleKey = (tenantId: string, clientId: string) => `detection:throttle:${tenantId}:${clientId}`;
const stepUpKey = (tenantId: string, userId: string) => `detection:step-up:${tenantId}:${userId}`;
/** verifier.ts's revocation key: what `markRevoked` writes and reverting a revocation deletes. */
const revokedKey = (jti: string) => `authn:revoked:${jti}`;

/** Loopback addresses are never blocked automatically: they are the operator's own and the health probes'. */
function isLoopback(ip: string): boolean {
  const a = canonicalIp(ip);
  return (isIPv4(a) && a.startsWith('127.')) || (isIPv6(a) && (a === '::1' || a === '0:0:0:0:0:0:0:1'));
}

export class ResponseActions {
  private readonly cache = new Map<string, { value: string | undefined; until: number }>();

  constructor(
    private readonly deps: {
      readonly kv: Kv;
      readonly ipRules?: IpRulesService | undefined;
      readonly now: () => number;
      /** How long the guard trusts a looked-up flag; changes made on this instance apply at once. */
      readonly cacheMs?: number | undefined;
    },
  ) {}

  async apply(input: ApplyInput): Promise<Applied> {
    const now = this.deps.now();
    const ttlMs = input.ttlSeconds * 1000;
    const expiresAt = new Date(now + ttlMs);
    const ctx = input.context;
    switch (input.kind) {
      case 'ip_block': {
        if (!ctx.ip) throw new NotApplicable('no source address');
        const cidr = clientCidr(ctx.ip);
        if (!cidr) throw new NotApplicable('not an IP address');
        if (isLoopback(ctx.ip)) return { status: 'skipped', target: { cidr }, note: 'loopback address' };
        if (!this.deps.ipRules) return { status: 'skipped', target: { cidr }, note: 'IP rules not wired' };
        const block = await this.deps.ipRules.blockIp(
          { kind: 'platform' },
          cidr,
          input.ttlSeconds,
          input.reason,
          input.actor,
        );
        return { status: 'applied', target: { cidr }, ref: block.id, expiresAt: new Date(block.expiresAt) };
      }
      case 'throttle': {
        if (!ctx.clientId || !input.tenantId) throw new NotApplicable('no client');
        const key = throttleKey(input.tenantId, ctx.clientId);
        await this.deps.kv.set(
          key,
          JSON.stringify({ perMinute: input.throttlePerMinute, actionId: input.actionId }),
          { ttlMs },
        );
        this.cache.delete(key);
        return { status: 'applied', target: { tenantId: input.tenantId, clientId: ctx.clientId }, expiresAt };
      }
      case 'revoke_token': {
        if (!ctx.tokenId || ctx.tokenExp === undefined) throw new NotApplicable('no access token');
        await markRevoked(this.deps.kv, ctx.tokenId, ctx.tokenExp, now);
        return {
          status: 'applied',
          target: { tokenId: ctx.tokenId },
          expiresAt: new Date((ctx.tokenExp + 60) * 1000),
        };
      }
      case 'step_up': {
        if (!ctx.userId || !input.tenantId) throw new NotApplicable('no user');
        const key = stepUpKey(input.tenantId, ctx.userId);
        await this.deps.kv.set(key, String(now), { ttlMs });
        this.cache.delete(key);
        return { status: 'applied', target: { tenantId: input.tenantId, userId: ctx.userId }, expiresAt };
      }
    }
  }

  async revert(kind: ActionKind, target: ActionTarget, ref: string | null, actor: string): Promise<void> {
    switch (kind) {
      case 'ip_block':
        if (ref && this.deps.ipRules) {
          await this.deps.ipRules.unblock(ref, actor).catch((err: unknown) => {
            // Already expired or lifted by hand: nothing left to undo.
            if ((err as { code?: string }).code !== 'IP_BLOCK_NOT_FOUND') throw err;
          });
        }
        return;
      case 'throttle':
        if (target.tenantId && target.clientId)
          await this.drop(throttleKey(target.tenantId, target.clientId));
        return;
      case 'revoke_token':
        if (target.tokenId) await this.deps.kv.del(revokedKey(target.tokenId));
        return;
      case 'step_up':
        if (target.tenantId && target.userId) await this.drop(stepUpKey(target.tenantId, target.userId));
        return;
    }
  }

  /**
   * The `/v1` preValidation check, after authentication and the per-principal rate limit: a
   * throttled client gets its reduced allowance, a user under step-up must sign in again.
   */
  guard(): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
    return async (req, reply) => {
      const p = req.principal;
      if (!p) return;
      const throttle = await this.flag(throttleKey(p.tenantId, p.clientId));
      if (throttle) {
        const { perMinute } = JSON.parse(throttle) as { perMinute: number };
        const now = this.deps.now();
        const minute = Math.floor(now / 60_000);
        const n = await this.deps.kv.incr(`detection:throttle-n:${p.tenantId}:${p.clientId}:${minute}`, {
          ttlMs: 120_000,
        });
        if (n > perMinute) {
          reply.header('retry-after', Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)));
          throw new AppError(DetectionErrors.DETECTION_THROTTLED);
        }
      }
      if (p.kind === 'user') {
        const since = await this.flag(stepUpKey(p.tenantId, p.subject));
        // Access tokens live ACCESS_TOKEN_TTL_SEC: one issued before the flag was set expires
        // at most that long after it.
        if (since !== undefined && (p.expiresAt - ACCESS_TOKEN_TTL_SEC) * 1000 < Number(since)) {
          reply.header(
            'www-authenticate',
            'DPoP error="insufficient_user_authentication", error_description="A new sign-in with a second factor is required"',
          );
          throw new AppError(DetectionErrors.DETECTION_STEP_UP_REQUIRED);
        }
      }
    };
  }

  private async flag(key: string): Promise<string | undefined> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value;
    const value = await this.deps.kv.get(key);
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(key, { value, until: now + (this.deps.cacheMs ?? 1_000) });
    return value;
  }

  private async drop(key: string): Promise<void> {
    await this.deps.kv.del(key);
    this.cache.delete(key);
  }
}
