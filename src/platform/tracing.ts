/**
 * Distributed tracing, kept to what Bulwark needs and costing next to nothing when off:
 *
 *  - W3C Trace Context (https://www.w3.org/TR/trace-context/): an incoming `traceparent` is read
 *    (§3.2; malformed or all-zero ids are ignored, as §3.2.2.3/§3.2.2.4 require) and its trace id
 *    is put on the request's log lines as `traceId`; outgoing calls can carry `traceparent`.
 *  - Spans, only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT): one SERVER span
 *    per request (child of the caller's span if it sent one) and CLIENT spans for SIEM deliveries,
 *    batched and POSTed as OTLP/HTTP JSON to `<endpoint>/v1/traces`.
 *
 * Why not the OpenTelemetry SDK: `@opentelemetry/api` alone records nothing, and the SDK plus the
 * OTLP exporter add several packages and a context manager (async_hooks) that costs on every request
 * whether or not anyone looks at the spans. The wire formats are small, stable specifications, so
 * we emit them directly: with no endpoint configured no span object is ever created, and the only
 * per-request work is one header lookup.
 * Spans are telemetry, not records: when the collector is down, spans beyond the buffer are
 * dropped (counted), never retried for long.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Trace flags; bit 0 = sampled. */
  readonly flags: number;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Parses a `traceparent` header (W3C Trace Context §3.2); undefined when absent or invalid. */
export function parseTraceparent(header: string | string[] | undefined): TraceContext | undefined {
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const m = TRACEPARENT_RE.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is invalid; version 00 has exactly four fields (§3.2.4: later versions may add more).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: Number.parseInt(flags!, 16) };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.flags & 0xff).toString(16).padStart(2, '0')}`;
}

export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}
export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

export type SpanKind = 'internal' | 'server' | 'client' | 'producer';
const KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4 };
type AttributeValue = string | number | boolean;

export interface Span {
  readonly context: TraceContext;
  setAttribute(key: string, value: AttributeValue | undefined): void;
  /** Marks the span failed (OTLP status ERROR) with a short, non-sensitive message. */
  fail(message: string): void;
  end(): void;
}

export interface Tracer {
  /** False when no exporter is configured: `startSpan` returns undefined, nothing is recorded. */
  readonly enabled: boolean;
  startSpan(
    name: string,
    opts?: {
      parent?: TraceContext | undefined;
      kind?: SpanKind;
      attributes?: Record<string, AttributeValue>;
    },
  ): Span | undefined;
  /** Sends what is buffered now. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Spans dropped because the buffer was full (collector slow or down). */
  dropped(): number;
}

export const NOOP_TRACER: Tracer = {
  enabled: false,
  startSpan: () => undefined,
  flush: async () => {},
  shutdown: async () => {},
  dropped: () => 0,
};

interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, AttributeValue> }[];
  status: { code: number; message?: string };
}

function otlpValue(v: AttributeValue): Record<string, AttributeValue> {
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  return { stringValue: v };
}

/** Wall-clock nanoseconds since the epoch, advancing with the monotonic clock (OTLP span times). */
const EPOCH_OFFSET = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
function nowNanos(): bigint {
  return EPOCH_OFFSET + process.hrtime.bigint();
}

/** `k1=v1,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS, values URL-encoded) → headers. */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out[decodeURIComponent(part.slice(0, i).trim()).toLowerCase()] = decodeURIComponent(
      part.slice(i + 1).trim(),
    );
  }
  return out;
}

export interface OtlpTracerOptions {
  /** Base endpoint; spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string;
  readonly headers?: Record<string, string>;
  readonly serviceName?: string;
  readonly serviceVersion?: string;
  /** Flush when this many spans wait, or every `flushMs`. Defaults 512 / 5 s. */
  readonly batchSize?: number;
  readonly flushMs?: number;
  /** Spans kept while the collector does not answer; more are dropped. Default 4,096. */
  readonly maxQueue?: number;
  readonly onError?: (err: unknown) => void;
}

