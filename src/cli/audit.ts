/**
 * `bulwark audit …`: verify the audit trail (in the database, or an exported bundle offline),
 * export a signed bundle, print the audit public keys. Exit codes: 0 intact / done, 1 not intact
 * or failed, 2 usage or configuration error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import {
  AuditService,
  type AuditVerifyProgress,
  type AuditVerifyReport,
  appendAudit,
  type BundleReport,
  exportAudit,
  trustedKeys,
  verifyAudit,
  verifyBundle,
} from '../audit/index.ts';
import { loadConfig } from '../config/index.ts';
import { createCrypto } from '../platform/crypto/index.ts';
import { type Database, openDatabase } from '../platform/db/index.ts';

export const AUDIT_HELP = `Usage: bulwark audit <verify|export|keys> [options]

  bulwark audit verify [--from SEQ] [--public-key FILE] [--data-dir DIR] [--json]
      Check the whole audit trail in the database: every record's hash and link, every
      checkpoint's signature and Merkle root. A progress bar goes to stderr. --from SEQ resumes a
      verification at record SEQ (from the last checkpoint before it). --public-key FILE (the
      published audit JWKS, see 'audit keys') accepts only those keys. Exit 0 when intact, 1 with
      the first bad record when not.

  bulwark audit verify --bundle FILE [--public-key FILE] [--json]
      Check an exported bundle offline (no database, no configuration): records, inclusion
      proofs, checkpoint signatures and the bundle signature. Without --public-key the bundle's
      own keys are used, which proves integrity but not origin.

  bulwark audit export --from ISO --to ISO [--out FILE] [--data-dir DIR]
      Write a signed bundle of the records with from <= time < to (RFC 3339 instants), with the
      checkpoints covering them, their inclusion proofs and the public keys. To stdout by default.

  bulwark audit keys [--out FILE] [--data-dir DIR]
      Print every audit signing key (JWKS, public halves): publish it for bundle verifiers.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  from: { type: 'string' },
  to: { type: 'string' },
  out: { type: 'string' },
  bundle: { type: 'string' },
  'public-key': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Where progress goes: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressSink {
  readonly isTTY?: boolean | undefined;
  write(s: string): unknown;
}

export interface AuditCliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly progress?: ProgressSink;
}

class Usage extends Error {}

const n = (x: number) => x.toLocaleString('en-US');

function parseSeq(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new Usage(`--from takes a record number (1, 2, …), not '${v}'`);
  return Number(v);
}

function parseInstant(name: string, v: string | undefined): Date {
  if (v === undefined) throw new Usage(`--${name} is required`);
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(v) || Number.isNaN(d.getTime()))
    throw new Usage(`--${name} takes an RFC 3339 instant (2031-01-31T00:00:00Z), not '${v}'`);
  return d;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(
      `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${what} ${file} is not JSON`);
  }
}

/** A JWKS file, or a single JWK (wrapped into a set). */
function readPublicKeys(file: string): { keys: unknown[] } {
  const json = readJson(file, 'public key file') as { keys?: unknown };
  return Array.isArray(json?.keys) ? (json as { keys: unknown[] }) : { keys: [json] };
}

