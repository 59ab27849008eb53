import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressRefusal,
  checkUrl,
  guardedRequest,
  type Resolver,
  resolveTarget,
  SsrfError,
  type SsrfPolicy,
  STRICT_SSRF_POLICY,
  ssrfPolicyFor,
  TransportError,
} from './ssrf.ts';

const refusedReason = (url: string, policy: SsrfPolicy = STRICT_SSRF_POLICY) => {
  try {
    checkUrl(url, policy);
    return 'accepted';
  } catch (err) {
    if (err instanceof SsrfError) return err.reason;
    throw err;
  }
};

describe('SSRF guard: addresses', () => {
  it.each([
    // IPv4 special-purpose ranges
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1', // CGNAT
    '100.127.255.254',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.0.1', // link-local
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1', // TEST-NET-1
    '192.168.1.1',
    '198.18.0.1',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1', // multicast
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    // IPv6
    '::',
    '::1',
    '0:0:0:0:0:0:0:1',
    'fc00::1', // unique local
    'fd12:3456::1',
    'fe80::1', // link-local
    'fe80::1%eth0',
    'fec0::1', // site-local (deprecated)
    'ff02::1', // multicast
    '100::1', // discard
    '2001:db8::1', // documentation
    '2001::1', // Teredo
    '2002:7f00:1::1', // 6to4
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '64:ff9b:1::1', // local-use NAT64
    '::ffff:127.0.0.1', // IPv4-mapped, dotted
    '::ffff:7f00:1', // IPv4-mapped, hex
    '::ffff:10.0.0.1',
    '::ffff:8.8.8.8', // mapped public: refused too (no translation tricks)
    '::127.0.0.1', // IPv4-compatible (deprecated)
  ])('refuses %s', (ip) => {
    expect(addressRefusal(ip)).toBeDefined();
  });

  it.each([
    '169.254.169.254',
    'fd00:ec2::254',
    '100.100.100.200',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
  ])('refuses the metadata address %s as metadata, even when the allow-list covers it', (ip) => {
    expect(addressRefusal(ip)).toBe('metadata');
    const lax = ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: ['0.0.0.0/0', '::/0'] });
    expect(addressRefusal(ip, lax)).toBe('metadata');
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '2a00:1450::1',
  ])('accepts the public address %s', (ip) => {
    expect(addressRefusal(ip)).toBeUndefined();
  });

  it('refuses what is not an address', () => {
    expect(addressRefusal('not-an-ip')).toBe('malformed');
    expect(addressRefusal('256.1.1.1')).toBe('malformed');
  });

  it('exempts only the allow-listed CIDRs', () => {
    const policy = ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: ['127.0.0.1/32'] });
    expect(addressRefusal('127.0.0.1', policy)).toBeUndefined();
    expect(addressRefusal('127.0.0.2', policy)).toBe('address');
    expect(addressRefusal('10.0.0.1', policy)).toBe('address');
  });

  it('production refuses http and the allow-list; bad CIDRs are refused', () => {
    expect(() => ssrfPolicyFor({ production: true, allowHttp: true, allowedCidrs: [] })).toThrow(
      /production/,
    );
    expect(() =>
      ssrfPolicyFor({ production: true, allowHttp: false, allowedCidrs: ['127.0.0.1/32'] }),
    ).toThrow(/production/);
    expect(() =>
      ssrfPolicyFor({ production: false, allowHttp: false, allowedCidrs: ['127.0.0.1/33'] }),
    ).toThrow(/CIDR/);
    expect(ssrfPolicyFor({ production: true, allowHttp: false, allowedCidrs: [] })).toEqual(
      STRICT_SSRF_POLICY,
    );
  });
});

describe('SSRF guard: URLs', () => {
  it.each([
    ['http://example.com/hook', 'scheme'],
    ['ftp://example.com/hook', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['gopher://example.com/', 'scheme'],
    ['not a url', 'malformed'],
    ['https://user:pass@example.com/hook', 'credentials'],
    ['https://localhost/hook', 'host'],
    ['https://LOCALHOST./hook', 'host'],
    ['https://api.localhost/hook', 'host'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'host'],
    ['https://printer.local/', 'host'],
    ['https://intranet/', 'host'],
    ['https://127.0.0.1/hook', 'address'],
    ['https://2130706433/hook', 'address'], // decimal 127.0.0.1
    ['https://0x7f000001/hook', 'address'], // hex
    ['https://0x7f.1/hook', 'address'], // mixed hex
    ['https://0177.0.0.1/hook', 'address'], // octal
    ['https://017700000001/hook', 'address'], // octal, one number
    ['https://127.1/hook', 'address'], // short form
    ['https://0/hook', 'address'], // 0.0.0.0
    ['https://[::1]/hook', 'address'],
    ['https://[::ffff:127.0.0.1]/hook', 'address'],
    ['https://[::ffff:7f00:1]/hook', 'address'],
    ['https://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
    ['https://169.254.169.254/latest/meta-data/', 'metadata'],
    ['https://2852039166/latest/meta-data/', 'metadata'], // decimal 169.254.169.254
    ['https://0xa9fea9fe/', 'metadata'],
    ['https://[fe80::1]/', 'address'],
    ['https://10.1.2.3:8443/', 'address'],
    ['https://example.com:0/', 'port'],
  ])('%s is refused (%s)', (url, reason) => {
    expect(refusedReason(url)).toBe(reason);
  });

  it('accepts a public https URL, and http only when the policy allows it', () => {
    expect(refusedReason('https://hooks.example.com/bulwark?x=1')).toBe('accepted');
    expect(refusedReason('https://8.8.8.8/hook')).toBe('accepted');
    const dev = ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: [] });
    expect(refusedReason('http://hooks.example.com/', dev)).toBe('accepted');
    expect(refusedReason('http://127.0.0.1/', dev)).toBe('address');
  });
});

