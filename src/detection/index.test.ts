import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import type { Database } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { createMemoryBus, type EventBus } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { createMemoryKv, type Kv } from '../platform/kv/index.ts';
import { createLogger } from '../platform/log.ts';
import { type Detection, startDetection } from './index.ts';

// The wiring: business events from the bus reach the detectors, and findings become stored alerts.
describe.each(dbBackends)('detection wiring on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let kv: Kv;
  let bus: EventBus;
  let detection: Detection;
  const tenantId = uuidv7();

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem((tx) =>
      tx.insert(tenants).values({ id: tenantId, slug: `w-${tenantId.slice(-8)}`, name: 'W' }),
    );
    kv = createMemoryKv({ prefix: 'wiring:' });
    bus = createMemoryBus();
    detection = await startDetection({ services: { db, kv, bus }, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await detection.close();
    await bus.close();
    await kv.close();
    await dispose();
  });

  it('reads policy bindings and claims from the bus and raises a claim_burst alert', async () => {
    const t0 = Date.now();
    const publish = (topic: string, payload: Record<string, unknown>, at: number) =>
      bus.publish({ id: uuidv7(), topic, tenantId, payload, occurredAt: new Date(at).toISOString() });
    for (let i = 0; i < 3; i++) {
      const policyId = uuidv7();
      await publish(
        'policy.status_changed',
        { policyId, partnerId: 'p-1', from: 'quoted', to: 'bound' },
        t0 + i,
      );
      await publish(
        'claim.status_changed',
        { claimId: uuidv7(), policyId, partnerId: 'p-1', from: null, to: 'fnol' },
        t0 + 60_000 + i,
      );
    }
    let alerts = await detection.service.listAlerts({ limit: 10, tenantId });
    for (let i = 0; i < 100 && alerts.items.length === 0; i++) {
      await detection.feed.flush();
      await new Promise((r) => setTimeout(r, 20));
      alerts = await detection.service.listAlerts({ limit: 10, tenantId });
    }
    expect(alerts.items).toHaveLength(1);
    expect(alerts.items[0]).toMatchObject({
      detector: 'claim_burst',
      subject: { type: 'partner', id: 'p-1' },
      explanation: { numbers: { earlyClaims: 3 } },
    });
  });

  it('feeds sign-in outcomes without keeping the username', async () => {
    for (let i = 0; i < 5; i++) {
      detection.signIn({
        tenantId,
        ip: '192.0.2.44',
        username: `someone${i}@example.com`,
        outcome: 'failure',
      });
    }
    await detection.feed.flush();
    const alerts = await detection.service.listAlerts({
      limit: 10,
      tenantId,
      detector: 'credential_stuffing',
    });
    expect(alerts.items).toHaveLength(1);
    expect(JSON.stringify(alerts.items[0])).not.toContain('someone');
    expect(detection.feed.stats()).toMatchObject({ dropped: 0 });
  });
});