/** A progress display: a bar redrawn in place on a terminal, a line per ~10 % elsewhere. */
function progressReporter(sink: ProgressSink | undefined): {
  update: (p: AuditVerifyProgress) => void;
  done: () => void;
} {
  if (!sink) return { update: () => {}, done: () => {} };
  // The rate counts from the first report: the scan itself, not the set-up before it.
  let started = 0;
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  const rate = (verified: number) => {
    const s = (Date.now() - started) / 1000;
    return s > 0 ? Math.round(verified / s) : 0;
  };
  return {
    update(p) {
      if (!started) started = Date.now();
      const pct = p.total ? Math.floor((p.verified / p.total) * 100) : 100;
      if (sink.isTTY) {
        const now = Date.now();
        if (now - lastDraw < 80 && p.verified < p.total) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        sink.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ` +
            `${n(p.verified)}/${n(p.total)} records, at ${n(p.seq)}, ${n(rate(p.verified))}/s\x1b[K`,
        );
        drawn = true;
        return;
      }
      const decile = Math.floor(pct / 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      sink.write(`verified ${n(p.verified)}/${n(p.total)} records (${pct}%), at record ${n(p.seq)}\n`);
    },
    done() {
      if (sink.isTTY && drawn) sink.write('\n');
    },
  };
}

function printReport(r: AuditVerifyReport, out: (s: string) => void): void {
  if (r.ok) {
    const range = r.records ? `records ${n(r.fromSeq)}..${n(r.lastGoodSeq)}` : 'no records';
    out(
      `Audit trail intact: ${range} verified, ${n(r.checkpoints)} signed checkpoint(s) checked` +
        `${r.latestCheckpoint ? ` (latest #${r.latestCheckpoint.seq} covers ${n(r.latestCheckpoint.treeSize)} records, ${r.latestCheckpoint.time})` : ''}.`,
    );
    if (r.head.hash) out(`  head: record ${n(r.head.seq)}, hash ${r.head.hash}`);
    if (r.unsigned)
      out(`  ${n(r.unsigned)} newest record(s) are chained but not yet under a signed checkpoint.`);
    out(`  ${(r.durationMs / 1000).toFixed(1)} s`);
    return;
  }
  if (r.interrupted && !r.firstBadRecord && !r.firstBadCheckpoint) {
    out(`Verification interrupted after record ${n(r.lastGoodSeq)}: resume with --from ${r.lastGoodSeq + 1}`);
    return;
  }
  out('AUDIT TRAIL NOT INTACT');
  if (r.firstBadRecord)
    out(
      `  first bad record: ${r.firstBadRecord.seq} (${r.firstBadRecord.reason}): ${r.firstBadRecord.message}`,
    );
  if (r.firstBadCheckpoint)
    out(
      `  first bad checkpoint: #${r.firstBadCheckpoint.seq} (${r.firstBadCheckpoint.reason}): ${r.firstBadCheckpoint.message}`,
    );
  out(
    r.lastGoodSeq >= r.fromSeq
      ? `  records ${n(r.fromSeq)}..${n(r.lastGoodSeq)} verified good.`
      : '  no record verified good from the start point.',
  );
}

function printBundleReport(r: BundleReport, out: (s: string) => void): void {
  if (r.malformed) {
    out(`BUNDLE NOT VALID: ${r.malformed}`);
    return;
  }
  const range = r.range?.firstSeq
    ? `records ${n(r.range.firstSeq)}..${n(r.range.lastSeq ?? 0)}`
    : 'no records';
  if (r.ok) {
    out(
      `Bundle intact: ${range}, ${r.checkpoints} checkpoint(s), every inclusion proof and signature valid.`,
    );
    if (!r.keysTrusted)
      out(
        '  note: checked against the keys inside the bundle; pass --public-key with the published audit keys to check who signed it.',
      );
    return;
  }
  out(`BUNDLE NOT INTACT (${range})`);
  if (r.firstBadRecord)
    out(
      `  first bad record: ${r.firstBadRecord.seq} (${r.firstBadRecord.reason}): ${r.firstBadRecord.message}`,
    );
  if (r.firstBadCheckpoint)
    out(
      `  first bad checkpoint: #${r.firstBadCheckpoint.seq} (${r.firstBadCheckpoint.reason}): ${r.firstBadCheckpoint.message}`,
    );
  for (const p of r.problems) out(`  ${p}`);
}

async function withDatabase<T>(
  dataDir: string | undefined,
  fn: (db: Database, masterKeys: readonly string[]) => Promise<T>,
) {
  const config = loadConfig({ overrides: { dataDir } });
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 4 });
  try {
    const status = await db.migrationStatus();
    if (status.pending.length)
      throw new Error(
        `the database has pending migrations (${status.pending.join(', ')}): run bulwark migrate`,
      );
    return await fn(db, config.masterKeys);
  } finally {
    await db.close();
  }
}

/** Runs `bulwark audit ARGS`; returns the exit code. */
export async function runAudit(argv: readonly string[], io: AuditCliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(AUDIT_HELP);
    return sub ? 0 : 2;
  }
  try {
    if (!['verify', 'export', 'keys'].includes(sub)) throw new Usage(`unknown subcommand '${sub}'`);
    let values: {
      help?: boolean;
      from?: string;
      to?: string;
      out?: string;
      bundle?: string;
      'public-key'?: string;
      'data-dir'?: string;
      json?: boolean;
    };
    try {
      ({ values } = parseArgs({ args: [...rest], options: OPTIONS, strict: true, allowPositionals: false }));
    } catch (e) {
      throw new Usage((e as Error).message);
    }
    if (values.help) {
      io.out(AUDIT_HELP);
      return 0;
    }
    const allowed: Record<string, readonly string[]> = {
      verify: ['from', 'bundle', 'public-key', 'data-dir', 'json'],
      export: ['from', 'to', 'out', 'data-dir'],
      keys: ['out', 'data-dir'],
    };
    const extra = Object.keys(values).filter((k) => !allowed[sub]!.includes(k));
    if (extra.length) throw new Usage(`${sub} takes no --${extra.join(', --')}`);

    if (sub === 'verify') {
      const publicKeys = values['public-key'] ? readPublicKeys(values['public-key']) : undefined;
      if (values.bundle) {
        if (values.from) throw new Usage('--from applies to the database, not to a bundle');
        // Offline: no configuration, no database.
        const report = await verifyBundle(readJson(values.bundle, 'bundle'), publicKeys);
        if (values.json) io.out(JSON.stringify(report, null, 2));
        else printBundleReport(report, io.out);
        return report.ok ? 0 : 1;
      }
      const fromSeq = parseSeq(values.from);
      const keys = publicKeys ? trustedKeys(publicKeys) : undefined;
      return await withDatabase(values['data-dir'], async (db) => {
        const progress = progressReporter(io.progress);
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        process.once('SIGINT', onSignal);
        let report: AuditVerifyReport;
        try {
          report = await verifyAudit({
            db,
            ...(fromSeq ? { fromSeq } : {}),
            ...(keys ? { keys } : {}),
            onProgress: progress.update,
            signal: abort.signal,
          });
        } finally {
          process.removeListener('SIGINT', onSignal);
          progress.done();
        }
        if (values.json) io.out(JSON.stringify(report, null, 2));
        else printReport(report, io.out);
        return report.ok ? 0 : 1;
      });
    }

    if (sub === 'export') {
      const from = parseInstant('from', values.from);
      const to = parseInstant('to', values.to);
      if (from.getTime() >= to.getTime()) throw new Usage('--from must be before --to');
      return await withDatabase(values['data-dir'], async (db, masterKeys) => {
        const { signing } = createCrypto({ db, masterKeys });
        await signing.ensureKeys('audit', 'EdDSA');
        const bundle = await exportAudit({ db, signing, from, to });
        const text = `${JSON.stringify(bundle, null, 2)}\n`;
        if (values.out) writeFileSync(values.out, text, { mode: 0o600 });
        else io.out(text.trimEnd());
        // Exports are security-relevant events themselves.
        await db.asSystem((tx) =>
          appendAudit(tx, {
            actor: { type: 'operator', id: `cli:${safeUser()}` },
            action: 'audit.export.created',
            object: { type: 'audit_log', id: null },
            tenantId: null,
            outcome: 'success',
            details: {
              from: from.toISOString(),
              to: to.toISOString(),
              records: bundle.records.length,
              firstSeq: bundle.range.firstSeq,
              lastSeq: bundle.range.lastSeq,
            },
          }),
        );
        const summary = `Exported ${n(bundle.records.length)} record(s)${bundle.range.firstSeq ? ` (${n(bundle.range.firstSeq)}..${n(bundle.range.lastSeq ?? 0)})` : ''} with ${bundle.checkpoints.length} checkpoint(s)`;
        if (values.out) io.out(`${summary} to ${values.out}.`);
        else io.err(`${summary}.`);
        return 0;
      });
    }

    return await withDatabase(values['data-dir'], async (db, masterKeys) => {
      const { signing } = createCrypto({ db, masterKeys });
      const jwks = await new AuditService({ db, signing }).publicKeys();
      const text = JSON.stringify(jwks, null, 2);
      if (values.out) {
        writeFileSync(values.out, `${text}\n`);
        io.out(`Wrote ${jwks.keys.length} audit key(s) to ${values.out}.`);
      } else io.out(text);
      return 0;
    });
  } catch (e) {
    if (e instanceof Usage) {
      io.err(`bulwark audit: ${e.message}\n\n${AUDIT_HELP}`);
      return 2;
    }
    if ((e as Error).name === 'ConfigError') {
      io.err(`bulwark: ${(e as Error).message}`);
      return 2;
    }
    io.err(`bulwark audit ${sub}: ${(e as Error).message}`);
    return 1;
  }
}

/** The OS user running the CLI, as an id (letters, digits, . _ -). */
function safeUser(): string {
  try {
    return (
      userInfo()
        .username.replace(/[^A-Za-z0-9._-]/g, '_')
        .slice(0, 64) || 'unknown'
    );
  } catch {
    return 'unknown';
  }
}
