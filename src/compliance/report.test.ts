import { randomBytes } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../test/support/app.ts';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import type { Config } from '../config/index.ts';
import { type Crypto, createCrypto } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { uuidv7 } from '../platform/ids.ts';
import { CONTROLS } from './controls.ts';
import { renderReport } from './render.ts';
import { buildReport, type ComplianceReport, ReportSchema } from './report.ts';
import { type Risk, type RiskAlertPort, RiskService } from './service.ts';

const control = (r: ComplianceReport, ref: string) => {
  const c = r.frameworks.flatMap((f) => f.controls).find((x) => x.ref === ref);
  if (!c) throw new Error(`no control ${ref}`);
  return c;
};
const factOf = (r: ComplianceReport, ref: string, key: string) =>
  control(r, ref).facts.find((f) => f.key === key)?.value;

const DAY = 86_400_000;

describe.each(dbBackends)('compliance evidence on $name', (backend) => {
  let db: Database;
  let crypto: Crypto;
  let dispose: () => Promise<void>;
  let config: Config;
  let tenantId: string;

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    config = testConfig({ BULWARK_MASTER_KEYS: randomBytes(32).toString('base64') });
    crypto = createCrypto({ db, masterKeys: config.masterKeys });
    await crypto.signing.ensureKeys('oauth', 'ES256');
    await crypto.signing.ensureKeys('audit', 'EdDSA');
    tenantId = uuidv7();
    await db.asSystem((tx) => tx.insert(tenants).values({ id: tenantId, slug: `c-${tenantId}`, name: 'C' }));
  });
  afterAll(async () => dispose());

  it('judges every registered control, and the JSON validates against its schema', async () => {
    const report = await buildReport({ config, db, crypto }, { source: 'cli' });
    expect(report.counts.total).toBe(CONTROLS.length);
    const ajv = new Ajv({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(ReportSchema);
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    // Nothing failed to collect on this backend.
    const failed = report.frameworks
      .flatMap((f) => f.controls)
      .filter((c) => c.reasons.some((r) => r.includes('evidence collection failed')));
    expect(failed.map((c) => `${c.ref}: ${c.reasons.join('; ')}`)).toEqual([]);
    expect(factOf(report, 'iso27001:8.24', 'signing.oauth.alg')).toBe('ES256');
    expect(factOf(report, 'iso27001:8.24', 'signing.audit.alg')).toBe('EdDSA');
    expect(control(report, 'iso27001:8.3').status).toBe('met');
    expect(renderReport(report, 'md')).toContain('8.24 Use of cryptography');
  });

  it('a PII value stored in clear turns 8.24 and 8.11 to not met', async () => {
    const before = await buildReport({ config, db, crypto });
    expect(control(before, 'iso27001:8.24').checks[0]).toMatchObject({ ok: true });
    const userId = uuidv7();
    await db.asSystem((tx) =>
      tx.execute(sql`INSERT INTO users (id, tenant_id, username_idx, username_enc, roles, password_hash)
                     VALUES (${userId}, ${tenantId}, ${`idx-${userId}`}, 'alice@example.com', '{}',
                             '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA')`),
    );
    try {
      const after = await buildReport({ config, db, crypto });
      expect(control(after, 'iso27001:8.24').status).toBe('not_met');
      expect(control(after, 'iso27001:8.11').status).toBe('not_met');
      expect(control(after, 'iso27001:8.24').reasons.join(' ')).toContain('users.username_enc');
      expect(factOf(after, 'iso27001:8.24', 'piiPlaintextValues')).toBe(1);
    } finally {
      await db.asSystem((tx) => tx.execute(sql`DELETE FROM users WHERE id = ${userId}`));
    }
  });

  it('an SCA exemption above the RTS ceilings turns Art. 16 to not met', async () => {
    expect(control(await buildReport({ config, db, crypto }), 'psd2-rts:art16').status).toBe('met');
    await db.asSystem((tx) =>
      tx.execute(sql`INSERT INTO sca_settings (tenant_id, currency, low_value_limit, cumulative_limit, count_limit, mode)
                     VALUES (${tenantId}, 'EUR', 5000, 10000, 5, 'both')`),
    );
    try {
      expect(control(await buildReport({ config, db, crypto }), 'psd2-rts:art16').status).toBe('not_met');
    } finally {
      await db.asSystem((tx) => tx.execute(sql`DELETE FROM sca_settings WHERE tenant_id = ${tenantId}`));
    }
  });

  it('risk register: CRUD audited, overdue reviews alerted once per missed date', async () => {
    let now = Date.parse('2031-03-01T00:00:00Z');
    const raised: { risk: Risk; days: number }[] = [];
    const alerts: RiskAlertPort = {
      async overdue(risk, days) {
        raised.push({ risk, days });
      },
    };
    const risks = new RiskService({ db, alerts, now: () => now });
    const actor = { type: 'operator' as const, id: 'op-1' };
    const risk = await risks.create(
      tenantId,
      {
        title: 'Master key kept on the application host',
        description: 'A host compromise exposes the KEK',
        likelihood: 3,
        impact: 5,
        owner: 'security_operator',
        treatment: 'mitigate',
        treatmentPlan: 'Move the KEK to a KMS',
        controls: ['iso27001:8.24'],
        status: 'treating',
        reviewDue: '2031-03-10T00:00:00Z',
      },
      actor,
    );
    expect(risk).toMatchObject({ score: 15, level: 'high', overdue: false });
    await expect(
      risks.create(tenantId, { ...risk, controls: ['iso27001:9.99'] }, actor),
    ).rejects.toMatchObject({ code: 'COMPLIANCE_RISK_CONTROL_UNKNOWN' });

    expect(await risks.checkOverdueReviews(new Date(now))).toEqual({ alerted: 0, alertFailures: 0 });
    now += 12 * DAY;
    expect(await risks.checkOverdueReviews(new Date(now))).toMatchObject({ alerted: 1 });
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ days: 3, risk: { id: risk.id, overdue: true } });
    // The same missed date is not reported twice (another instance, the next hourly run).
    expect(await risks.checkOverdueReviews(new Date(now))).toMatchObject({ alerted: 0 });
    // A review moves the date; missing the new one reports again.
    await risks.review(tenantId, risk.id, { nextReviewDue: '2031-03-20T00:00:00Z' }, actor);
    expect(await risks.checkOverdueReviews(new Date(now))).toMatchObject({ alerted: 0 });
    now += 10 * DAY;
    expect(await risks.checkOverdueReviews(new Date(now))).toMatchObject({ alerted: 1 });

    const audited = await db.asSystem((tx) =>
      tx.execute(sql`SELECT action FROM audit_log WHERE object_id = ${risk.id} ORDER BY seq`),
    );
    expect((audited as unknown as { rows: { action: string }[] }).rows.map((r) => r.action)).toEqual([
      'compliance.risk.created',
      'compliance.risk.review_overdue',
      'compliance.risk.reviewed',
      'compliance.risk.review_overdue',
    ]);
    const report = await buildReport({ config, db, crypto, now: () => now });
    expect(report.risks).toMatchObject({ total: 1, open: 1, overdue: 1, high: 1 });
    expect(control(report, 'iso27001:5.27').reasons.join(' ')).toContain('every risk review is on time');
    await risks.delete(tenantId, risk.id, actor);
    await expect(risks.get(tenantId, risk.id)).rejects.toMatchObject({ code: 'COMPLIANCE_RISK_NOT_FOUND' });
  });
});
