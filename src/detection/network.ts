import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalIp } from '../gateway/ip-rules/index.ts';
import { ipBucket } from '../gateway/rate-limit/index.ts';

/**
 * The network a client address belongs to, for "new network" and "many sources" signals: the /24
 * of an IPv4 address, the /48 of an IPv6 one (a site; /64 is one LAN and changes with privacy
 * addressing less than people move between networks).
 */
export function networkOf(ip: string): string {
  const address = canonicalIp(ip);
  if (isIPv4(address)) {
    const parts = address.split('.');
    return `${parts[0]}.${parts[1]}.${parts[2]}.0/24`;
  }
  if (isIPv6(address)) return ipBucket(address, 48);
  return address;
}

/** The per-source bucket used for counting: one IPv4 address, or an IPv6 /64. */
export function sourceOf(ip: string): string {
  const address = canonicalIp(ip);
  return isIPv6(address) ? ipBucket(address, 64) : address;
}

/**
 * Names an account that may not exist without its username: a digest bound to the tenant. Not a
 * secret (usernames can be guessed and hashed), but it keeps names out of detection state, alerts
 * and audit records.
 */
export function accountDigest(tenantId: string, normalisedUsername: string): string {
  return `acct:${createHash('sha256').update(`${tenantId}\u0000${normalisedUsername}`).digest('base64url').slice(0, 22)}`;
}
