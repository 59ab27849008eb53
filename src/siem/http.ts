/**
 * HTTPS collector sink: one POST per batch.
 *
 *   format `ocsf`  body = JSON array of OCSF events, `Authorization: Bearer <token>`
 *   format `hec`   Splunk HTTP Event Collector: one `{"time","host","source","sourcetype","event"}`
 *                  object per event, concatenated, `Authorization: Splunk <token>`
 *
 * Any 2xx means the collector has the batch; anything else (503 during an outage, 429, a 4xx from a
 * misconfiguration) is a failure and the batch is sent again later — never dropped; the exporter
 * backs off and logs the status. Redirects are refused (a collector that redirects is
 * misconfigured, and following one would send audit data somewhere nobody configured).
 *
 * The URL comes from the operator's configuration, not from a tenant, so the webhook SSRF guard
 * (which refuses private addresses, where collectors usually live) does not apply; production
 * requires https (config check).
 */
import { hostname as osHostname } from 'node:os';
import type { ExportItem, SiemSink } from './sink.ts';

export interface HttpSinkOptions {
  readonly url: string;
  /** Sent as a bearer (or Splunk) token; a secret, never logged. */
  readonly token?: string | undefined;
  readonly format: 'ocsf' | 'hec';
  readonly timeoutMs?: number;
  readonly hostname?: string;
}

export class CollectorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'CollectorError';
  }
}

export function httpBody(batch: readonly ExportItem[], format: 'ocsf' | 'hec', host: string): string {
  if (format === 'ocsf') return JSON.stringify(batch.map((i) => i.event));
  return batch
    .map((i) =>
      JSON.stringify({
        time: i.event.time / 1000,
        host,
        source: 'bulwark',
        sourcetype: `ocsf:${i.event.class_uid}`,
        event: i.event,
      }),
    )
    .join('\n');
}

export function openHttpSink(opts: HttpSinkOptions): SiemSink {
  const url = new URL(opts.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('collector URL must be https');
  if (url.username || url.password)
    throw new Error('collector URL must not carry credentials; use the token');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const host = opts.hostname ?? osHostname();
  const scheme = opts.format === 'hec' ? 'Splunk' : 'Bearer';
  return {
    name: 'http',
    async send(batch, trace) {
      if (batch.length === 0) return;
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `${scheme} ${opts.token}` } : {}),
          ...(trace?.traceparent ? { traceparent: trace.traceparent } : {}),
        },
        body: httpBody(batch, opts.format, host),
      });
      // Drain the body so the connection can be reused; its content is not logged (could echo data).
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status > 299)
        throw new CollectorError(res.status, `collector answered ${res.status}`);
    },
    async close() {},
  };
}
