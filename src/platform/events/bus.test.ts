import { connect } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName } from '../../../test/support/backends.ts';
import { uuidv7 } from '../ids.ts';
import {
  type BusEvent,
  describeError,
  type EventBus,
  type EventLogger,
  isBusEvent,
  isTopic,
  isTopicFilter,
  topicMatches,
} from './bus.ts';
import { createMemoryBus } from './memory-bus.ts';
import { natsConnectionOptions, openNatsBus } from './nats-bus.ts';

/** Polls `cond` until it holds; fails after `timeoutMs` (a bound, not a speed assertion). */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function event(topic: string, payload: Record<string, unknown> = {}): BusEvent {
  return { id: uuidv7(), topic, tenantId: null, payload, occurredAt: new Date().toISOString() };
}

/** Collects deliveries by event id, counting duplicates. */
function collector() {
  const seen = new Map<string, number>();
  const order: string[] = [];
  return {
    seen,
    order,
    handler: async (e: BusEvent) => {
      seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
      order.push(e.topic);
    },
  };
}

describe('topics', () => {
  it('accepts lowercase dotted words only', () => {
    expect(isTopic('tenant.created')).toBe(true);
    expect(isTopic('partner.app_key.rotated')).toBe(true);
    for (const bad of [
      'tenant',
      'Tenant.created',
      'tenant.*',
      'tenant.>',
      'tenant created',
      'tenant..x',
      '.a.b',
    ]) {
      expect(isTopic(bad), bad).toBe(false);
    }
  });

  it('matches filters the way NATS subjects do', () => {
    expect(topicMatches('tenant.created', 'tenant.created')).toBe(true);
    expect(topicMatches('tenant.*', 'tenant.created')).toBe(true);
    expect(topicMatches('tenant.*', 'tenant.key.rotated')).toBe(false);
    expect(topicMatches('tenant.>', 'tenant.key.rotated')).toBe(true);
    expect(topicMatches('tenant.>', 'tenant')).toBe(false);
    expect(topicMatches('>', 'partner.created')).toBe(true);
    expect(topicMatches('*.created', 'partner.created')).toBe(true);
    expect(topicMatches('tenant.*', 'partner.created')).toBe(false);
    expect(isTopicFilter('>')).toBe(true);
    expect(isTopicFilter('a.>.b')).toBe(false);
    expect(isTopicFilter('a b')).toBe(false);
  });

  it('checks the shape of events read back from a transport', () => {
    expect(isBusEvent(event('tenant.created', { a: 1 }))).toBe(true);
    expect(isBusEvent({ ...event('tenant.created'), tenantId: 'nope' })).toBe(false);
    expect(isBusEvent({ ...event('tenant.created'), payload: [] })).toBe(false);
    expect(isBusEvent({ ...event('tenant.created'), topic: 'x.>' })).toBe(false);
  });

  it('describes errors without the URLs they may echo', () => {
    const text = describeError(new Error('connect to nats://bulwark:s3cret@10.0.0.5:4222 failed'));
    expect(text).toBe('Error: connect to <url> failed');
  });

  it('takes a pino logger as its logger', () => {
    const logger: EventLogger = pino({ level: 'silent' });
    expect(typeof logger.warn).toBe('function');
  });
});

