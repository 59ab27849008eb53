import { BlockList, SocketAddress } from 'node:net';
import { addressBytes, type Cidr, cidrContains } from './cidr.ts';

/** One compiled entry: the id of the rule or block it came from, and its block. */
export interface SetEntry {
  readonly id: string;
  readonly cidr: Cidr;
}

/**
 * The client address of one request, prepared once for every set it is checked against. Parsing
 * the text into a `SocketAddress` is most of what `BlockList.check` costs (~1 µs; a check of a
 * ready address is ~0.05 µs), so it happens at most once per request, and only when some set has a
 * subnet of the address's family to look in.
 */
export class Probe {
  readonly v6: boolean;
  private parsed: SocketAddress | null | undefined;

  /** `ip` as `canonicalIp` returns it. */
  constructor(readonly ip: string) {
    this.v6 = ip.indexOf(':') !== -1;
  }

  /** Null when the text is no address: then it matches nothing, and no allow list admits it. */
  address(): SocketAddress | null {
    if (this.parsed === undefined) {
      try {
        this.parsed = new SocketAddress({ address: this.ip, family: this.v6 ? 'ipv6' : 'ipv4' });
      } catch {
        this.parsed = null;
      }
    }
    return this.parsed;
  }
}

/**
 * A set of CIDR blocks compiled for lookups on the request path: node:net `BlockList`s (one per
 * family, so an IPv4 client is never judged by an IPv6 block — BlockList alone would let `::/0`
 * match IPv4 too), plus a hash set for single IPv4 hosts, the common shape of a temporary block,
 * which then costs no parsing at all. Immutable once built: a change compiles a new set.
 */
export class AddressSet {
  static readonly EMPTY = new AddressSet([]);

  readonly size: number;
  private readonly hosts4 = new Set<string>();
  private readonly nets4: BlockList | undefined;
  private readonly nets6: BlockList | undefined;

  constructor(private readonly entries: readonly SetEntry[]) {
    this.size = entries.length;
    let nets4: BlockList | undefined;
    let nets6: BlockList | undefined;
    for (const { cidr } of entries) {
      const network = cidr.family === 4 ? cidr.bytes.join('.') : cidr.text.slice(0, cidr.text.indexOf('/'));
      if (cidr.family === 4) {
        if (cidr.prefix === 32) {
          this.hosts4.add(network);
        } else {
          nets4 ??= new BlockList();
          nets4.addSubnet(network, cidr.prefix, 'ipv4');
        }
      } else {
        nets6 ??= new BlockList();
        nets6.addSubnet(network, cidr.prefix, 'ipv6');
      }
    }
    this.nets4 = nets4;
    this.nets6 = nets6;
  }

  has(probe: Probe): boolean {
    if (probe.v6) {
      if (this.nets6 === undefined) return false;
      const address = probe.address();
      return address !== null && this.nets6.check(address);
    }
    if (this.hosts4.has(probe.ip)) return true;
    if (this.nets4 === undefined) return false;
    const address = probe.address();
    return address !== null && this.nets4.check(address);
  }

  /**
   * The id of the first entry containing the address. Only for the (rare) request already refused,
   * to name the rule: a plain scan, which `has` must never be.
   */
  find(probe: Probe): string | null {
    const bytes = addressBytes(probe.ip);
    if (!bytes) return null;
    for (const entry of this.entries) if (cidrContains(entry.cidr, bytes)) return entry.id;
    return null;
  }
}
