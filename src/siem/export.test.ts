/**
 * SIEM export end to end on both database backends: audit records → exporter → a REAL syslog
 * collector (TCP, and TLS with a throwaway certificate) and a REAL HTTP collector, parsed back and
 * checked against the OCSF class fields; outages (collector down, 503) lose nothing; the cursor and
 * its lease in the database (resume after restart, one exporter per sink).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import type { AuditInput } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { createOtlpTracer, parseTraceparent } from '../platform/tracing.ts';
import { parseCef } from './cef.ts';
import { type ExporterOptions, startSiemExporter } from './exporter.ts';
import { openHttpSink } from './http.ts';
import type { OcsfEvent } from './ocsf.ts';
import type { SiemSink } from './sink.ts';
import * as store from './store.ts';
import { openSyslogSink } from './syslog.ts';
import {
  appendRecords,
  firstArrivals,
  type SyslogCollector,
  startSyslogCollector,
  testCertificate,
} from './testing.ts';

const TENANT = uuidv7();
const USER = uuidv7();

/** A mix of the three classes: failed sign-ins, WAF blocks, detection alerts. */
const mixed = (i: number): AuditInput => {
  switch (i % 3) {
    case 0:
      return {
        actor: { type: 'user', id: USER, clientId: 'app-1' },
        action: 'auth.signin.failed',
        object: { type: 'user', id: USER },
        tenantId: TENANT,
        outcome: 'failure',
        requestId: `req-${i}`,
        details: { ip: '203.0.113.5', i },
      };
    case 1:
      return {
        actor: { type: 'anonymous' },
        action: 'waf.blocked',
        tenantId: null,
        outcome: 'blocked',
        requestId: `req-${i}`,
        details: { ip: '198.51.100.2', method: 'GET', route: '/v1/claims/:id', ruleIds: ['sqli-942100'], i },
      };
    default:
      return {
        actor: { type: 'system', id: 'detection' },
        action: 'detection.alert.raised',
        object: { type: 'alert', id: `alert-${i}` },
        tenantId: TENANT,
        outcome: 'success',
        details: {
          detector: 'password_spraying',
          severity: 'high',
          explanation: 'many accounts, one source',
          i,
        },
      };
  }
};

const fast = (db: Database, sink: SiemSink, extra: Partial<ExporterOptions> = {}) =>
  startSiemExporter({
    db,
    sink,
    productVersion: '0.1.0',
    batchSize: 7,
    pollMs: 40,
    leaseMs: 5_000,
    backoffMs: 20,
    maxBackoffMs: 200,
    sendTimeoutMs: 5_000,
    ...extra,
  });

/** Renames a sink so each test has its own cursor row. */
const named = (sink: SiemSink, name: string): SiemSink => ({
  name,
  send: (b, t) => sink.send(b, t),
  close: () => sink.close(),
});

function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await cond()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(tick, 20);
    };
    void tick();
  });
}

/** The OCSF fields a SIEM relies on, per class. */
function expectOcsfClass(e: OcsfEvent) {
  expect(e.type_uid).toBe(e.class_uid * 100 + e.activity_id);
  expect(e.metadata).toMatchObject({ version: '1.6.0', product: { name: 'Bulwark' } });
  switch (e.class_uid) {
    case 3002:
      expect(e).toMatchObject({
        category_uid: 3,
        activity_id: 1,
        status_id: 2,
        user: { uid: USER },
        src_endpoint: { ip: '203.0.113.5' },
        service: { name: 'Bulwark' },
      });
      break;
    case 6003:
      expect(e).toMatchObject({
        category_uid: 6,
        activity_id: 2, // GET
        status_id: 2,
        status_detail: 'blocked',
        actor: { user: { type_id: 0 } },
        api: { operation: 'waf.blocked' },
        src_endpoint: { ip: '198.51.100.2' },
      });
      expect((e.api as { request: { uid: string } }).request.uid).toMatch(/^req-/);
      break;
    case 2004:
      expect(e).toMatchObject({ category_uid: 2, activity_id: 1, severity_id: 4, is_alert: true });
      expect((e.finding_info as { uid: string }).uid).toMatch(/^alert-/);
      break;
    default:
      throw new Error(`unexpected class ${e.class_uid}`);
  }
}

