/**
 * The scale-out bus: NATS JetStream. Events are stored in one stream (`<prefix>.<topic>` subjects)
 * and published with `Nats-Msg-Id` = event id, so a relay that re-publishes after a crash (the
 * outbox is at-least-once) is dropped by the stream's duplicate window: delivered effectively once.
 * Subscribers are pull consumers with explicit acks: an event is acknowledged only after its
 * handler succeeded, otherwise it is redelivered.
 */
import {
  AckPolicy,
  type ConnectionOptions,
  type ConsumerConfig,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  NatsError,
  nanos,
  nuid,
  RetentionPolicy,
  StorageType,
} from 'nats';
import {
  assertDurableName,
  assertTopic,
  assertTopicFilter,
  type BusEvent,
  describeError,
  type EventBus,
  type EventHandler,
  type EventLogger,
  isBusEvent,
  type SubscribeOptions,
  silentLogger,
  type Unsubscribe,
} from './bus.ts';

export interface NatsBusOptions {
  /** `nats://[user:pass@]host[:port]` or `tls://…`. Treated as a secret: never logged or echoed. */
  readonly url: string;
  /** JetStream stream name; default `BULWARK_EVENTS`. */
  readonly stream?: string;
  /** Subject prefix; events go to `<prefix>.<topic>`. Default `bulwark`. */
  readonly subjectPrefix?: string;
  /** JetStream de-duplication window; a re-publish within it is dropped. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** Retention of a newly created stream. Default 7 days. */
  readonly maxAgeMs?: number;
  /** How long a consumer waits for an ack before redelivering. Default 30 s. */
  readonly ackWaitMs?: number;
  /** Connection and publish timeout. Default 5 s. */
  readonly timeoutMs?: number;
  readonly logger?: EventLogger;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

function apiErrorCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/**
 * nats.js ignores credentials and the `tls:` scheme in a server URL, so they are taken apart here.
 * Error messages never repeat the URL: it may carry a password.
 */
export function natsConnectionOptions(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('NATS URL is not a valid URL');
  }
  if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
    throw new Error('NATS URL must use the nats: or tls: scheme');
  }
  if (!parsed.hostname) throw new Error('NATS URL has no host');
  const options: ConnectionOptions = { servers: `${parsed.hostname}:${parsed.port || '4222'}` };
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  if (user && pass) {
    options.user = user;
    options.pass = pass;
  } else if (user) {
    options.token = user;
  }
  if (parsed.protocol === 'tls:') options.tls = {};
  return options;
}

interface ActiveSubscription {
  readonly messages: ConsumerMessages;
  readonly done: Promise<void>;
}