describe('SSRF guard: DNS', () => {
  const answers =
    (...list: string[]): Resolver =>
    async () =>
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('checks every resolved address: one private answer refuses the URL', async () => {
    await expect(
      resolveTarget('https://hooks.example.com/', STRICT_SSRF_POLICY, answers('8.8.8.8', '10.0.0.5')),
    ).rejects.toMatchObject({
      reason: 'address',
    });
    await expect(
      resolveTarget('https://hooks.example.com/', STRICT_SSRF_POLICY, answers('::ffff:169.254.169.254')),
    ).rejects.toMatchObject({
      reason: 'metadata',
    });
    const ok = await resolveTarget(
      'https://hooks.example.com/',
      STRICT_SSRF_POLICY,
      answers('8.8.8.8', '2606:4700::1'),
    );
    expect(ok).toMatchObject({ address: '8.8.8.8', family: 4, host: 'hooks.example.com' });
  });

  it('refuses a name that does not resolve', async () => {
    const none: Resolver = async () => {
      throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(resolveTarget('https://nx.example.com/', STRICT_SSRF_POLICY, none)).rejects.toMatchObject({
      reason: 'dns',
    });
    await expect(
      resolveTarget('https://nx.example.com/', STRICT_SSRF_POLICY, answers()),
    ).rejects.toMatchObject({ reason: 'dns' });
  });
});

describe('SSRF guard: the request', () => {
  let server: Server;
  let port: number;
  const seen: { host?: string; path?: string }[] = [];
  const policy = ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: ['127.0.0.1/32'] });

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ host: req.headers.host, path: req.url });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200);
        res.end(Buffer.alloc(200_000, 'x'));
      } else if (req.url === '/slow') {
        // never answers
      } else {
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const post = (url: string, extra: { timeoutMs?: number; resolver?: Resolver } = {}) =>
    guardedRequest(
      {
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        body: '{}',
        ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
      },
      policy,
      extra.resolver,
    );

  it('connects to the address it checked, not to a second DNS answer (no rebinding)', async () => {
    let lookups = 0;
    // First answer checked and used; a rebinding resolver would answer 10.0.0.1 next time.
    const rebinding: Resolver = async () => {
      lookups += 1;
      return [{ address: lookups === 1 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
    };
    const res = await post(`http://receiver.example.test:${port}/hook`, { resolver: rebinding });
    expect(res.status).toBe(204);
    expect(lookups).toBe(1);
    expect(seen.at(-1)?.host).toBe(`receiver.example.test:${port}`);
  });

  it('does not follow redirects', async () => {
    const res = await post(`http://127.0.0.1:${port}/redirect`);
    expect(res.status).toBe(302);
    expect(res.location).toContain('169.254.169.254');
    expect(seen.filter((s) => s.path?.startsWith('/latest'))).toHaveLength(0);
  });

  it('caps the response body', async () => {
    const res = await post(`http://127.0.0.1:${port}/big`);
    expect(res.status).toBe(200);
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(64 * 1024);
  });

  it('gives up at the deadline', async () => {
    await expect(post(`http://127.0.0.1:${port}/slow`, { timeoutMs: 200 })).rejects.toMatchObject({
      kind: 'timeout',
    });
  });

  it('refuses before connecting when the address is not allowed', async () => {
    const before = seen.length;
    const err = await post(`http://127.0.0.2:${port}/hook`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe('ssrf_refused');
    const strict = await guardedRequest(
      { method: 'POST', url: `http://127.0.0.1:${port}/hook`, headers: {}, body: '' },
      STRICT_SSRF_POLICY,
    ).catch((e: unknown) => e);
    expect((strict as TransportError).kind).toBe('ssrf_refused');
    expect(seen.length).toBe(before);
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(post(`http://127.0.0.1:${freePort}/`)).rejects.toMatchObject({ kind: 'connect' });
  });
});
