import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from './support/app.ts';
import { waitFor } from './support/process.ts';

// The WAF sits in front of authentication in the real app: attacks are refused whoever sends them.
describe('WAF in the request path', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(() => app.close());

  const blocked = (
    res: { statusCode: number; json(): { code: string; ruleIds: string[] }; body: string },
    payload?: string,
  ) => {
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('WAF_BLOCKED');
    expect(res.json().ruleIds.length).toBeGreaterThan(0);
    if (payload) expect(res.body).not.toContain(payload);
  };

  it('blocks SQL injection in a JSON body before authentication', async () => {
    const payload = "x' UNION SELECT password FROM users--";
    blocked(
      await app.inject({ method: 'POST', url: '/admin/tenants', payload: { slug: 'a', name: payload } }),
      payload,
    );
  });

  it('records each block in the audit trail, without the payload', async () => {
    const payload = "'; DROP TABLE policies; --";
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      payload: { slug: 'x', name: payload },
    });
    expect(res.statusCode).toBe(403);
    const found = await waitFor(
      async () => {
        const audit = await app.inject({
          method: 'GET',
          url: '/admin/audit?action=waf.blocked',
          headers: adminHeaders,
        });
        const items = (audit.json() as { items: { requestId: string }[] }).items;
        return items.find((r) => r.requestId === res.headers['x-request-id']);
      },
      10_000,
      'the waf.blocked audit record',
    );
    expect(JSON.stringify(found)).not.toContain('DROP TABLE');
    expect(found).toMatchObject({ action: 'waf.blocked', outcome: 'blocked' });
  });

  it('blocks prototype pollution keys, path traversal in the query and scanners', async () => {
    blocked(
      await app.inject({
        method: 'POST',
        url: '/admin/tenants',
        headers: { ...adminHeaders, 'content-type': 'application/json' },
        payload: '{"slug":"x","name":"y","__proto__":{"isAdmin":true}}',
      }),
    );
    blocked(
      await app.inject({
        method: 'GET',
        url: '/admin/tenants?after=../../../../etc/passwd',
        headers: adminHeaders,
      }),
    );
    blocked(
      await app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' },
      }),
    );
  });

  it('lets ordinary traffic through untouched', async () => {
    const ok = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: adminHeaders,
      payload: { slug: 'o-brien-mutual', name: "O'Brien & Sons Mutual — Select Cover" },
    });
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('records but does not block in monitor mode', async () => {
    const monitor = await testApp({ BULWARK_WAF_MODE: 'monitor' });
    const res = await monitor.inject({
      method: 'POST',
      url: '/admin/tenants',
      payload: { slug: 'a', name: "1' OR '1'='1" },
    });
    expect(res.statusCode).toBe(401);
    await monitor.close();
  });
});
