/**
 * The in-process bus of the embedded mode. It mirrors what NATS JetStream does for one process:
 * NATS-style topic filters, durable names shared round-robin, in-order delivery per subscription,
 * and de-duplication of a re-published event id within a window. It keeps nothing across restarts;
 * the outbox is what makes events survive a crash.
 */
import {
  assertDurableName,
  assertTopic,
  assertTopicFilter,
  type BusEvent,
  describeError,
  type EventBus,
  type EventHandler,
  type EventLogger,
  type SubscribeOptions,
  silentLogger,
  topicMatches,
  type Unsubscribe,
} from './bus.ts';

export interface MemoryBusOptions {
  readonly logger?: EventLogger;
  /** How long a published id is remembered to drop a re-publish (JetStream's duplicate window). */
  readonly duplicateWindowMs?: number;
  /** Upper bound on remembered ids, so a burst cannot grow memory without limit. */
  readonly maxRememberedIds?: number;
}

interface Group {
  readonly name: string;
  readonly filter: string;
  readonly handlers: EventHandler[];
  next: number;
  /** Deliveries to this group run one after another, as a JetStream consumer's would. */
  tail: Promise<void>;
}

class MemoryBus implements EventBus {
  readonly kind = 'memory' as const;
  private readonly groups = new Map<string, Group>();
  /** id -> expiry (ms); insertion order is publish order, so expired ids sit at the front. */
  private readonly recent = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private anonymous = 0;

  constructor(
    private readonly logger: EventLogger,
    private readonly duplicateWindowMs: number,
    private readonly maxRememberedIds: number,
  ) {}

  async publish(event: BusEvent): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    assertTopic(event.topic);
    if (this.isDuplicate(event.id)) return;
    for (const group of this.groups.values()) {
      if (topicMatches(group.filter, event.topic)) this.enqueue(group, event);
    }
  }

  async subscribe(filter: string, handler: EventHandler, opts?: SubscribeOptions): Promise<Unsubscribe> {
    if (this.closed) throw new Error('event bus is closed');
    assertTopicFilter(filter);
    let key: string;
    if (opts?.durable !== undefined) {
      assertDurableName(opts.durable);
      key = `durable:${opts.durable}`;
    } else {
      this.anonymous += 1;
      key = `anonymous:${this.anonymous}`;
    }
    let group = this.groups.get(key);
    if (group && group.filter !== filter) {
      // Same rule as a JetStream durable consumer: one name, one filter.
      throw new Error(`durable subscription ${opts?.durable} already exists with another filter`);
    }
    if (!group) {
      group = { name: key, filter, handlers: [], next: 0, tail: Promise.resolve() };
      this.groups.set(key, group);
    }
    group.handlers.push(handler);
    const owner = group;
    return async () => {
      const at = owner.handlers.indexOf(handler);
      if (at !== -1) owner.handlers.splice(at, 1);
      if (owner.handlers.length === 0 && this.groups.get(key) === owner) this.groups.delete(key);
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
  }

  /** Stops accepting events and waits for the deliveries already queued. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size > 0) await Promise.all(this.pending);
    this.groups.clear();
  }

  private isDuplicate(id: string): boolean {
    const now = Date.now();
    for (const [seen, expires] of this.recent) {
      if (expires > now && this.recent.size <= this.maxRememberedIds) break;
      this.recent.delete(seen);
    }
    const expires = this.recent.get(id);
    if (expires !== undefined && expires > now) return true;
    this.recent.set(id, now + this.duplicateWindowMs);
    return false;
  }

  /**
   * Delivery is deferred, never awaited by the publisher: the relay publishes inside its database
   * transaction, and on PGlite (one connection) a handler that touches the database would otherwise
   * wait for that very transaction — a deadlock.
   */
  private enqueue(group: Group, event: BusEvent): void {
    const delivery = group.tail.then(() => this.deliver(group, event));
    group.tail = delivery;
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  private async deliver(group: Group, event: BusEvent): Promise<void> {
    // Chosen at delivery time so a subscriber that left in the meantime is skipped.
    if (group.handlers.length === 0) return;
    const handler = group.handlers[group.next % group.handlers.length];
    group.next = (group.next + 1) % group.handlers.length;
    if (!handler) return;
    try {
      await handler(event);
    } catch (err) {
      this.logger.error(
        { eventId: event.id, topic: event.topic, subscription: group.name, err: describeError(err) },
        'event handler failed',
      );
    }
  }
}

export function createMemoryBus(opts: MemoryBusOptions = {}): EventBus {
  return new MemoryBus(
    opts.logger ?? silentLogger,
    opts.duplicateWindowMs ?? 120_000,
    opts.maxRememberedIds ?? 100_000,
  );
}
