import { describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from './support/app.ts';

describe('Prometheus metrics on the admin face', () => {
  it('counts requests by route pattern, gateway blocks by rule and 401s, with backlog gauges', async () => {
    const app = await testApp();
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.inject({ method: 'GET', url: '/admin/tenants' });
    await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      payload: { slug: 'x', name: "1' UNION SELECT 1,2--" },
    });
    await app.inject({
      method: 'GET',
      url: '/admin/tenants/01900000-0000-7000-8000-000000000000',
      headers: adminHeaders,
    });

    expect((await app.inject({ method: 'GET', url: '/admin/metrics' })).statusCode).toBe(401);
    const res = await app.inject({ method: 'GET', url: '/admin/metrics', headers: adminHeaders });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.body;
    expect(text).toContain('bulwark_http_requests_total{route="/healthz",method="GET",status="200"} 1');
    // the route pattern, not the URL with its id
    expect(text).toContain('route="/admin/tenants/:tenantId",method="GET",status="404"} 1');
    expect(text).toMatch(/bulwark_gateway_blocks_total\{stage="waf",rule="sqli-\d+"\} 1/);
    expect(text).toContain('bulwark_auth_failures_total{route="/admin/tenants"} 1');
    expect(text).toMatch(/bulwark_outbox_pending \d+/);
    expect(text).toMatch(/bulwark_audit_checkpoint_age_seconds -?\d/);
    expect(text).toContain('bulwark_http_request_duration_seconds_bucket');
    await app.close();
  });
});
