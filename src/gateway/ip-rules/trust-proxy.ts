import type { Config } from '../../config/index.ts';
import { AddressSet, Probe } from './address-set.ts';
import { canonicalIp, parseCidr } from './cidr.ts';

/** Fastify's `trustProxy` function: is the hop at `address` a proxy whose X-Forwarded-For we believe? */
export type TrustProxyFunction = (address: string, hop: number) => boolean;

/**
 * The `trustProxy` option of the Fastify constructor, from `config.trustProxy` (addresses and CIDR
 * blocks of our own proxies and load balancers).
 *
 * Empty list: `false`, and X-Forwarded-For is never read — `req.ip` is the TCP peer. Otherwise
 * Fastify walks the chain from the TCP peer leftwards through X-Forwarded-For and stops at the
 * first address this function does not trust: that right-most untrusted address is the client.
 * Whatever a client writes into the header itself sits left of that point and is never read; a
 * peer that is not a listed proxy has its header ignored altogether. (The same trust governs
 * X-Forwarded-Host and -Proto, which Fastify reads only from a trusted peer.)
 *
 * Entries are parsed as strictly as IP rules (so `10.0.0.0/8`, `192.0.2.10`, `2001:db8::/32`;
 * IPv4-mapped peers count as IPv4), and a bad entry stops the boot with its position named rather
 * than silently trusting nothing — or everything. `/0` is refused: trusting every address is
 * believing every client's X-Forwarded-For.
 */
export function trustProxyOption(config: Pick<Config, 'trustProxy'>): false | TrustProxyFunction {
  if (config.trustProxy.length === 0) return false;
  const entries = config.trustProxy.map((text, i) => {
    const cidr = parseCidr(text.trim());
    if (!cidr) throw new Error(`trustProxy entry ${i + 1} is not an IP address or CIDR block`);
    if (cidr.prefix === 0) throw new Error(`trustProxy entry ${i + 1} trusts every address (/0)`);
    return { id: String(i), cidr };
  });
  const trusted = new AddressSet(entries);
  return function trustedProxy(address: string): boolean {
    // The socket of a closed connection has no address: nothing to trust.
    return typeof address === 'string' && trusted.has(new Probe(canonicalIp(address)));
  };
}
