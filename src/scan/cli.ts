/**
 * `bulwark scan …`: the OWASP API Security Top 10 self-assessment of a running deployment, and
 * `scan setup`, which creates the credentials it needs on a fresh deployment. Exit codes: 0 no
 * finding at or above --fail-on, 1 such findings (or the scan could not run), 2 usage error,
 * 3 no such findings but some probes failed to run (the assessment is incomplete).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CredentialsError, parseCredentials, type ScanCredentials, setupFixtures } from './credentials.ts';
import { send } from './http.ts';
import { type ReportFormat, renderReport } from './report.ts';
import { findingsAtOrAbove, PROBES, runScan } from './runner.ts';
import { SEVERITIES, type Severity } from './types.ts';

export const SCAN_HELP = `Usage: bulwark scan --target URL [options]
       bulwark scan setup --target URL --admin-token TOKEN [--out FILE]
       bulwark scan list

Runs OWASP API Security Top 10 (2023) probes against a running Bulwark and reports findings with
evidence and fixes. The probes create test objects (customers, short-lived webhook subscriptions)
in the tenants of the credentials: point it at scan tenants, not production customers.

  --target URL         the deployment's public URL (DPoP proofs name it)
  --credentials FILE   actors to probe with (docs/scan.md); without it, probes that need a
                       partner app or a policyholder are skipped
  --format F           table (default), json or html
  --out FILE           write the report there instead of stdout
  --fail-on SEV        exit 1 when a finding is at or above SEV: low, medium, high (default), critical
  --only IDS           comma-separated probe ids (see 'bulwark scan list')
  --burst N            requests the rate-limit probe sends to provoke a 429 (default 400)

  setup                creates two scan tenants, three partner apps, a web app and a policyholder
                       through the admin API (a bootstrap admin token while the bootstrap is
                       open) and writes the credentials file (mode 0600; it holds private keys)
  --admin-token TOKEN  admin bearer token for setup (or --admin-token-file FILE)

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it, or the scan could not
run; 2 bad usage; 3 no such findings, but some probes failed to run.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  target: { type: 'string' },
  credentials: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  'fail-on': { type: 'string' },
  only: { type: 'string' },
  burst: { type: 'string' },
  'admin-token': { type: 'string' },
  'admin-token-file': { type: 'string' },
} as const;

export interface ScanIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

class Usage extends Error {}

function targetOf(v: string | undefined): string {
  if (!v) throw new Usage('--target URL is required');
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Usage(`--target is not a URL: '${v}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Usage('--target must be http(s)');
  return url.href.replace(/\/+$/, '');
}

export async function runScanCli(argv: string[], io: ScanIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    }));
    if (values.help) {
      io.out(SCAN_HELP);
      return 0;
    }
    const sub = positionals[0];
    if (positionals.length > 1 || (sub && sub !== 'setup' && sub !== 'list'))
      throw new Usage(`unknown argument '${positionals.join(' ')}'`);
    if (sub === 'list') {
      for (const p of PROBES)
        io.out(`${p.id.padEnd(30)} ${p.category.padEnd(5)} ${p.severity.padEnd(8)} ${p.title}`);
      return 0;
    }
    const target = targetOf(values.target as string | undefined);
    if (sub === 'setup') return await setup(target, values, io);

    const format = (values.format ?? 'table') as string;
    if (!['table', 'json', 'html'].includes(format))
      throw new Usage(`--format takes table, json or html, not '${format}'`);
    const failOn = (values['fail-on'] ?? 'high') as string;
    if (!SEVERITIES.includes(failOn as Severity) || failOn === 'info')
      throw new Usage(`--fail-on takes low, medium, high or critical, not '${failOn}'`);
    const only = typeof values.only === 'string' ? values.only.split(',').map((s) => s.trim()) : undefined;
    const unknown = only?.filter((id) => !PROBES.some((p) => p.id === id));
    if (unknown?.length) throw new Usage(`unknown probe ${unknown.join(', ')} (see 'bulwark scan list')`);
    const burst = values.burst === undefined ? 400 : Number(values.burst);
    if (!Number.isInteger(burst) || burst < 1 || burst > 100_000)
      throw new Usage('--burst takes a whole number 1-100000');
    let credentials: ScanCredentials = { version: 1 };
    if (typeof values.credentials === 'string') {
      try {
        credentials = parseCredentials(JSON.parse(readFileSync(values.credentials, 'utf8')));
      } catch (e) {
        throw new Usage(`--credentials ${values.credentials}: ${(e as Error).message}`);
      }
    }

    try {
      await send(`${target}/.well-known/openid-configuration`, { timeoutMs: 10_000 });
    } catch (e) {
      io.err(`bulwark scan: cannot reach ${target}: ${(e as Error).message}`);
      return 1;
    }
    const report = await runScan({
      target,
      credentials,
      ...(only ? { only } : {}),
      burst,
      onProbe: (r) =>
        io.err(
          `${r.status.toUpperCase().padEnd(5)} ${r.id}${r.status === 'pass' ? '' : ` — ${r.detail ?? ''}`}`,
        ),
    });
    const text = renderReport(report, format as ReportFormat);
    if (typeof values.out === 'string') {
      writeFileSync(values.out, text);
      io.err(`report written to ${values.out}`);
    } else io.out(text.trimEnd());
    if (findingsAtOrAbove(report, failOn as Severity).length > 0) return 1;
    return report.summary.errored > 0 ? 3 : 0;
  } catch (e) {
    if (e instanceof Usage || e instanceof CredentialsError) {
      io.err(`bulwark scan: ${e.message}\n\n${SCAN_HELP}`);
      return 2;
    }
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`bulwark scan: ${(e as Error).message}\n\n${SCAN_HELP}`);
      return 2;
    }
    io.err(`bulwark scan: ${(e as Error).message}`);
    return 1;
  }
}

async function setup(target: string, values: Record<string, string | boolean | undefined>, io: ScanIo) {
  let token = values['admin-token'] as string | undefined;
  if (typeof values['admin-token-file'] === 'string')
    token = readFileSync(values['admin-token-file'], 'utf8').trim();
  if (!token) throw new Usage('setup needs --admin-token TOKEN or --admin-token-file FILE');
  const creds = await setupFixtures(target, token);
  const text = `${JSON.stringify(creds, null, 2)}\n`;
  if (typeof values.out === 'string') {
    writeFileSync(values.out, text, { mode: 0o600 });
    io.err(
      `scan credentials written to ${values.out} (keep it secret: it holds private keys and a password)`,
    );
  } else io.out(text.trimEnd());
  return 0;
}