describe('NATS connection options', () => {
  it('passes credentials and TLS from the URL, which nats.js would ignore', () => {
    expect(natsConnectionOptions('nats://127.0.0.1:4222')).toEqual({ servers: '127.0.0.1:4222' });
    expect(natsConnectionOptions('nats://bus.internal')).toEqual({ servers: 'bus.internal:4222' });
    expect(natsConnectionOptions('tls://u%40x:p%3Aw@bus:4443')).toEqual({
      servers: 'bus:4443',
      user: 'u@x',
      pass: 'p:w',
      tls: {},
    });
    expect(natsConnectionOptions('nats://tok3n@bus')).toEqual({ servers: 'bus:4222', token: 'tok3n' });
  });

  it('never repeats the URL in its errors', async () => {
    expect(() => natsConnectionOptions('http://u:s3cret@bus')).toThrow(/scheme/);
    let message = '';
    try {
      await openNatsBus({ url: 'nats://bulwark:s3cret@127.0.0.1:1', timeoutMs: 2_000 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/could not connect to NATS/);
    expect(message).not.toMatch(/s3cret|127\.0\.0\.1/);
  });
});

const busKinds = ['memory', ...(natsUrl ? ['nats' as const] : [])] as const;

describe.each(busKinds)('event bus on %s', (kind) => {
  const stream = uniqueName('BULWARK_T');
  const prefix = uniqueName('bt');
  const opened: EventBus[] = [];
  const errors: string[] = [];
  const logger: EventLogger = {
    info: () => {},
    warn: () => {},
    error: (obj) => errors.push(String(obj.err)),
  };
  let memory: EventBus | undefined;

  /** One process's bus; for NATS each call is another connection, as another instance would be. */
  async function openTestBus(): Promise<EventBus> {
    if (kind === 'memory') {
      memory ??= createMemoryBus({ logger });
      return memory;
    }
    const bus = await openNatsBus({ url: natsUrl ?? '', stream, subjectPrefix: prefix, logger });
    opened.push(bus);
    return bus;
  }

  let bus: EventBus;
  beforeAll(async () => {
    bus = await openTestBus();
  });

  afterAll(async () => {
    await memory?.close();
    await Promise.all(opened.map((b) => b.close()));
    if (kind === 'nats' && natsUrl) {
      const nc = await connect(natsConnectionOptions(natsUrl));
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream).catch(() => false);
      await nc.close();
    }
  });

  it('reports its kind and answers a ping', async () => {
    expect(bus.kind).toBe(kind);
    await bus.ping();
  });

  it('delivers to subscribers whose filter matches, and only to them', async () => {
    const tenant = collector();
    const deep = collector();
    const all = collector();
    const unsubs = [
      await bus.subscribe('tenant.*', tenant.handler),
      await bus.subscribe('tenant.>', deep.handler),
      await bus.subscribe('>', all.handler),
    ];
    const created = event('tenant.created', { n: 1 });
    const rotated = event('tenant.key.rotated');
    const partner = event('partner.created');
    // Negatives first: a subscription receives in publish order, so once the last event arrives,
    // anything wrongly routed would have arrived too.
    await bus.publish(partner);
    await bus.publish(rotated);
    await bus.publish(created);
    await waitFor(() => tenant.seen.has(created.id) && deep.seen.has(created.id), 'matching deliveries');
    await waitFor(() => all.seen.size === 3, 'the catch-all subscriber');
    expect([...tenant.seen.keys()]).toEqual([created.id]);
    expect(deep.order).toEqual(['tenant.key.rotated', 'tenant.created']);
    expect(all.order).toEqual(['partner.created', 'tenant.key.rotated', 'tenant.created']);
    for (const u of unsubs) await u();
  });

  it('delivers the event as published', async () => {
    const c: BusEvent[] = [];
    const unsub = await bus.subscribe('payment.*', async (e) => {
      c.push(e);
    });
    const e: BusEvent = {
      id: uuidv7(),
      topic: 'payment.settled',
      tenantId: uuidv7(),
      payload: { amount: '1250', currency: 'EUR', nested: { ok: true } },
      occurredAt: new Date().toISOString(),
    };
    await bus.publish(e);
    await waitFor(() => c.length === 1, 'the event');
    expect(c[0]).toEqual(e);
    await unsub();
  });

  it('delivers a re-published event (same id) once', async () => {
    const c = collector();
    const unsub = await bus.subscribe('dedup.>', c.handler);
    const e = event('dedup.checked');
    await bus.publish(e);
    await bus.publish(e);
    const marker = event('dedup.marker');
    await bus.publish(marker);
    await waitFor(() => c.seen.has(marker.id), 'the marker');
    expect(c.seen.get(e.id)).toBe(1);
    await unsub();
  });

  it('shares a durable subscription between its subscribers: each event handled once', async () => {
    const durable = uniqueName('shared');
    const a = collector();
    const b = collector();
    const other = await openTestBus();
    // At once, as two instances starting together would: both create-or-attach the same consumer.
    const unsubs = await Promise.all([
      bus.subscribe('work.*', a.handler, { durable }),
      other.subscribe('work.*', b.handler, { durable }),
    ]);
    const events = Array.from({ length: 20 }, (_, i) => event('work.queued', { i }));
    for (const e of events) await bus.publish(e);
    const total = () => a.seen.size + b.seen.size;
    await waitFor(() => total() === 20, 'all work');
    for (const e of events) expect((a.seen.get(e.id) ?? 0) + (b.seen.get(e.id) ?? 0)).toBe(1);
    for (const u of unsubs) await u();
  });

  it('refuses a durable name reused with another filter', async () => {
    const durable = uniqueName('clash');
    const unsub = await bus.subscribe('clash.one', async () => {}, { durable });
    await expect(bus.subscribe('clash.two', async () => {}, { durable })).rejects.toThrow(/another filter/);
    await unsub();
  });

  it('refuses bad topics, filters and durable names', async () => {
    await expect(bus.publish(event('Bad Topic'))).rejects.toThrow(/invalid event topic/);
    await expect(bus.subscribe('a.>.b', async () => {})).rejects.toThrow(/invalid topic filter/);
    await expect(bus.subscribe('a.b', async () => {}, { durable: 'has.dot' })).rejects.toThrow(/durable/);
  });

  it('keeps a failing handler away from the publisher', async () => {
    let calls = 0;
    const later = collector();
    const unsub = await bus.subscribe('flaky.*', async (e) => {
      calls += 1;
      if (calls === 1) throw new Error('handler broke');
      await later.handler(e);
    });
    const first = event('flaky.happened');
    await expect(bus.publish(first)).resolves.toBeUndefined();
    if (kind === 'nats') {
      // Not acknowledged, so JetStream redelivers it.
      await waitFor(() => later.seen.has(first.id), 'the redelivery');
    } else {
      // The in-process bus logs it and goes on with the next event.
      const second = event('flaky.happened');
      await bus.publish(second);
      await waitFor(() => later.seen.has(second.id), 'the next event');
      expect(later.seen.has(first.id)).toBe(false);
    }
    expect(errors).toContain('Error: handler broke');
    await unsub();
  });

  it.runIf(kind === 'nats')('keeps what a durable subscriber missed while it was away', async () => {
    const durable = uniqueName('away');
    const first = collector();
    let unsub = await bus.subscribe('away.*', first.handler, { durable });
    await unsub();
    const missed = event('away.missed');
    await bus.publish(missed);
    const second = collector();
    const other = await openTestBus();
    unsub = await other.subscribe('away.*', second.handler, { durable });
    await waitFor(() => second.seen.has(missed.id), 'the missed event');
    expect(first.seen.size).toBe(0);
    await unsub();
  });

  it.runIf(kind === 'nats')('drops a malformed message and goes on', async () => {
    const c = collector();
    const unsub = await bus.subscribe('junk.*', c.handler);
    const nc = await connect(natsConnectionOptions(natsUrl ?? ''));
    const js = nc.jetstream();
    await js.publish(`${prefix}.junk.raw`, new TextEncoder().encode('not json'));
    await js.publish(`${prefix}.junk.shaped`, new TextEncoder().encode(JSON.stringify({ id: 'x' })));
    await nc.close();
    const good = event('junk.after');
    await bus.publish(good);
    await waitFor(() => c.seen.has(good.id), 'the valid event');
    expect(c.seen.size).toBe(1);
    await unsub();
  });

  it.runIf(kind === 'nats')('keeps the stream when a second instance opens it', async () => {
    const second = await openNatsBus({ url: natsUrl ?? '', stream, subjectPrefix: prefix });
    const c = collector();
    const unsub = await bus.subscribe('instance.*', c.handler);
    const e = event('instance.started');
    await second.publish(e);
    await waitFor(() => c.seen.has(e.id), 'the event from the second instance');
    await unsub();
    await second.close();
  });

  it('refuses to publish once closed', async () => {
    const closing = kind === 'memory' ? createMemoryBus() : await openTestBus();
    await closing.close();
    await expect(closing.publish(event('after.close'))).rejects.toThrow();
  });
});
