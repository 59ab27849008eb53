import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { type Crypto, createCrypto } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { rows } from '../platform/db/rows.ts';
import type { BusEvent } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { TenantService } from '../tenants/index.ts';
import { BACKOFF_BASE_MS, DeliveryWorker, retryDelayMs } from './delivery.ts';
import { MAX_DELIVERY_AGE_MS, type Owner, WebhookService } from './service.ts';
import {
  SIGNATURE_HEADER,
  verifyHmacHeader,
  verifyMessageSignature,
  WEBHOOK_KEY_PURPOSE,
} from './signature.ts';
import { STRICT_SSRF_POLICY, ssrfPolicyFor } from './ssrf.ts';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly url: string;
}

/** A real receiver on 127.0.0.1 that answers with the next queued status (default 200). */
async function receiver() {
  const received: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        url: req.url ?? '',
      });
      res.writeHead(statuses.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/bulwark`,
    received,
    statuses,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const who = { actor: { type: 'client' as const, id: 'app-1', clientId: 'app-1' } };
const testPolicy = ssrfPolicyFor({ production: false, allowHttp: true, allowedCidrs: ['127.0.0.1/32'] });

describe.each(dbBackends)('webhooks on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let crypto: Crypto;
  let clock: number;
  const now = () => clock;
  let service: WebhookService;
  let strict: WebhookService;
  let worker: DeliveryWorker;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let tenantId: string;
  let partnerId: string;
  let otherPartnerId: string;
  let otherTenantId: string;
  let owner: Owner & { partnerId: string };

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    crypto = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
    await crypto.signing.ensureKeys(WEBHOOK_KEY_PURPOSE, 'EdDSA');
    const tenants = new TenantService(db);
    const suffix = randomBytes(4).toString('hex');
    tenantId = (await tenants.createTenant({ slug: `wh-${suffix}`, name: 'Webhook Insurer' })).id;
    partnerId = (await tenants.createPartner(tenantId, { name: 'Partner A' })).id;
    otherPartnerId = (await tenants.createPartner(tenantId, { name: 'Partner B' })).id;
    otherTenantId = (await tenants.createTenant({ slug: `wh2-${suffix}`, name: 'Other Insurer' })).id;
    owner = { tenantId, partnerId };
    rx = await receiver();
  });
  afterAll(async () => {
    await rx.close();
    await dispose();
  });
  beforeEach(() => {
    clock = Date.now();
    rx.received.length = 0;
    rx.statuses.length = 0;
    service = new WebhookService({ db, envelope: crypto.envelope, policy: testPolicy, now });
    strict = new WebhookService({
      db,
      envelope: crypto.envelope,
      policy: STRICT_SSRF_POLICY,
      now,
      resolver: async () => [{ address: '10.1.2.3', family: 4 }],
    });
    worker = new DeliveryWorker({
      db,
      envelope: crypto.envelope,
      signing: crypto.signing,
      policy: testPolicy,
      now,
      random: () => 0.5,
    });
  });

  const event = (topic: string, payload: Record<string, unknown>, tenant = tenantId): BusEvent => ({
    id: uuidv7(),
    topic,
    tenantId: tenant,
    payload,
    occurredAt: new Date(clock).toISOString(),
  });
  const count = async (table: string) => {
    const [r] = await db.asSystem((tx) =>
      rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`),
    );
    return r?.n ?? 0;
  };

  it('creates a subscription, shows the secret once, and stores it only encrypted', async () => {
    const { subscription, secret } = await service.create(
      tenantId,
      partnerId,
      { url: rx.url, eventTypes: ['payment.settled', 'claim.status_changed', 'payment.settled'] },
      who,
    );
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(subscription).toMatchObject({
      url: rx.url,
      active: true,
      eventTypes: ['claim.status_changed', 'payment.settled'],
    });
    expect(subscription).not.toHaveProperty('secretEnc');
    const [stored] = await db.asSystem((tx) =>
      rows<Record<string, unknown>>(
        tx,
        sql`SELECT * FROM webhook_subscriptions WHERE id = ${subscription.id}`,
      ),
    );
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6));
    expect(await service.get(owner, subscription.id)).toMatchObject({ id: subscription.id });
  });

  it('scopes every read and write to the partner and tenant (others see 404)', async () => {
    const { subscription } = await service.create(
      tenantId,
      partnerId,
      { url: rx.url, eventTypes: ['payment.failed'] },
      who,
    );
    const otherPartner = { tenantId, partnerId: otherPartnerId };
    const otherTenant = { tenantId: otherTenantId, partnerId };
    for (const o of [otherPartner, otherTenant]) {
      await expect(service.get(o, subscription.id)).rejects.toMatchObject({
        code: 'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
      });
      await expect(service.update(o, subscription.id, { active: false }, who)).rejects.toMatchObject({
        code: 'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
      });
      await expect(service.remove(o, subscription.id, who)).rejects.toMatchObject({
        code: 'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
      });
      await expect(service.rotateSecret(o, subscription.id, 60, who)).rejects.toMatchObject({
        code: 'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
      });
      expect((await service.list(o, 200)).items.map((s) => s.id)).not.toContain(subscription.id);
    }
    expect(await service.get(owner, subscription.id)).toMatchObject({ active: true });
  });

  it('pages with a cursor', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Pager ${uuidv7()}` })).id;
    for (let i = 0; i < 5; i++)
      await service.create(tenantId, p, { url: rx.url, eventTypes: ['payment.failed'] }, who);
    const first = await service.list({ tenantId, partnerId: p }, 2);
    expect(first.items).toHaveLength(2);
    const second = await service.list({ tenantId, partnerId: p }, 2, first.nextCursor!);
    const third = await service.list({ tenantId, partnerId: p }, 2, second.nextCursor!);
    expect(third.items).toHaveLength(1);
    expect(third.nextCursor).toBeNull();
    expect(new Set([...first.items, ...second.items, ...third.items].map((s) => s.id)).size).toBe(5);
  });

  it('refuses bad input with its own code, writing nothing', async () => {
    const before = await count('webhook_subscriptions');
    const cases: [WebhookService, string, string[], string][] = [
      [strict, 'http://hooks.example.com/', ['payment.settled'], 'WEBHOOK_URL_NOT_HTTPS'],
      [strict, 'https://10.0.0.1/hook', ['payment.settled'], 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      [strict, 'https://169.254.169.254/latest', ['payment.settled'], 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      [strict, 'https://[::ffff:7f00:1]/hook', ['payment.settled'], 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      // resolves (through the injected resolver) to a private address
      [strict, 'https://hooks.example.com/', ['payment.settled'], 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      [strict, 'https://localhost/hook', ['payment.settled'], 'WEBHOOK_URL_FORBIDDEN_HOST'],
      [strict, 'https://u:p@hooks.example.com/', ['payment.settled'], 'WEBHOOK_URL_INVALID'],
      [service, rx.url, ['payment.settled', 'tenant.created'], 'WEBHOOK_EVENT_TYPE_UNKNOWN'],
      [service, rx.url, [], 'WEBHOOK_EVENT_TYPE_UNKNOWN'],
    ];
    for (const [svc, url, eventTypes, code] of cases) {
      await expect(
        svc.create(tenantId, partnerId, { url, eventTypes }, who),
        `${url} ${eventTypes}`,
      ).rejects.toMatchObject({
        code,
      });
    }
    const unresolvable = new WebhookService({
      db,
      envelope: crypto.envelope,
      policy: STRICT_SSRF_POLICY,
      resolver: async () => {
        throw new Error('ENOTFOUND');
      },
    });
    await expect(
      unresolvable.create(
        tenantId,
        partnerId,
        { url: 'https://nx.example.com/', eventTypes: ['payment.settled'] },
        who,
      ),
    ).rejects.toMatchObject({ code: 'WEBHOOK_URL_UNRESOLVABLE' });
    expect(await count('webhook_subscriptions')).toBe(before);
    const { subscription } = await service.create(
      tenantId,
      partnerId,
      { url: rx.url, eventTypes: ['payment.failed'] },
      who,
    );
    await expect(
      strict.update(owner, subscription.id, { url: 'https://127.0.0.1/' }, who),
    ).rejects.toMatchObject({
      code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS',
    });
    expect((await service.get(owner, subscription.id)).url).toBe(rx.url);
  });

  it('fans an event out once per matching subscription, however often the bus delivers it', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Fan ${uuidv7()}` })).id;
    const a = (await service.create(tenantId, p, { url: rx.url, eventTypes: ['payment.settled'] }, who))
      .subscription;
    const b = (
      await service.create(
        tenantId,
        p,
        { url: rx.url, eventTypes: ['payment.settled', 'payment.failed'] },
        who,
      )
    ).subscription;
    await service.create(tenantId, p, { url: rx.url, eventTypes: ['claim.status_changed'] }, who);
    await service.create(tenantId, p, { url: rx.url, eventTypes: ['payment.settled'], active: false }, who);
    const e = event('payment.settled', { partnerId: p, paymentId: 'pay_1' });
    const first = await service.fanOut(e);
    expect(first).toHaveLength(2);
    // The bus redelivers (at least once): nothing new.
    expect(await service.fanOut(e)).toEqual([]);
    expect(await Promise.all([service.fanOut(e), service.fanOut(e)])).toEqual([[], []]);
    const deliveries = await service.listDeliveries({ tenantId, partnerId: p }, {}, 50);
    expect(deliveries.items.map((d) => d.subscriptionId).sort()).toEqual([a.id, b.id].sort());
    // Not subscribable, another partner, no partner, another tenant: nothing.
    expect(await service.fanOut(event('tenant.created', { partnerId: p }))).toEqual([]);
    expect(await service.fanOut(event('payment.settled', { partnerId: otherPartnerId }))).toEqual([]);
    expect(await service.fanOut(event('payment.settled', { partnerId: null }))).toEqual([]);
    expect(await service.fanOut(event('payment.settled', { partnerId: p }, otherTenantId))).toEqual([]);
  });

  it('delivers with both signatures, verifiable by the receiver', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Del ${uuidv7()}` })).id;
    const { subscription, secret } = await service.create(
      tenantId,
      p,
      { url: rx.url, eventTypes: ['claim.status_changed'] },
      who,
    );
    const e = event('claim.status_changed', { partnerId: p, claimId: 'c1', status: 'approved' });
    await service.fanOut(e);
    expect(await worker.drain()).toBeGreaterThanOrEqual(1);
    const got = rx.received.find((r) => JSON.parse(r.body).id === e.id);
    expect(got).toBeDefined();
    const body = JSON.parse(got!.body);
    expect(body).toEqual({
      id: e.id,
      type: 'claim.status_changed',
      occurredAt: e.occurredAt,
      tenantId,
      data: { partnerId: p, claimId: 'c1', status: 'approved' },
    });
    const nowSec = Math.floor(clock / 1000);
    expect(verifyHmacHeader(String(got!.headers[SIGNATURE_HEADER]), got!.body, [secret], nowSec)).toBe('ok');
    const jwks = (await crypto.signing.publicJwks(WEBHOOK_KEY_PURPOSE)) as unknown as {
      keys: Record<string, unknown>[];
    };
    const headers = Object.fromEntries(Object.entries(got!.headers).map(([k, v]) => [k, String(v)]));
    expect(
      verifyMessageSignature({ method: 'POST', targetUri: rx.url, headers }, got!.body, jwks, nowSec),
    ).toBe('ok');
    const list = await service.listDeliveries(
      { tenantId, partnerId: p },
      { subscriptionId: subscription.id },
      10,
    );
    expect(list.items[0]).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 });
    const detail = await service.getDelivery({ tenantId, partnerId: p }, list.items[0]!.id);
    expect(detail.attempts).toEqual([expect.objectContaining({ statusCode: 200, errorClass: null })]);
    // Nothing more is due.
    expect(await worker.runDue()).toBe(0);
  });

  it('retries after 500s with exponential backoff (injected clock), then succeeds', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Retry ${uuidv7()}` })).id;
    await service.create(tenantId, p, { url: rx.url, eventTypes: ['payment.returned'] }, who);
    await service.fanOut(event('payment.returned', { partnerId: p, paymentId: 'r1' }));
    rx.statuses.push(500, 503);
    const mine = async () => (await service.listDeliveries({ tenantId, partnerId: p }, {}, 10)).items[0]!;

    expect(await worker.runDue()).toBe(1);
    let d = await mine();
    expect(d).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 500,
      lastError: 'http_status',
    });
    expect(d.nextAttemptAt.getTime() - clock).toBe(retryDelayMs(1, () => 0.5));
    // Not due yet: no attempt.
    clock += BACKOFF_BASE_MS / 4;
    expect(await worker.runDue()).toBe(0);
    clock = d.nextAttemptAt.getTime();
    expect(await worker.runDue()).toBe(1);
    d = await mine();
    expect(d).toMatchObject({ status: 'pending', attempts: 2, lastStatusCode: 503 });
    // The second delay is twice the first.
    expect(d.nextAttemptAt.getTime() - clock).toBe(2 * retryDelayMs(1, () => 0.5));
    clock = d.nextAttemptAt.getTime();
    expect(await worker.runDue()).toBe(1);
    d = await mine();
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
    const attempts = (await service.getDelivery({ tenantId, partnerId: p }, d.id)).attempts;
    expect(attempts.map((a) => a.statusCode)).toEqual([200, 503, 500]);
  });

  it('backoff grows, is capped and jittered', () => {
    expect(retryDelayMs(1, () => 0)).toBe(15_000);
    expect(retryDelayMs(1, () => 1)).toBe(30_000);
    expect(retryDelayMs(5, () => 1)).toBe(30_000 * 16);
    expect(retryDelayMs(40, () => 1)).toBe(6 * 3_600_000);
  });

  it('dead-letters after 3 days of failures; a manual redelivery sends it again', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Dead ${uuidv7()}` })).id;
    const pOwner = { tenantId, partnerId: p };
    await service.create(tenantId, p, { url: rx.url, eventTypes: ['policy.status_changed'] }, who);
    await service.fanOut(
      event('policy.status_changed', { partnerId: p, policyId: 'pol1', status: 'lapsed' }),
    );
    const start = clock;
    let rounds = 0;
    for (;;) {
      rx.statuses.push(500);
      const d = (await service.listDeliveries(pOwner, {}, 10)).items[0]!;
      if (d.status === 'dead') break;
      clock = Math.max(clock, d.nextAttemptAt.getTime());
      expect(await worker.runDue()).toBe(1);
      rounds += 1;
      expect(rounds).toBeLessThan(40);
    }
    const dead = (await service.listDeliveries(pOwner, { status: 'dead' }, 10)).items;
    expect(dead).toHaveLength(1);
    expect(dead[0]!.deadAt!.getTime() - start).toBeLessThanOrEqual(MAX_DELIVERY_AGE_MS);
    expect(dead[0]!.attempts).toBe(rounds);
    expect(rounds).toBeGreaterThan(10);
    // Not redeliverable by another partner; a pending one is not "dead".
    await expect(
      service.redeliver({ tenantId, partnerId: otherPartnerId }, dead[0]!.id, who),
    ).rejects.toMatchObject({
      code: 'WEBHOOK_DELIVERY_NOT_FOUND',
    });
    rx.statuses.length = 0;
    const again = await service.redeliver(pOwner, dead[0]!.id, who);
    expect(again).toMatchObject({ status: 'pending' });
    await expect(service.redeliver(pOwner, dead[0]!.id, who)).rejects.toMatchObject({
      code: 'WEBHOOK_DELIVERY_NOT_DEAD',
    });
    expect(await worker.runDue()).toBe(1);
    expect((await service.getDelivery(pOwner, dead[0]!.id)).delivery.status).toBe('succeeded');
  });

  it('a paused subscription dead-letters its pending deliveries instead of sending them', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Pause ${uuidv7()}` })).id;
    const { subscription } = await service.create(
      tenantId,
      p,
      { url: rx.url, eventTypes: ['payment.submitted'] },
      who,
    );
    await service.fanOut(event('payment.submitted', { partnerId: p, paymentId: 's1' }));
    await service.update({ tenantId, partnerId: p }, subscription.id, { active: false }, who);
    expect(await worker.runDue()).toBe(1);
    expect(rx.received).toHaveLength(0);
    const [d] = (await service.listDeliveries({ tenantId, partnerId: p }, {}, 10)).items;
    expect(d).toMatchObject({ status: 'dead', lastError: 'subscription_inactive' });
  });

  it('rotates the secret with an overlap: both signatures until it ends, then only the new one', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Rot ${uuidv7()}` })).id;
    const pOwner = { tenantId, partnerId: p };
    const { subscription, secret: oldSecret } = await service.create(
      tenantId,
      p,
      { url: rx.url, eventTypes: ['kyc.case.decided'] },
      who,
    );
    const rotated = await service.rotateSecret(pOwner, subscription.id, 3600, who);
    expect(rotated.secret).not.toBe(oldSecret);
    expect(rotated.subscription.previousSecretExpiresAt?.getTime()).toBe(clock + 3600_000);

    await service.fanOut(event('kyc.case.decided', { partnerId: p, caseId: 'k1', decision: 'approved' }));
    await worker.drain();
    let got = rx.received.at(-1)!;
    let header = String(got.headers[SIGNATURE_HEADER]);
    const sec = Math.floor(clock / 1000);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifyHmacHeader(header, got.body, [oldSecret], sec)).toBe('ok');
    expect(verifyHmacHeader(header, got.body, [rotated.secret], sec)).toBe('ok');

    clock += 3600_000 + 1;
    await service.fanOut(event('kyc.case.decided', { partnerId: p, caseId: 'k2', decision: 'rejected' }));
    await worker.drain();
    got = rx.received.at(-1)!;
    header = String(got.headers[SIGNATURE_HEADER]);
    const later = Math.floor(clock / 1000);
    expect(header.match(/v1=/g)).toHaveLength(1);
    expect(verifyHmacHeader(header, got.body, [oldSecret], later)).toBe('mismatch');
    expect(verifyHmacHeader(header, got.body, [rotated.secret], later)).toBe('ok');

    // Overlap 0: the old secret stops at once.
    const immediate = await service.rotateSecret(pOwner, subscription.id, 0, who);
    expect(immediate.subscription.previousSecretExpiresAt).toBeNull();
  });

  it('deleting a subscription removes its deliveries', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Del2 ${uuidv7()}` })).id;
    const { subscription } = await service.create(
      tenantId,
      p,
      { url: rx.url, eventTypes: ['payment.settled'] },
      who,
    );
    await service.fanOut(event('payment.settled', { partnerId: p }));
    await service.remove({ tenantId, partnerId: p }, subscription.id, who);
    expect((await service.listDeliveries({ tenantId, partnerId: p }, {}, 10)).items).toEqual([]);
    await expect(service.get({ tenantId, partnerId: p }, subscription.id)).rejects.toMatchObject({
      code: 'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
    });
  });

  it('two workers never attempt the same delivery (SKIP LOCKED leases)', async () => {
    const p = (await new TenantService(db).createPartner(tenantId, { name: `Par ${uuidv7()}` })).id;
    await service.create(tenantId, p, { url: rx.url, eventTypes: ['payment.failed'] }, who);
    for (let i = 0; i < 20; i++) await service.fanOut(event('payment.failed', { partnerId: p, n: i }));
    const other = new DeliveryWorker({
      db,
      envelope: crypto.envelope,
      signing: crypto.signing,
      policy: testPolicy,
      now,
      batchSize: 7,
    });
    const mineBefore = rx.received.length;
    await Promise.all([worker.drain(), other.drain(), worker.drain()]);
    const ids = rx.received.slice(mineBefore).map((r) => JSON.parse(r.body).id as string);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });
});