describe.each(dbBackends)('SIEM export on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  const headSeq = async () =>
    (await db.asSystem((tx) => store.recordsAfter(tx, 0, 100_000))).at(-1)?.seq ?? 0;

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await appendRecords(db, 12, mixed);
  });
  afterAll(() => dispose?.());

  it('syslog over TCP: RFC 5424 + octet counting, OCSF JSON per class, every record in order', async () => {
    const collector = await startSyslogCollector();
    const sink = named(
      openSyslogSink({ url: `tcp://127.0.0.1:${collector.port}`, format: 'ocsf', productVersion: '0.1.0' }),
      'syslog-ocsf',
    );
    const exporter = fast(db, sink);
    try {
      const head = await headSeq();
      await collector.waitFor(head);
      const events = collector.messages.map((m) => JSON.parse(m.msg) as OcsfEvent);
      expect(firstArrivals(events.map((e) => e.metadata.sequence))).toEqual(
        Array.from({ length: head }, (_, i) => i + 1),
      );
      for (const [i, m] of collector.messages.entries()) {
        const e = events[i]!;
        expect(m.version).toBe('1');
        expect(m.appName).toBe('bulwark');
        expect(m.msgId).toBe(e.class_name.replace(/ /g, ''));
        // facility 13 (log audit); severity from the OCSF severity.
        expect(m.pri >> 3).toBe(13);
        expect(m.pri & 7).toBe(
          e.severity_id === 4 ? 3 : e.severity_id === 3 ? 4 : e.severity_id === 2 ? 5 : 6,
        );
        expect(m.structuredData).toBe('[origin software="Bulwark" swVersion="0.1.0"]');
        expect(Date.parse(m.timestamp)).toBe(e.time);
        expectOcsfClass(e);
      }
      expect(new Set(events.map((e) => e.class_uid))).toEqual(new Set([3002, 6003, 2004]));
      // The cursor follows once the write is acknowledged (the collector may see the bytes first).
      const cursor = async () => (await store.cursorStates(db)).find((c) => c.sink === 'syslog-ocsf');
      await until(async () => (await cursor())?.lastSeq === head);
      expect(await cursor()).toMatchObject({ lastSeq: head, lagRecords: 0, lagSeconds: 0 });
    } finally {
      await exporter.stop();
      await collector.close();
    }
  });

  it('syslog over TLS (RFC 5425) with CEF bodies; a collector certificate we do not trust gets nothing', async () => {
    const good = testCertificate();
    const other = testCertificate();
    const collector = await startSyslogCollector({ tls: good });
    // First with the wrong trust anchor: the handshake fails, nothing is delivered, the cursor stays.
    let failures = 0;
    const refused = fast(
      db,
      named(
        openSyslogSink({
          url: `tls://localhost:${collector.port}`,
          format: 'cef',
          productVersion: '0.1.0',
          ca: other.cert,
        }),
        'syslog-tls',
      ),
      { onFailure: () => failures++ },
    );
    await until(() => failures >= 2);
    await refused.stop();
    expect(collector.messages).toHaveLength(0);
    expect((await store.cursorStates(db)).find((c) => c.sink === 'syslog-tls')?.lastSeq).toBe(0);

    const exporter = fast(
      db,
      named(
        openSyslogSink({
          url: `tls://localhost:${collector.port}`,
          format: 'cef',
          productVersion: '0.1.0',
          ca: good.cert,
        }),
        'syslog-tls',
      ),
    );
    try {
      const head = await headSeq();
      await collector.waitFor(head);
      const lines = collector.messages.map((m) => parseCef(m.msg));
      expect(firstArrivals(lines.map((l) => Number(l.ext.externalId)))).toEqual(
        Array.from({ length: head }, (_, i) => i + 1),
      );
      const signin = lines.find((l) => l.header[4] === 'auth.signin.failed')!;
      expect(signin.header.slice(0, 4)).toEqual(['CEF:0', 'Bulwark', 'Bulwark', '0.1.0']);
      expect(signin.header[5]).toBe('Authentication: Logon');
      expect(signin.ext).toMatchObject({
        outcome: 'failure',
        suid: USER,
        src: '203.0.113.5',
        cs1: TENANT,
        cs5: '300201',
      });
    } finally {
      await exporter.stop();
      await collector.close();
    }
  });

  it('syslog collector down: nothing is lost once it is back (cursor resumes, in order, at least once)', async () => {
    const first = await startSyslogCollector();
    const port = first.port;
    let failures = 0;
    const exporter = fast(
      db,
      named(
        openSyslogSink({ url: `tcp://127.0.0.1:${port}`, format: 'ocsf', productVersion: '0.1.0' }),
        'syslog-outage',
      ),
      { onFailure: () => failures++ },
    );
    let second: SyslogCollector | undefined;
    try {
      const before = await headSeq();
      await first.waitFor(before);
      await first.close(); // outage
      const added = await appendRecords(db, 10, mixed);
      await until(() => failures >= 2);
      second = await startSyslogCollector({ port });
      const head = added.at(-1)!.seq;
      await until(() =>
        second!.messages.some((m) => (JSON.parse(m.msg) as OcsfEvent).metadata.sequence === head),
      );
      const seqsOf = (c: SyslogCollector) =>
        c.messages.map((m) => (JSON.parse(m.msg) as OcsfEvent).metadata.sequence);
      // In order within each connection's life, and every record somewhere.
      for (const c of [first, second]) {
        const order = firstArrivals(seqsOf(c));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      const all = new Set([...seqsOf(first), ...seqsOf(second)]);
      expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      // The second collector got everything the first one missed, from where the cursor stood.
      expect(Math.min(...seqsOf(second))).toBeLessThanOrEqual(before + 1);
    } finally {
      await exporter.stop();
      await second?.close();
    }
  });

  it('HTTPS collector answering 503: retried with back-off, then every record arrives once, in order, with the token and a traceparent', async () => {
    let mode: 'down' | 'up' = 'down';
    const batches: { auth?: string; traceparent?: string; events: OcsfEvent[] }[] = [];
    const spans: unknown[] = [];
    let refusedCount = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          spans.push(
            ...(JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] })
              .resourceSpans[0]!.scopeSpans[0]!.spans,
          );
          res.end('{}');
          return;
        }
        if (mode === 'down') {
          refusedCount++;
          res.statusCode = 503;
          res.end('maintenance');
          return;
        }
        batches.push({
          ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
          ...(typeof req.headers.traceparent === 'string' ? { traceparent: req.headers.traceparent } : {}),
          events: JSON.parse(body) as OcsfEvent[],
        });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tracer = createOtlpTracer({ endpoint: base, flushMs: 60_000 });
    const exporter = fast(
      db,
      named(openHttpSink({ url: `${base}/collect`, token: 'secret-token', format: 'ocsf' }), 'http-outage'),
      { tracer },
    );
    try {
      await until(() => refusedCount >= 3);
      expect(batches).toHaveLength(0);
      expect((await store.cursorStates(db)).find((c) => c.sink === 'http-outage')).toMatchObject({
        lastSeq: 0,
      });
      mode = 'up';
      const head = await headSeq();
      await until(() => batches.some((b) => b.events.some((e) => e.metadata.sequence === head)));
      const seqs = batches.flatMap((b) => b.events.map((e) => e.metadata.sequence));
      expect(seqs).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      for (const b of batches) {
        expect(b.auth).toBe('Bearer secret-token');
        expect(b.events.length).toBeLessThanOrEqual(7);
        for (const e of b.events) expectOcsfClass(e);
      }
      // The delivery's traceparent names a span that was exported (OTLP/HTTP JSON).
      await tracer.flush();
      const ctx = parseTraceparent(batches[0]!.traceparent);
      expect(ctx).toBeDefined();
      expect(spans).toContainEqual(
        expect.objectContaining({
          traceId: ctx!.traceId,
          spanId: ctx!.spanId,
          name: 'siem.export http-outage',
          kind: 3,
        }),
      );
      // Failed deliveries are spans with status ERROR.
      expect(spans).toContainEqual(expect.objectContaining({ status: expect.objectContaining({ code: 2 }) }));
    } finally {
      await exporter.stop();
      await tracer.shutdown();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('cursor store: one lease holder per sink, takeover after release, cursor persisted', async () => {
    const one = 'instance-1';
    const two = 'instance-2';
    const lease = (owner: string) =>
      db.asSystem(async (tx) => {
        await store.ensureCursor(tx, 'lease-test');
        return store.acquireLease(tx, 'lease-test', owner, 60_000);
      });
    expect(await lease(one)).toBe(0);
    expect(await lease(two)).toBeUndefined(); // held by one
    expect(await lease(one)).toBe(0); // renewal
    expect(await db.asSystem((tx) => store.saveCursor(tx, 'lease-test', one, 5, 60_000))).toBe(true);
    expect(await db.asSystem((tx) => store.saveCursor(tx, 'lease-test', two, 9, 60_000))).toBe(false);
    await db.asSystem((tx) => store.releaseLease(tx, 'lease-test', one));
    expect(await lease(two)).toBe(5); // takes over where one stopped
    expect(await db.asSystem((tx) => store.saveCursor(tx, 'lease-test', one, 6, 60_000))).toBe(false);
    // An expired lease is taken over too (a crashed holder).
    await db.asSystem((tx) => store.acquireLease(tx, 'lease-test', two, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(await lease(one)).toBe(5);
  });

  it('a restarted exporter resumes from the persisted cursor; a second instance does not double-export', async () => {
    const received: number[] = [];
    const sink: SiemSink = {
      name: 'resume-test',
      async send(batch) {
        received.push(...batch.map((i) => i.record.seq));
      },
      async close() {},
    };
    const a = fast(db, sink, { owner: 'a' });
    const b = fast(db, sink, { owner: 'b' });
    const head = await headSeq();
    await until(() => received.includes(head));
    await a.stop();
    await b.stop();
    expect(received).toEqual(Array.from({ length: head }, (_, i) => i + 1));

    const added = await appendRecords(db, 4, mixed);
    const c = fast(db, sink, { owner: 'c' });
    await until(() => received.includes(added.at(-1)!.seq));
    await c.stop();
    // Resumed after the cursor: nothing before it sent again.
    expect(received).toEqual(Array.from({ length: added.at(-1)!.seq }, (_, i) => i + 1));
  });
});