class NatsBus implements EventBus {
  readonly kind = 'nats' as const;
  private readonly subscriptions = new Set<ActiveSubscription>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    private readonly ackWaitMs: number,
    private readonly timeoutMs: number,
    private readonly logger: EventLogger,
  ) {}

  async publish(event: BusEvent): Promise<void> {
    assertTopic(event.topic);
    const body = new TextEncoder().encode(JSON.stringify(event));
    await this.js.publish(`${this.prefix}.${event.topic}`, body, {
      msgID: event.id,
      // Fail rather than land in some other stream that happens to bind the subject.
      expect: { streamName: this.stream },
      timeout: this.timeoutMs,
    });
  }

  async subscribe(filter: string, handler: EventHandler, opts?: SubscribeOptions): Promise<Unsubscribe> {
    assertTopicFilter(filter);
    const filterSubject = `${this.prefix}.${filter}`;
    const durable = opts?.durable;
    let name: string;
    if (durable !== undefined) {
      assertDurableName(durable);
      name = durable;
      await this.ensureDurable(durable, filterSubject);
    } else {
      // An ephemeral subscriber sees what is published from now on, like the memory bus; the server
      // removes its consumer if the process vanishes without unsubscribing.
      name = `eph_${nuid.next()}`;
      await this.jsm.consumers.add(this.stream, {
        name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: filterSubject,
        ack_wait: nanos(this.ackWaitMs),
        inactive_threshold: nanos(5 * 60_000),
      });
    }
    const consumer = await this.js.consumers.get(this.stream, name);
    const messages = await consumer.consume({ max_messages: 64 });
    const done = (async () => {
      for await (const m of messages) await this.handle(m, handler, name);
    })().catch((err: unknown) => {
      this.logger.error({ subscription: name, err: describeError(err) }, 'event subscription stopped');
    });
    const active: ActiveSubscription = { messages, done };
    this.subscriptions.add(active);
    return async () => {
      if (!this.subscriptions.delete(active)) return;
      await this.stop(active);
      if (durable === undefined) {
        await this.jsm.consumers.delete(this.stream, name).catch(() => false);
      }
    };
  }

  async ping(): Promise<void> {
    // A round trip to JetStream itself, not just the socket: the stream must be there.
    await this.jsm.streams.info(this.stream);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const active = [...this.subscriptions];
      this.subscriptions.clear();
      await Promise.all(active.map((s) => this.stop(s)));
      if (!this.nc.isClosed()) await this.nc.drain();
    })();
    return this.closing;
  }

  /**
   * The first subscriber with a durable name creates the consumer; later ones (other instances,
   * restarts) attach to it and continue where it stopped. A new durable starts from the oldest
   * event the stream still holds.
   */
  private async ensureDurable(durable: string, filterSubject: string): Promise<void> {
    try {
      const info = await this.jsm.consumers.info(this.stream, durable);
      if (info.config.filter_subject !== filterSubject) {
        throw new Error(`durable subscription ${durable} already exists with another filter`);
      }
      return;
    } catch (err) {
      if (apiErrorCode(err) !== CONSUMER_NOT_FOUND) throw err;
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filterSubject,
      ack_wait: nanos(this.ackWaitMs),
    };
    // Creating a consumer with an identical configuration is idempotent, so two instances racing
    // here both succeed.
    await this.jsm.consumers.add(this.stream, config);
  }

  private async handle(m: JsMsg, handler: EventHandler, subscription: string): Promise<void> {
    let event: unknown;
    try {
      event = m.json<unknown>();
    } catch {
      event = undefined;
    }
    if (!isBusEvent(event)) {
      // Redelivering a malformed message would only fail again.
      m.term('malformed event');
      this.logger.warn({ subscription, streamSeq: m.seq }, 'dropped a malformed event');
      return;
    }
    // A slow handler keeps the message to itself instead of having it redelivered mid-work.
    const keepAlive = setInterval(() => m.working(), Math.max(1_000, this.ackWaitMs / 2));
    keepAlive.unref();
    try {
      await handler(event);
      clearInterval(keepAlive);
      m.ack();
    } catch (err) {
      clearInterval(keepAlive);
      const delay = Math.min(60_000, 1_000 * 2 ** Math.min(m.info.deliveryCount - 1, 6));
      m.nak(delay);
      this.logger.error(
        {
          subscription,
          eventId: event.id,
          topic: event.topic,
          deliveries: m.info.deliveryCount,
          err: describeError(err),
        },
        'event handler failed; will be redelivered',
      );
    }
  }

  private async stop(active: ActiveSubscription): Promise<void> {
    await active.messages.close();
    await active.done;
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
  duplicateWindowMs: number,
  maxAgeMs: number,
): Promise<void> {
  const subject = `${prefix}.>`;
  const duplicateWindow = nanos(duplicateWindowMs);
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.includes(subject) || info.config.duplicate_window !== duplicateWindow) {
        // Keep whatever else an operator tuned (retention, replicas); only our needs are enforced.
        await jsm.streams.update(stream, {
          ...info.config,
          subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
          duplicate_window: duplicateWindow,
        });
      }
      return;
    } catch (err) {
      if (apiErrorCode(err) !== STREAM_NOT_FOUND) throw err;
    }
    try {
      await jsm.streams.add({
        name: stream,
        subjects: [subject],
        duplicate_window: duplicateWindow,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_age: nanos(maxAgeMs),
      });
      return;
    } catch (err) {
      // Another instance created it between our lookup and our add: look again, once.
      if (attempt > 0) throw err;
    }
  }
}

export async function openNatsBus(opts: NatsBusOptions): Promise<EventBus> {
  const stream = opts.stream ?? 'BULWARK_EVENTS';
  const prefix = opts.subjectPrefix ?? 'bulwark';
  if (!NAME_RE.test(stream)) throw new Error(`invalid JetStream stream name ${JSON.stringify(stream)}`);
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid NATS subject prefix ${JSON.stringify(prefix)}`);
  const logger = opts.logger ?? silentLogger;
  const timeoutMs = opts.timeoutMs ?? 5_000;

  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsConnectionOptions(opts.url),
      name: 'bulwark',
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
    });
  } catch (err) {
    // Only the error code: the underlying socket error names the server, the URL may hold secrets.
    const code = err instanceof NatsError ? err.code : 'error';
    throw new Error(`could not connect to NATS (${code})`);
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
    void (async () => {
      for await (const s of nc.status()) {
        // `s.data` names servers; the event type is enough to operate on.
        if (s.type === Events.Disconnect || s.type === Events.Reconnect || s.type === Events.LDM) {
          logger.warn({ status: s.type }, 'NATS connection status changed');
        }
      }
    })();
    return new NatsBus(
      nc,
      nc.jetstream({ timeout: timeoutMs }),
      jsm,
      stream,
      prefix,
      opts.ackWaitMs ?? 30_000,
      timeoutMs,
      logger,
    );
  } catch (err) {
    await nc.close();
    throw err;
  }
}
