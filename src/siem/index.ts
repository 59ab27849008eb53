/**
 * SIEM export: the audit trail, as OCSF events (and CEF lines), delivered at-least-once to the
 * sinks the configuration names — syslog over TCP/TLS, NATS JetStream, an HTTPS collector. Every
 * sink is off by default. docs/siem.md describes the mapping and the delivery guarantees.
 *
 *   const siem = await startSiemExport({ config, db, logger, metrics, tracer });
 *   …
 *   await siem.stop();
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { AuditLogger } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { Database } from '../platform/db/index.ts';
import type { Tracer } from '../platform/tracing.ts';
import { type SiemExporter, startSiemExporter } from './exporter.ts';
import { openHttpSink } from './http.ts';
import { openNatsSink } from './nats.ts';
import type { SiemSink } from './sink.ts';
import { openSyslogSink, parseSyslogUrl } from './syslog.ts';

export { cefHeader, cefSeverity, cefValue, parseCef, toCef } from './cef.ts';
export { type ExporterOptions, type SiemExporter, startSiemExporter } from './exporter.ts';
export { CollectorError, type HttpSinkOptions, httpBody, openHttpSink } from './http.ts';
export { type NatsSinkOptions, openNatsSink, siemSubject } from './nats.ts';
export {
  classify,
  classToken,
  OCSF_CLASSES,
  OCSF_VERSION,
  type OcsfClassUid,
  type OcsfEvent,
  severityOf,
  toOcsf,
} from './ocsf.ts';
export { type ExportItem, type SiemSink, SinkReplayError } from './sink.ts';
export { type CursorState, cursorStates } from './store.ts';
export { frame, openSyslogSink, parseSyslogUrl, type SyslogSinkOptions, syslogMessage } from './syslog.ts';

/** Bulwark's version, for OCSF `metadata.product.version` and CEF's device version. */
export const PRODUCT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

type SiemConfig = Pick<
  Config,
  | 'env'
  | 'natsUrl'
  | 'siemSyslogUrl'
  | 'siemSyslogFormat'
  | 'siemSyslogCaFile'
  | 'siemSyslogAllowPlaintext'
  | 'siemNats'
  | 'siemNatsStream'
  | 'siemNatsSubjectPrefix'
  | 'siemHttpUrl'
  | 'siemHttpToken'
  | 'siemHttpFormat'
  | 'siemBatchSize'
  | 'siemPollMs'
>;

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * What the SIEM settings may not be (checked at boot; the server refuses to start):
 * production refuses unencrypted syslog leaving the machine (audit data crossing a network in
 * clear text) unless explicitly allowed, and a non-https collector; the NATS sink needs NATS.
 */
export function siemConfigProblems(c: SiemConfig): string[] {
  const problems: string[] = [];
  const production = c.env === 'production';
  if (c.siemSyslogUrl) {
    try {
      const t = parseSyslogUrl(c.siemSyslogUrl);
      if (production && !t.tls && !isLoopback(t.host) && !c.siemSyslogAllowPlaintext)
        problems.push(
          'BULWARK_SIEM_SYSLOG_URL: production refuses tcp:// (unencrypted) to a non-loopback host; use tls:// (RFC 5425) or set BULWARK_SIEM_SYSLOG_ALLOW_PLAINTEXT=true',
        );
    } catch (err) {
      problems.push(`BULWARK_SIEM_SYSLOG_URL: ${(err as Error).message}`);
    }
  }
  if (c.siemSyslogCaFile && !c.siemSyslogUrl?.startsWith('tls:'))
    problems.push('BULWARK_SIEM_SYSLOG_CA_FILE: only used with a tls:// syslog URL');
  if (c.siemNats && !c.natsUrl) problems.push('BULWARK_SIEM_NATS: needs NATS_URL');
  if (c.siemHttpUrl) {
    const u = new URL(c.siemHttpUrl);
    if (production && u.protocol !== 'https:')
      problems.push('BULWARK_SIEM_HTTP_URL: must be an https:// URL in production');
    if (u.username || u.password)
      problems.push('BULWARK_SIEM_HTTP_URL: must not carry credentials; use BULWARK_SIEM_HTTP_TOKEN');
  }
  if (c.siemHttpToken && !c.siemHttpUrl)
    problems.push('BULWARK_SIEM_HTTP_TOKEN: set without BULWARK_SIEM_HTTP_URL');
  return problems;
}

/** The sinks the configuration turns on (none by default). */
export function sinksFromConfig(c: SiemConfig, productVersion = PRODUCT_VERSION): SiemSink[] {
  const problems = siemConfigProblems(c);
  if (problems.length)
    throw new Error(`Invalid SIEM configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const sinks: SiemSink[] = [];
  if (c.siemSyslogUrl)
    sinks.push(
      openSyslogSink({
        url: c.siemSyslogUrl,
        format: c.siemSyslogFormat,
        productVersion,
        ...(c.siemSyslogCaFile ? { ca: readFileSync(c.siemSyslogCaFile) } : {}),
      }),
    );
  if (c.siemNats && c.natsUrl)
    sinks.push(
      openNatsSink({ url: c.natsUrl, stream: c.siemNatsStream, subjectPrefix: c.siemNatsSubjectPrefix }),
    );
  if (c.siemHttpUrl)
    sinks.push(openHttpSink({ url: c.siemHttpUrl, token: c.siemHttpToken, format: c.siemHttpFormat }));
  return sinks;
}

export interface SiemExport {
  readonly exporters: readonly SiemExporter[];
  /** Runs every exporter until caught up. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartSiemOptions {
  readonly config: SiemConfig;
  readonly db: Database;
  readonly logger?: AuditLogger;
  readonly tracer?: Tracer;
  readonly metrics?: {
    siemExported(sink: string, records: number): void;
    siemFailure(sink: string): void;
  };
  /** Sinks to use instead of the configured ones (tests). */
  readonly sinks?: readonly SiemSink[];
}

/** Starts one exporter per configured sink. With no sink configured it does nothing at all. */
export function startSiemExport(opts: StartSiemOptions): SiemExport {
  const sinks = opts.sinks ?? sinksFromConfig(opts.config);
  const exporters = sinks.map((sink) =>
    startSiemExporter({
      db: opts.db,
      sink,
      productVersion: PRODUCT_VERSION,
      batchSize: opts.config.siemBatchSize,
      pollMs: opts.config.siemPollMs,
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.tracer ? { tracer: opts.tracer } : {}),
      ...(opts.metrics ? { onExported: opts.metrics.siemExported, onFailure: opts.metrics.siemFailure } : {}),
    }),
  );
  if (exporters.length) opts.logger?.info({ sinks: exporters.map((e) => e.sink) }, 'siem export started');
  return {
    exporters,
    async drain() {
      let n = 0;
      for (const e of exporters) n += await e.drain();
      return n;
    },
    async stop() {
      await Promise.all(exporters.map((e) => e.stop()));
    },
  };
}
