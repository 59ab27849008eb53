import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../audit/index.ts';
import { parseCef, toCef } from './cef.ts';
import { classify, type OcsfEvent, toOcsf } from './ocsf.ts';

const USER = '0190f3c4-0000-7000-8000-00000000000a';
const TENANT = '0190f3c4-0000-7000-8000-0000000000aa';

function rec(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    seq: 42,
    occurredAt: '2026-01-02T03:04:05.678Z',
    tenantId: TENANT,
    actorType: 'user',
    actorId: USER,
    clientId: 'app-1',
    action: 'auth.signin.failed',
    objectType: 'user',
    objectId: USER,
    outcome: 'failure',
    requestId: 'req-1',
    details: { ip: '203.0.113.7', reason: 'password' },
    prevHash: '0'.repeat(64),
    hash: 'a'.repeat(64),
    ...overrides,
  };
}

const map = (r: AuditRecord) => toOcsf(r, { productVersion: '0.1.0' });

/** Attributes OCSF marks required for every event (base event + classification/occurrence traits). */
function expectBase(e: OcsfEvent) {
  for (const k of ['category_uid', 'class_uid', 'activity_id', 'type_uid', 'severity_id', 'time', 'metadata'])
    expect(e, k).toHaveProperty(k);
  expect(e.type_uid).toBe(e.class_uid * 100 + e.activity_id);
  expect(e.category_uid).toBe(Math.floor(e.class_uid / 1000));
  expect(e.metadata.version).toBe('1.6.0');
  expect(e.metadata.product).toEqual({ name: 'Bulwark', vendor_name: 'Bulwark', version: '0.1.0' });
  expect(typeof e.metadata.uid).toBe('string');
  expect(Number.isInteger(e.time)).toBe(true);
}

