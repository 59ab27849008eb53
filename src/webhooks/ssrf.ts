/**
 * SSRF guard for outbound requests to addresses a third party chose (webhook URLs; reusable by any
 * module that calls out to a partner-supplied URL). OWASP API7:2023 (server-side request forgery).
 *
 * Three checks, each fail-closed:
 *  1. the URL: https only (http only where the policy allows it, never in production), no
 *     credentials in it, no host names that stand for the machine or the cloud metadata service;
 *  2. every address the host name resolves to (and an IP literal as such) must be a public unicast
 *     address: private, loopback, link-local, CGNAT, unique-local, multicast, unspecified,
 *     documentation, reserved and metadata ranges are refused, IPv4-mapped/-compatible, NAT64 and
 *     6to4 IPv6 forms are judged by the IPv4 address they carry;
 *  3. the connection goes to the very address that was checked (a custom `lookup` hands the socket
 *     the checked address), so a DNS answer that changes between check and connect (DNS rebinding)
 *     has no effect. TLS still verifies the certificate against the host name (SNI = host name).
 *
 * Redirects are never followed: a 3xx answer is reported as such (`redirect`), so there is no
 * second request whose target escaped the checks. Odd IPv4 spellings in host names (decimal
 * `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`) are normalised by the WHATWG URL parser to the
 * dotted quad they mean before the checks, so they are judged as the address they reach.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, isIPv4, isIPv6, type LookupFunction } from 'node:net';

export interface SsrfPolicy {
  /** Allow `http:` URLs (tests and development only; refused in production by `ssrfPolicyFor`). */
  readonly allowHttp: boolean;
  /**
   * CIDRs exempted from the address check (e.g. `127.0.0.1/32` for a test receiver). Empty in
   * production (`ssrfPolicyFor` refuses anything else). Metadata addresses are never exempted.
   */
  readonly allowedCidrs: readonly string[];
}

export const STRICT_SSRF_POLICY: SsrfPolicy = Object.freeze({ allowHttp: false, allowedCidrs: [] });

export type SsrfRefusal =
  | 'scheme'
  | 'credentials'
  | 'host'
  | 'address'
  | 'metadata'
  | 'port'
  | 'dns'
  | 'malformed';

export class SsrfError extends Error {
  constructor(
    readonly reason: SsrfRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'SsrfError';
  }
}

/** Builds the policy from settings; production refuses both relaxations (fail at boot). */
export function ssrfPolicyFor(opts: {
  production: boolean;
  allowHttp: boolean;
  allowedCidrs: readonly string[];
}): SsrfPolicy {
  if (opts.production && (opts.allowHttp || opts.allowedCidrs.length > 0)) {
    throw new Error(
      'BULWARK_WEBHOOK_ALLOW_HTTP / BULWARK_WEBHOOK_ALLOWED_CIDRS: refused in production (SSRF guard relaxations are for tests and development)',
    );
  }
  for (const c of opts.allowedCidrs) parseCidr(c);
  return Object.freeze({ allowHttp: opts.allowHttp, allowedCidrs: Object.freeze([...opts.allowedCidrs]) });
}

// ---- addresses ----------------------------------------------------------------------------------

type Bytes = readonly number[];

function v4Bytes(ip: string): Bytes | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split('.').map(Number);
}

