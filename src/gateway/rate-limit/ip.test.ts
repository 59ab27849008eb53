import { describe, expect, it } from 'vitest';
import { ipBucket } from './ip.ts';

describe('ipBucket', () => {
  it('counts an IPv4 address alone', () => {
    expect(ipBucket('192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('192.0.2.2')).not.toBe(ipBucket('192.0.2.1'));
  });

  // Regression guard: one IPv6 subscriber holds a /64 and must not get 2^64 buckets.
  it('aggregates IPv6 addresses per /64', () => {
    const bucket = ipBucket('2001:db8:1:2::1');
    expect(bucket).toBe('2001:db8:1:2:0:0:0:0/64');
    for (const ip of [
      '2001:db8:1:2::ffff',
      '2001:db8:1:2:abcd:ef01:2345:6789',
      '2001:0DB8:0001:0002:0:0:0:7',
    ]) {
      expect(ipBucket(ip)).toBe(bucket);
    }
    expect(ipBucket('2001:db8:1:3::1')).not.toBe(bucket);
    expect(ipBucket('2001:db8:2:2::1')).not.toBe(bucket);
  });

  it('reads every spelling of an address the same way', () => {
    expect(ipBucket('::1')).toBe('0:0:0:0:0:0:0:0/64');
    expect(ipBucket('fe80::1%eth0')).toBe(ipBucket('fe80::2'));
    expect(ipBucket('2001:db8::')).toBe('2001:db8:0:0:0:0:0:0/64');
    expect(ipBucket('64:ff9b::192.0.2.1', 128)).toBe('64:ff9b:0:0:0:0:c000:201/128');
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(ipBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('::FFFF:c000:0201')).toBe('192.0.2.1');
  });

  it('honours another prefix length, including one that splits a word', () => {
    expect(ipBucket('2001:db8:1:2::1', 48)).toBe('2001:db8:1:0:0:0:0:0/48');
    expect(ipBucket('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200:0:0:0:0/56');
    expect(ipBucket('2001:db8:1:2::1', 128)).toBe('2001:db8:1:2:0:0:0:1/128');
  });

  it('keeps something that is not an address apart from every address', () => {
    expect(ipBucket('unknown')).toBe('other:unknown');
  });
});
