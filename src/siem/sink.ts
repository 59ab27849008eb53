/**
 * What every SIEM sink implements. The exporter hands it one batch at a time (consecutive audit
 * records, in chain order) and only moves its cursor once `send` resolved: a sink that throws gets
 * the same records again later (at-least-once, never dropped).
 */
import type { AuditRecord } from '../audit/index.ts';
import type { OcsfEvent } from './ocsf.ts';

export interface ExportItem {
  readonly record: AuditRecord;
  readonly event: OcsfEvent;
}

export interface SiemSink {
  /** Cursor key: `syslog`, `nats`, `http`. */
  readonly name: string;
  /**
   * Resolves once the sink holds the whole batch; rejects to have it sent again. `trace` is the W3C
   * `traceparent` of the export span, for sinks that can carry it (HTTP).
   */
  send(batch: readonly ExportItem[], trace?: { readonly traceparent?: string }): Promise<void>;
  close(): Promise<void>;
}

/**
 * A sink learnt that records it had reported as delivered may not have arrived (a syslog TCP
 * connection broke right after they were written: TCP syslog has no acknowledgement, RFC 6587
 * §3.4). The exporter moves back so that every record after `afterSeq` is sent again.
 */
export class SinkReplayError extends Error {
  constructor(
    readonly afterSeq: number,
    message: string,
  ) {
    super(message);
    this.name = 'SinkReplayError';
  }
}
