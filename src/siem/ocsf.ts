/**
 * Audit records as OCSF events (Open Cybersecurity Schema Framework, schema 1.6.0). Pure functions:
 * a record in, one event out. Every record maps to exactly one event — an action nobody foresaw
 * still goes out (as API Activity, activity "Other" carrying its own name), so the SIEM never
 * misses a record because the table below lags behind the code.
 *
 *   Authentication 3002     sign-in, second factor, sign-out, tokens (`auth.*`, `oauth.*`, `sca.*`)
 *   Account Change 3001     a person's credentials or state (`people.password.*`, `people.mfa.*`,
 *                           `people.user.*`): OCSF's class for MFA factor enable/disable, lock…
 *   Detection Finding 2004  alerts of the detection engine (`detection.alert.*`)
 *   API Activity 6003       everything else: partner/admin API changes, gateway refusals (WAF, IP
 *                           rules, rate limits), authorization denials, payments, claims, keys…
 *
 * What leaves: ids (user, client, tenant, object, request), the client IP of security events,
 * the action and its outcome, and the record's details after `redactDetails` (already free of
 * personal data when written — this is a second wall). Never names, e-mails or payloads.
 * docs/siem.md has the full table.
 */
import type { AuditJson } from '../audit/index.ts';
import { type AuditRecord, redactDetails } from '../audit/index.ts';

export const OCSF_VERSION = '1.6.0';

export const OCSF_CLASSES = {
  3001: { name: 'Account Change', category: 3, categoryName: 'Identity & Access Management' },
  3002: { name: 'Authentication', category: 3, categoryName: 'Identity & Access Management' },
  2004: { name: 'Detection Finding', category: 2, categoryName: 'Findings' },
  6003: { name: 'API Activity', category: 6, categoryName: 'Application Activity' },
} as const;
export type OcsfClassUid = keyof typeof OCSF_CLASSES;

/** OCSF `severity_id` captions (base event). */
export const SEVERITY_NAMES: Readonly<Record<number, string>> = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
};

