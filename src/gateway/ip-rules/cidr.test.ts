import { describe, expect, it } from 'vitest';
import { AddressSet, Probe } from './address-set.ts';
import { canonicalIp, clientCidr, parseCidr } from './cidr.ts';

const set = (...cidrs: string[]) =>
  new AddressSet(cidrs.map((text, i) => ({ id: `r${i}`, cidr: parseCidr(text)! })));
const has = (s: AddressSet, ip: string) => s.has(new Probe(canonicalIp(ip)));

describe('parseCidr', () => {
  it.each([
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['192.0.2.1', '192.0.2.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8:0:1:1:1:1:1/128', '2001:db8:0:1:1:1:1:1/128'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
  ])('reads %s as %s', (input, text) => {
    expect(parseCidr(input)?.text).toBe(text);
    expect(parseCidr(input)?.hostBitsCleared).toBe(false);
  });

  // Host bits are cleared rather than refused, and the caller is told (hostBitsCleared).
  it.each([
    ['192.0.2.77/24', '192.0.2.0/24'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.0.2.255/25', '192.0.2.128/25'],
    ['2001:db8:1:2:3:4:5:6/48', '2001:db8:1::/48'],
    ['2001:db8:1:2ff::1/56', '2001:db8:1:200::/56'],
  ])('normalises %s to %s', (input, text) => {
    const cidr = parseCidr(input);
    expect(cidr?.text).toBe(text);
    expect(cidr?.hostBitsCleared).toBe(true);
  });

  it('reads an IPv4-mapped block of /96 or longer as the IPv4 block it covers', () => {
    expect(parseCidr('::ffff:192.0.2.1')).toMatchObject({ family: 4, text: '192.0.2.1/32' });
    expect(parseCidr('::ffff:192.0.2.0/120')).toMatchObject({ family: 4, text: '192.0.2.0/24' });
    expect(parseCidr('::FFFF:c000:0201/128')?.text).toBe('192.0.2.1/32');
    expect(parseCidr('::ffff:0:0/96')?.text).toBe('0.0.0.0/0');
    // shorter than /96 it is an IPv6 block (and ::ffff:… other than the mapped range is IPv6 too)
    expect(parseCidr('::ffff:0:0/80')).toMatchObject({ family: 6, text: '::/80' });
    expect(parseCidr('64:ff9b::192.0.2.1')).toMatchObject({ family: 6, text: '64:ff9b::c000:201/128' });
  });

  it.each([
    '',
    ' 192.0.2.0/24',
    '192.0.2.0/24 ',
    '192.0.2.0 /24',
    '192.0.2.0/33',
    '2001:db8::/129',
    '192.0.2.0/024',
    '192.0.2.0/',
    '/24',
    '192.0.2.0/24/24',
    '192.0.2.0/-1',
    '192.0.2.0/+8',
    '192.0.2.0/0x8',
    '010.0.0.1',
    '192.0.2',
    '192.0.2.256',
    '1.2.3.4.5',
    'fe80::1%eth0',
    'fe80::1%eth0/64',
    '2001:db8:::1',
    '2001:db8::g',
    'localhost',
    'loopback',
    '*',
    `${'1'.repeat(60)}`,
  ])('refuses %j', (input) => {
    expect(parseCidr(input)).toBeUndefined();
  });
});

describe('canonicalIp', () => {
  it('reads an IPv4-mapped client as IPv4, in every spelling', () => {
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('::ffff:c000:201')).toBe('192.0.2.1');
    expect(canonicalIp('0:0:0:0:0:ffff:c000:0201')).toBe('192.0.2.1');
  });

  it('leaves IPv4 and other IPv6 addresses alone, and drops a zone index', () => {
    expect(canonicalIp('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('2001:db8::1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:abcd')).toBe('::ffff:abcd');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
  });
});

describe('clientCidr', () => {
  it('blocks an IPv4 client alone and an IPv6 client by its /64, as the rate limit counts them', () => {
    expect(clientCidr('192.0.2.1')).toBe('192.0.2.1/32');
    expect(clientCidr('::ffff:192.0.2.1')).toBe('192.0.2.1/32');
    expect(clientCidr('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientCidr('2001:db8:1:2:3:4:5:6', 48)).toBe('2001:db8:1::/48');
    expect(clientCidr('not an address')).toBeUndefined();
  });
});

describe('AddressSet', () => {
  it('matches IPv4 blocks and hosts', () => {
    const s = set('192.0.2.0/24', '198.51.100.7', '10.0.0.0/8');
    expect(has(s, '192.0.2.1')).toBe(true);
    expect(has(s, '192.0.2.255')).toBe(true);
    expect(has(s, '192.0.3.0')).toBe(false);
    expect(has(s, '198.51.100.7')).toBe(true);
    expect(has(s, '198.51.100.8')).toBe(false);
    expect(has(s, '10.255.255.255')).toBe(true);
    expect(has(s, '11.0.0.0')).toBe(false);
  });

  it('matches IPv6 blocks in any spelling', () => {
    const s = set('2001:db8::/32', '2001:db9::1');
    expect(has(s, '2001:db8:ffff::1')).toBe(true);
    expect(has(s, '2001:0DB8:0000::0001')).toBe(true);
    expect(has(s, '2001:db9::1')).toBe(true);
    expect(has(s, '2001:db9::2')).toBe(false);
    expect(has(s, '2001:dba::1')).toBe(false);
  });

  // Regression guard: a dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
  it('judges an IPv4-mapped client by the IPv4 rules, and a mapped rule as IPv4', () => {
    expect(has(set('192.0.2.0/24'), '::ffff:192.0.2.9')).toBe(true);
    expect(has(set('192.0.2.9'), '::ffff:192.0.2.9')).toBe(true);
    expect(has(set('::ffff:192.0.2.0/120'), '192.0.2.9')).toBe(true);
    expect(has(set('::ffff:192.0.2.0/120'), '::ffff:c000:209')).toBe(true);
  });

  // Node's BlockList alone would let an IPv6 rule covering ::ffff:0:0/96 match every IPv4 client.
  it('never crosses families: ::/0 is all of IPv6 and no IPv4 address', () => {
    const all6 = set('::/0');
    expect(has(all6, '2001:db8::1')).toBe(true);
    expect(has(all6, '192.0.2.1')).toBe(false);
    expect(has(all6, '::ffff:192.0.2.1')).toBe(false);
    const all4 = set('0.0.0.0/0');
    expect(has(all4, '192.0.2.1')).toBe(true);
    expect(has(all4, '2001:db8::1')).toBe(false);
    expect(has(all4, '64:ff9b::192.0.2.1')).toBe(false);
  });

  it('matches nothing for text that is no address', () => {
    const s = set('0.0.0.0/0', '::/0');
    for (const junk of ['', 'unknown', '999.1.1.1', ':::', '192.0.2.1, 10.0.0.1'])
      expect(has(s, junk)).toBe(false);
  });

  it('names the first matching entry, and nothing for an address outside it', () => {
    const s = set('192.0.2.0/24', '192.0.2.128/25', '2001:db8::/32');
    expect(s.find(new Probe('192.0.2.200'))).toBe('r0');
    expect(s.find(new Probe('2001:db8::5'))).toBe('r2');
    expect(s.find(new Probe('203.0.113.1'))).toBeNull();
    expect(s.find(new Probe('junk'))).toBeNull();
  });

  it('is empty and matches nothing without entries', () => {
    expect(AddressSet.EMPTY.size).toBe(0);
    expect(has(AddressSet.EMPTY, '192.0.2.1')).toBe(false);
    expect(has(AddressSet.EMPTY, '2001:db8::1')).toBe(false);
  });
});
