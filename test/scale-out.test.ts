import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BusEvent, type EventBus, openBus } from '../src/platform/events/index.ts';
import { dbBackends, freshDatabaseUrl, natsUrl, redisUrl, uniqueName } from './support/backends.ts';
import { freePort, type Running, startBulwark, waitFor } from './support/process.ts';

const postgres = dbBackends.find((b) => b.name === 'postgres');
const ready = Boolean(postgres && redisUrl && natsUrl);

// Two `bulwark serve` processes sharing one PostgreSQL, Redis and NATS: what one commits, a
// subscriber receives exactly once, whichever relay publishes it.
describe.skipIf(!ready)('two instances on PostgreSQL, Redis and NATS', () => {
  const stream = uniqueName('BWK_T').toUpperCase();
  const subjectPrefix = uniqueName('bwk_t');
  const dataDir = mkdtempSync(join(tmpdir(), 'bulwark-scale-'));
  const token = `scale-out-admin-token-${'x'.repeat(24)}`;
  let dispose: () => Promise<void> = async () => {};
  const servers: { run: Running; port: number }[] = [];
  let bus: EventBus | undefined;
  const received: BusEvent[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl(postgres!);
    dispose = fresh.dispose;
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: fresh.url,
      REDIS_URL: redisUrl,
      NATS_URL: natsUrl,
      BULWARK_NATS_STREAM: stream,
      BULWARK_NATS_SUBJECT_PREFIX: subjectPrefix,
      BULWARK_KV_PREFIX: `${subjectPrefix}:`,
      BULWARK_BOOTSTRAP_ADMIN_TOKENS: token,
      BULWARK_DATA_DIR: dataDir,
      BULWARK_OUTBOX_POLL_MS: '50',
      BULWARK_LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      servers.push({ port, run: startBulwark(['serve', '--port', String(port)], env) });
    }
    for (const s of servers) {
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${s.port}/readyz`)).status === 200 ? true : undefined),
        // a bound for a loaded machine, not a timing assertion
        120_000,
        `instance on ${s.port} to be ready: ${s.run.output()}`,
      );
    }
    bus = await openBus({ natsUrl, stream, subjectPrefix });
    await bus.subscribe(
      '>',
      async (e) => {
        received.push(e);
      },
      { durable: 'scale_out_test' },
    );
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) s.run.child.kill('SIGTERM');
    const codes = await Promise.all(servers.map((s) => s.run.exited));
    await bus?.close();
    const nc = await connect({ servers: natsUrl });
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => {});
    await nc.close();
    await dispose();
    expect(codes).toEqual([0, 0]);
  }, 60_000);

  it('delivers each committed event exactly once', async () => {
    const call = async (i: number, path: string, body: object) => {
      const res = await fetch(`http://127.0.0.1:${servers[i % 2]!.port}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(res.status, text).toBe(201);
      return JSON.parse(text) as { id: string };
    };
    // Both instances write concurrently, so both relays race for the same outbox.
    const tenants = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(i, '/admin/tenants', { slug: `scale-${i}`, name: `T${i}` })),
    );
    await Promise.all(tenants.map((t, i) => call(i + 1, `/admin/tenants/${t.id}/partners`, { name: 'P' })));

    const expected = 40;
    const count = () =>
      received.filter((e) => e.topic === 'tenant.created' || e.topic === 'partner.created').length;
    await waitFor(async () => (count() >= expected ? true : undefined), 20_000, `${expected} events`);
    // Give a duplicate every chance to show up: many relay polls on both instances.
    await new Promise((r) => setTimeout(r, 1_000));
    // Only what this test wrote (instances also announce their boot-time key creation).
    const ours = received.filter((e) => e.topic === 'tenant.created' || e.topic === 'partner.created');
    const ids = ours.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(expected);
    const created = received.filter((e) => e.topic === 'tenant.created').map((e) => e.tenantId);
    expect(new Set(created)).toEqual(new Set(tenants.map((t) => t.id)));
  });
});
