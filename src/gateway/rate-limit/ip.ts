import { isIPv4, isIPv6 } from 'node:net';

/**
 * The bucket an address is counted in. IPv4 addresses count alone. IPv6 addresses count per prefix
 * (/64 by default): one subscriber usually holds a whole /64 (RFC 6177 §2, RFC 7421 §1), so counting
 * single IPv6 addresses would let one client rotate through 2^64 of them and never be limited.
 * IPv4-mapped addresses (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) count as the IPv4 address they carry,
 * so a dual-stack listener does not give a client two buckets.
 *
 * The result is a canonical string: every spelling of an address in the same bucket yields the same.
 */
export function ipBucket(ip: string, ipv6PrefixLength = 64): string {
  // A zone index (`fe80::1%eth0`) names a local interface, not a different client.
  const zone = ip.indexOf('%');
  const address = zone === -1 ? ip : ip.slice(0, zone);
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return `other:${address}`;
  const words = ipv6Words(address);
  if (
    words[0] === 0 &&
    words[1] === 0 &&
    words[2] === 0 &&
    words[3] === 0 &&
    words[4] === 0 &&
    words[5] === 0xffff
  ) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  }
  const masked = words.map((word, i) => {
    const keep = Math.min(16, Math.max(0, ipv6PrefixLength - i * 16));
    return keep === 0 ? 0 : word & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${masked.map((w) => w.toString(16)).join(':')}/${ipv6PrefixLength}`;
}

/** The eight 16-bit words of a valid IPv6 address (`::` expanded, a trailing dotted quad converted). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // `::ffff:192.0.2.1` → `::ffff:c000:201`: the dotted quad is the last 32 bits (RFC 4291 §2.2).
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const front = parse(head);
  const back = rest === undefined ? [] : parse(rest);
  return [...front, ...Array.from({ length: 8 - front.length - back.length }, () => 0), ...back];
}
