/**
 * `bulwark compliance …`: the compliance report and the record of processing from the database
 * and configuration (read-only), and the report's JSON Schema. Exit codes: 0 written, 1 failed
 * (or, with --strict, a control is not met), 2 usage or configuration error.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  buildReport,
  buildRopa,
  REPORT_FORMATS,
  type ReportFormat,
  ReportSchema,
  renderReport,
  renderRopa,
} from '../compliance/index.ts';
import { loadConfig } from '../config/index.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import { openDatabase } from '../platform/db/index.ts';

export const COMPLIANCE_HELP = `Usage: bulwark compliance <report|ropa|schema> [options]

  bulwark compliance report [--format md|html|json] [--out FILE] [--strict] [--data-dir DIR]
      Judge every control (ISO/IEC 27001:2022 Annex A, PSD2 RTS on SCA, OWASP API Top 10 2023)
      on evidence computed now from this deployment's configuration and database, and print the
      report (Markdown by default) or write it to FILE. --strict exits 1 when a control is not
      met. The route inventory is only known to the running server: GET /admin/compliance/report.

  bulwark compliance ropa [--format md|html|json] [--out FILE]
      The GDPR Art. 30 record of processing activities.

  bulwark compliance schema [--out FILE]
      The JSON Schema of the JSON report (format bulwark.compliance-report/v1).`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  format: { type: 'string' },
  out: { type: 'string' },
  strict: { type: 'boolean' },
  'data-dir': { type: 'string' },
} as const;

class Usage extends Error {}

export interface ComplianceCliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

function write(io: ComplianceCliIo, out: string | undefined, text: string, what: string): void {
  if (out) {
    writeFileSync(out, text);
    io.err(`Wrote the ${what} to ${out}.`);
  } else io.out(text.trimEnd());
}

/** Runs `bulwark compliance ARGS`; returns the exit code. */
export async function runCompliance(argv: readonly string[], io: ComplianceCliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(COMPLIANCE_HELP);
    return sub ? 0 : 2;
  }
  try {
    if (!['report', 'ropa', 'schema'].includes(sub)) throw new Usage(`unknown subcommand '${sub}'`);
    let values: { help?: boolean; format?: string; out?: string; strict?: boolean; 'data-dir'?: string };
    try {
      ({ values } = parseArgs({ args: [...rest], options: OPTIONS, strict: true, allowPositionals: false }));
    } catch (e) {
      throw new Usage((e as Error).message);
    }
    if (values.help) {
      io.out(COMPLIANCE_HELP);
      return 0;
    }
    const allowed: Record<string, readonly string[]> = {
      report: ['format', 'out', 'strict', 'data-dir'],
      ropa: ['format', 'out', 'data-dir'],
      schema: ['out'],
    };
    const extra = Object.keys(values).filter((k) => !allowed[sub]!.includes(k));
    if (extra.length) throw new Usage(`${sub} takes no --${extra.join(', --')}`);
    const format = (values.format ?? 'md') as ReportFormat;
    if (!REPORT_FORMATS.includes(format))
      throw new Usage(`--format takes md, html or json, not '${values.format}'`);

    if (sub === 'schema') {
      write(io, values.out, `${JSON.stringify(ReportSchema, null, 2)}\n`, 'report schema');
      return 0;
    }
    const config = loadConfig({ overrides: { dataDir: values['data-dir'] } });
    if (sub === 'ropa') {
      write(io, values.out, renderRopa(buildRopa(config, new Date()), format), 'record of processing');
      return 0;
    }
    const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
    try {
      const status = await db.migrationStatus();
      if (status.pending.length)
        throw new Error(
          `the database has pending migrations (${status.pending.join(', ')}): run bulwark migrate`,
        );
      const crypto = createCrypto({ db, masterKeys: config.masterKeys });
      io.err('Collecting evidence…');
      const report = await buildReport({ config, db, crypto }, { source: 'cli' });
      write(io, values.out, renderReport(report, format), 'compliance report');
      const c = report.counts;
      io.err(`${c.met} met, ${c.partly_met} partly met, ${c.not_met} not met of ${c.total} controls.`);
      return values.strict && c.not_met > 0 ? 1 : 0;
    } finally {
      await db.close();
    }
  } catch (e) {
    if (e instanceof Usage) {
      io.err(`bulwark compliance: ${e.message}\n\n${COMPLIANCE_HELP}`);
      return 2;
    }
    if ((e as Error).name === 'ConfigError') {
      io.err(`bulwark: ${(e as Error).message}`);
      return 2;
    }
    io.err(`bulwark compliance ${sub}: ${(e as Error).message}`);
    return 1;
  }
}
