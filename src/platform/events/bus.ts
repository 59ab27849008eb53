/**
 * The event bus contract shared by the in-process bus (embedded mode) and NATS JetStream
 * (scale-out). Events reach a bus only through the outbox relay, i.e. after the transaction that
 * produced them has committed, and at least once: subscribers de-duplicate by `id` where it matters.
 */
import { isUuid } from '../ids.ts';

/** What travels on the bus: an outbox row, as published by the relay. */
export interface BusEvent {
  /** UUIDv7 of the outbox row; also the de-duplication id (`Nats-Msg-Id`). */
  readonly id: string;
  /** Lowercase dotted words, e.g. `tenant.created`. */
  readonly topic: string;
  /** The tenant the event belongs to; null for platform-wide events. */
  readonly tenantId: string | null;
  readonly payload: Record<string, unknown>;
  /** ISO 8601 instant at which the producing transaction wrote the event. */
  readonly occurredAt: string;
}

export type EventHandler = (event: BusEvent) => Promise<void>;

export interface SubscribeOptions {
  /**
   * A named subscription that outlives the process: on NATS a durable consumer that remembers what
   * was acknowledged, so events published while no instance was listening are delivered later.
   * Several subscribers with the same name share the work (each event goes to one of them).
   */
  readonly durable?: string;
}

export type Unsubscribe = () => Promise<void>;

export interface EventBus {
  readonly kind: 'memory' | 'nats';
  /** Resolves once the bus has accepted the event (for NATS: stored by JetStream). */
  publish(event: BusEvent): Promise<void>;
  /**
   * Calls `handler` for each event whose topic matches `filter`, one event at a time. The filter is
   * a topic or a NATS-style pattern: `*` stands for one word, a final `>` for one or more words
   * (`tenant.*` matches `tenant.created`; `>` matches everything). A handler that throws has the
   * event redelivered (NATS) or logged (memory); it never fails the publisher.
   */
  subscribe(filter: string, handler: EventHandler, opts?: SubscribeOptions): Promise<Unsubscribe>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The slice of a pino logger the events code uses; a pino `Logger` fits it. Log objects carry ids
 * and topics only — never payloads (they may hold personal data) nor connection URLs.
 */
export interface EventLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const noop = () => {};
export const silentLogger: EventLogger = { info: noop, warn: noop, error: noop };

const WORD = '[a-z][a-z0-9_]*';
// At least two words (`noun.verb`); words are also valid NATS subject tokens, so a topic can never
// smuggle a wildcard or a space into a subject.
const TOPIC_RE = new RegExp(`^${WORD}(?:\\.${WORD})+$`);
const FILTER_TOKEN_RE = new RegExp(`^(?:${WORD}|\\*)$`);
const MAX_TOPIC_LENGTH = 200;

export function isTopic(value: string): boolean {
  return value.length <= MAX_TOPIC_LENGTH && TOPIC_RE.test(value);
}

export function assertTopic(value: string): void {
  if (!isTopic(value)) throw new Error(`invalid event topic ${JSON.stringify(value.slice(0, 64))}`);
}

export function isTopicFilter(value: string): boolean {
  if (value.length === 0 || value.length > MAX_TOPIC_LENGTH) return false;
  const tokens = value.split('.');
  return tokens.every((t, i) => (t === '>' ? i === tokens.length - 1 : FILTER_TOKEN_RE.test(t)));
}

export function assertTopicFilter(value: string): void {
  if (!isTopicFilter(value)) throw new Error(`invalid topic filter ${JSON.stringify(value.slice(0, 64))}`);
}

/** NATS subject matching, so the memory bus and JetStream agree on what a filter selects. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('.');
  const t = topic.split('.');
  for (let i = 0; i < f.length; i++) {
    const token = f[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return f.length === t.length;
}

const DURABLE_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Durable names become NATS consumer names: no dots, wildcards, spaces or path separators. */
export function assertDurableName(value: string): void {
  if (!DURABLE_RE.test(value)) throw new Error(`invalid durable subscription name ${JSON.stringify(value)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Shape check for events read back from a transport we do not fully control. */
export function isBusEvent(value: unknown): value is BusEvent {
  if (!isPlainObject(value)) return false;
  const { id, topic, tenantId, payload, occurredAt } = value;
  return (
    typeof id === 'string' &&
    isUuid(id) &&
    typeof topic === 'string' &&
    isTopic(topic) &&
    (tenantId === null || (typeof tenantId === 'string' && isUuid(tenantId))) &&
    isPlainObject(payload) &&
    typeof occurredAt === 'string' &&
    !Number.isNaN(Date.parse(occurredAt))
  );
}

/** A short, URL-free description of an error, safe to store in `outbox.last_error` or a log. */
export function describeError(err: unknown, max = 300): string {
  let raw = String(err);
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' && err.code !== err.message ? err.code : '';
    raw = `${err.name}: ${err.message}${code ? ` (${code})` : ''}`;
  }
  // Connection errors can echo the server address, and a URL may carry credentials.
  return raw.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, max);
}
