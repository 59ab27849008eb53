/**
 * The NATS JetStream sink against a real NATS server (NATS_URL; skipped when absent): a real
 * subscriber reads the SIEM subjects back and checks the OCSF class fields; a batch sent twice is
 * stored once (Nats-Msg-Id = record hash).
 */
import { AckPolicy, connect, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase, natsUrl, uniqueName } from '../../test/support/backends.ts';
import type { AuditInput } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';
import { natsConnectionOptions } from '../platform/events/nats-bus.ts';
import { uuidv7 } from '../platform/ids.ts';
import { startSiemExporter } from './exporter.ts';
import { openNatsSink } from './nats.ts';
import { type OcsfEvent, toOcsf } from './ocsf.ts';
import { appendRecords } from './testing.ts';

const TENANT = uuidv7();

const input = (i: number): AuditInput =>
  i % 2 === 0
    ? {
        actor: { type: 'user', id: `user-${i}`, clientId: 'app-1' },
        action: 'auth.signin.succeeded',
        object: { type: 'user', id: `user-${i}` },
        tenantId: TENANT,
        outcome: 'success',
        requestId: `req-${i}`,
        details: { ip: '192.0.2.10' },
      }
    : {
        actor: { type: 'operator', id: 'op-1' },
        action: 'admin.tenant.created',
        object: { type: 'tenant', id: TENANT },
        tenantId: null,
        outcome: 'success',
        requestId: `req-${i}`,
      };

describe.runIf(natsUrl).each(dbBackends)('NATS JetStream SIEM sink on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let nc: NatsConnection;
  const stream = uniqueName('SIEM').toUpperCase();
  const prefix = uniqueName('siemtest');

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    nc = await connect(natsConnectionOptions(natsUrl!));
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
    await dispose?.();
  });

  /** A real subscriber: an ephemeral pull consumer over `filter`, reading everything stored. */
  async function readAll(filter: string, expected: number): Promise<JsMsg[]> {
    const jsm = await nc.jetstreamManager();
    const name = uniqueName('reader');
    await jsm.consumers.add(stream, {
      name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filter,
    });
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const out: JsMsg[] = [];
    while (out.length < expected) {
      const batch = await consumer.fetch({ max_messages: expected - out.length, expires: 2_000 });
      let got = 0;
      for await (const m of batch) {
        m.ack();
        out.push(m);
        got++;
      }
      if (got === 0) break;
    }
    await jsm.consumers.delete(stream, name);
    return out;
  }

  it('events arrive on <prefix>.<tenant|platform>.<class>, in order, as OCSF', async () => {
    const records = await appendRecords(db, 6, input);
    const sink = openNatsSink({ url: natsUrl!, stream, subjectPrefix: prefix });
    const exporter = startSiemExporter({ db, sink, productVersion: '0.1.0', batchSize: 4, pollMs: 50 });
    try {
      await exporter.drain();
      const all = await readAll(`${prefix}.>`, records.length);
      expect(all.map((m) => (m.json() as OcsfEvent).metadata.sequence)).toEqual(records.map((r) => r.seq));
      const auth = await readAll(`${prefix}.${TENANT}.authentication`, 3);
      expect(auth).toHaveLength(3);
      for (const m of auth) {
        const e = m.json<OcsfEvent>();
        expect(e).toMatchObject({
          class_uid: 3002,
          category_uid: 3,
          activity_id: 1,
          type_uid: 300201,
          status_id: 1,
          src_endpoint: { ip: '192.0.2.10' },
          service: { name: 'Bulwark' },
          metadata: { version: '1.6.0', tenant_uid: TENANT, product: { name: 'Bulwark' } },
        });
        expect((e.user as { uid: string }).uid).toMatch(/^user-/);
      }
      const admin = await readAll(`${prefix}.platform.api_activity`, 3);
      expect(admin).toHaveLength(3);
      for (const m of admin)
        expect(m.json<OcsfEvent>()).toMatchObject({
          class_uid: 6003,
          activity_id: 1,
          actor: { user: { uid: 'op-1', type_id: 2 } },
          api: { operation: 'admin.tenant.created', request: { uid: expect.stringMatching(/^req-/) } },
        });
    } finally {
      await exporter.stop();
    }
  });

  it('a batch sent again (after a failure) is stored once: de-duplicated by record hash', async () => {
    const [record] = await appendRecords(db, 1, input);
    const sink = openNatsSink({ url: natsUrl!, stream, subjectPrefix: prefix });
    const item = { record: record!, event: toOcsf(record!, { productVersion: '0.1.0' }) };
    await sink.send([item]);
    await sink.send([item]);
    await sink.close();
    const jsm = await nc.jetstreamManager();
    const found = await readAll(`${prefix}.>`, 1_000);
    expect(found.filter((m) => m.json<OcsfEvent>().metadata.uid === record!.hash)).toHaveLength(1);
    expect((await jsm.streams.info(stream)).config.subjects).toContain(`${prefix}.>`);
  });
});
