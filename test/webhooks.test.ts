import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { createCrypto } from '../src/platform/crypto/index.ts';
import { rows } from '../src/platform/db/rows.ts';
import {
  type BusEvent,
  createMemoryBus,
  type EventBus,
  enqueue,
  openNatsBus,
  startRelay,
} from '../src/platform/events/index.ts';
import { TenantService } from '../src/tenants/index.ts';
import {
  SIGNATURE_HEADER,
  ssrfPolicyFor,
  startWebhooks,
  verifyHmacHeader,
  verifyMessageSignature,
  webhookPolicy,
} from '../src/webhooks/index.ts';
import {
  type ApiCaller,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
} from './support/api.ts';
import { adminHeaders } from './support/app.ts';
import { dbBackends, migratedDatabase, natsUrl, uniqueName } from './support/backends.ts';
import { webhookReceiver } from './support/webhook-receiver.ts';

interface Received {
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function receiver(status = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(
        Object.entries(req.headers as IncomingHttpHeaders).map(([k, v]) => [k, String(v)]),
      );
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/bulwark/webhooks`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('webhooks through the partner API', () => {
  let listening: Listening;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let tenantId: string;
  let partnerId: string;
  let api: ApiCaller;

  beforeAll(async () => {
    listening = await listeningApp({
      BULWARK_WEBHOOK_ALLOW_HTTP: 'true',
      BULWARK_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      BULWARK_OUTBOX_POLL_MS: '50',
    });
    rx = await receiver();
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Hooks'));
    api = await partnerApi(listening, { tenantId, partnerId, scope: 'webhooks:manage' });
  });
  afterAll(async () => {
    await rx.close();
    await listening.app.close();
  });

  const emit = async (topic: string, payload: Record<string, unknown>) => {
    const { db, relay } = listening.app.services;
    // What a domain module does: the event in the same transaction as its change.
    const id = await db.withTenant(tenantId, (tx) =>
      enqueue(tx, { topic, tenantId, payload: { partnerId, ...payload } }),
    );
    relay.nudge();
    return id;
  };

  it('a partner receives each subscribed event, with an HMAC and an RFC 9421 signature that verify', async () => {
    const created = await api.call('POST', '/v1/webhooks/subscriptions', {
      body: { url: rx.url, eventTypes: ['payment.settled', 'claim.status_changed'], description: 'main' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const secret: string = created.body.secret;
    expect(secret).toMatch(/^whsec_/);
    expect(created.body.subscription).toMatchObject({ url: rx.url, active: true, description: 'main' });
    // The secret is shown once: never in reads.
    const read = await api.call('GET', `/v1/webhooks/subscriptions/${created.body.subscription.id}`);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(secret);

    const settled = await emit('payment.settled', { paymentId: 'pay_1', amount: 1250, currency: 'EUR' });
    const claim = await emit('claim.status_changed', { claimId: 'clm_1', status: 'approved' });
    await emit('payment.failed', { paymentId: 'pay_2' }); // not subscribed
    const got = await waitFor(() => (rx.received.length >= 2 ? rx.received : undefined), 'two deliveries');

    const jwksRes = await fetch(`${listening.issuer}/.well-known/webhook-keys.json`);
    expect(jwksRes.status).toBe(200);
    const jwks = (await jwksRes.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    const ids = new Set<string>();
    for (const r of got) {
      const now = Math.floor(Date.now() / 1000);
      expect(verifyHmacHeader(r.headers[SIGNATURE_HEADER]!, r.body, [secret], now)).toBe('ok');
      expect(
        verifyMessageSignature({ method: 'POST', targetUri: rx.url, headers: r.headers }, r.body, jwks, now),
      ).toBe('ok');
      const body = JSON.parse(r.body);
      expect(Object.keys(body).sort()).toEqual(['data', 'id', 'occurredAt', 'tenantId', 'type']);
      expect(body.tenantId).toBe(tenantId);
      ids.add(body.id);
    }
    expect(ids).toEqual(new Set([settled, claim]));

    const deliveries = await api.call('GET', '/v1/webhooks/deliveries?limit=10');
    expect(deliveries.status).toBe(200);
    // The shared test receiver (for end-to-end tests) checks the same way.
    const shared = await webhookReceiver();
    try {
      const sub = await api.call('POST', '/v1/webhooks/subscriptions', {
        body: { url: shared.url, eventTypes: ['payment.settled'] },
      });
      const eventId = await emit('payment.settled', { paymentId: 'pay_3' });
      const w = await shared.waitFor((x) => x.json?.id === eventId);
      expect(await shared.verify(w, [sub.body.secret], listening.issuer)).toEqual({
        hmac: 'ok',
        message: 'ok',
      });
      expect(await shared.verify(w, ['whsec_wrong'], listening.issuer)).toMatchObject({ hmac: 'mismatch' });
      await api.call('DELETE', `/v1/webhooks/subscriptions/${sub.body.subscription.id}`);
    } finally {
      await shared.close();
    }
    expect(deliveries.body.items.map((d: { status: string }) => d.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    const one = await api.call('GET', `/v1/webhooks/deliveries/${deliveries.body.items[0].id}`);
    expect(one.body.attempts[0]).toMatchObject({ statusCode: 200, errorClass: null });
    expect(JSON.stringify(one.body)).not.toContain(secret);

    const metrics = await listening.app.inject({
      method: 'GET',
      url: '/admin/metrics',
      headers: adminHeaders,
    });
    expect(metrics.body).toMatch(/^bulwark_webhook_deliveries_pending \d+$/m);
  });

  it('refuses bad input, each with its own code, and writes nothing', async () => {
    const count = async () =>
      (await api.call('GET', '/v1/webhooks/subscriptions?limit=200')).body.items.length;
    const before = await count();
    const cases: [unknown, number, string][] = [
      [{ url: 'ftp://127.0.0.1/x', eventTypes: ['payment.settled'] }, 400, 'WEBHOOK_URL_NOT_HTTPS'],
      [
        { url: 'https://10.0.0.1/hook', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_FORBIDDEN_ADDRESS',
      ],
      [
        { url: 'http://127.0.0.2:9/hook', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_FORBIDDEN_ADDRESS',
      ],
      [
        { url: 'https://169.254.169.254/latest/meta-data/', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_FORBIDDEN_ADDRESS',
      ],
      [{ url: 'https://167772161/', eventTypes: ['payment.settled'] }, 400, 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      [
        { url: 'https://[::ffff:a00:1]/', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_FORBIDDEN_ADDRESS',
      ],
      [
        { url: 'https://metadata.google.internal/', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_FORBIDDEN_HOST',
      ],
      [
        { url: 'https://a:b@hooks.example.com/', eventTypes: ['payment.settled'] },
        400,
        'WEBHOOK_URL_INVALID',
      ],
      [{ url: rx.url, eventTypes: ['ledger.transaction.posted'] }, 400, 'WEBHOOK_EVENT_TYPE_UNKNOWN'],
      [{ url: rx.url, eventTypes: ['payment.settled'], secret: 'mine' }, 400, 'REQUEST_VALIDATION_FAILED'],
      [{ url: rx.url }, 400, 'REQUEST_VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await api.call('POST', '/v1/webhooks/subscriptions', { body });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([status, code]);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(await count()).toBe(before);
  });

  it('hides one partner’s subscriptions from another partner and from another tenant', async () => {
    const created = await api.call('POST', '/v1/webhooks/subscriptions', {
      body: { url: rx.url, eventTypes: ['policy.status_changed'] },
    });
    const id = created.body.subscription.id;
    const sibling = await listening.app.inject({
      method: 'POST',
      url: `/admin/tenants/${tenantId}/partners`,
      headers: adminHeaders,
      payload: { name: `Sibling ${randomBytes(3).toString('hex')}` },
    });
    const siblingApi = await partnerApi(listening, {
      tenantId,
      partnerId: sibling.json().id,
      scope: 'webhooks:manage',
    });
    const foreign = await tenantWithPartner(listening.app, 'Foreign');
    const foreignApi = await partnerApi(listening, { ...foreign, scope: 'webhooks:manage' });
    for (const other of [siblingApi, foreignApi]) {
      for (const [method, path, body] of [
        ['GET', `/v1/webhooks/subscriptions/${id}`, undefined],
        ['PATCH', `/v1/webhooks/subscriptions/${id}`, { active: false }],
        ['DELETE', `/v1/webhooks/subscriptions/${id}`, undefined],
        ['POST', `/v1/webhooks/subscriptions/${id}/rotate-secret`, {}],
      ] as const) {
        const res = await other.call(method, path, body === undefined ? {} : { body });
        expect([res.status, res.body.code], `${method} ${path}`).toEqual([
          404,
          'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
        ]);
      }
      const list = await other.call('GET', '/v1/webhooks/subscriptions');
      expect(list.body.items.map((s: { id: string }) => s.id)).not.toContain(id);
    }
    expect((await api.call('GET', `/v1/webhooks/subscriptions/${id}`)).body.active).toBe(true);
    // Without the scope: refused before anything runs.
    const noScope = await partnerApi(listening, { tenantId, partnerId, scope: 'payments:read' });
    expect((await noScope.call('GET', '/v1/webhooks/subscriptions')).status).toBe(403);
  });

  it('updates, rotates (returning the new secret once) and deletes', async () => {
    const created = await api.call('POST', '/v1/webhooks/subscriptions', {
      body: { url: rx.url, eventTypes: ['payment.returned'] },
    });
    const id = created.body.subscription.id;
    const patched = await api.call('PATCH', `/v1/webhooks/subscriptions/${id}`, {
      body: { eventTypes: ['payment.returned', 'payment.failed'], active: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ active: false, eventTypes: ['payment.failed', 'payment.returned'] });
    expect((await api.call('PATCH', `/v1/webhooks/subscriptions/${id}`, { body: {} })).status).toBe(400);
    const rotated = await api.call('POST', `/v1/webhooks/subscriptions/${id}/rotate-secret`, {
      body: { overlapSeconds: 600 },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect(Date.parse(rotated.body.subscription.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(
      500_000,
    );
    const tooLong = await api.call('POST', `/v1/webhooks/subscriptions/${id}/rotate-secret`, {
      body: { overlapSeconds: 8 * 86_400 },
    });
    expect(tooLong.status).toBe(400);
    expect((await api.call('DELETE', `/v1/webhooks/subscriptions/${id}`)).status).toBe(204);
    expect((await api.call('GET', `/v1/webhooks/subscriptions/${id}`)).status).toBe(404);
  });

  it('lists dead letters and redelivers them by hand (partner and admin routes)', async () => {
    const created = await api.call('POST', '/v1/webhooks/subscriptions', {
      body: { url: rx.url, eventTypes: ['kyc.case.decided'] },
    });
    const subId = created.body.subscription.id;
    const eventId = await emit('kyc.case.decided', { caseId: 'kyc_1', decision: 'approved' });
    await waitFor(() => rx.received.find((r) => JSON.parse(r.body).id === eventId), 'first delivery');
    // …and recorded (the worker writes the outcome after the receiver answers).
    for (let i = 0; i < 200; i++) {
      const list = await api.call('GET', `/v1/webhooks/deliveries?subscriptionId=${subId}`);
      if (list.body.items[0]?.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // Setup: the delivery as it ends after 3 days of failures (dead-lettering itself is tested in
    // src/webhooks/webhooks.test.ts with an injected clock).
    const { db } = listening.app.services;
    await db.asSystem((tx) =>
      tx.execute(
        sql`UPDATE webhook_deliveries SET status = 'dead', dead_at = now(), last_error = 'http_status' WHERE subscription_id = ${subId}`,
      ),
    );
    const dead = await api.call('GET', `/v1/webhooks/deliveries?status=dead&subscriptionId=${subId}`);
    expect(dead.body.items).toHaveLength(1);
    const deliveryId = dead.body.items[0].id;

    const adminDead = await listening.app.inject({
      method: 'GET',
      url: `/admin/tenants/${tenantId}/webhooks/dead-letters`,
      headers: adminHeaders,
    });
    expect(adminDead.json().items.map((d: { id: string }) => d.id)).toContain(deliveryId);

    const before = rx.received.length;
    const again = await api.call('POST', `/v1/webhooks/deliveries/${deliveryId}/redeliver`);
    expect([again.status, again.body.status]).toEqual([202, 'pending']);
    const twice = await api.call('POST', `/v1/webhooks/deliveries/${deliveryId}/redeliver`);
    expect([twice.status, twice.body.code]).toEqual([409, 'WEBHOOK_DELIVERY_NOT_DEAD']);
    await waitFor(() => (rx.received.length > before ? true : undefined), 'redelivery');
    expect(JSON.parse(rx.received.at(-1)!.body).id).toBe(eventId);

    for (let i = 0; i < 200; i++) {
      if (
        (await api.call('GET', `/v1/webhooks/deliveries/${deliveryId}`)).body.delivery.status === 'succeeded'
      )
        break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // The admin route, on the same delivery once dead again.
    await db.asSystem((tx) =>
      tx.execute(
        sql`UPDATE webhook_deliveries SET status = 'dead', dead_at = now() WHERE id = ${deliveryId}`,
      ),
    );
    const adminAgain = await listening.app.inject({
      method: 'POST',
      url: `/admin/tenants/${tenantId}/webhooks/deliveries/${deliveryId}/redeliver`,
      headers: adminHeaders,
    });
    expect(adminAgain.statusCode).toBe(202);
    const count = rx.received.length;
    await waitFor(() => (rx.received.length > count ? true : undefined), 'admin redelivery');
    // Another partner cannot redeliver it.
    const foreign = await tenantWithPartner(listening.app, 'Foreign2');
    const foreignApi = await partnerApi(listening, { ...foreign, scope: 'webhooks:manage' });
    const refused = await foreignApi.call('POST', `/v1/webhooks/deliveries/${deliveryId}/redeliver`);
    expect([refused.status, refused.body.code]).toEqual([404, 'WEBHOOK_DELIVERY_NOT_FOUND']);
  });
});

describe('webhook settings', () => {
  it('production refuses http webhooks and the private-address allow-list', () => {
    const base = { env: 'production' as const, webhookAllowHttp: false, webhookAllowedCidrs: [] as string[] };
    expect(() => webhookPolicy({ ...base, webhookAllowHttp: true })).toThrow(/production/);
    expect(() => webhookPolicy({ ...base, webhookAllowedCidrs: ['127.0.0.1/32'] })).toThrow(/production/);
    expect(webhookPolicy(base)).toEqual({ allowHttp: false, allowedCidrs: [] });
    const cfg = loadConfig({
      env: {
        NODE_ENV: 'test',
        BULWARK_DATA_DIR: 'memory://',
        BULWARK_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32,::1/128',
      },
    });
    expect(cfg.webhookAllowedCidrs).toEqual(['127.0.0.1/32', '::1/128']);
  });
});

/** Wraps a real bus so every event reaches the handler twice: the at-least-once redelivery. */
function duplicating(bus: EventBus): EventBus {
  return {
    kind: bus.kind,
    publish: (e) => bus.publish(e),
    subscribe: (filter, handler, opts) =>
      bus.subscribe(
        filter,
        async (e: BusEvent) => {
          await handler(e);
          await handler(e);
        },
        opts,
      ),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}

const nats = natsUrl;
const buses = [
  { name: 'memory', open: async (): Promise<EventBus> => createMemoryBus() },
  ...(nats
    ? [
        {
          name: 'nats',
          open: () =>
            openNatsBus({
              url: nats,
              stream: uniqueName('WH').toUpperCase(),
              subjectPrefix: uniqueName('wh'),
            }),
        },
      ]
    : []),
];

describe.each(buses)('outbox -> bus ($name) -> webhook, with the bus delivering twice', ({ open }) => {
  it('makes exactly one delivery per event and subscription', async () => {
    const { db, dispose } = await migratedDatabase(dbBackends.at(-1)!);
    const bus = await open();
    const crypto = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    const rx = await receiver();
    const webhooks = await startWebhooks({
      db,
      bus: duplicating(bus),
      crypto,
      policy: ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: ['127.0.0.1/32'] }),
      runWorker: false,
    });
    const relay = startRelay({ db, bus, pollMs: 50 });
    try {
      const tenants = new TenantService(db);
      const tenantId = (
        await tenants.createTenant({ slug: uniqueName('wh').replace(/_/g, '-'), name: 'Bus' })
      ).id;
      const partnerId = (await tenants.createPartner(tenantId, { name: 'Bus partner' })).id;
      const { subscription } = await webhooks.service.create(
        tenantId,
        partnerId,
        { url: rx.url, eventTypes: ['payment.settled'] },
        { actor: { type: 'system', id: 'test' } },
      );
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          await db.withTenant(tenantId, (tx) =>
            enqueue(tx, { topic: 'payment.settled', tenantId, payload: { partnerId, paymentId: `p${i}` } }),
          ),
        );
      }
      await relay.drain();
      const count = async () => {
        const [r] = await db.asSystem((tx) =>
          rows<{ n: number }>(
            tx,
            sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = ${subscription.id}`,
          ),
        );
        return r?.n ?? 0;
      };
      const deadline = Date.now() + 15_000;
      while ((await count()) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // Let any duplicate handler call finish.
      await new Promise((r) => setTimeout(r, 300));
      expect(await count()).toBe(5);
      await webhooks.worker.drain();
      expect(rx.received.map((r) => JSON.parse(r.body).id).sort()).toEqual([...ids].sort());
    } finally {
      await relay.stop();
      await webhooks.stop();
      await bus.close();
      await rx.close();
      await dispose();
    }
  });
});