describe('OCSF mapping', () => {
  it('a failed sign-in is Authentication / Logon, failure, with the user, source IP and service', () => {
    const e = map(rec());
    expectBase(e);
    expect(e).toMatchObject({
      class_uid: 3002,
      class_name: 'Authentication',
      category_uid: 3,
      activity_id: 1,
      activity_name: 'Logon',
      type_uid: 300201,
      status_id: 2,
      status: 'Failure',
      status_detail: 'failure',
      severity_id: 2,
      time: Date.parse('2026-01-02T03:04:05.678Z'),
      user: { uid: USER, type_id: 1 },
      src_endpoint: { ip: '203.0.113.7' },
      service: { name: 'Bulwark', uid: TENANT },
      actor: { user: { uid: USER, type_id: 1 }, app_uid: 'app-1' },
      metadata: { uid: 'a'.repeat(64), sequence: 42, event_code: 'auth.signin.failed', tenant_uid: TENANT },
    });
    expect(e.metadata.correlation_uid).toBe('req-1');
  });

  it('sign-in, second factor, token issue/revoke and sign-out activities', () => {
    const cases: [string, number, number][] = [
      ['auth.signin.succeeded', 3002, 1],
      ['auth.mfa.verified', 3002, 1],
      ['auth.signout', 3002, 2],
      ['auth.token.issued', 3002, 3],
      ['oauth.token.refreshed', 3002, 3],
      ['auth.token.revoked', 3002, 99],
      ['people.mfa.totp_enrolled', 3001, 10],
      ['people.mfa.passkey_removed', 3001, 11],
      ['people.password.changed', 3001, 3],
      ['people.user.locked', 3001, 9],
      ['detection.alert.raised', 2004, 1],
      ['detection.alert.resolved', 2004, 3],
      ['admin.tenant.created', 6003, 1],
      ['admin.app.credentials_rotated', 6003, 3],
      ['ip_rule.deleted', 6003, 4],
      ['audit.export.created', 6003, 1],
      ['ledger.transfer.posted', 6003, 1],
      ['ledger.hold.voided', 6003, 4],
      ['insurance.claim.denied', 6003, 3],
      ['insurance.policy.bound', 6003, 1],
      ['kyc.case.decided', 6003, 3],
      ['detection.action.applied', 6003, 1],
      ['detection.action.reverted', 6003, 4],
      ['detection.alert.acknowledged', 2004, 2],
      ['incident.opened', 6003, 1],
      ['payment.sandbox.outcome_forced', 6003, 3],
      ['ledger.transaction.frobnicated', 6003, 99],
    ];
    for (const [action, cls, activity] of cases) {
      expect(classify(rec({ action, details: {} })), action).toEqual({ classUid: cls, activityId: activity });
    }
    expect(map(rec({ action: 'auth.mfa.verified', outcome: 'success' })).is_mfa).toBe(true);
    // A denied request is the activity it attempted, whatever its verb.
    expect(
      classify(rec({ action: 'access.denied', outcome: 'denied', details: { method: 'DELETE' } })),
    ).toEqual({
      classUid: 6003,
      activityId: 4,
    });
    // "Other" carries the source's own label (OCSF: activity_name when activity_id is 99).
    expect(map(rec({ action: 'auth.token.revoked' })).activity_name).toBe('auth.token.revoked');
  });

  it('a WAF block is API Activity for the attempted method, blocked, with the client IP and no payload', () => {
    const e = map(
      rec({
        action: 'waf.blocked',
        actorType: 'anonymous',
        actorId: null,
        clientId: null,
        tenantId: null,
        objectType: null,
        objectId: null,
        outcome: 'blocked',
        details: {
          ip: '198.51.100.9',
          method: 'POST',
          route: '/v1/payments',
          score: 10,
          ruleIds: ['sqli-1'],
        },
      }),
    );
    expectBase(e);
    expect(e).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      activity_id: 1,
      type_uid: 600301,
      status_id: 2,
      status_detail: 'blocked',
      severity_id: 3,
      actor: { user: { uid: 'anonymous', type_id: 0 } },
      src_endpoint: { ip: '198.51.100.9' },
      api: { operation: 'waf.blocked', request: { uid: 'req-1' } },
      http_request: { http_method: 'POST', url: { path: '/v1/payments' } },
    });
    expect(e.metadata.tenant_uid).toBeUndefined();
  });

  it('API Activity always has actor, api.operation, api.request.uid and src_endpoint (required)', () => {
    const e = map(
      rec({
        action: 'admin.tenant.created',
        actorType: 'operator',
        actorId: 'op-1',
        requestId: null,
        details: {},
      }),
    );
    expect(e.actor).toEqual({ user: { uid: 'op-1', type_id: 2, type: 'Admin' }, app_uid: 'app-1' });
    expect(e.api).toMatchObject({ operation: 'admin.tenant.created', request: { uid: 'audit-42' } });
    expect(e.src_endpoint).toEqual({ svc_name: 'bulwark' });
    expect(e.resources).toEqual([{ type: 'user', uid: USER }]);
  });

  it('a detection alert is a Detection Finding with finding_info (uid, title, analytic) and is_alert', () => {
    const e = map(
      rec({
        action: 'detection.alert.raised',
        actorType: 'system',
        actorId: 'detection',
        outcome: 'success',
        objectType: 'alert',
        objectId: 'alert-7',
        details: {
          detector: 'credential_stuffing',
          severity: 'high',
          explanation: '40 accounts failed from one /24',
        },
      }),
    );
    expectBase(e);
    expect(e).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200401,
      severity_id: 4,
      is_alert: true,
      status_id: 1,
      status: 'New',
      finding_info: {
        uid: 'alert-7',
        title: 'credential_stuffing alert',
        desc: '40 accounts failed from one /24',
        analytic: { name: 'credential_stuffing' },
      },
    });
  });

  it('detection alerts as the detection engine writes them: alertId, summary, the subject IP as source', () => {
    const e = map(
      rec({
        action: 'detection.alert.escalated',
        actorType: 'system',
        actorId: null,
        outcome: 'success',
        objectType: 'detection.alert',
        objectId: 'al-1',
        details: {
          alertId: 'al-1',
          detector: 'credential_stuffing',
          severity: 'critical',
          subjectType: 'ip',
          subjectId: '203.0.113.99',
          summary: 'failures across 50 accounts',
        },
      }),
    );
    expect(e).toMatchObject({
      class_uid: 2004,
      activity_id: 2,
      severity_id: 5,
      status: 'In Progress',
      src_endpoint: { ip: '203.0.113.99' },
      finding_info: { uid: 'al-1', desc: 'failures across 50 accounts', types: ['credential_stuffing'] },
    });
    expect(e.is_alert).toBeUndefined();
  });

  it('personal data in details never leaves (second wall behind the audit writer)', () => {
    const e = map(
      rec({ details: { email: 'jane@example.com', iban: 'DE89370400440532013000', attempt: 2 } }),
    );
    const text = JSON.stringify(e);
    expect(text).not.toContain('jane@example.com');
    expect(text).not.toContain('DE89370400440532013000');
    expect((e.unmapped as { details: Record<string, unknown> }).details.attempt).toBe(2);
  });

  it('every record maps to exactly one event, and the CEF line of it reads back', () => {
    const r = rec({ action: 'payment.payout.approved', outcome: 'success', details: { ip: '192.0.2.1' } });
    const e = map(r);
    const cef = parseCef(toCef(r, e));
    expect(cef.header).toEqual([
      'CEF:0',
      'Bulwark',
      'Bulwark',
      '0.1.0',
      'payment.payout.approved',
      e.type_name,
      '1',
    ]);
    expect(cef.ext).toMatchObject({
      act: 'payment.payout.approved',
      outcome: 'success',
      externalId: '42',
      src: '192.0.2.1',
      cs1Label: 'tenantId',
      cs1: TENANT,
      cs5: '600303',
      cs6: 'a'.repeat(64),
      rt: String(Date.parse(r.occurredAt)),
    });
  });
});
