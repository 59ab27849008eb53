import { networkOf } from '../network.ts';
import type { Finding } from '../types.ts';
import type { Detector } from './types.ts';

export interface TokenNetworkTuning {
  /** How long the first network of a token is remembered, if the token's expiry is unknown. */
  readonly defaultTtlMs: number;
}

export const TOKEN_NETWORK_DEFAULTS: TokenNetworkTuning = { defaultTtlMs: 15 * 60_000 };

/**
 * Token use from a new network: the first network (/24, /48) an access token is used from is
 * remembered in the shared KV for the token's life; the same token used from another network is
 * what a stolen token looks like (a DPoP-bound token also needs the key; this catches a stolen key
 * too). "Impossible travel" here is network-based: Bulwark ships no geolocation table, so distance
 * is not known — the explanation says how fast the switch happened, which is what makes it
 * impossible for one device.
 */
export function tokenNetwork(tuning: TokenNetworkTuning = TOKEN_NETWORK_DEFAULTS): Detector {
  // This instance's view: a token already seen here from the same network needs no KV round trip.
  const local = new Map<string, string>();
  return {
    id: 'token_network',
    kinds: ['response'],
    async observe(event, { kv }): Promise<Finding | undefined> {
      if (event.kind !== 'response' || !event.tokenId || event.tenantId === null) return undefined;
      const net = networkOf(event.ip);
      if (local.get(event.tokenId) === net) return undefined;
      if (local.size >= 100_000) local.clear();
      local.set(event.tokenId, net);
      const ttl =
        event.tokenExp !== undefined
          ? Math.max(1_000, event.tokenExp * 1000 + 60_000 - event.at)
          : tuning.defaultTtlMs;
      const key = `detection:tok:${event.tokenId}`;
      const value = `${net}|${event.at}`;
      if (await kv.setIfAbsent(key, value, Math.ceil(ttl))) return undefined;
      const first = await kv.get(key);
      if (!first) return undefined;
      const sep = first.lastIndexOf('|');
      const firstNet = first.slice(0, sep);
      const firstAt = Number(first.slice(sep + 1));
      if (firstNet === net) return undefined;
      const seconds = Math.max(0, Math.round((event.at - firstAt) / 1000));
      return {
        detector: 'token_network',
        tenantId: event.tenantId,
        subject: { type: 'token', id: event.tokenId },
        severity: event.userId ? 'high' : 'medium',
        at: event.at,
        explanation: {
          what: 'Access token used from a second network',
          why: `The token was first used from ${firstNet} and, ${seconds} s later, from ${net}: one token, two networks within its lifetime (a device does not change network that fast; a copied token does)`,
          numbers: { firstNetwork: firstNet, newNetwork: net, secondsBetween: seconds },
        },
        context: {
          ip: event.ip,
          tokenId: event.tokenId,
          ...(event.tokenExp !== undefined ? { tokenExp: event.tokenExp } : {}),
          ...(event.clientId ? { clientId: event.clientId } : {}),
          ...(event.userId ? { userId: event.userId } : {}),
        },
      };
    },
  };
}