/** 16 bytes of an IPv6 address (with an embedded dotted quad if any); undefined if not IPv6. */
function v6Bytes(input: string): Bytes | undefined {
  let ip = input;
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (!isIPv6(ip)) return undefined;
  let tail: number[] = [];
  const lastColon = ip.lastIndexOf(':');
  const maybeV4 = ip.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const b = v4Bytes(maybeV4);
    if (!b) return undefined;
    tail = [...b];
    ip = `${ip.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const left = parse(head);
  const right = parse(rest);
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  const bytes = groups.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

interface Cidr {
  readonly bytes: Bytes;
  readonly prefix: number;
}

function parseCidr(text: string): Cidr {
  const [addr = '', len] = text.split('/');
  const bytes = v4Bytes(addr) ?? v6Bytes(addr);
  const max = bytes?.length === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (
    !bytes ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (len !== undefined && !/^\d+$/.test(len))
  ) {
    throw new Error(`invalid CIDR ${JSON.stringify(text)}`);
  }
  return { bytes, prefix };
}

function inCidr(bytes: Bytes, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((cidr.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** IPv4 special-purpose ranges (IANA registry, RFC 6890) no webhook may reach. */
const V4_BLOCKED = [
  '0.0.0.0/8', // "this network", unspecified
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, incl. cloud metadata 169.254.169.254
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments (incl. 192.0.0.192 Oracle metadata)
  '192.0.2.0/24', // TEST-NET-1
  '192.31.196.0/24', // AS112
  '192.52.193.0/24', // AMT
  '192.88.99.0/24', // 6to4 relay anycast
  '192.168.0.0/16', // private
  '192.175.48.0/24', // AS112
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, incl. 255.255.255.255 broadcast
].map(parseCidr);

/**
 * IPv6: only global unicast (2000::/3) may be reached at all; within it, these are refused too.
 * Everything outside 2000::/3 (::, ::1, fc00::/7 unique-local incl. fd00:ec2::254, fe80::/10,
 * fec0::/10, ff00::/8 multicast, 100::/64 discard…) fails the first test.
 */
const V6_GLOBAL = parseCidr('2000::/3');
const V6_BLOCKED = [
  '2001::/23', // IETF protocol assignments (Teredo 2001::/32, ORCHID, benchmarking…)
  '2001:db8::/32', // documentation
  '3fff::/20', // documentation (RFC 9637)
  '2002::/16', // 6to4: judged by the embedded IPv4 address below, refused outright here
].map(parseCidr);
const V4_MAPPED = parseCidr('::ffff:0:0/96');
const V4_COMPATIBLE = parseCidr('::/96');
const NAT64 = parseCidr('64:ff9b::/96');
const NAT64_LOCAL = parseCidr('64:ff9b:1::/48');

/** Cloud metadata endpoints: never reachable, not even through the allow-list. */
const METADATA = ['169.254.169.254/32', '169.254.170.2/32', '100.100.100.200/32', 'fd00:ec2::254/128'].map(
  parseCidr,
);

function v4Blocked(b: Bytes): boolean {
  return V4_BLOCKED.some((c) => inCidr(b, c));
}

/** Why an address may not be reached, or undefined when it may (public unicast). */
export function addressRefusal(ip: string, policy: SsrfPolicy = STRICT_SSRF_POLICY): SsrfRefusal | undefined {
  const v4 = v4Bytes(ip);
  const bytes = v4 ?? v6Bytes(ip);
  if (!bytes) return 'malformed';
  // An IPv6 form that carries an IPv4 address is judged by it.
  let effective: Bytes = bytes;
  if (
    !v4 &&
    (inCidr(bytes, V4_MAPPED) ||
      inCidr(bytes, NAT64) ||
      (inCidr(bytes, V4_COMPATIBLE) && !isZeroOrOne(bytes)))
  ) {
    effective = bytes.slice(12);
  }
  if (METADATA.some((c) => inCidr(bytes, c) || inCidr(effective, c))) return 'metadata';
  const allowed = policy.allowedCidrs.map(parseCidr);
  if (allowed.some((c) => inCidr(effective, c) || inCidr(bytes, c))) return undefined;
  if (effective.length === 4) {
    // Any IPv6 form carrying an IPv4 address is refused, even a public one: receivers are reached
    // by their plain address, and translation prefixes are how filters get bypassed.
    if (effective !== bytes) return 'address';
    return v4Blocked(effective) ? 'address' : undefined;
  }
  if (inCidr(bytes, NAT64_LOCAL)) return 'address';
  if (!inCidr(bytes, V6_GLOBAL)) return 'address';
  if (V6_BLOCKED.some((c) => inCidr(bytes, c))) return 'address';
  return undefined;
}

function isZeroOrOne(bytes: Bytes): boolean {
  // `::` and `::1` are in ::/96 but are not IPv4-compatible addresses; both are refused anyway.
  return bytes.slice(0, 15).every((b) => b === 0) && (bytes[15] === 0 || bytes[15] === 1);
}

// ---- URLs ---------------------------------------------------------------------------------------

/** Host names that stand for this machine or a metadata service, whatever DNS says. */
const BLOCKED_HOSTS = new Set([
  'localhost',
  'localhost.localdomain',
  'ip6-localhost',
  'ip6-loopback',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'kubernetes.default',
  'kubernetes.default.svc',
]);
const BLOCKED_SUFFIXES = [
  '.localhost',
  '.local',
  '.internal',
  '.localdomain',
  '.home.arpa',
  '.svc',
  '.cluster.local',
];

export interface CheckedUrl {
  readonly url: URL;
  /** The host name without IPv6 brackets or a final dot. */
  readonly host: string;
  /** Set when the host is an IP literal. */
  readonly ip?: string;
}

/** The static checks (scheme, credentials, host name, IP literal); no DNS. Throws SsrfError. */
export function checkUrl(raw: string, policy: SsrfPolicy = STRICT_SSRF_POLICY): CheckedUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SsrfError('malformed', 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    throw new SsrfError('scheme', policy.allowHttp ? 'only http and https URLs' : 'only https URLs');
  }
  if (url.username || url.password) throw new SsrfError('credentials', 'credentials in the URL are refused');
  if (url.port === '0') throw new SsrfError('port', 'port 0 is refused');
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  while (host.endsWith('.')) host = host.slice(0, -1);
  if (!host) throw new SsrfError('host', 'no host');
  if (isIP(host)) {
    const refusal = addressRefusal(host, policy);
    if (refusal) throw new SsrfError(refusal, 'the address is not a public unicast address');
    return { url, host, ip: host };
  }
  if (BLOCKED_HOSTS.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) {
    throw new SsrfError('host', 'the host name is reserved for local or internal use');
  }
  // A single label has no public DNS meaning (search domains would make it internal).
  if (!host.includes('.')) throw new SsrfError('host', 'the host name must be fully qualified');
  return { url, host };
}

export interface ResolvedTarget extends CheckedUrl {
  /** The checked address to connect to. */
  readonly address: string;
  readonly family: 4 | 6;
}

export type Resolver = (host: string) => Promise<readonly { address: string; family: number }[]>;

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Checks the URL, resolves its host, and checks EVERY address (one bad address refuses the URL:
 * a round-robin answer must not smuggle an internal address in). Returns the address to connect to.
 */
export async function resolveTarget(
  raw: string,
  policy: SsrfPolicy = STRICT_SSRF_POLICY,
  resolver: Resolver = systemResolver,
): Promise<ResolvedTarget> {
  const checked = checkUrl(raw, policy);
  if (checked.ip) return { ...checked, address: checked.ip, family: isIPv4(checked.ip) ? 4 : 6 };
  let answers: readonly { address: string; family: number }[];
  try {
    answers = await resolver(checked.host);
  } catch {
    throw new SsrfError('dns', 'the host name does not resolve');
  }
  if (answers.length === 0) throw new SsrfError('dns', 'the host name does not resolve');
  for (const a of answers) {
    const refusal = addressRefusal(a.address, policy);
    if (refusal) throw new SsrfError(refusal, 'the host name resolves to a non-public address');
  }
  const first = answers[0]!;
  return { ...checked, address: first.address, family: first.family === 6 ? 6 : 4 };
}

// ---- the request --------------------------------------------------------------------------------

export interface GuardedRequest {
  readonly method: 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
  /** Whole-exchange deadline (connect, send, headers, body). Default 10 s. */
  readonly timeoutMs?: number;
  /** Most response-body bytes read; the rest is discarded with the connection. Default 64 KiB. */
  readonly maxResponseBytes?: number;
}

export interface GuardedResponse {
  readonly status: number;
  /** Set for a 3xx: it was not followed. */
  readonly location?: string;
  /** At most `maxResponseBytes`. */
  readonly body: Buffer;
  /** The body was longer than the cap (cut off). */
  readonly truncated: boolean;
}

export type TransportFailure = 'dns' | 'ssrf_refused' | 'connect' | 'tls' | 'timeout' | 'network';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/**
 * One request to a third-party URL through the guard: resolved and checked, connected to the
 * checked address, no redirects followed, bounded in time and response size. Throws
 * TransportError (never an error carrying the URL).
 */
export async function guardedRequest(
  req: GuardedRequest,
  policy: SsrfPolicy = STRICT_SSRF_POLICY,
  resolver: Resolver = systemResolver,
): Promise<GuardedResponse> {
  let target: ResolvedTarget;
  try {
    target = await resolveTarget(req.url, policy, resolver);
  } catch (err) {
    if (err instanceof SsrfError)
      throw new TransportError(err.reason === 'dns' ? 'dns' : 'ssrf_refused', err.message);
    throw err;
  }
  const timeoutMs = req.timeoutMs ?? 10_000;
  const maxBytes = req.maxResponseBytes ?? 64 * 1024;
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  // Hands the socket the checked address whatever name it asks for: no second resolution.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
  const isHttps = target.url.protocol === 'https:';
  const client = isHttps ? https : http;
  return new Promise<GuardedResponse>((resolve, reject) => {
    let settled = false;
    const fail = (kind: TransportFailure, message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(new TransportError(kind, message));
    };
    const request = client.request(
      {
        method: req.method,
        protocol: target.url.protocol,
        hostname: target.host,
        port: target.url.port || (isHttps ? 443 : 80),
        path: `${target.url.pathname}${target.url.search}`,
        headers: { ...req.headers, 'content-length': String(body.length), connection: 'close' },
        lookup: pinned,
        agent: false,
        ...(isHttps
          ? { servername: target.ip ? undefined : target.host, minVersion: 'TLSv1.2' as const }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const location = status >= 300 && status < 400 ? res.headers.location : undefined;
          resolve({ status, body: Buffer.concat(chunks), truncated, ...(location ? { location } : {}) });
          request.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = maxBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size = maxBytes;
            truncated = true;
            finish();
            res.destroy();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', finish);
        res.on('error', () => (truncated ? undefined : fail('network', 'the response was cut off')));
      },
    );
    const timer = setTimeout(() => fail('timeout', `no complete answer within ${timeoutMs} ms`), timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (/^ERR_TLS|CERT|SSL|EPROTO/.test(code) || /certificate|ssl|tls/i.test(err.message)) {
        fail('tls', 'TLS handshake failed');
      } else if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
        fail('connect', 'connection refused or unreachable');
      } else if (code === 'ECONNRESET' || code === 'EPIPE') {
        fail('network', 'connection reset');
      } else fail('network', 'network error');
    });
    request.end(body);
  });
}
