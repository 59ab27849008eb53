import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { auditLog } from '../audit/schema.ts';
import { isRevokedJti } from '../gateway/authenticate/index.ts';
import { createIpRulesEngine, databaseRuleSource, IpRulesService } from '../gateway/ip-rules/index.ts';
import type { Database } from '../platform/db/index.ts';
import { tenants } from '../platform/db/schema.ts';
import { createMemoryBus } from '../platform/events/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { createMemoryKv, type Kv } from '../platform/kv/index.ts';
import { DetectionError } from './errors.ts';
import { detectionAlerts } from './schema.ts';
import { DetectionService } from './service.ts';
import type { Finding } from './types.ts';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

/** Audit records appended so far (the synchronous ones: alerts and actions use `appendAudit`). */
async function audited(db: Database, action: string) {
  return db.asSystem((tx) => tx.select().from(auditLog).where(eq(auditLog.action, action)));
}

describe.each(dbBackends)('detection service and storage on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let kv: Kv;
  let now = T0;
  let service: DetectionService;
  let ipRules: IpRulesService;
  const tenantA = uuidv7();
  const tenantB = uuidv7();
  const alerts: number[] = [];

  const finding = (over: Partial<Finding> = {}): Finding => ({
    detector: 'credential_stuffing',
    tenantId: tenantA,
    subject: { type: 'ip', id: '203.0.113.9' },
    severity: 'high',
    at: now,
    explanation: {
      what: 'Many accounts failing',
      why: '6 accounts failed',
      numbers: { distinctAccounts: 6 },
    },
    context: { ip: '203.0.113.9' },
    ...over,
  });

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    await db.asSystem(async (tx) => {
      await tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA.slice(-8)}`, name: 'A' },
        { id: tenantB, slug: `b-${tenantB.slice(-8)}`, name: 'B' },
      ]);
    });
    kv = createMemoryKv({ prefix: 'svc:' });
    const engine = await createIpRulesEngine({
      source: databaseRuleSource(db, kv),
      kv,
      bus: createMemoryBus(),
      logger: { warn() {}, error() {}, info() {} } as never,
    });
    ipRules = new IpRulesService({ db, kv, engine, now: () => now });
    service = new DetectionService({
      db,
      kv,
      ipRules,
      now: () => now,
      metrics: { alert: () => alerts.push(1) },
    });
  });
  afterAll(async () => {
    await kv.close();
    await dispose();
  });

  it('raises an alert with an incident, audits it, and blocks the source (default response)', async () => {
    const out = await service.raise(finding());
    expect(out.status).toBe('raised');
    if (out.status !== 'raised') return;
    expect(out.alert).toMatchObject({
      tenantId: tenantA,
      detector: 'credential_stuffing',
      subject: { type: 'ip', id: '203.0.113.9' },
      status: 'open',
      count: 1,
      explanation: { numbers: { distinctAccounts: 6 } },
    });
    expect(out.alert.incidentId).toBeTruthy();
    expect(out.actions).toHaveLength(1);
    expect(out.actions[0]).toMatchObject({
      kind: 'ip_block',
      status: 'applied',
      target: { cidr: '203.0.113.9/32' },
    });
    const blocks = await ipRules.listBlocks({ state: 'active', limit: 10 });
    expect(blocks.items.map((b) => b.id)).toContain(out.actions[0]!.ref);
    const raised = await audited(db, 'detection.alert.raised');
    expect(raised).toHaveLength(1);
    expect(raised[0]!.details).toMatchObject({
      alertId: out.alert.id,
      detector: 'credential_stuffing',
      severity: 'high',
      subjectType: 'ip',
    });
    expect(String(raised[0]!.details.summary)).toContain('6 accounts failed');
    expect(await audited(db, 'detection.action.applied')).toHaveLength(1);
    expect(await audited(db, 'incident.opened')).toHaveLength(1);
    expect(alerts).toHaveLength(1);
  });

  it('de-duplicates: one open alert per detector and subject, its count growing (coalesced in bursts)', async () => {
    now += 1_000;
    expect((await service.raise(finding())).status).toBe('coalesced');
    now += 60_000;
    const out = await service.raise(finding({ severity: 'critical' }));
    expect(out.status).toBe('updated');
    if (out.status !== 'updated') return;
    expect(out.alert.count).toBe(3);
    expect(out.alert.severity).toBe('critical');
    // The block is not applied twice for the same alert.
    expect(out.actions).toEqual([]);
    const rows = await db.asSystem((tx) => tx.select().from(detectionAlerts));
    expect(rows).toHaveLength(1);
    expect(await audited(db, 'detection.alert.escalated')).toHaveLength(1);
  });

  it('groups alerts of another detector about the same subject into the open incident', async () => {
    now += 60_000;
    const first = (await service.listAlerts({ limit: 10 })).items[0]!;
    const out = await service.raise(finding({ detector: 'waf_near_miss', severity: 'medium' }));
    if (out.status !== 'raised') throw new Error(out.status);
    expect(out.alert.incidentId).toBe(first.incidentId);
    const incident = await service.getIncident(first.incidentId!);
    expect(incident.alertCount).toBe(2);
    expect(incident.alertIds).toHaveLength(2);
    expect(incident.timeline.map((e) => e.kind).sort()).toEqual(['action', 'alert', 'alert', 'alert']);
  });

  it('lists alerts with filters and pages', async () => {
    expect((await service.listAlerts({ limit: 10, detector: 'waf_near_miss' })).items).toHaveLength(1);
    expect((await service.listAlerts({ limit: 10, tenantId: tenantB })).items).toHaveLength(0);
    const p1 = await service.listAlerts({ limit: 1 });
    expect(p1.nextCursor).toBe(p1.items[0]!.id);
    const p2 = await service.listAlerts({ limit: 1, after: p1.nextCursor! });
    expect(p2.items[0]!.id).not.toBe(p1.items[0]!.id);
  });

  it('reverts an action (the block is lifted) and audits it; a second revert is refused', async () => {
    const [action] = (await service.listActions({ limit: 10, status: 'applied' })).items;
    const reverted = await service.revertAction(action!.id, 'alice');
    expect(reverted).toMatchObject({ status: 'reverted', revertedBy: 'alice' });
    expect((await ipRules.listBlocks({ state: 'active', limit: 10 })).items).toEqual([]);
    expect(await audited(db, 'detection.action.reverted')).toHaveLength(1);
    await expect(service.revertAction(action!.id, 'alice')).rejects.toMatchObject({
      code: 'DETECTION_ACTION_NOT_REVERTIBLE',
    });
  });

  it('suppresses a subject until the expiry, then raises again', async () => {
    const alert = (await service.listAlerts({ limit: 10, detector: 'credential_stuffing' })).items[0]!;
    const { suppression, alert: resolved } = await service.suppressAlert(
      alert.id,
      { ttlSeconds: 600, reason: 'pen test from this address' },
      'alice',
    );
    expect(resolved.status).toBe('resolved');
    now += 60_000;
    expect(await service.raise(finding())).toEqual({ status: 'suppressed', suppressionId: suppression.id });
    now += 600_000;
    const again = await service.raise(finding());
    expect(again.status).toBe('raised');
    expect(await audited(db, 'detection.suppression.created')).toHaveLength(1);
  });

  it('applies and reverts token revocation, throttle and step-up through the KV', async () => {
    const exp = Math.floor(now / 1000) + 300;
    const out = await service.raise(
      finding({
        detector: 'token_network',
        tenantId: tenantB,
        subject: { type: 'token', id: 'jti-7' },
        context: { ip: '198.51.100.1', tokenId: 'jti-7', tokenExp: exp, userId: 'u-7', clientId: 'app_7' },
      }),
    );
    if (out.status !== 'raised') throw new Error(out.status);
    expect(out.actions.map((a) => [a.kind, a.status])).toEqual([['revoke_token', 'applied']]);
    expect(await isRevokedJti(kv, 'jti-7')).toBe(true);
    await service.revertAction(out.actions[0]!.id, 'alice');
    expect(await isRevokedJti(kv, 'jti-7')).toBe(false);
    const throttle = await service.applyAction(out.alert.id, 'throttle', 'alice');
    expect(throttle).toMatchObject({ status: 'applied', target: { tenantId: tenantB, clientId: 'app_7' } });
    expect(await kv.get(`detection:throttle:${tenantB}:app_7`)).toBeDefined();
    const stepUp = await service.applyAction(out.alert.id, 'step_up', 'alice');
    expect(await kv.get(`detection:step-up:${tenantB}:u-7`)).toBe(String(now));
    await service.revertAction(throttle.id, 'alice');
    await service.revertAction(stepUp.id, 'alice');
    expect(await kv.get(`detection:throttle:${tenantB}:app_7`)).toBeUndefined();
    expect(await kv.get(`detection:step-up:${tenantB}:u-7`)).toBeUndefined();
  });

  it('refuses a manual action the evidence cannot support', async () => {
    const out = await service.raise(
      finding({ detector: 'payout_iban', subject: { type: 'iban', id: 'bi_x' }, context: {} }),
    );
    if (out.status !== 'raised') throw new Error(out.status);
    await expect(service.applyAction(out.alert.id, 'ip_block', 'alice')).rejects.toMatchObject({
      code: 'DETECTION_ACTION_NOT_APPLICABLE',
    });
  });

  it('configures a detector response policy (audited) and uses it for the next alert', async () => {
    const policy = await service.setPolicy(
      'bola_enumeration',
      { actions: ['throttle'], minSeverity: 'high', ttlSeconds: 900, throttlePerMinute: 5 },
      'alice',
    );
    expect(policy).toMatchObject({ detector: 'bola_enumeration', actions: ['throttle'], updatedBy: 'alice' });
    const out = await service.raise(
      finding({
        detector: 'bola_enumeration',
        subject: { type: 'client', id: 'app_9' },
        context: { clientId: 'app_9' },
      }),
    );
    if (out.status !== 'raised') throw new Error(out.status);
    expect(out.actions.map((a) => a.kind)).toEqual(['throttle']);
    expect(JSON.parse((await kv.get(`detection:throttle:${tenantA}:app_9`))!)).toMatchObject({
      perMinute: 5,
    });
    await expect(service.setPolicy('nope', policy, 'alice')).rejects.toBeInstanceOf(DetectionError);
  });

  it('runs incidents: status, owner, notes, and the GDPR and DORA clocks', async () => {
    const [incident] = (await service.listIncidents({ limit: 1 })).items;
    const id = incident!.id;
    const detectedAt = Date.parse(incident!.detectedAt);
    let view = await service.updateIncident(id, { status: 'investigating', owner: 'alice' }, 'alice');
    expect(view).toMatchObject({ status: 'investigating', owner: 'alice' });
    expect(view.gdpr).toBeUndefined();
    now += 3_600_000;
    view = await service.updateIncident(id, { personalDataBreach: true, majorIct: true }, 'alice');
    expect(view.gdpr!.notification.deadline).toBe(new Date(now + 72 * 3_600_000).toISOString());
    expect(view.gdpr!.notification.secondsLeft).toBe(72 * 3600);
    const initial = Math.min(now + 4 * 3_600_000, detectedAt + 24 * 3_600_000);
    expect(view.dora!.initial.deadline).toBe(new Date(initial).toISOString());
    expect(view.dora!.intermediate.deadline).toBe(new Date(initial + 72 * 3_600_000).toISOString());
    now += 73 * 3_600_000;
    const later = await service.getIncident(id);
    expect(later.gdpr!.notification.overdue).toBe(true);
    const note = await service.addNote(id, 'Customer support informed; no data left the platform.', 'alice');
    expect(note.kind).toBe('note');
    await service.updateIncident(id, { status: 'closed' }, 'alice');
    await expect(service.updateIncident(id, { status: 'open' }, 'alice')).rejects.toMatchObject({
      code: 'DETECTION_INCIDENT_TRANSITION',
    });
    const final = await service.getIncident(id);
    expect(final.timeline.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['alert', 'status', 'owner', 'flag', 'note']),
    );
    const notes = await audited(db, 'incident.note.added');
    expect(notes).toHaveLength(1);
    expect(JSON.stringify(notes[0]!.details)).not.toContain('Customer support');
    expect((await audited(db, 'incident.updated')).length).toBeGreaterThanOrEqual(3);
  });

  it('keeps tenant alerts out of other tenants under row-level security', async () => {
    const visible = await db.withTenant(tenantB, (tx) => tx.select().from(detectionAlerts));
    expect(visible.every((a) => a.tenantId === tenantB)).toBe(true);
    expect(visible.length).toBeGreaterThan(0);
  });
});