const ACTIVITY_NAMES: Readonly<Record<OcsfClassUid, Readonly<Record<number, string>>>> = {
  3001: {
    1: 'Create',
    2: 'Enable',
    3: 'Password Change',
    4: 'Password Reset',
    5: 'Disable',
    6: 'Delete',
    7: 'Attach Policy',
    8: 'Detach Policy',
    9: 'Lock',
    10: 'MFA Factor Enable',
    11: 'MFA Factor Disable',
  },
  3002: { 1: 'Logon', 2: 'Logoff', 3: 'Authentication Ticket', 6: 'Preauth' },
  2004: { 1: 'Create', 2: 'Update', 3: 'Close' },
  6003: { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete' },
};

/** An OCSF event as we emit it: the base attributes typed, the class-specific ones open. */
export interface OcsfEvent {
  readonly category_uid: number;
  readonly category_name: string;
  readonly class_uid: OcsfClassUid;
  readonly class_name: string;
  readonly activity_id: number;
  readonly activity_name: string;
  readonly type_uid: number;
  readonly type_name: string;
  readonly severity_id: number;
  readonly severity: string;
  readonly status_id: number;
  readonly status: string;
  readonly status_detail?: string;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly message: string;
  readonly metadata: {
    readonly version: string;
    readonly product: { readonly name: string; readonly vendor_name: string; readonly version: string };
    /** The audit record's hash: unique, and verifiable against the trail. */
    readonly uid: string;
    /** The audit record's seq. */
    readonly sequence: number;
    readonly event_code: string;
    readonly log_name: string;
    readonly log_provider: string;
    readonly original_time: string;
    readonly correlation_uid?: string;
    readonly tenant_uid?: string;
  };
  readonly [attribute: string]: unknown;
}

type Mapping = { classUid: OcsfClassUid; activityId: number };

const CREATE =
  /^(created|added|registered|issued|initiated|submitted|opened|applied|enrolled|granted|raised|filed|bound|placed|posted|bootstrapped)$/;
const READ = /^(read|viewed|listed|searched|exported|accessed|downloaded|disclosed)$/;
const UPDATE =
  /^(updated|changed|rotated|approved|rejected|denied|decided|reviewed|cleared|authorized|captured|forced|activated|suspended|resumed|completed|verified|settled|renewed|escalated|acknowledged|assigned|promoted|published|reset|unlocked|locked|confirmed|reopened|closed)$/;
const DELETE =
  /^(deleted|removed|revoked|erased|destroyed|cancelled|canceled|reverted|shredded|expired|withdrawn|voided|lifted)$/;
const METHOD_ACTIVITY: Readonly<Record<string, number>> = {
  POST: 1,
  GET: 2,
  HEAD: 2,
  PUT: 3,
  PATCH: 3,
  DELETE: 4,
};

function apiActivityFor(record: AuditRecord, verb: string): number {
  // A refused request (WAF, IP rule, rate limit, authorization) is the activity it attempted.
  const method = record.details.method;
  const attempted = typeof method === 'string' ? METHOD_ACTIVITY[method.toUpperCase()] : undefined;
  if (attempted && (record.outcome === 'blocked' || record.outcome === 'denied')) return attempted;
  if (CREATE.test(verb)) return 1;
  if (READ.test(verb)) return 2;
  if (UPDATE.test(verb)) return 3;
  if (DELETE.test(verb)) return 4;
  return attempted ?? 99;
}

/** Which OCSF class and activity an audit action becomes (docs/siem.md lists them). */
export function classify(record: AuditRecord): Mapping {
  const a = record.action;
  const words = a.split('.');
  const verb = words.at(-1)!;
  if (a.startsWith('detection.alert.')) {
    if (/^(raised|created|opened|fired)$/.test(verb)) return { classUid: 2004, activityId: 1 };
    if (/^(resolved|closed|suppressed|dismissed|expired)$/.test(verb))
      return { classUid: 2004, activityId: 3 };
    return { classUid: 2004, activityId: 2 };
  }
  if (a.startsWith('auth.') || a.startsWith('oauth.') || a.startsWith('sca.')) {
    if (/\.(signin|login|logon|mfa|second_factor|passkey|webauthn|totp)\./.test(`.${a}`))
      return { classUid: 3002, activityId: 1 };
    if (
      /\.(signout|logout|logoff)\b/.test(`.${a}`) ||
      /^session\.(ended|revoked|expired)$/.test(words.slice(1).join('.'))
    )
      return { classUid: 3002, activityId: 2 };
    if (/\.token\.(issued|refreshed|exchanged)$/.test(a)) return { classUid: 3002, activityId: 3 };
    return { classUid: 3002, activityId: 99 };
  }
  if (a.startsWith('people.')) {
    const rest = words.slice(1).join('.');
    if (/^mfa\.(totp_enrolled|passkey_registered|enabled|factor_enabled)$/.test(rest))
      return { classUid: 3001, activityId: 10 };
    if (/^mfa\.(passkey_removed|passkey_suspended|reset|disabled|totp_removed|factor_disabled)$/.test(rest))
      return { classUid: 3001, activityId: 11 };
    if (rest === 'password.changed') return { classUid: 3001, activityId: 3 };
    if (rest === 'password.reset') return { classUid: 3001, activityId: 4 };
    if (rest === 'user.created') return { classUid: 3001, activityId: 1 };
    if (rest === 'user.activated' || rest === 'user.enabled') return { classUid: 3001, activityId: 2 };
    if (rest === 'user.deactivated' || rest === 'user.disabled') return { classUid: 3001, activityId: 5 };
    if (rest === 'user.deleted' || rest === 'user.erased') return { classUid: 3001, activityId: 6 };
    if (rest === 'user.locked') return { classUid: 3001, activityId: 9 };
    if (words[1] === 'user' || words[1] === 'mfa' || words[1] === 'password')
      return { classUid: 3001, activityId: 99 };
  }
  // `credentials_rotated`, `roles_changed`: the verb is the last word.
  return { classUid: 6003, activityId: apiActivityFor(record, verb.split('_').at(-1)!) };
}

const DETECTION_SEVERITY: Readonly<Record<string, number>> = {
  info: 1,
  informational: 1,
  low: 2,
  medium: 3,
  high: 4,
  critical: 5,
};

/** OCSF severity_id of a record: what a SOC should notice first. */
export function severityOf(record: AuditRecord, classUid: OcsfClassUid): number {
  const declared = record.details.severity;
  if (typeof declared === 'string' && DETECTION_SEVERITY[declared.toLowerCase()])
    return DETECTION_SEVERITY[declared.toLowerCase()]!;
  if (classUid === 2004) return 3;
  // The trail itself failing verification, or a queued record replaced, needs an operator now.
  if (record.action.startsWith('audit.') && record.outcome === 'failure') return 4;
  if (record.action === 'people.user.locked') return 3;
  switch (record.outcome) {
    case 'success':
      return 1;
    case 'failure':
      return 2;
    default:
      // denied / blocked: a control acted against a caller.
      return 3;
  }
}

const PRODUCT = (version: string) => ({ name: 'Bulwark', vendor_name: 'Bulwark', version });

/** The actor's user object: ids and kind only. */
function actorUser(record: AuditRecord): Record<string, unknown> | undefined {
  switch (record.actorType) {
    case 'user':
      return { uid: record.actorId ?? undefined, type_id: 1, type: 'User' };
    case 'operator':
      return { uid: record.actorId ?? undefined, type_id: 2, type: 'Admin' };
    case 'system':
      return { uid: record.actorId ?? 'system', type_id: 3, type: 'System' };
    case 'client':
      return { uid: record.actorId ?? record.clientId ?? undefined, type_id: 99, type: 'OAuth Client' };
    default:
      return { uid: 'anonymous', type_id: 0, type: 'Unknown' };
  }
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function str(v: AuditJson | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** The user the event is about: the object when it is a user, else the acting user. */
function subjectUser(record: AuditRecord): Record<string, unknown> {
  if ((record.objectType === 'user' || record.objectType === 'person') && record.objectId)
    return { uid: record.objectId, type_id: 1, type: 'User' };
  const userId = str(record.details.userId);
  if (userId) return { uid: userId, type_id: 1, type: 'User' };
  return actorUser(record) ?? { uid: 'unknown', type_id: 0, type: 'Unknown' };
}

const STATUS = { success: [1, 'Success'], failure: [2, 'Failure'] } as const;

export interface OcsfOptions {
  /** Bulwark's version (metadata.product.version). */
  readonly productVersion: string;
}

/** The OCSF event of one audit record. */
export function toOcsf(record: AuditRecord, opts: OcsfOptions): OcsfEvent {
  const { classUid, activityId } = classify(record);
  const cls = OCSF_CLASSES[classUid];
  const activityName =
    ACTIVITY_NAMES[classUid][activityId] ??
    // OCSF: with activity_id 99 (Other), activity_name carries the source's own label.
    record.action;
  const severityId = severityOf(record, classUid);
  const time = Date.parse(record.occurredAt);
  const ip = str(record.details.ip);
  const details = redactDetails(record.details);
  const [statusId, statusName] = record.outcome === 'success' ? STATUS.success : STATUS.failure;

  const base: Record<string, unknown> = {
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: classUid,
    class_name: cls.name,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: classUid * 100 + activityId,
    type_name: `${cls.name}: ${activityName}`,
    severity_id: severityId,
    severity: SEVERITY_NAMES[severityId],
    status_id: statusId,
    status: statusName,
    status_detail: record.outcome === 'success' ? undefined : record.outcome,
    time,
    message: `${record.action} ${record.outcome}`,
    metadata: stripUndefined({
      version: OCSF_VERSION,
      product: PRODUCT(opts.productVersion),
      uid: record.hash,
      sequence: record.seq,
      event_code: record.action,
      log_name: 'audit',
      log_provider: 'bulwark',
      original_time: record.occurredAt,
      correlation_uid: record.requestId ?? undefined,
      tenant_uid: record.tenantId ?? undefined,
    }),
    actor: stripUndefined({
      user: stripUndefined(actorUser(record) ?? {}),
      app_uid: record.clientId ?? undefined,
    }),
    src_endpoint: ip ? { ip } : { svc_name: 'bulwark' },
    unmapped: stripUndefined({
      audit: stripUndefined({
        seq: record.seq,
        hash: record.hash,
        outcome: record.outcome,
        actor_type: record.actorType,
        object_type: record.objectType ?? undefined,
        object_uid: record.objectId ?? undefined,
      }),
      details: Object.keys(details).length ? details : undefined,
    }),
  };
  if (record.objectType)
    base.resources = [stripUndefined({ type: record.objectType, uid: record.objectId ?? undefined })];
  const method = str(record.details.method);
  const route = str(record.details.route);
  if (method || route)
    base.http_request = stripUndefined({
      http_method: method,
      url: route ? { path: route } : undefined,
    });

  switch (classUid) {
    case 3002:
      base.user = subjectUser(record);
      // At least one of service / dst_endpoint (OCSF constraint): the authorization server.
      base.service = stripUndefined({ name: 'Bulwark', uid: record.tenantId ?? undefined });
      base.is_mfa = /\.(mfa|second_factor|passkey|webauthn|totp)\./.test(`.${record.action}.`) || undefined;
      base.is_remote = true;
      base.auth_protocol_id = 99;
      base.auth_protocol = 'OAuth 2.0 / OpenID Connect';
      break;
    case 3001:
      base.user = subjectUser(record);
      break;
    case 2004: {
      const findingUid =
        str(record.details.alertId) ??
        (record.objectType === 'alert' ? record.objectId : null) ??
        record.hash;
      const detector = str(record.details.detector);
      base.finding_info = stripUndefined({
        uid: findingUid,
        title: str(record.details.title) ?? (detector ? `${detector} alert` : record.action),
        desc: str(record.details.explanation) ?? str(record.details.summary) ?? str(record.details.reason),
        types: detector ? [detector] : undefined,
        analytic: detector ? { name: detector, uid: detector, type_id: 99, type: 'Detector' } : undefined,
        created_time: time,
      });
      base.is_alert = activityId === 1 ? true : undefined;
      // The detection's subject, when it is a network source, is the finding's source endpoint.
      if (!ip && record.details.subjectType === 'ip' && str(record.details.subjectId))
        base.src_endpoint = { ip: str(record.details.subjectId) };
      // Findings carry their own lifecycle status (New / In Progress / Resolved…).
      base.status_id = activityId === 1 ? 1 : activityId === 3 ? 4 : 2;
      base.status = activityId === 1 ? 'New' : activityId === 3 ? 'Resolved' : 'In Progress';
      break;
    }
    default:
      base.api = stripUndefined({
        operation: record.action,
        service: { name: 'Bulwark' },
        request: { uid: record.requestId ?? `audit-${record.seq}` },
        response: record.outcome === 'success' ? undefined : { error: record.outcome },
      });
  }
  return stripUndefined(base) as OcsfEvent;
}

/** NATS subject token of the class: `authentication`, `api_activity`… */
export function classToken(classUid: OcsfClassUid): string {
  return OCSF_CLASSES[classUid].name.toLowerCase().replace(/[^a-z0-9]+/g, '_');
}
