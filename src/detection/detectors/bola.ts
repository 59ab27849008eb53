import { sourceOf } from '../network.ts';
import type { Finding, ResponseEvent, Subject } from '../types.ts';
import { type Detector, pct } from './types.ts';

export interface BolaTuning {
  readonly windowMs: number;
  /** Distinct object ids answered 403/404 to one caller within the window. */
  readonly missedObjects: number;
  /** Share of the caller's object requests answered 403/404. */
  readonly missRatio: number;
}

export const BOLA_DEFAULTS: BolaTuning = { windowMs: 10 * 60_000, missedObjects: 15, missRatio: 0.15 };

const MISSED = new Set([403, 404]);
const RING = 32;
const MAX_RINGS = 10_000;

/** Whether the probed ids walk a sequence (ids as numbers, or their trailing number). */
function pattern(ids: readonly string[]): 'sequential' | 'random' {
  const nums = ids.map((id) => /(\d+)$/.exec(id)?.[1]).map((d) => (d === undefined ? Number.NaN : Number(d)));
  let steps = 0;
  let small = 0;
  for (let i = 1; i < nums.length; i++) {
    const a = nums[i - 1]!;
    const b = nums[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) continue;
    steps++;
    if (Math.abs(b - a) >= 1 && Math.abs(b - a) <= 3) small++;
  }
  return steps >= 3 && small / steps >= 0.6 ? 'sequential' : 'random';
}

function actorOf(e: ResponseEvent): Subject {
  if (e.userId) return { type: 'user', id: e.userId };
  if (e.clientId) return { type: 'client', id: e.clientId };
  return { type: 'ip', id: sourceOf(e.ip) };
}

/**
 * Broken object-level authorization probing (OWASP API1): one caller asking for many different
 * objects and being told 403/404 for most of them — ids walked in sequence or guessed at random.
 * Normal callers mostly ask for objects they were given, and a stale id now and then.
 */
export function bolaEnumeration(tuning: BolaTuning = BOLA_DEFAULTS): Detector {
  const rings = new Map<string, string[]>();
  return {
    id: 'bola_enumeration',
    kinds: ['response'],
    async observe(event, { windows }): Promise<Finding | undefined> {
      if (event.kind !== 'response' || event.objectId === undefined || event.tenantId === null)
        return undefined;
      if (event.status >= 500 || event.status === 401 || event.status === 429) return undefined;
      const missed = MISSED.has(event.status) ? 1 : 0;
      const actor = actorOf(event);
      const key = `${event.tenantId}:${actor.type}:${actor.id}`;
      const counts = await windows.add({
        key: `bola:${key}`,
        at: event.at,
        windowMs: tuning.windowMs,
        member: `${event.route}#${event.objectId}`,
        weight: missed,
      });
      if (!missed) return undefined;
      let ring = rings.get(key);
      if (!ring) {
        if (rings.size >= MAX_RINGS) rings.delete(rings.keys().next().value as string);
        ring = [];
        rings.set(key, ring);
      }
      ring.push(event.objectId);
      if (ring.length > RING) ring.shift();
      const ratio = counts.weight / counts.count;
      if (counts.distinctWeighted < tuning.missedObjects || ratio < tuning.missRatio) return undefined;
      const walk = pattern(ring);
      return {
        detector: 'bola_enumeration',
        tenantId: event.tenantId,
        subject: actor,
        severity: counts.distinctWeighted >= tuning.missedObjects * 4 ? 'critical' : 'high',
        at: event.at,
        explanation: {
          what: `Object id enumeration (${walk} ids) by one ${actor.type}`,
          why: `${counts.distinctWeighted} distinct objects answered 403/404 within ${tuning.windowMs / 60_000} min (threshold ${tuning.missedObjects}); ${pct(ratio)} of its ${counts.count} object requests missed (threshold ${pct(tuning.missRatio)})`,
          numbers: {
            missedObjects: counts.distinctWeighted,
            objectRequests: counts.count,
            missRatio: Math.round(ratio * 100) / 100,
            pattern: walk,
            lastRoute: event.route,
            windowMinutes: tuning.windowMs / 60_000,
          },
        },
        context: {
          ip: event.ip,
          ...(event.clientId ? { clientId: event.clientId } : {}),
          ...(event.userId ? { userId: event.userId } : {}),
          ...(event.tokenId ? { tokenId: event.tokenId, tokenExp: event.tokenExp } : {}),
        },
      };
    },
  };
}
