import { isIPv4, isIPv6 } from 'node:net';
import { ipBucket } from '../rate-limit/ip.ts';

/**
 * Addresses and CIDR blocks, parsed strictly. One rule of the whole module: an IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) IS the IPv4 address it carries — as a client and
 * in a rule — so a dual-stack listener cannot give one client two identities, and a rule written
 * either way means the same thing. Every other IPv6 address, including the NAT64 and 6to4 forms
 * that embed an IPv4 address, is IPv6: `::/0` is "all of IPv6", never IPv4 as well.
 */
export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  /** The network, host bits cleared: 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text: dotted quad or RFC 5952 IPv6, always with `/prefix`. */
  readonly text: string;
  /** The input had bits set right of the prefix (`192.0.2.7/24`), which were cleared. */
  readonly hostBitsCleared: boolean;
}

const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;
/** Longest text accepted: a full IPv6 address with an embedded dotted quad, plus `/128`. */
const MAX_CIDR_LENGTH = 49;

/**
 * Parses `address` or `address/prefix`. Strict: no whitespace, no zone index (`%eth0` names a local
 * interface, never a network), no leading zeros in an IPv4 octet or the prefix (`010.0.0.1` reads
 * as octal in some parsers and decimal in others), prefix within 0-32 or 0-128. Bits set right of
 * the prefix are cleared rather than refused; `hostBitsCleared` says it happened. An IPv4-mapped
 * IPv6 block of /96 or longer becomes the IPv4 block it covers. Undefined when invalid.
 */
export function parseCidr(input: string): Cidr | undefined {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_CIDR_LENGTH) return undefined;
  const slash = input.indexOf('/');
  const address = slash === -1 ? input : input.slice(0, slash);
  const prefixText = slash === -1 ? undefined : input.slice(slash + 1);
  if (prefixText !== undefined && !PREFIX.test(prefixText)) return undefined;
  let family: Family;
  let bytes: Uint8Array;
  if (isIPv4(address)) {
    family = 4;
    bytes = ipv4Bytes(address);
  } else if (!address.includes('%') && isIPv6(address)) {
    family = 6;
    bytes = ipv6Bytes(address);
  } else {
    return undefined;
  }
  let prefix = prefixText === undefined ? bytes.length * 8 : Number(prefixText);
  if (prefix > bytes.length * 8) return undefined;
  if (family === 6 && prefix >= 96 && isMapped(bytes)) {
    family = 4;
    bytes = bytes.slice(12);
    prefix -= 96;
  }
  const hostBitsCleared = maskInPlace(bytes, prefix);
  const text = `${family === 4 ? bytes.join('.') : formatIPv6(bytes)}/${prefix}`;
  return { family, bytes, prefix, text, hostBitsCleared };
}

/**
 * The client address as the rules see it, for the per-request path: an IPv4-mapped address becomes
 * its IPv4 address, a zone index is dropped; anything else is returned as is (BlockList reads every
 * IPv6 spelling). Not a validator: text that is no address matches no rule and no allow list.
 */
export function canonicalIp(ip: string): string {
  if (ip.indexOf(':') === -1) return ip;
  const zone = ip.indexOf('%');
  const address = zone === -1 ? ip : ip.slice(0, zone);
  // How Node writes an IPv4 peer of a dual-stack (`::`) listener.
  if (
    address.length > 7 &&
    (address.startsWith('::ffff:') || address.startsWith('::FFFF:')) &&
    address.indexOf(':', 7) === -1 &&
    address.indexOf('.', 7) !== -1
  ) {
    return address.slice(7);
  }
  // Any other spelling of a mapped address (`::ffff:c000:201`, `0:0:0:0:0:ffff:…`, from a proxy header).
  if (/ffff/i.test(address) && isIPv6(address)) {
    const bytes = ipv6Bytes(address);
    if (isMapped(bytes)) return bytes.slice(12).join('.');
  }
  return address;
}

/** The 4 or 16 bytes of a canonical client address (see `canonicalIp`), or undefined. */
export function addressBytes(ip: string): Uint8Array | undefined {
  if (isIPv4(ip)) return ipv4Bytes(ip);
  if (!ip.includes('%') && isIPv6(ip)) return ipv6Bytes(ip);
  return undefined;
}

/** Whether `address` (4 or 16 bytes) lies in `cidr`; families never cross (see the module note). */
export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  if (address.length !== cidr.bytes.length) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== cidr.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[whole] ?? 0) & mask) === cidr.bytes[whole];
}

/**
 * The block that stands for one client: an IPv4 address alone, an IPv6 address's /64 (by default) —
 * one subscriber usually holds a whole /64, so blocking a single IPv6 address would let the client
 * step aside to its neighbour. The same grouping as the per-IP rate limit (`ipBucket`), so a caller
 * that saw a bucket misbehave blocks exactly that bucket.
 */
export function clientCidr(ip: string, ipv6PrefixLength = 64): string | undefined {
  const address = canonicalIp(ip);
  if (isIPv4(address)) return `${address}/32`;
  if (!isIPv6(address)) return undefined;
  const bucket = ipBucket(address, ipv6PrefixLength);
  return parseCidr(bucket)?.text;
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.'), Number);
}

/** The 16 bytes of a valid IPv6 address (`::` expanded, a trailing dotted quad converted). */
function ipv6Bytes(address: string): Uint8Array {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // RFC 4291 §2.2: the dotted quad is the last 32 bits.
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const words = (part: string) => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const front = words(head);
  const back = rest === undefined ? [] : words(rest);
  const all = [...front, ...Array.from({ length: 8 - front.length - back.length }, () => 0), ...back];
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/** `::ffff:0:0/96` (RFC 4291 §2.5.5.2). */
function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Clears the bits right of `prefix`; true when any was set. */
function maskInPlace(bytes: Uint8Array, prefix: number): boolean {
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    const masked = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
    if (masked !== bytes[i]) changed = true;
    bytes[i] = masked;
  }
  return changed;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (first if tied) of 2+ zero words as `::`. */
function formatIPv6(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
