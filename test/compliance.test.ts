import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ComplianceReport,
  checkOverdueReviews,
  detectionRiskAlerts,
  HTML_CSP,
  ReportSchema,
  RISK_REVIEW_DETECTOR,
} from '../src/compliance/index.ts';
import { DetectionService } from '../src/detection/index.ts';
import { admin, tenantWithPartner } from './support/api.ts';
import { adminHeaders, testApp } from './support/app.ts';
import { runBulwark } from './support/process.ts';

const control = (r: ComplianceReport, ref: string) =>
  r.frameworks.flatMap((f) => f.controls).find((c) => c.ref === ref)!;

async function report(app: FastifyInstance, format: 'json' | 'md' | 'html' = 'json') {
  return app.inject({
    method: 'GET',
    url: `/admin/compliance/report?format=${format}`,
    headers: adminHeaders,
  });
}

describe('compliance report on a demo-like deployment', () => {
  let app: FastifyInstance;
  let tenantId: string;

  beforeAll(async () => {
    app = await testApp();
    ({ tenantId } = await tenantWithPartner(app, 'Compliance'));
    await admin(app, 'POST', '/admin/audit/verify', {});
  });
  afterAll(async () => app?.close());

  it('answers JSON that validates against the published schema', async () => {
    const res = await report(app);
    expect(res.statusCode).toBe(200);
    const body = res.json() as ComplianceReport;
    const ajv = new Ajv({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(ReportSchema);
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expect(body.deployment).toMatchObject({ env: 'test', source: 'server' });
    expect(body.frameworks.map((f) => f.id)).toEqual(['iso27001', 'psd2-rts', 'owasp-api']);
    // Live evidence: the verification just run, the route table of this server.
    const logging = control(body, 'iso27001:8.15');
    expect(logging.facts.find((f) => f.key === 'auditLastVerificationOk')?.value).toBe(true);
    expect(logging.summary).toMatch(/audit chain length \d+/);
    const routes = control(body, 'owasp-api:api9').facts.find((f) => f.key === 'routes')?.value;
    expect(routes).toBe(app.routeTable().length);
    // The shared bootstrap credential is still open here: privileged access is not met.
    expect(control(body, 'iso27001:8.2').status).toBe('not_met');
    expect(control(body, 'iso27001:8.2').reasons.join(' ')).toContain('bootstrap credential is closed');
  });

  it('answers Markdown and a self-contained HTML page', async () => {
    const md = await report(app, 'md');
    expect(md.statusCode).toBe(200);
    expect(md.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(md.body).toContain('# Bulwark compliance report');
    expect(md.body).toMatch(/#### 8\.24 Use of cryptography — (✅ met|🟡 partly met|❌ not met)/);
    expect(md.body).toContain('Record of processing activities (GDPR Art. 30)');

    const html = await report(app, 'html');
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['content-security-policy']).toBe(HTML_CSP);
    expect(html.body).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html.body).not.toMatch(/<script|<link |src=/i);
    expect(html.body).toContain('<caption>Summary by framework</caption>');
    expect(html.body).toContain('@media print');
  });

  it('refuses an unknown format and callers without the admin credential', async () => {
    const bad = await app.inject({
      method: 'GET',
      url: '/admin/compliance/report?format=pdf',
      headers: adminHeaders,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('REQUEST_VALIDATION_FAILED');
    const anon = await app.inject({ method: 'GET', url: '/admin/compliance/report' });
    expect(anon.statusCode).toBe(401);
  });

  it('serves the record of processing on its own', async () => {
    const ropa = await admin(app, 'GET', '/admin/compliance/ropa');
    expect(ropa.format).toBe('bulwark.ropa/v1');
    expect(ropa.activities.map((a: { id: string }) => a.id)).toContain('payments');
    const md = await app.inject({
      method: 'GET',
      url: '/admin/compliance/ropa?format=md',
      headers: adminHeaders,
    });
    expect(md.body).toMatch(/^# Record of processing activities/);
  });

  it('risk register: CRUD through the admin API, audited, and tenants kept apart', async () => {
    const base = `/admin/tenants/${tenantId}/risks`;
    const input = {
      title: 'Partner app keys leaked from a CI log',
      description: 'A partner publishes its private_key_jwt key by mistake',
      likelihood: 2,
      impact: 4,
      owner: 'security_operator',
      treatment: 'mitigate',
      treatmentPlan: 'Key rotation runbook; detection of token use from new networks',
      controls: ['iso27001:8.5', 'owasp-api:api2'],
      status: 'identified',
      reviewDue: '2031-06-01T00:00:00.000Z',
    };
    const created = await app.inject({ method: 'POST', url: base, headers: adminHeaders, payload: input });
    expect(created.statusCode).toBe(201);
    const risk = created.json();
    expect(risk).toMatchObject({
      ...input,
      score: 8,
      level: 'medium',
      overdue: false,
      createdBy: 'bootstrap-admin',
    });

    expect(await admin(app, 'GET', `${base}/${risk.id}`)).toEqual(risk);
    expect((await admin(app, 'GET', base)).items.map((r: { id: string }) => r.id)).toEqual([risk.id]);
    const replaced = await admin(app, 'PUT', `${base}/${risk.id}`, {
      ...input,
      likelihood: 4,
      status: 'treating',
    });
    expect(replaced).toMatchObject({ likelihood: 4, score: 16, level: 'high', status: 'treating' });
    const reviewed = await admin(app, 'POST', `${base}/${risk.id}/reviews`, {
      nextReviewDue: '2031-09-01T00:00:00.000Z',
      impact: 3,
    });
    expect(reviewed).toMatchObject({ impact: 3, score: 12, reviewDue: '2031-09-01T00:00:00.000Z' });
    expect(reviewed.lastReviewedAt).toEqual(expect.any(String));

    // Bad input: its own code, nothing written.
    const unknownControl = await app.inject({
      method: 'POST',
      url: base,
      headers: adminHeaders,
      payload: { ...input, controls: ['iso27001:9.99'] },
    });
    expect(unknownControl.statusCode).toBe(400);
    expect(unknownControl.json().code).toBe('COMPLIANCE_RISK_CONTROL_UNKNOWN');
    const outOfScale = await app.inject({
      method: 'POST',
      url: base,
      headers: adminHeaders,
      payload: { ...input, impact: 6 },
    });
    expect(outOfScale.json().code).toBe('REQUEST_VALIDATION_FAILED');
    expect((await admin(app, 'GET', base)).items).toHaveLength(1);

    // Another tenant's path does not reach it.
    const other = await tenantWithPartner(app, 'Other');
    const foreign = await app.inject({
      method: 'GET',
      url: `/admin/tenants/${other.tenantId}/risks/${risk.id}`,
      headers: adminHeaders,
    });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('COMPLIANCE_RISK_NOT_FOUND');

    const audit = await admin(app, 'GET', `/admin/audit?objectId=${risk.id}`);
    const records = audit.items as { action: string; actor: { type: string; id: string } }[];
    expect(records.map((r) => r.action).sort()).toEqual([
      'compliance.risk.created',
      'compliance.risk.reviewed',
      'compliance.risk.updated',
    ]);

    const deleted = await app.inject({ method: 'DELETE', url: `${base}/${risk.id}`, headers: adminHeaders });
    expect(deleted.statusCode).toBe(204);
    const gone = await app.inject({ method: 'GET', url: `${base}/${risk.id}`, headers: adminHeaders });
    expect(gone.json().code).toBe('COMPLIANCE_RISK_NOT_FOUND');
  });

  it('an overdue review is audited and raised as a detection alert', async () => {
    const base = `/admin/tenants/${tenantId}/risks`;
    const risk = await admin(app, 'POST', base, {
      title: 'Single database instance',
      description: 'No replica: an outage stops every tenant',
      likelihood: 3,
      impact: 5,
      owner: 'platform-team',
      treatment: 'accept',
      treatmentPlan: 'Accepted until the scale-out deployment in Q3',
      controls: ['iso27001:5.23'],
      status: 'monitoring',
      reviewDue: '2020-01-01T00:00:00.000Z',
    });
    expect(risk.overdue).toBe(true);
    expect(
      (await admin(app, 'GET', `${base}?overdue=true`)).items.map((r: { id: string }) => r.id),
    ).toContain(risk.id);

    const detection = new DetectionService({ db: app.services.db, kv: app.services.kv });
    const deps = { db: app.services.db, alerts: detectionRiskAlerts(detection) };
    const first = await checkOverdueReviews(deps, new Date());
    expect(first).toMatchObject({ alerted: 1, alertFailures: 0 });
    expect(await checkOverdueReviews(deps, new Date())).toMatchObject({ alerted: 0 });

    const alerts = await admin(app, 'GET', `/admin/detection/alerts?tenantId=${tenantId}`);
    const alert = alerts.items.find((a: { detector: string }) => a.detector === RISK_REVIEW_DETECTOR);
    expect(alert).toMatchObject({ subject: { type: 'risk', id: risk.id }, severity: 'high', status: 'open' });

    const json = (await report(app)).json() as ComplianceReport;
    expect(json.risks.overdue).toBeGreaterThanOrEqual(1);
    expect(control(json, 'iso27001:5.27').status).toBe('partly_met');
  });
});

describe('a setting flipped changes the affected controls', () => {
  it('BULWARK_WAF_MODE=monitor: 8.26 goes from met to partly met', { timeout: 90_000 }, async () => {
    const blocking = await testApp();
    const monitoring = await testApp({ BULWARK_WAF_MODE: 'monitor' });
    try {
      const a = (await report(blocking)).json() as ComplianceReport;
      const b = (await report(monitoring)).json() as ComplianceReport;
      expect(control(a, 'iso27001:8.26').status).toBe('met');
      expect(control(b, 'iso27001:8.26').status).toBe('partly_met');
      expect(control(b, 'iso27001:8.26').reasons).toContain(
        'gap: the WAF blocks (mode block), not only records (monitor)',
      );
      expect(control(b, 'iso27001:8.26').facts.find((f) => f.key === 'wafMode')?.value).toBe('monitor');
    } finally {
      await blocking.close();
      await monitoring.close();
    }
  });

  it('BULWARK_WEBHOOK_ALLOW_HTTP=true: OWASP API7 goes from met to partly met', {
    timeout: 90_000,
  }, async () => {
    const strict = await testApp();
    const lax = await testApp({ BULWARK_WEBHOOK_ALLOW_HTTP: 'true' });
    try {
      expect(control((await report(strict)).json(), 'owasp-api:api7').status).toBe('met');
      expect(control((await report(lax)).json(), 'owasp-api:api7').status).toBe('partly_met');
    } finally {
      await strict.close();
      await lax.close();
    }
  });
});

describe('bulwark compliance', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-compliance-'));

  it('exits 2 on usage errors', { timeout: 120_000 }, async () => {
    expect((await runBulwark(['compliance'])).code).toBe(2);
    expect((await runBulwark(['compliance', 'audit'])).code).toBe(2);
    const fmt = await runBulwark(['compliance', 'report', '--format', 'pdf', '--data-dir', dir]);
    expect(fmt.code).toBe(2);
    expect(fmt.output).toContain("--format takes md, html or json, not 'pdf'");
    expect((await runBulwark(['compliance', 'schema', '--strict'])).code).toBe(2);
    expect((await runBulwark(['compliance', '--help'])).code).toBe(0);
  });

  it('exits 1 on a database that is not migrated', { timeout: 60_000 }, async () => {
    const res = await runBulwark(['compliance', 'report', '--data-dir', mkdtempSync(join(tmpdir(), 'bw-'))]);
    expect(res.code).toBe(1);
    expect(res.output).toContain('run bulwark migrate');
  });

  it('writes the report (JSON to a file, Markdown to stdout); --strict exits 1 while a control is not met', async () => {
    expect((await runBulwark(['migrate', '--data-dir', dir])).code).toBe(0);
    const out = join(dir, 'report.json');
    // A fresh development deployment: the bootstrap credential is open (8.2 not met), so --strict fails.
    const strict = await runBulwark([
      'compliance',
      'report',
      '--strict',
      '--format',
      'json',
      '--out',
      out,
      '--data-dir',
      dir,
    ]);
    expect(strict.code, strict.output).toBe(1);
    expect(strict.output).toMatch(/\d+ met, \d+ partly met, [1-9]\d* not met of \d+ controls/);
    const body = JSON.parse(readFileSync(out, 'utf8')) as ComplianceReport;
    expect(body.deployment.source).toBe('cli');
    expect(control(body, 'iso27001:8.2').status).toBe('not_met');
    const md = await runBulwark(['compliance', 'report', '--data-dir', dir]);
    expect(md.code, md.output).toBe(0);
    expect(md.output).toContain('# Bulwark compliance report');
    expect(md.output).toContain('route inventory is read from the running server');
  }, 180_000);
});
