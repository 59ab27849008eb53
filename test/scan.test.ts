import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../src/gateway/rate-limit/policies.ts';
import {
  parseCredentials,
  runScan,
  runScanCli,
  type ScanCredentials,
  type ScanReport,
  setupFixtures,
} from '../src/scan/index.ts';
import { type Listening, listeningApp } from './support/api.ts';
import { ADMIN_TOKEN } from './support/app.ts';
import { freePort } from './support/process.ts';

// `bulwark scan` against a default deployment (zero findings) and against a deliberately
// misconfigured one — weak settings plus a careless reverse proxy in front — where it must find
// each seeded weakness and nothing else.

const dir = mkdtempSync(join(tmpdir(), 'bulwark-scan-'));
const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (s: string) => out.push(s),
      err: (s: string) => {
        console.log(s);
        err.push(s);
      },
    },
  };
};
const ids = (r: ScanReport) => r.findings.map((f) => f.id).sort();
/** What the default build's scan found (should be nothing); the misconfigured one may add only seeds. */
let defaultFindings: string[] = [];

describe('bulwark scan against the default build', () => {
  let listening: Listening;
  let credentialsFile: string;
  beforeAll(async () => {
    listening = await listeningApp();
    credentialsFile = join(dir, 'default-creds.json');
    const { io: cli, err } = io();
    const code = await runScanCli(
      ['setup', '--target', listening.issuer, '--admin-token', ADMIN_TOKEN, '--out', credentialsFile],
      cli,
    );
    expect(code, err.join('\n')).toBe(0);
  }, 60_000);
  afterAll(() => listening.app.close());

  it('finds nothing, runs every probe that its credentials allow, and exits 0', async () => {
    const out = join(dir, 'default.json');
    const { io: cli, err } = io();
    const code = await runScanCli(
      [
        '--target',
        listening.issuer,
        '--credentials',
        credentialsFile,
        '--format',
        'json',
        '--out',
        out,
        '--fail-on',
        'low',
      ],
      cli,
    );
    const report = JSON.parse(readFileSync(out, 'utf8')) as ScanReport;
    defaultFindings = ids(report);
    expect(report.findings, err.join('\n')).toEqual([]);
    expect(report.summary.errored).toBe(0);
    expect(code).toBe(0);
    // Only the probes that need fixtures no deployment-independent setup can make are skipped.
    expect(report.probes.filter((p) => p.status === 'skip').map((p) => p.id)).toEqual([
      'api6-payout-sca',
      'api10-outbound-responses',
    ]);
    expect(report.summary.passed).toBe(report.probes.length - 2);
    // No secret reaches the report: private keys, the password, tokens.
    const creds = readFileSync(credentialsFile, 'utf8');
    const parsed = parseCredentials(JSON.parse(creds));
    const text = readFileSync(out, 'utf8');
    for (const secret of [parsed.partnerA!.privateJwk.d!, parsed.policyholder!.password])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[\w-]+\.eyJ/);
  }, 120_000);

  it('without credentials, skips the probes that need actors and still checks the surface', async () => {
    const report = await runScan({
      target: listening.issuer,
      credentials: { version: 1 },
      only: [
        'api1-cross-tenant-object',
        'api8-cors',
        'api8-trace',
        'api9-old-versions',
        'api2-client-auth-metadata',
      ],
    });
    expect(report.findings).toEqual([]);
    const skipped = report.probes.find((p) => p.id === 'api1-cross-tenant-object')!;
    expect(skipped.status).toBe('skip');
    expect(skipped.detail).toContain('partnerA');
    expect(report.summary.passed).toBe(4);
  });

  it('refuses bad usage with exit 2', async () => {
    for (const argv of [
      [],
      ['--target', 'ftp://x'],
      ['--target', listening.issuer, '--format', 'xml'],
      ['--target', listening.issuer, '--fail-on', 'info'],
      ['--target', listening.issuer, '--only', 'api99-nothing'],
      ['--target', listening.issuer, '--bogus'],
      ['setup', '--target', listening.issuer],
      ['--target', listening.issuer, '--credentials', join(dir, 'missing.json')],
    ]) {
      const { io: cli, err } = io();
      expect(await runScanCli(argv, cli), argv.join(' ')).toBe(2);
      expect(err.join('\n')).toContain('Usage: bulwark scan');
    }
    const bad = join(dir, 'bad-creds.json');
    writeFileSync(bad, JSON.stringify({ version: 1, partnerA: { tenantId: 'x' } }));
    const { io: cli, err } = io();
    expect(await runScanCli(['--target', listening.issuer, '--credentials', bad], cli)).toBe(2);
    expect(err.join('\n')).toContain('partnerA.partnerId');
  });

  it('exits 1 when the target cannot be reached', async () => {
    const { io: cli, err } = io();
    const port = await freePort();
    expect(await runScanCli(['--target', `http://127.0.0.1:${port}`], cli)).toBe(1);
    expect(err.join('\n')).toContain('cannot reach');
  });
});

/**
 * A careless reverse proxy: strips the security headers, reflects any Origin with credentials,
 * answers TRACE by echoing the request, still routes a retired `/v0` to `/v1`, serves a debug page
 * and replaces 404 answers with a stack trace.
 */
