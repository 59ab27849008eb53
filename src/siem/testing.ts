/**
 * Test helpers of the SIEM module (imported by tests only): a real syslog collector (TCP or TLS,
 * RFC 6587 octet-counting parser, RFC 5424 header parser), a throwaway certificate, audit records.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { type AuditInput, type AuditRecord, appendAudit } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';

export interface SyslogMessage {
  readonly pri: number;
  readonly version: string;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly structuredData: string;
  readonly msg: string;
}

/** RFC 5424 §6 header fields; the MSG with its BOM (if any) removed. */
export function parseSyslog(line: string): SyslogMessage {
  const m =
    /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\])+) ?([\s\S]*)$/.exec(
      line,
    );
  if (!m) throw new Error(`not an RFC 5424 message: ${line.slice(0, 80)}`);
  return {
    pri: Number(m[1]),
    version: m[2]!,
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    structuredData: m[8]!,
    msg: m[9]!.replace(/^\uFEFF/, ''),
  };
}

/** Splits an RFC 6587 octet-counted stream; returns the messages and the unparsed rest. */
export function unframe(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let at = 0;
  for (;;) {
    const space = buf.indexOf(0x20, at);
    if (space === -1) break;
    const lenText = buf.subarray(at, space).toString('ascii');
    if (!/^[1-9]\d*$/.test(lenText)) throw new Error(`bad octet count ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (buf.length < space + 1 + len) break;
    messages.push(buf.subarray(space + 1, space + 1 + len).toString('utf8'));
    at = space + 1 + len;
  }
  return { messages, rest: buf.subarray(at) };
}

export interface SyslogCollector {
  readonly port: number;
  readonly messages: SyslogMessage[];
  /** Resolves once at least `n` messages arrived in total. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening and cuts every connection (an outage). */
  close(): Promise<void>;
}

/** A real syslog collector on 127.0.0.1 (`port` 0: any free port). */
export async function startSyslogCollector(
  opts: { port?: number; tls?: { key: string; cert: string } } = {},
): Promise<SyslogCollector> {
  const messages: SyslogMessage[] = [];
  const sockets = new Set<net.Socket>();
  const waiters = new Set<() => void>();
  const onSocket = (s: net.Socket) => {
    sockets.add(s);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = unframe(buf);
      buf = r.rest;
      for (const m of r.messages) messages.push(parseSyslog(m));
      for (const w of waiters) w();
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  };
  const server = opts.tls
    ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onSocket)
    : net.createServer(onSocket);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    messages,
    waitFor(n, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (messages.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`only ${messages.length} of ${n} syslog messages arrived`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** A self-signed certificate for `localhost` / 127.0.0.1 (openssl), used as its own trust anchor. */
export function testCertificate(cn = 'localhost'): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-siem-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        `subjectAltName=DNS:${cn},IP:127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Appends `n` audit records (as the system) and returns them. */
export async function appendRecords(
  db: Database,
  n: number,
  make: (i: number) => AuditInput,
): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) out.push(await db.asSystem((tx) => appendAudit(tx, make(i))));
  return out;
}

/** Distinct seqs in order of first arrival (duplicates from re-sends removed). */
export function firstArrivals(seqs: readonly number[]): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const s of seqs) {
    if (!seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  }
  return out;
}
