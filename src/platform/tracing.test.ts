import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';
import {
  createOtlpTracer,
  formatTraceparent,
  installTracing,
  NOOP_TRACER,
  parseOtlpHeaders,
  parseTraceparent,
  type Tracer,
} from './tracing.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('W3C traceparent', () => {
  it('parses a valid header and formats it back', () => {
    const ctx = parseTraceparent(`00-${TRACE}-${SPAN}-01`);
    expect(ctx).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1 });
    expect(formatTraceparent(ctx!)).toBe(`00-${TRACE}-${SPAN}-01`);
    // A future version may append fields (§3.2.4); only the known prefix is used.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-00-extra`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      flags: 0,
    });
  });

  it('ignores malformed, all-zero, version ff and over-long headers', () => {
    for (const bad of [
      undefined,
      '',
      `00-${TRACE}-${SPAN}`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE}-${SPAN}-01${' '.repeat(600)}`,
      ['a', 'b'],
    ])
      expect(parseTraceparent(bad as string | undefined), String(bad)).toBeUndefined();
  });

  it('OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value, URL-decoded', () => {
    expect(parseOtlpHeaders('api-key=abc%3D,X-Tenant = t1,broken')).toEqual({
      'api-key': 'abc=',
      'x-tenant': 't1',
    });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });
});

describe('request tracing', () => {
  let collector: http.Server;
  let endpoint: string;
  const received: Record<string, unknown>[] = [];

  beforeAll(async () => {
    collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        const parsed = JSON.parse(body) as {
          resourceSpans: { resource: unknown; scopeSpans: { spans: Record<string, unknown>[] }[] }[];
        };
        for (const rs of parsed.resourceSpans)
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans) received.push({ ...s, resource: rs.resource });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => collector.close(() => r())));

  async function appWith(tracer: Tracer) {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n'))
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const app = Fastify({ loggerInstance: createLogger('info', sink) as FastifyBaseLogger });
    installTracing(app, tracer);
    app.get('/items/:id', async (req) => {
      req.log.info('handling');
      return { trace: req.traceContext?.traceId ?? null };
    });
    await app.ready();
    return { app, lines };
  }

  it('without an exporter: the caller trace id reaches the logs, no span is created, untraced requests stay untouched', async () => {
    const { app, lines } = await appWith(NOOP_TRACER);
    const traced = await app.inject({ url: '/items/1', headers: { traceparent: `00-${TRACE}-${SPAN}-01` } });
    expect(traced.json()).toEqual({ trace: TRACE });
    expect(lines.find((l) => l.msg === 'handling')).toMatchObject({ traceId: TRACE });
    const plain = await app.inject({ url: '/items/1' });
    expect(plain.json()).toEqual({ trace: null });
    expect(lines.filter((l) => l.msg === 'handling').at(-1)).not.toHaveProperty('traceId');
    await app.close();
  });

  it('with an OTLP endpoint: one SERVER span per request, child of the caller, exported as OTLP/HTTP JSON', async () => {
    const tracer = createOtlpTracer({ endpoint, serviceName: 'bulwark-test', flushMs: 60_000 });
    const { app, lines } = await appWith(tracer);
    const res = await app.inject({ url: '/items/7', headers: { traceparent: `00-${TRACE}-${SPAN}-01` } });
    expect(res.json()).toEqual({ trace: TRACE });
    const fresh = await app.inject({ url: '/items/8' });
    const freshTrace = (fresh.json() as { trace: string }).trace;
    expect(freshTrace).toMatch(/^[0-9a-f]{32}$/);
    expect(lines.filter((l) => l.msg === 'handling').map((l) => l.traceId)).toEqual([TRACE, freshTrace]);
    await tracer.flush();
    const child = received.find((s) => s.traceId === TRACE)!;
    expect(child).toMatchObject({
      parentSpanId: SPAN,
      name: 'GET /items/:id',
      kind: 2,
      status: { code: 0 },
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bulwark-test' } }] },
    });
    expect(child.attributes).toContainEqual({ key: 'http.response.status_code', value: { intValue: 200 } });
    expect(BigInt(child.endTimeUnixNano as string)).toBeGreaterThanOrEqual(
      BigInt(child.startTimeUnixNano as string),
    );
    const root = received.find((s) => s.traceId === freshTrace)!;
    expect(root).not.toHaveProperty('parentSpanId');
    await app.close();
  });

  it('an unsampled caller (flags 00) is propagated but not recorded; a down collector drops spans instead of piling them up', async () => {
    const down = createOtlpTracer({ endpoint: 'http://127.0.0.1:9', flushMs: 60_000, maxQueue: 2 });
    const unsampled = down.startSpan('x', { parent: { traceId: TRACE, spanId: SPAN, flags: 0 } })!;
    expect(unsampled.context.traceId).toBe(TRACE);
    unsampled.end();
    for (let i = 0; i < 5; i++) down.startSpan(`s${i}`)!.end();
    expect(down.dropped()).toBe(3); // queue of 2; the unsampled one was never queued
    await down.shutdown();
    expect(down.dropped()).toBe(5); // the 2 queued ones failed to send: dropped, not retried forever
  });
});