function carelessProxy(upstreamPort: number): Server {
  return createServer((req, res) => {
    if (req.method === 'TRACE' || req.method === 'TRACK') {
      res.writeHead(200, { 'content-type': 'message/http' });
      res.end(
        `${req.method} ${req.url} HTTP/1.1\r\n${Object.entries(req.headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n')}`,
      );
      return;
    }
    if (req.url === '/debug') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('debug: ok');
      return;
    }
    const path = (req.url ?? '/').replace(/^\/v0\//, '/v1/');
    const up = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, path, method: req.method, headers: req.headers },
      (ur) => {
        const headers: IncomingHttpHeaders = { ...ur.headers };
        for (const h of ['content-security-policy', 'x-content-type-options', 'x-frame-options'])
          delete headers[h];
        if (req.headers.origin) {
          headers['access-control-allow-origin'] = req.headers.origin;
          headers['access-control-allow-credentials'] = 'true';
        }
        if (ur.statusCode === 404) {
          ur.resume();
          delete headers['content-length'];
          res.writeHead(404, { ...headers, 'content-type': 'text/plain' });
          res.end('Error: Not Found\n    at Router.handle (/app/node_modules/router/index.js:47:12)');
          return;
        }
        res.writeHead(ur.statusCode ?? 502, headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
}

describe('bulwark scan against a misconfigured deployment', () => {
  let listening: Listening;
  let proxy: Server;
  let target: string;
  let credentials: ScanCredentials;
  beforeAll(async () => {
    const proxyPort = await freePort();
    target = `http://127.0.0.1:${proxyPort}`;
    const limits = join(dir, 'loose-limits.json');
    writeFileSync(
      limits,
      JSON.stringify({
        ...DEFAULT_POLICIES,
        base: DEFAULT_POLICIES.base.map((p) =>
          p.name === 'ip' ? { ...p, limit: 10_000_000, burst: 1_000_000 } : p,
        ),
      }),
    );
    listening = await listeningApp({
      BULWARK_PUBLIC_URL: target,
      BULWARK_WAF_MODE: 'monitor',
      BULWARK_WEBHOOK_ALLOW_HTTP: 'true',
      BULWARK_WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8',
      BULWARK_BODY_LIMIT: String(50 * 1024 * 1024),
      BULWARK_JSON_MAX_DEPTH: '256',
      BULWARK_RATE_LIMITS_FILE: limits,
    });
    proxy = carelessProxy(Number(new URL(listening.issuer).port));
    await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', r));
    credentials = await setupFixtures(target, ADMIN_TOKEN);
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => proxy.close(r));
    await listening.app.close();
  });

  it('finds each seeded weakness and nothing else', async () => {
    const report = await runScan({ target, credentials });
    expect(report.summary.errored).toBe(0);
    const seeded = [
      'api4-body-size', // BULWARK_BODY_LIMIT 50 MiB
      'api4-json-depth', // BULWARK_JSON_MAX_DEPTH 256, WAF only monitoring
      'api4-rate-limit', // per-IP limit raised out of reach
      'api7-webhook-ssrf', // 10.0.0.0/8 exempted from the SSRF guard
      'api10-webhook-plain-http', // BULWARK_WEBHOOK_ALLOW_HTTP
      'api8-waf', // BULWARK_WAF_MODE=monitor
      'api8-security-headers', // proxy strips them
      'api8-cors', // proxy reflects Origin with credentials
      'api8-trace', // proxy echoes TRACE
      'api8-verbose-errors', // proxy's stack-trace 404 page
      'api9-old-versions', // proxy routes /v0 to /v1
      'api9-undocumented-paths', // proxy's /debug page
    ];
    const found = ids(report);
    expect(seeded.filter((id) => !found.includes(id))).toEqual([]);
    // Nothing else, beyond what the default build itself shows (nothing, once it is clean).
    expect(found.filter((id) => !seeded.includes(id))).toEqual(defaultFindings);
    const byId = Object.fromEntries(report.findings.map((f) => [f.id, f]));
    expect(byId['api7-webhook-ssrf']!.detail).toContain('https://10.0.0.1/hook was accepted');
    expect(byId['api7-webhook-ssrf']!.detail).not.toContain('169.254');
    expect(byId['api8-cors']!.detail).toContain('with credentials');
    expect(byId['api8-verbose-errors']!.detail).toContain('a stack trace');
    expect(byId['api9-old-versions']!.detail).toContain('/v0/me answered 401');
    expect(byId['api8-waf']!.evidence.length).toBe(3);
    for (const f of report.findings) {
      expect(f.evidence.length, f.id).toBeGreaterThan(0);
      expect(f.fix.length, f.id).toBeGreaterThan(20);
    }
  }, 180_000);

  it('exits 1 on findings at or above --fail-on, 0 below it, and writes an escaped HTML report', async () => {
    const only = ['--only', 'api8-trace,api8-security-headers'];
    const run = async (...extra: string[]) => {
      const { io: cli } = io();
      return runScanCli(['--target', target, ...only, ...extra], cli);
    };
    // TRACE and headers are medium: over the default threshold (high) nothing fails.
    expect(await run()).toBe(0);
    expect(await run('--fail-on', 'medium')).toBe(1);
    const html = join(dir, 'report.html');
    expect(await run('--fail-on', 'critical', '--format', 'html', '--out', html)).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<!doctype html>');
    expect(page).toContain('api8-trace');
    expect(page).not.toMatch(/<script/i);
    const { io: cli, out } = io();
    expect(await runScanCli(['--target', target, ...only, '--fail-on', 'medium'], cli)).toBe(1);
    expect(out.join('\n')).toMatch(/FAIL\s+API8\s+medium\s+api8-trace/);
  }, 60_000);
});