/** A tracer that exports spans as OTLP/HTTP JSON. */
export function createOtlpTracer(opts: OtlpTracerOptions): Tracer {
  const url = `${opts.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const batchSize = opts.batchSize ?? 512;
  const maxQueue = opts.maxQueue ?? 4_096;
  const queue: FinishedSpan[] = [];
  let dropped = 0;
  let sending: Promise<void> | undefined;
  const resource = {
    attributes: [
      { key: 'service.name', value: { stringValue: opts.serviceName ?? 'bulwark' } },
      ...(opts.serviceVersion
        ? [{ key: 'service.version', value: { stringValue: opts.serviceVersion } }]
        : []),
    ],
  };

  const send = async (): Promise<void> => {
    while (queue.length) {
      const spans = queue.splice(0, batchSize);
      try {
        const res = await fetch(url, {
          method: 'POST',
          redirect: 'error',
          signal: AbortSignal.timeout(10_000),
          headers: { 'content-type': 'application/json', ...opts.headers },
          body: JSON.stringify({
            resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'bulwark' }, spans }] }],
          }),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`OTLP endpoint answered ${res.status}`);
      } catch (err) {
        opts.onError?.(err);
        dropped += spans.length;
        return;
      }
    }
  };
  const flush = (): Promise<void> => {
    sending ??= send().finally(() => {
      sending = undefined;
    });
    return sending;
  };
  const timer = setInterval(() => void flush(), opts.flushMs ?? 5_000);
  timer.unref();

  return {
    enabled: true,
    startSpan(name, o = {}) {
      const parent = o.parent;
      const context: TraceContext = {
        traceId: parent?.traceId ?? newTraceId(),
        spanId: newSpanId(),
        flags: parent ? parent.flags | 0 : 1,
      };
      const start = nowNanos();
      const attributes: FinishedSpan['attributes'] = [];
      for (const [k, v] of Object.entries(o.attributes ?? {}))
        attributes.push({ key: k, value: otlpValue(v) });
      let status: FinishedSpan['status'] = { code: 0 };
      let ended = false;
      return {
        context,
        setAttribute(key, value) {
          if (value !== undefined) attributes.push({ key, value: otlpValue(value) });
        },
        fail(message) {
          status = { code: 2, message: message.slice(0, 200) };
        },
        end() {
          if (ended) return;
          ended = true;
          // Unsampled (flags bit 0 clear, decided by the caller): nothing to record.
          if ((context.flags & 1) === 0) return;
          if (queue.length >= maxQueue) {
            dropped += 1;
            return;
          }
          queue.push({
            traceId: context.traceId,
            spanId: context.spanId,
            ...(parent ? { parentSpanId: parent.spanId } : {}),
            name,
            kind: KIND[o.kind ?? 'internal'],
            startTimeUnixNano: start.toString(),
            endTimeUnixNano: nowNanos().toString(),
            attributes,
            status,
          });
          if (queue.length >= batchSize) void flush();
        },
      };
    },
    flush,
    async shutdown() {
      clearInterval(timer);
      await flush();
    },
    dropped: () => dropped,
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Spans (when an OTLP endpoint is configured) and trace-context propagation. */
    readonly tracer: Tracer;
  }
  interface FastifyRequest {
    /** The request's trace context: its server span when tracing, else the caller's `traceparent`. */
    traceContext: TraceContext | undefined;
  }
}

/** `traceparent` to send on an outgoing call made while handling `req` (empty when untraced). */
export function traceHeaders(ctx: TraceContext | undefined): Record<string, string> {
  return ctx ? { traceparent: formatTraceparent(ctx) } : {};
}

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * Request hooks: read `traceparent`, open the server span when tracing is on, put `traceId` on the
 * request's logger, close the span with the route pattern and status. Register before the gateway
 * so its log lines carry the trace id too.
 */
export function installTracing(app: FastifyInstance, tracer: Tracer): void {
  app.decorate('tracer', tracer);
  app.decorateRequest('traceContext', undefined);
  app.addHook('onRequest', async (req) => {
    const header = req.headers.traceparent;
    const parent = header === undefined ? undefined : parseTraceparent(header);
    let ctx = parent;
    if (tracer.enabled) {
      const span = tracer.startSpan(`${req.method} ${req.routeOptions.url ?? 'unmatched'}`, {
        parent,
        kind: 'server',
        attributes: { 'http.request.method': req.method },
      });
      if (span) {
        spans.set(req, span);
        ctx = span.context;
      }
    }
    if (ctx) {
      req.traceContext = ctx;
      req.log = req.log.child({ traceId: ctx.traceId });
    }
  });
  if (!tracer.enabled) return;
  app.addHook('onResponse', async (req, reply) => {
    const span = spans.get(req);
    if (!span) return;
    span.setAttribute('http.route', req.routeOptions.url);
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.fail(`HTTP ${reply.statusCode}`);
    span.end();
  });
  app.addHook('onClose', async () => tracer.shutdown());
}
