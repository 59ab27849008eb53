/**
 * SIEM export wired into the real app: an admin change and a WAF block made over HTTP reach a real
 * syslog collector as CEF, and the export lag appears on /admin/metrics per sink.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCef } from '../src/siem/index.ts';
import { type SyslogCollector, startSyslogCollector } from '../src/siem/testing.ts';
import { adminHeaders, testApp } from './support/app.ts';

describe('SIEM export from a running server', () => {
  let collector: SyslogCollector;
  let app: FastifyInstance;
  beforeAll(async () => {
    collector = await startSyslogCollector();
    app = await testApp({
      BULWARK_SIEM_SYSLOG_URL: `tcp://127.0.0.1:${collector.port}`,
      BULWARK_SIEM_POLL_MS: '50',
    });
  });
  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  it('audited requests arrive at the configured syslog collector; lag is a metric per sink', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      payload: { slug: 'siem-insurer', name: 'SIEM Insurer' },
    });
    expect(created.statusCode).toBe(201);
    const tenantId = (created.json() as { id: string }).id;
    // A WAF block (queued to the audit trail, chained by the writer, then exported).
    const blocked = await app.inject({
      method: 'GET',
      url: "/v1/whoami?q=1' UNION SELECT password FROM users--",
    });
    expect(blocked.statusCode).toBe(403);

    const lines = () => collector.messages.map((m) => parseCef(m.msg));
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const poll = () => {
        const acts = lines().map((l) => l.ext.act);
        if (acts.includes('admin.tenant.created') && acts.includes('waf.blocked')) return resolve();
        if (Date.now() > deadline) return reject(new Error(`arrived: ${acts.join(', ')}`));
        setTimeout(poll, 50);
      };
      poll();
    });
    const tenant = lines().find((l) => l.ext.act === 'admin.tenant.created')!;
    expect(tenant.header[5]).toBe('API Activity: Create');
    expect(tenant.ext).toMatchObject({
      cs1: tenantId,
      cs4: `tenant:${tenantId}`,
      cs5: '600301',
      outcome: 'success',
    });
    const waf = lines().find((l) => l.ext.act === 'waf.blocked')!;
    expect(waf.ext).toMatchObject({ outcome: 'blocked', requestMethod: 'GET', cs5: '600302' });
    expect(Number(waf.header[6])).toBe(5);
    // No request payload in the export: the attack string stays out.
    expect(collector.messages.map((m) => m.msg).join('\n')).not.toContain('UNION SELECT');

    const metrics = await app.inject({ method: 'GET', url: '/admin/metrics', headers: adminHeaders });
    expect(metrics.body).toMatch(/bulwark_siem_export_lag_records\{sink="syslog"\} \d+/);
    expect(metrics.body).toMatch(/bulwark_siem_export_lag_seconds\{sink="syslog"\} [\d.e-]+/);
    expect(metrics.body).toMatch(/bulwark_siem_exported_total\{sink="syslog"\} [1-9]\d*/);
  }, 60_000);
});
