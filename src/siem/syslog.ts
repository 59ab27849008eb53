/**
 * Syslog sink: RFC 5424 messages over TCP with octet-counting framing (RFC 6587 §3.4.1:
 * `MSG-LEN SP SYSLOG-MSG`), optionally in TLS (RFC 5425: same framing, TLS 1.2 or later, the
 * collector's certificate verified against its host name).
 *
 * TCP syslog has no application-level acknowledgement: a write that reached our kernel may still be
 * lost if the connection breaks just after. So the sink remembers what it wrote in the last
 * `settleMs`; when the connection breaks, the next `send` throws a SinkReplayError and the exporter
 * sends those records again. Duplicates are possible (at-least-once), silent loss is not — except
 * for a connection that dies without either side noticing for longer than `settleMs`, which only
 * an acknowledged transport (RELP, or the HTTPS and NATS sinks) can rule out.
 */

import net from 'node:net';
import { hostname as osHostname } from 'node:os';
import tls from 'node:tls';
import { toCef } from './cef.ts';
import type { OcsfEvent } from './ocsf.ts';
import { type ExportItem, type SiemSink, SinkReplayError } from './sink.ts';

/** RFC 5424 §6.2.1: facility 13, "log audit". */
const FACILITY_LOG_AUDIT = 13;
const BOM = '\uFEFF';

/** OCSF severity_id → RFC 5424 severity (0 emergency … 7 debug). */
export function syslogSeverity(severityId: number): number {
  switch (severityId) {
    case 6:
      return 1; // alert
    case 5:
      return 2; // critical
    case 4:
      return 3; // error
    case 3:
      return 4; // warning
    case 2:
      return 5; // notice
    default:
      return 6; // informational
  }
}

/** RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash. */
function sdValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** PRINTUSASCII without spaces, cut to `max` (RFC 5424 §6: HOSTNAME 255, APP-NAME 48, MSGID 32). */
function token(v: string, max: number): string {
  const t = v.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return t || '-';
}

export interface SyslogFormat {
  readonly format: 'cef' | 'ocsf';
  readonly hostname?: string;
  readonly appName?: string;
  readonly productVersion: string;
}

/** One RFC 5424 message (without framing). */
export function syslogMessage(item: ExportItem, opts: SyslogFormat): string {
  const { record, event } = item;
  const pri = FACILITY_LOG_AUDIT * 8 + syslogSeverity(event.severity_id);
  const header = [
    `<${pri}>1`,
    record.occurredAt,
    token(opts.hostname ?? osHostname(), 255),
    token(opts.appName ?? 'bulwark', 48),
    String(process.pid),
    token(msgId(event), 32),
  ].join(' ');
  // `origin` is an IANA-registered SD-ID (RFC 5424 §7.2): no private enterprise number needed.
  const sd = `[origin software="Bulwark" swVersion="${sdValue(opts.productVersion)}"]`;
  const msg = opts.format === 'cef' ? toCef(record, event) : JSON.stringify(event);
  // RFC 5424 §6.4: a UTF-8 MSG starts with a BOM; plain ASCII is valid as MSG-ANY without one.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  const body = /^[\x00-\x7f]*$/.test(msg) ? msg : `${BOM}${msg}`;
  return `${header} ${sd} ${body}`;
}

/** MSGID: the OCSF class, e.g. `Authentication`, `APIActivity`. */
function msgId(event: OcsfEvent): string {
  return event.class_name.replace(/[^A-Za-z0-9]/g, '');
}

/** RFC 6587 §3.4.1 octet counting: the byte length, a space, the message. */
export function frame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

export interface SyslogSinkOptions extends SyslogFormat {
  /** `tcp://host:port` or `tls://host:port`. */
  readonly url: string;
  /** PEM CA bundle the collector's certificate must chain to (default: the system CAs). */
  readonly ca?: string | Buffer;
  /** How long written records stay "unconfirmed" (re-sent if the connection breaks). Default 2 s. */
  readonly settleMs?: number;
  readonly connectTimeoutMs?: number;
  readonly now?: () => number;
}

