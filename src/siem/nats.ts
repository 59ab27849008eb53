/**
 * NATS JetStream sink: each record's OCSF event (JSON) is published to
 * `<prefix>.<tenant id | platform>.<class>` — e.g. `bulwark-siem.0190….authentication` — in its own
 * stream (default `BULWARK_SIEM`, created if missing), so a SIEM pipeline subscribes per tenant or
 * per class with subject wildcards and the SIEM stream keeps its own retention.
 *
 * The default prefix is `bulwark-siem`, not `bulwark.siem`: the event bus's stream already owns
 * `bulwark.>` and JetStream refuses two streams with overlapping subjects.
 *
 * A batch counts as delivered once JetStream acknowledged every message (stored). Each message
 * carries `Nats-Msg-Id` = the audit record's hash, so a batch sent again after a failure is
 * de-duplicated by the stream within its duplicate window: delivered effectively once.
 * The connection (URL handling shared with the event bus) opens on first use and reopens after a
 * failure, so NATS being down only delays export.
 */
import {
  connect,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  NatsError,
  nanos,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { natsConnectionOptions } from '../platform/events/nats-bus.ts';
import { classToken } from './ocsf.ts';
import type { ExportItem, SiemSink } from './sink.ts';

export interface NatsSinkOptions {
  /** Treated as a secret: never logged. */
  readonly url: string;
  readonly stream?: string;
  readonly subjectPrefix?: string;
  readonly duplicateWindowMs?: number;
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const STREAM_NOT_FOUND = 10059;

export function siemSubject(prefix: string, item: ExportItem): string {
  return `${prefix}.${item.record.tenantId ?? 'platform'}.${classToken(item.event.class_uid)}`;
}

async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
  duplicateWindowMs: number,
  maxAgeMs: number,
): Promise<void> {
  const subject = `${prefix}.>`;
  try {
    const info = await jsm.streams.info(stream);
    const subjects = info.config.subjects ?? [];
    if (!subjects.includes(subject)) {
      await jsm.streams.update(stream, { ...info.config, subjects: [...subjects, subject] });
    }
    return;
  } catch (err) {
    if (!(err instanceof NatsError) || err.api_error?.err_code !== STREAM_NOT_FOUND) throw err;
  }
  await jsm.streams.add({
    name: stream,
    subjects: [subject],
    duplicate_window: nanos(duplicateWindowMs),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
  });
}

export function openNatsSink(opts: NatsSinkOptions): SiemSink {
  const stream = opts.stream ?? 'BULWARK_SIEM';
  const prefix = opts.subjectPrefix ?? 'bulwark-siem';
  const timeoutMs = opts.timeoutMs ?? 5_000;
  if (!NAME_RE.test(stream)) throw new Error(`invalid JetStream stream name ${JSON.stringify(stream)}`);
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid NATS subject prefix ${JSON.stringify(prefix)}`);
  natsConnectionOptions(opts.url); // validate now, connect later
  let conn: { nc: NatsConnection; js: JetStreamClient } | undefined;
  let opening: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;

  const open = () => {
    opening ??= (async () => {
      let nc: NatsConnection;
      try {
        nc = await connect({
          ...natsConnectionOptions(opts.url),
          name: 'bulwark-siem',
          timeout: timeoutMs,
          maxReconnectAttempts: -1,
        });
      } catch (err) {
        // The socket error names the server and the URL may hold credentials: the code only.
        throw new Error(`could not connect to NATS (${err instanceof NatsError ? err.code : 'error'})`);
      }
      try {
        const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
        await ensureStream(
          jsm,
          stream,
          prefix,
          opts.duplicateWindowMs ?? 120_000,
          opts.maxAgeMs ?? 7 * 86_400_000,
        );
        conn = { nc, js: nc.jetstream({ timeout: timeoutMs }) };
        return conn;
      } catch (err) {
        await nc.close().catch(() => {});
        throw err;
      }
    })().finally(() => {
      opening = undefined;
    });
    return opening;
  };

  return {
    name: 'nats',
    async send(batch) {
      if (batch.length === 0) return;
      const { js } = conn ?? (await open());
      const encoder = new TextEncoder();
      // Published in order on one connection; the batch counts once every ack is back.
      await Promise.all(
        batch.map((item) =>
          js.publish(siemSubject(prefix, item), encoder.encode(JSON.stringify(item.event)), {
            msgID: item.record.hash,
            expect: { streamName: stream },
            timeout: timeoutMs,
          }),
        ),
      );
    },
    async close() {
      const c = conn;
      conn = undefined;
      if (c && !c.nc.isClosed()) await c.nc.drain().catch(() => {});
    },
  };
}
