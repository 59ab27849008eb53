import { eq, inArray, sql } from 'drizzle-orm';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dbBackends,
  freshDatabaseUrl,
  migratedDatabase,
  natsUrl,
  uniqueName,
} from '../../../test/support/backends.ts';
import { type Database, openDatabase } from '../db/database.ts';
import { outbox, tenants } from '../db/schema.ts';
import { uuidv7 } from '../ids.ts';
import type { BusEvent, EventBus } from './bus.ts';
import { createMemoryBus } from './memory-bus.ts';
import { natsConnectionOptions, openNatsBus } from './nats-bus.ts';
import { enqueue, pruneOutbox } from './outbox.ts';
import { type Relay, startRelay } from './relay.ts';

/** Polls `cond` until it holds; fails after `timeoutMs` (a bound, not a speed assertion). */
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bus that counts what the relay hands it, and can be told to fail. */
function instrumented(inner: EventBus) {
  const published = new Map<string, number>();
  const state = { fail: undefined as 'before' | 'after' | undefined };
  const bus: EventBus = {
    kind: inner.kind,
    async publish(e) {
      if (state.fail === 'before') throw new Error('bus down: nats://relay:s3cret@10.1.2.3:4222 refused');
      await inner.publish(e);
      published.set(e.id, (published.get(e.id) ?? 0) + 1);
      // The event reached the bus but the relay never hears so: as if it died before committing.
      if (state.fail === 'after') throw new Error('connection lost before commit');
    },
    subscribe: (f, h, o) => inner.subscribe(f, h, o),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { bus, published, state };
}

const busKinds = ['memory', ...(natsUrl ? ['nats' as const] : [])] as const;

describe.each(dbBackends)('outbox on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
  });
  afterAll(() => dispose?.());

  async function outboxRow(id: string) {
    const [row] = await db.asSystem((tx) => tx.select().from(outbox).where(eq(outbox.id, id)));
    return row;
  }

  it('refuses a bad topic, tenant or payload inside the transaction', async () => {
    await expect(
      db.asSystem((tx) => enqueue(tx, { topic: 'Tenant Created', tenantId: null, payload: {} })),
    ).rejects.toThrow(/invalid event topic/);
    await expect(
      db.asSystem((tx) => enqueue(tx, { topic: 'tenant.created', tenantId: 'x', payload: {} })),
    ).rejects.toThrow(/uuid/);
    await expect(
      db.asSystem((tx) =>
        enqueue(tx, {
          topic: 'tenant.created',
          tenantId: null,
          payload: { n: 1n } as Record<string, unknown>,
        }),
      ),
    ).rejects.toThrow();
  });

  it('lets a tenant transaction write only its own events (row-level security)', async () => {
    const mine = uuidv7();
    await expect(
      db.withTenant(mine, (tx) => enqueue(tx, { topic: 'tenant.created', tenantId: uuidv7(), payload: {} })),
    ).rejects.toThrow();
    const id = await db.withTenant(mine, (tx) =>
      enqueue(tx, { topic: 'tenant.created', tenantId: mine, payload: {} }),
    );
    expect((await outboxRow(id))?.tenantId).toBe(mine);
  });

  it('prunes published rows past their age, never unpublished ones', async () => {
    const relay = startRelay({ db, bus: createMemoryBus(), pollMs: 60_000 });
    await relay.stop();
    const published = await db.asSystem((tx) =>
      enqueue(tx, { topic: 'prune.old', tenantId: null, payload: {} }),
    );
    const pending = await db.asSystem((tx) =>
      enqueue(tx, { topic: 'prune.pending', tenantId: null, payload: {} }),
    );
    await db.asSystem((tx) =>
      tx.update(outbox).set({ publishedAt: sql`now() - interval '40 days'` }).where(eq(outbox.id, published)),
    );
    await db.asSystem((tx) =>
      tx.update(outbox).set({ occurredAt: sql`now() - interval '40 days'` }).where(eq(outbox.id, pending)),
    );
    expect(await pruneOutbox(db, { olderThanDays: 30, batchSize: 1 })).toBeGreaterThanOrEqual(1);
    expect(await outboxRow(published)).toBeUndefined();
    expect(await outboxRow(pending)).toBeDefined();
    // Leave nothing pending for the relay tests below.
    await db.asSystem((tx) => tx.delete(outbox).where(eq(outbox.id, pending)));
  });

  describe.each(busKinds)('relayed over %s', (kind) => {
    const stream = uniqueName('BULWARK_T');
    const prefix = uniqueName('bt');
    const opened: EventBus[] = [];
    let memory: EventBus | undefined;

    async function openTestBus(): Promise<EventBus> {
      if (kind === 'memory') {
        // One process: relays and subscribers share the in-process bus.
        memory ??= createMemoryBus();
        return memory;
      }
      const bus = await openNatsBus({ url: natsUrl ?? '', stream, subjectPrefix: prefix });
      opened.push(bus);
      return bus;
    }

    let bus: EventBus;
    const received = new Map<string, BusEvent[]>();
    const relays: Relay[] = [];
    const relay = (opts: { bus?: EventBus; pollMs?: number; batchSize?: number; db?: Database } = {}) => {
      const r = startRelay({
        db: opts.db ?? db,
        bus: opts.bus ?? bus,
        pollMs: opts.pollMs ?? 60_000,
        ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
      });
      relays.push(r);
      return r;
    };
    const delivered = (id: string) => received.get(id)?.length ?? 0;

    /** After this resolves, everything published before it has reached the subscriber (in order). */
    async function settle() {
      const marker = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'test.marker', tenantId: null, payload: {} }),
      );
      await relay().drain();
      await waitFor(() => delivered(marker) > 0, 'the marker event');
    }

    beforeAll(async () => {
      bus = await openTestBus();
      await bus.subscribe('>', async (e) => {
        received.set(e.id, [...(received.get(e.id) ?? []), e]);
      });
    });

    afterAll(async () => {
      await Promise.all(relays.map((r) => r.stop()));
      await memory?.close();
      await Promise.all(opened.map((b) => b.close()));
      if (kind === 'nats' && natsUrl) {
        const nc = await connect(natsConnectionOptions(natsUrl));
        const jsm = await nc.jetstreamManager();
        await jsm.streams.delete(stream).catch(() => false);
        await nc.close();
      }
    });

    it('delivers an event committed with its transaction', async () => {
      const tenantId = uuidv7();
      const slug = `t-${tenantId}`;
      const id = await db.withTenant(tenantId, async (tx) => {
        await tx.insert(tenants).values({ id: tenantId, slug, name: 'Tenant' });
        return enqueue(tx, { topic: 'tenant.created', tenantId, payload: { slug } });
      });
      const platform = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'platform.configured', tenantId: null, payload: {} }),
      );
      expect(await relay().drain()).toBeGreaterThanOrEqual(2);
      await waitFor(() => delivered(id) > 0 && delivered(platform) > 0, 'both events');
      const [e] = received.get(id) ?? [];
      expect(e).toMatchObject({ id, topic: 'tenant.created', tenantId, payload: { slug } });
      expect(new Date(e?.occurredAt ?? '').toISOString()).toBe(e?.occurredAt);
      expect(received.get(platform)?.[0]?.tenantId).toBeNull();
      expect((await outboxRow(id))?.publishedAt).toBeInstanceOf(Date);
    });

    it('delivers nothing for a rolled-back transaction', async () => {
      const tenantId = uuidv7();
      let rolledBack = '';
      await expect(
        db.withTenant(tenantId, async (tx) => {
          await tx.insert(tenants).values({ id: tenantId, slug: `r-${tenantId}`, name: 'Gone' });
          rolledBack = await enqueue(tx, { topic: 'tenant.created', tenantId, payload: {} });
          throw new Error('validation failed after the write');
        }),
      ).rejects.toThrow('validation failed');
      expect(rolledBack).not.toBe('');
      expect(await outboxRow(rolledBack)).toBeUndefined();
      await settle();
      expect(delivered(rolledBack)).toBe(0);
    });

    it('publishes on its own timer, and at once when nudged', async () => {
      const polling = relay({ pollMs: 20 });
      const byTimer = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'relay.polled', tenantId: null, payload: {} }),
      );
      await waitFor(() => delivered(byTimer) > 0, 'the polled event');
      await polling.stop();

      // An hour between polls: only the nudge can explain a delivery within the wait.
      const idle = startRelay({ db, bus, pollMs: 3_600_000 });
      relays.push(idle);
      const byNudge = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'relay.nudged', tenantId: null, payload: {} }),
      );
      idle.nudge();
      await waitFor(() => delivered(byNudge) > 0, 'the nudged event');
      await idle.stop();
    });

    it('delivers what was enqueued while no relay ran, after a restart', async () => {
      const before = relay();
      await before.stop();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(
          await db.asSystem((tx) =>
            enqueue(tx, { topic: 'restart.pending', tenantId: null, payload: { i } }),
          ),
        );
      }
      const pending = await db.asSystem((tx) => tx.select().from(outbox).where(inArray(outbox.id, ids)));
      expect(pending.map((r) => r.publishedAt)).toEqual([null, null, null]);

      const after = relay({ pollMs: 20 });
      await waitFor(() => ids.every((id) => delivered(id) > 0), 'the pending events');
      await after.stop();
      expect(ids.map(delivered)).toEqual([1, 1, 1]);
    });

    it('keeps a row whose publish failed, counts the attempt, and delivers it later', async () => {
      const failing = instrumented(bus);
      failing.state.fail = 'before';
      const first = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'flaky.first', tenantId: null, payload: {} }),
      );
      const second = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'flaky.second', tenantId: null, payload: {} }),
      );
      const down = relay({ bus: failing.bus });
      expect(await down.drain()).toBe(0);
      expect(await down.drain()).toBe(0);
      const row = await outboxRow(first);
      expect(row).toMatchObject({ publishedAt: null, attempts: 2 });
      expect(row?.lastError).toContain('bus down');
      // The stored error is short and carries no URL (it may hold credentials).
      expect(row?.lastError).not.toMatch(/s3cret|10\.1\.2\.3/);
      // The batch stopped at the failure: the next row was not even tried, so order is kept.
      expect(await outboxRow(second)).toMatchObject({ publishedAt: null, attempts: 0 });
      await down.stop();

      failing.state.fail = undefined;
      const up = relay({ bus: failing.bus });
      expect(await up.drain()).toBeGreaterThanOrEqual(2);
      await waitFor(() => delivered(first) > 0 && delivered(second) > 0, 'the recovered events');
      expect(await outboxRow(first)).toMatchObject({ attempts: 2 });
      expect((await outboxRow(first))?.publishedAt).toBeInstanceOf(Date);
    });

    it('backs off while the bus is down and catches up by itself', async () => {
      const flaky = instrumented(bus);
      flaky.state.fail = 'before';
      const id = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'outage.started', tenantId: null, payload: {} }),
      );
      const r = startRelay({ db, bus: flaky.bus, pollMs: 10, maxBackoffMs: 50 });
      relays.push(r);
      await waitFor(async () => ((await outboxRow(id))?.attempts ?? 0) >= 2, 'repeated attempts');
      flaky.state.fail = undefined;
      await waitFor(() => delivered(id) > 0, 'the event after the outage');
      await r.stop();
    });

    it('lets a subscriber use the database while the relay holds its transaction', async () => {
      // On PGlite (one connection) a bus that ran handlers inside publish would deadlock here.
      const seen: string[] = [];
      const unsub = await bus.subscribe('lookup.*', async (e) => {
        const row = await outboxRow(e.id);
        if (row) seen.push(row.id);
      });
      const id = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'lookup.requested', tenantId: null, payload: {} }),
      );
      await relay().drain();
      await waitFor(() => seen.includes(id), 'the handler to read its row');
      await unsub();
    });

    it('delivers once an event published again because its commit was lost', async () => {
      const lossy = instrumented(bus);
      lossy.state.fail = 'after';
      const id = await db.asSystem((tx) =>
        enqueue(tx, { topic: 'lost.commit', tenantId: null, payload: {} }),
      );
      expect(await relay({ bus: lossy.bus }).drain()).toBe(0);
      lossy.state.fail = undefined;
      expect(await relay({ bus: lossy.bus }).drain()).toBeGreaterThanOrEqual(1);
      // Handed to the bus twice (at least once) ...
      expect(lossy.published.get(id)).toBe(2);
      await settle();
      // ... delivered once: the bus drops the re-publish by event id.
      expect(delivered(id)).toBe(1);
    });

    it('runs two relays on one database without publishing any event twice', async () => {
      // Two "instances": on PostgreSQL each has its own pool and bus connection.
      const fresh = await freshDatabaseUrl(backend);
      const dbA = fresh.url ? await openDatabase({ url: fresh.url, dataDir: 'memory://' }) : db;
      const dbB = fresh.url ? await openDatabase({ url: fresh.url, dataDir: 'memory://' }) : db;
      if (fresh.url) await dbA.migrate();
      try {
        const a = instrumented(await openTestBus());
        const b = instrumented(await openTestBus());
        const durable = uniqueName('exactly_once');
        const counts = new Map<string, number>();
        const subscriber = await openTestBus();
        const unsub = await subscriber.subscribe(
          'race.>',
          async (e) => {
            counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
          },
          { durable },
        );

        const ids: string[] = [];
        for (let t = 0; t < 10; t++) {
          await dbA.asSystem(async (tx) => {
            for (let i = 0; i < 10; i++) {
              ids.push(await enqueue(tx, { topic: 'race.item', tenantId: null, payload: { t, i } }));
            }
          });
        }
        const relayA = relay({ db: dbA, bus: a.bus, pollMs: 5, batchSize: 7 });
        const relayB = relay({ db: dbB, bus: b.bus, pollMs: 5, batchSize: 7 });
        await waitFor(() => ids.every((id) => counts.has(id)), 'all 100 events');
        await Promise.all([relayA.stop(), relayB.stop()]);

        // SKIP LOCKED: across both relays each row was handed to the bus exactly once.
        const handed = ids.map((id) => (a.published.get(id) ?? 0) + (b.published.get(id) ?? 0));
        expect(handed.every((n) => n === 1)).toBe(true);
        const marker = uuidv7();
        await a.bus.publish({
          id: marker,
          topic: 'race.marker',
          tenantId: null,
          payload: {},
          occurredAt: new Date().toISOString(),
        });
        await waitFor(() => counts.has(marker), 'the marker');
        expect(ids.map((id) => counts.get(id))).toEqual(ids.map(() => 1));
        const unpublished = await dbA.asSystem((tx) =>
          tx.select().from(outbox).where(inArray(outbox.id, ids)),
        );
        expect(unpublished.filter((r) => r.publishedAt === null)).toHaveLength(0);
        await unsub();
      } finally {
        if (fresh.url) {
          await dbA.close();
          await dbB.close();
        }
        await fresh.dispose();
      }
    });
  });
});