export function parseSyslogUrl(url: string): { tls: boolean; host: string; port: number } {
  const u = new URL(url);
  if (u.protocol !== 'tcp:' && u.protocol !== 'tls:') throw new Error('syslog URL must be tcp:// or tls://');
  if (!u.hostname) throw new Error('syslog URL has no host');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  // 6514 is syslog over TLS (RFC 5425 §4.1); 601 is syslog over TCP (RFC 3195's port, as rsyslog uses).
  const port = u.port ? Number(u.port) : u.protocol === 'tls:' ? 6514 : 601;
  return { tls: u.protocol === 'tls:', host, port };
}

export function openSyslogSink(opts: SyslogSinkOptions): SiemSink {
  const target = parseSyslogUrl(opts.url);
  const settleMs = opts.settleMs ?? 2_000;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let socket: net.Socket | undefined;
  let connecting: Promise<net.Socket> | undefined;
  /** Batches written on the current connection, newest last. */
  let written: { firstSeq: number; at: number }[] = [];
  /** Set when a connection broke with unconfirmed records on it. */
  let replayAfter: number | undefined;

  const broken = (s: net.Socket) => {
    if (socket !== s) return;
    socket = undefined;
    const since = now() - settleMs;
    const unconfirmed = written.filter((w) => w.at >= since);
    if (unconfirmed.length) {
      const after = Math.min(...unconfirmed.map((w) => w.firstSeq)) - 1;
      replayAfter = replayAfter === undefined ? after : Math.min(replayAfter, after);
    }
    written = [];
  };

  const connect = (): Promise<net.Socket> => {
    connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const s = target.tls
        ? tls.connect({
            host: target.host,
            port: target.port,
            servername: net.isIP(target.host) ? undefined : target.host,
            ...(opts.ca ? { ca: opts.ca } : {}),
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
          })
        : net.connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        s.destroy(new Error('syslog connect timed out'));
      }, connectTimeoutMs);
      const ready = target.tls ? 'secureConnect' : 'connect';
      const fail = (err: Error) => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      };
      s.once('error', fail);
      s.once(ready, () => {
        clearTimeout(timer);
        s.off('error', fail);
        s.setKeepAlive(true, 10_000);
        s.setNoDelay(true);
        s.on('error', () => broken(s));
        s.on('close', () => broken(s));
        // The collector never talks back in RFC 6587/5425; anything it sends is read and dropped.
        s.on('data', () => {});
        s.on('end', () => s.destroy());
        socket = s;
        resolve(s);
      });
    }).finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  return {
    name: 'syslog',
    async send(batch) {
      if (replayAfter !== undefined) {
        const after = replayAfter;
        replayAfter = undefined;
        throw new SinkReplayError(after, 'syslog connection broke; re-sending unconfirmed records');
      }
      if (batch.length === 0) return;
      if (socket && socket.writableLength > 0) {
        // The previous batch is still in our buffer: the collector stopped reading. Start over on a
        // fresh connection rather than pile more on this one.
        const stuck = socket;
        broken(stuck);
        stuck.destroy();
        const after = replayAfter ?? batch[0]!.record.seq - 1;
        replayAfter = undefined;
        throw new SinkReplayError(after, 'syslog collector stopped reading; reconnecting');
      }
      const s = socket ?? (await connect());
      const data = Buffer.concat(batch.map((item) => frame(syslogMessage(item, opts))));
      await new Promise<void>((resolve, reject) => {
        s.write(data, (err) => (err ? reject(err) : resolve()));
      }).catch((err: unknown) => {
        broken(s);
        s.destroy();
        throw err;
      });
      const at = now();
      written = written.filter((w) => w.at >= at - settleMs);
      written.push({ firstSeq: batch[0]!.record.seq, at });
    },
    async close() {
      const s = socket;
      socket = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.end(() => resolve());
        setTimeout(resolve, 1_000).unref();
      });
      s.destroy();
    },
  };
}
