import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from './support/app.ts';
import { dbBackends, freshDatabaseUrl } from './support/backends.ts';

const publicJwk = () => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid: 'k1',
});

describe.each(dbBackends)('admin API on $name: tenants, partners and apps', (backend) => {
  let app: FastifyInstance;
  let dispose: () => Promise<void>;
  const post = (url: string, payload: object) =>
    app.inject({ method: 'POST', url, headers: adminHeaders, payload });
  const get = (url: string) => app.inject({ method: 'GET', url, headers: adminHeaders });

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl(backend);
    dispose = fresh.dispose;
    app = await testApp(fresh.url ? { DATABASE_URL: fresh.url } : {});
  });
  afterAll(async () => {
    await app.close();
    await dispose();
  });

  it('creates a tenant, a partner and an app registered with its public keys', async () => {
    const tenant = await post('/admin/tenants', { slug: 'acme-insurance', name: 'Acme Insurance' });
    expect(tenant.statusCode).toBe(201);
    expect(tenant.json()).toMatchObject({ slug: 'acme-insurance', name: 'Acme Insurance', status: 'active' });
    const tenantId = tenant.json().id;

    const partner = await post(`/admin/tenants/${tenantId}/partners`, { name: 'Quick Cover' });
    expect(partner.statusCode).toBe(201);
    expect(partner.json()).toMatchObject({ tenantId, name: 'Quick Cover' });
    const partnerId = partner.json().id;

    const jwks = { keys: [publicJwk()] };
    const created = await post(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'Quick Cover web',
      jwks,
    });
    expect(created.statusCode, created.body).toBe(201);
    const registered = created.json();
    expect(registered).toMatchObject({
      tenantId,
      partnerId,
      environment: 'sandbox',
      authMethod: 'private_key_jwt',
      grantTypes: ['client_credentials'],
      jwks,
    });
    expect(registered.clientId).toMatch(/^bwk_test_/);

    const listed = await get(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`);
    expect(listed.json().items).toEqual([registered]);

    // rotation: the new key set replaces the old one
    const next = { keys: [publicJwk(), { ...publicJwk(), kid: 'k2' }] };
    const rotated = await app.inject({
      method: 'PUT',
      url: `/admin/tenants/${tenantId}/partners/${partnerId}/apps/${registered.id}/credentials`,
      headers: adminHeaders,
      payload: { jwks: next },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().jwks).toEqual(next);
  });

  it('refuses client registrations that are not safe', async () => {
    const tenantId = (await post('/admin/tenants', { slug: 'reg-rules', name: 'R' })).json().id;
    const partnerId = (await post(`/admin/tenants/${tenantId}/partners`, { name: 'P' })).json().id;
    const url = `/admin/tenants/${tenantId}/partners/${partnerId}/apps`;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: [object, string][] = [
      [{ name: 'no keys' }, 'APP_CREDENTIALS_MISSING'],
      [{ name: 'private', jwks: { keys: [privateKey.export({ format: 'jwk' })] } }, 'APP_JWKS_INVALID'],
      [{ name: 'hmac', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'APP_JWKS_INVALID'],
      [{ name: 'mtls', authMethod: 'tls_client_auth' }, 'APP_CREDENTIALS_MISSING'],
      [
        {
          name: 'http',
          jwks: { keys: [publicJwk()] },
          grantTypes: ['authorization_code'],
          redirectUris: ['http://evil.example/cb'],
        },
        'APP_REDIRECT_URI_INVALID',
      ],
      [
        { name: 'scope', jwks: { keys: [publicJwk()] }, scope: 'payments:write admin:all' },
        'APP_SCOPE_INVALID',
      ],
    ];
    for (const [payload, code] of cases) {
      const res = await post(url, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code, JSON.stringify(payload)).toBe(code);
    }
  });

  it('records every admin change in the audit trail, in the same transaction', async () => {
    const created = await post('/admin/tenants', { slug: 'audited', name: 'Audited' });
    const audit = await get(`/admin/audit?action=admin.tenant.created&tenantId=${created.json().id}`);
    expect(audit.statusCode, audit.body).toBe(200);
    expect(audit.json().items).toEqual([
      expect.objectContaining({
        action: 'admin.tenant.created',
        outcome: 'success',
        actorType: 'operator',
        actorId: 'bootstrap-admin',
        objectType: 'tenant',
        objectId: created.json().id,
        requestId: created.headers['x-request-id'],
      }),
    ]);
    // a refused change writes nothing
    await post('/admin/tenants', { slug: 'audited', name: 'Again' });
    expect(
      (await get('/admin/audit?action=admin.tenant.created'))
        .json()
        .items.filter((r: { objectId?: string }) => r.objectId === created.json().id),
    ).toHaveLength(1);
  });

  it('refuses a duplicate slug with 409', async () => {
    await post('/admin/tenants', { slug: 'dup-slug', name: 'One' });
    const again = await post('/admin/tenants', { slug: 'dup-slug', name: 'Two' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('TENANT_SLUG_TAKEN');
  });

  it('refuses a duplicate partner name within a tenant, not across tenants', async () => {
    const a = (await post('/admin/tenants', { slug: 'dup-partner-a', name: 'A' })).json().id;
    const b = (await post('/admin/tenants', { slug: 'dup-partner-b', name: 'B' })).json().id;
    expect((await post(`/admin/tenants/${a}/partners`, { name: 'Same' })).statusCode).toBe(201);
    const again = await post(`/admin/tenants/${a}/partners`, { name: 'Same' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('PARTNER_NAME_TAKEN');
    expect((await post(`/admin/tenants/${b}/partners`, { name: 'Same' })).statusCode).toBe(201);
  });

  it('validates slugs and names strictly', async () => {
    for (const payload of [
      { slug: 'Upper', name: 'x' },
      { slug: '-lead', name: 'x' },
      { slug: 'ok-slug', name: '' },
      { slug: 'ok-slug', name: ' padded' },
      { slug: 'ok-slug' },
    ]) {
      const res = await post('/admin/tenants', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('REQUEST_VALIDATION_FAILED');
    }
  });

  it('answers 404 for an unknown tenant or partner', async () => {
    const ghost = '01900000-0000-7000-8000-000000000000';
    const t = await get(`/admin/tenants/${ghost}`);
    expect(t.statusCode).toBe(404);
    expect(t.json().code).toBe('TENANT_NOT_FOUND');
    expect((await post(`/admin/tenants/${ghost}/partners`, { name: 'x' })).json().code).toBe(
      'TENANT_NOT_FOUND',
    );
    const tenantId = (await post('/admin/tenants', { slug: 'has-no-partner', name: 'x' })).json().id;
    const p = await post(`/admin/tenants/${tenantId}/partners/${ghost}/apps`, {
      name: 'x',
      jwks: { keys: [publicJwk()] },
    });
    expect(p.statusCode).toBe(404);
    expect(p.json().code).toBe('PARTNER_NOT_FOUND');
  });

  it('never reaches a partner through another tenant', async () => {
    const a = (await post('/admin/tenants', { slug: 'iso-a', name: 'A' })).json().id;
    const b = (await post('/admin/tenants', { slug: 'iso-b', name: 'B' })).json().id;
    const partnerOfA = (await post(`/admin/tenants/${a}/partners`, { name: 'Only A' })).json().id;
    const viaB = await post(`/admin/tenants/${b}/partners/${partnerOfA}/apps`, {
      name: 'x',
      jwks: { keys: [publicJwk()] },
    });
    expect(viaB.statusCode).toBe(404);
    expect(viaB.json().code).toBe('PARTNER_NOT_FOUND');
    const listB = await get(`/admin/tenants/${b}/partners`);
    expect(listB.json().items).toEqual([]);
  });

  it('pages through tenants with a cursor', async () => {
    for (let i = 0; i < 5; i++) await post('/admin/tenants', { slug: `page-${i}`, name: `P${i}` });
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const res = await get(`/admin/tenants?limit=2${after ? `&after=${after}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((t: { id: string }) => t.id));
      after = page.nextCursor;
    } while (after);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect((await get('/admin/tenants?limit=0')).statusCode).toBe(400);
    expect((await get('/admin/tenants?limit=2&extra=1')).statusCode).toBe(400);
  });

  it('writes an outbox event in the same transaction as the change', async () => {
    const events: { topic: string; tenantId: string | null }[] = [];
    const unsubscribe = await app.services.bus.subscribe('>', async (e) => {
      events.push({ topic: e.topic, tenantId: e.tenantId });
    });
    const tenantId = (await post('/admin/tenants', { slug: 'evented', name: 'E' })).json().id;
    await post(`/admin/tenants/${tenantId}/partners`, { name: 'EP' });
    await app.services.relay.drain();
    expect(events).toEqual(
      expect.arrayContaining([
        { topic: 'tenant.created', tenantId },
        { topic: 'partner.created', tenantId },
      ]),
    );
    await unsubscribe();
  });
});
