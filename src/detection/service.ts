import { type AuditInput, appendAudit } from '../audit/index.ts';
import type { IpRulesService } from '../gateway/ip-rules/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { isUuid, uuidv7 } from '../platform/ids.ts';
import type { Kv } from '../platform/kv/index.ts';
import { DetectionError } from './errors.ts';
import { type ActionKind, type ActionTarget, NotApplicable, ResponseActions } from './responses.ts';
import * as store from './store.ts';
import {
  DETECTOR_IDS,
  type DetectorId,
  type Explanation,
  type Finding,
  type FindingContext,
  maxSeverity,
  type Severity,
  severityRank,
  subjectKey,
} from './types.ts';

// ---- views (what the admin API shows) ---------------------------------------------------------

export interface Alert {
  id: string;
  tenantId: string | null;
  detector: string;
  subject: { type: string; id: string };
  severity: Severity;
  status: 'open' | 'acknowledged' | 'resolved';
  count: number;
  summary: string;
  explanation: Explanation;
  context: FindingContext;
  incidentId: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  acknowledgedBy?: string;
  acknowledgedAt?: string;
  resolvedBy?: string;
  resolvedAt?: string;
}

export interface Suppression {
  id: string;
  tenantId: string | null;
  detector: string | null;
  subject: { type: string; id: string } | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  liftedBy?: string;
  liftedAt?: string;
}

export interface Action {
  id: string;
  tenantId: string | null;
  alertId: string;
  detector: string;
  kind: ActionKind;
  target: ActionTarget;
  status: 'applied' | 'reverted' | 'failed' | 'skipped';
  ref?: string;
  note?: string;
  expiresAt?: string;
  createdBy: string;
  createdAt: string;
  revertedBy?: string;
  revertedAt?: string;
}

export interface ResponsePolicy {
  detector: DetectorId;
  actions: ActionKind[];
  /** Actions run for alerts of this severity or higher. */
  minSeverity: Severity;
  /** Lifetime of blocks, throttles and step-up flags. */
  ttlSeconds: number;
  throttlePerMinute: number;
  updatedBy: string | null;
  updatedAt: string | null;
}

export const INCIDENT_STATUSES = ['open', 'investigating', 'contained', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export interface Clock {
  deadline: string;
  secondsLeft: number;
  overdue: boolean;
}

export interface Incident {
  id: string;
  tenantId: string | null;
  title: string;
  status: IncidentStatus;
  severity: Severity;
  owner: string | null;
  alertCount: number;
  detectedAt: string;
  lastActivityAt: string;
  personalDataBreach: boolean;
  majorIct: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  /** GDPR Art. 33(1): notify the supervisory authority within 72 h of becoming aware. */
  gdpr?: { awareAt: string; notification: Clock };
  /**
   * DORA Art. 19(4) with the RTS/ITS on incident reporting: initial notification within 4 h of
   * classification as major and at the latest 24 h after detection; intermediate report within
   * 72 h of the initial notification; final report within one month of the intermediate one.
   * Later deadlines are counted from the earlier deadlines (the latest they may be met).
   */
  dora?: { classifiedAt: string; initial: Clock; intermediate: Clock; final: Clock };
}

export interface TimelineEntry {
  id: string;
  at: string;
  kind: 'alert' | 'action' | 'note' | 'status' | 'owner' | 'flag';
  actor: string;
  data: Record<string, unknown>;
}

const iso = (d: Date) => d.toISOString();

function toAlert(r: store.AlertRow): Alert {
  return {
    id: r.id,
    tenantId: r.tenantId,
    detector: r.detector,
    subject: { type: r.subjectType, id: r.subjectId },
    severity: r.severity,
    status: r.status,
    count: r.count,
    summary: r.summary,
    explanation: r.explanation as Explanation,
    context: r.context as FindingContext,
    incidentId: r.incidentId,
    firstSeenAt: iso(r.firstSeenAt),
    lastSeenAt: iso(r.lastSeenAt),
    ...(r.acknowledgedBy ? { acknowledgedBy: r.acknowledgedBy } : {}),
    ...(r.acknowledgedAt ? { acknowledgedAt: iso(r.acknowledgedAt) } : {}),
    ...(r.resolvedBy ? { resolvedBy: r.resolvedBy } : {}),
    ...(r.resolvedAt ? { resolvedAt: iso(r.resolvedAt) } : {}),
  };
}

function toSuppression(r: store.SuppressionRow): Suppression {
  return {
    id: r.id,
    tenantId: r.tenantId,
    detector: r.detector,
    subject: r.subjectType && r.subjectId ? { type: r.subjectType, id: r.subjectId } : null,
    reason: r.reason,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    expiresAt: iso(r.expiresAt),
    ...(r.liftedBy ? { liftedBy: r.liftedBy } : {}),
    ...(r.liftedAt ? { liftedAt: iso(r.liftedAt) } : {}),
  };
}

function toAction(r: store.ActionRow): Action {
  return {
    id: r.id,
    tenantId: r.tenantId,
    alertId: r.alertId,
    detector: r.detector,
    kind: r.kind,
    target: r.target as ActionTarget,
    status: r.status,
    ...(r.ref ? { ref: r.ref } : {}),
    ...(r.note ? { note: r.note } : {}),
    ...(r.expiresAt ? { expiresAt: iso(r.expiresAt) } : {}),
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    ...(r.revertedBy ? { revertedBy: r.revertedBy } : {}),
    ...(r.revertedAt ? { revertedAt: iso(r.revertedAt) } : {}),
  };
}

const HOUR = 3_600_000;

function clock(deadline: number, now: number): Clock {
  const secondsLeft = Math.round((deadline - now) / 1000);
  return { deadline: new Date(deadline).toISOString(), secondsLeft, overdue: secondsLeft < 0 };
}

/** One calendar month later (UTC), as "within one month" is counted. */
function plusMonth(ms: number): number {
  const d = new Date(ms);
  d.setUTCMonth(d.getUTCMonth() + 1);
  return d.getTime();
}

export function incidentView(r: store.IncidentRow, now: number): Incident {
  const view: Incident = {
    id: r.id,
    tenantId: r.tenantId,
    title: r.title,
    status: r.status,
    severity: r.severity,
    owner: r.owner,
    alertCount: r.alertCount,
    detectedAt: iso(r.detectedAt),
    lastActivityAt: iso(r.lastActivityAt),
    personalDataBreach: r.personalDataBreach,
    majorIct: r.majorIct,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    ...(r.closedAt ? { closedAt: iso(r.closedAt) } : {}),
  };
  if (r.personalDataBreach && r.breachAwareAt) {
    view.gdpr = {
      awareAt: iso(r.breachAwareAt),
      notification: clock(r.breachAwareAt.getTime() + 72 * HOUR, now),
    };
  }
  if (r.majorIct && r.classifiedAt) {
    const initial = Math.min(r.classifiedAt.getTime() + 4 * HOUR, r.detectedAt.getTime() + 24 * HOUR);
    const intermediate = initial + 72 * HOUR;
    view.dora = {
      classifiedAt: iso(r.classifiedAt),
      initial: clock(initial, now),
      intermediate: clock(intermediate, now),
      final: clock(plusMonth(intermediate), now),
    };
  }
  return view;
}

function toEntry(r: store.IncidentEventRow): TimelineEntry {
  return { id: r.id, at: iso(r.at), kind: r.kind, actor: r.actor, data: r.data as Record<string, unknown> };
}

// ---- response policies ------------------------------------------------------------------------

/**
 * Defaults: block the source of credential stuffing, revoke a token used from a second network;
 * the others alert only until operators choose (a volume spike may be a campaign, a shared IBAN a
 * repair shop). Loopback sources are never blocked.
 */
export const DEFAULT_RESPONSES: Readonly<
  Record<DetectorId, Omit<ResponsePolicy, 'detector' | 'updatedBy' | 'updatedAt'>>
> = {
  credential_stuffing: {
    actions: ['ip_block'],
    minSeverity: 'high',
    ttlSeconds: 3600,
    throttlePerMinute: 60,
  },
  bola_enumeration: { actions: [], minSeverity: 'high', ttlSeconds: 3600, throttlePerMinute: 60 },
  client_volume: { actions: [], minSeverity: 'medium', ttlSeconds: 1800, throttlePerMinute: 120 },
  token_network: {
    actions: ['revoke_token'],
    minSeverity: 'medium',
    ttlSeconds: 3600,
    throttlePerMinute: 60,
  },
  payout_iban: { actions: [], minSeverity: 'high', ttlSeconds: 3600, throttlePerMinute: 60 },
  claim_burst: { actions: [], minSeverity: 'medium', ttlSeconds: 3600, throttlePerMinute: 60 },
  waf_near_miss: { actions: [], minSeverity: 'medium', ttlSeconds: 3600, throttlePerMinute: 60 },
};

// ---- the service ------------------------------------------------------------------------------

export interface DetectionMetrics {
  alert(detector: string, severity: string): void;
  suppressed?(detector: string): void;
}

export interface DetectionServiceOptions {
  readonly db: Database;
  readonly kv: Kv;
  readonly ipRules?: IpRulesService | undefined;
  readonly metrics?: DetectionMetrics | undefined;
  readonly now?: (() => number) | undefined;
  /** Repeated findings about one subject are written at most this often (the count still grows). */
  readonly rewriteAfterMs?: number | undefined;
  /** Alerts about one subject join its open incident if it was active this recently. */
  readonly incidentWindowMs?: number | undefined;
}

export type RaiseOutcome =
  | { readonly status: 'raised' | 'updated'; readonly alert: Alert; readonly actions: readonly Action[] }
  | { readonly status: 'suppressed'; readonly suppressionId: string }
  | { readonly status: 'coalesced' };

const SYSTEM = { type: 'system' as const, id: 'detection' };
const operator = (who: string) => ({ type: 'operator' as const, id: who });
const clip = (s: string, n = 500) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
const page = <T extends { id: string }>(items: T[], limit: number): Page<T> => ({
  items,
  nextCursor: items.length === limit ? (items.at(-1)?.id ?? null) : null,
});

/**
 * Alerts, suppressions, response actions and incidents. `raise` is what the feed calls with each
 * finding: suppression check, de-duplication (one open alert per tenant + detector + subject, its
 * count and explanation updated), incident grouping, audit, then the detector's response actions.
 * Everything an operator does is audited too, and every action can be reverted.
 */
export class DetectionService {
  private readonly db: Database;
  private readonly now: () => number;
  readonly responses: ResponseActions;
  private readonly metrics: DetectionMetrics | undefined;
  private readonly rewriteAfterMs: number;
  private readonly incidentWindowMs: number;
  private readonly recent = new Map<string, { at: number; pending: number; severity: Severity }>();
  private policies: Map<DetectorId, ResponsePolicy> | undefined;

  constructor(options: DetectionServiceOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
    this.rewriteAfterMs = options.rewriteAfterMs ?? 30_000;
    this.incidentWindowMs = options.incidentWindowMs ?? 24 * HOUR;
    this.responses = new ResponseActions({ kv: options.kv, ipRules: options.ipRules, now: this.now });
  }

  // ---- findings ----

  async raise(finding: Finding): Promise<RaiseOutcome> {
    const subject = subjectKey(finding.subject);
    const dedupKey = `${finding.tenantId ?? 'platform'}|${finding.detector}|${subject}`;
    const now = this.now();
    const seen = this.recent.get(dedupKey);
    if (
      seen &&
      now - seen.at < this.rewriteAfterMs &&
      severityRank(finding.severity) <= severityRank(seen.severity)
    ) {
      seen.pending++;
      return { status: 'coalesced' };
    }
    const extra = seen?.pending ?? 0;
    if (this.recent.size > 20_000) this.recent.clear();
    this.recent.set(dedupKey, {
      at: now,
      pending: 0,
      severity: maxSeverity(finding.severity, seen?.severity ?? 'low'),
    });
    let result: Written | { suppressed: string };
    try {
      result = await this.write(finding, dedupKey, 1 + extra);
    } catch (err) {
      // Another instance opened the same alert at the same moment: fold into it.
      if (!isUniqueViolation(err)) throw err;
      result = await this.write(finding, dedupKey, 1 + extra);
    }
    if ('suppressed' in result) {
      this.metrics?.suppressed?.(finding.detector);
      return { status: 'suppressed', suppressionId: result.suppressed };
    }
    if (result.created) this.metrics?.alert(finding.detector, finding.severity);
    const actions =
      result.created || result.escalated ? await this.respond(result.alert, finding.context) : [];
    return { status: result.created ? 'raised' : 'updated', alert: toAlert(result.alert), actions };
  }

  private async write(
    finding: Finding,
    dedupKey: string,
    increment: number,
  ): Promise<Written | { suppressed: string }> {
    const at = new Date(finding.at);
    const nowDate = new Date(this.now());
    return this.db.asSystem(async (tx) => {
      const suppression = await store.coveringSuppression(tx, {
        tenantId: finding.tenantId,
        detector: finding.detector,
        subjectType: finding.subject.type,
        subjectId: finding.subject.id,
        now: nowDate,
      });
      if (suppression) return { suppressed: suppression.id };
      const open = await store.openAlertForUpdate(tx, dedupKey);
      if (open) {
        const severity = maxSeverity(open.severity, finding.severity);
        const alert = (await store.updateAlert(tx, open.id, {
          count: open.count + increment,
          lastSeenAt: at > open.lastSeenAt ? at : open.lastSeenAt,
          severity,
          summary: finding.explanation.what,
          explanation: finding.explanation,
          context: { ...(open.context as object), ...finding.context },
        }))!;
        const escalated = severity !== open.severity;
        if (escalated) {
          if (alert.incidentId) {
            const incident = await store.getIncident(tx, alert.incidentId, true);
            if (incident) {
              await store.updateIncident(tx, incident.id, {
                severity: maxSeverity(incident.severity, severity),
                lastActivityAt: nowDate,
                updatedAt: nowDate,
              });
              await this.timeline(tx, alert, 'alert', 'detection', {
                alertId: alert.id,
                detector: alert.detector,
                severity,
                escalated: true,
              });
            }
          }
          await appendAudit(tx, this.alertAudit(alert, 'detection.alert.escalated'));
        }
        return { alert, created: false, escalated };
      }
      const id = uuidv7(this.now());
      const incident = await this.incidentFor(tx, finding, nowDate);
      const alert = await store.insertAlert(tx, {
        id,
        tenantId: finding.tenantId,
        detector: finding.detector,
        subjectType: finding.subject.type,
        subjectId: finding.subject.id,
        dedupKey,
        severity: finding.severity,
        status: 'open',
        count: increment,
        summary: finding.explanation.what,
        explanation: finding.explanation,
        context: finding.context,
        incidentId: incident.row.id,
        firstSeenAt: at,
        lastSeenAt: at,
      });
      await this.timeline(tx, alert, 'alert', 'detection', {
        alertId: alert.id,
        detector: alert.detector,
        severity: alert.severity,
        summary: clip(finding.explanation.what, 200),
      });
      if (incident.created) {
        await appendAudit(tx, {
          actor: SYSTEM,
          action: 'incident.opened',
          object: { type: 'incident', id: incident.row.id },
          tenantId: finding.tenantId,
          outcome: 'success',
          details: { incidentId: incident.row.id, alertId: id, severity: incident.row.severity },
        });
      }
      await appendAudit(tx, this.alertAudit(alert, 'detection.alert.raised'));
      return { alert, created: true, escalated: false };
    });
  }

  private alertAudit(alert: store.AlertRow, action: string): AuditInput {
    const explanation = alert.explanation as Explanation;
    return {
      actor: SYSTEM,
      action,
      object: { type: 'detection.alert', id: alert.id },
      tenantId: alert.tenantId,
      outcome: 'success',
      details: {
        alertId: alert.id,
        detector: alert.detector,
        severity: alert.severity,
        subjectType: alert.subjectType,
        subjectId: alert.subjectId,
        summary: clip(`${explanation.what}: ${explanation.why}`),
        count: alert.count,
        ...(alert.incidentId ? { incidentId: alert.incidentId } : {}),
      },
    };
  }

  private async incidentFor(
    tx: Tx,
    finding: Finding,
    now: Date,
  ): Promise<{ row: store.IncidentRow; created: boolean }> {
    const groupKey = `${finding.tenantId ?? 'platform'}|${subjectKey(finding.subject)}`;
    const open = await store.openIncidentForUpdate(
      tx,
      groupKey,
      new Date(now.getTime() - this.incidentWindowMs),
    );
    if (open) {
      const row = await store.updateIncident(tx, open.id, {
        alertCount: open.alertCount + 1,
        severity: maxSeverity(open.severity, finding.severity),
        lastActivityAt: now,
        updatedAt: now,
      });
      return { row, created: false };
    }
    const row = await store.insertIncident(tx, {
      id: uuidv7(now.getTime()),
      tenantId: finding.tenantId,
      groupKey,
      title: clip(`${finding.explanation.what} (${finding.subject.type} ${finding.subject.id})`, 300),
      status: 'open',
      severity: finding.severity,
      owner: null,
      alertCount: 1,
      detectedAt: new Date(finding.at),
      lastActivityAt: now,
      createdAt: now,
      updatedAt: now,
    });
    return { row, created: true };
  }

  private async timeline(
    tx: Tx,
    owner: { incidentId: string | null; tenantId: string | null },
    kind: store.IncidentEventRow['kind'],
    actor: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    if (!owner.incidentId) return;
    await store.insertIncidentEvent(tx, {
      id: uuidv7(this.now()),
      incidentId: owner.incidentId,
      tenantId: owner.tenantId,
      at: new Date(this.now()),
      kind,
      actor,
      data,
    });
  }

  /** Runs the detector's configured actions for a new or escalated alert (each at most once per alert). */
  private async respond(alert: store.AlertRow, context: FindingContext): Promise<Action[]> {
    const policy = (await this.policyMap()).get(alert.detector as DetectorId);
    if (!policy || policy.actions.length === 0) return [];
    if (severityRank(alert.severity) < severityRank(policy.minSeverity)) return [];
    const done = new Set(
      (await this.db.asSystem((tx) => store.actionsOfAlert(tx, alert.id)))
        .filter((a) => a.status === 'applied' || a.status === 'reverted')
        .map((a) => a.kind),
    );
    const out: Action[] = [];
    for (const kind of policy.actions) {
      if (done.has(kind)) continue;
      out.push(await this.act(alert, kind, context, policy, `detection:${alert.detector}`, false));
    }
    return out;
  }

  private async act(
    alert: store.AlertRow,
    kind: ActionKind,
    context: FindingContext,
    policy: ResponsePolicy,
    actor: string,
    strict: boolean,
  ): Promise<Action> {
    const id = uuidv7(this.now());
    let applied: Awaited<ReturnType<ResponseActions['apply']>> | undefined;
    let failure: string | undefined;
    try {
      applied = await this.responses.apply({
        kind,
        tenantId: alert.tenantId,
        context,
        ttlSeconds: policy.ttlSeconds,
        throttlePerMinute: policy.throttlePerMinute,
        reason: clip(`detection alert ${alert.id} (${alert.detector})`, 200),
        actor,
        actionId: id,
      });
    } catch (err) {
      if (err instanceof NotApplicable) {
        if (strict) throw new DetectionError('DETECTION_ACTION_NOT_APPLICABLE', err.message);
        failure = `not applicable: ${err.message}`;
      } else {
        if (strict) throw new DetectionError('DETECTION_ACTION_FAILED', (err as { code?: string }).code);
        failure = `failed: ${(err as { code?: string }).code ?? 'error'}`;
      }
    }
    const status = applied?.status ?? 'failed';
    const row = await this.db.asSystem(async (tx) => {
      const saved = await store.insertAction(tx, {
        id,
        tenantId: alert.tenantId,
        alertId: alert.id,
        detector: alert.detector,
        kind,
        target: applied?.target ?? {},
        status,
        ref: applied?.ref ?? null,
        note: applied?.note ?? failure ?? null,
        expiresAt: applied?.expiresAt ?? null,
        createdBy: actor,
        createdAt: new Date(this.now()),
      });
      await this.timeline(tx, alert, 'action', actor, { actionId: id, kind, status });
      await appendAudit(tx, {
        actor: actor.startsWith('operator:') ? operator(actor.slice(9)) : SYSTEM,
        action: 'detection.action.applied',
        object: { type: 'detection.action', id },
        tenantId: alert.tenantId,
        outcome: status === 'applied' ? 'success' : 'failure',
        details: {
          actionId: id,
          alertId: alert.id,
          detector: alert.detector,
          kind,
          status,
          ...(applied?.ref ? { ref: applied.ref } : {}),
          ...(saved.note ? { note: clip(saved.note, 200) } : {}),
        },
      });
      return saved;
    });
    return toAction(row);
  }

  // ---- alerts (operators) ----

  async listAlerts(filter: store.AlertFilter): Promise<Page<Alert>> {
    const rows = await this.db.asSystem((tx) => store.listAlerts(tx, filter));
    return page(rows.map(toAlert), filter.limit);
  }

  async getAlert(id: string): Promise<Alert> {
    return toAlert(await this.db.asSystem((tx) => this.alertRow(tx, id)));
  }

  private async alertRow(tx: Tx, id: string): Promise<store.AlertRow> {
    const row = isUuid(id) ? await store.getAlert(tx, id) : undefined;
    if (!row) throw new DetectionError('DETECTION_ALERT_NOT_FOUND');
    return row;
  }

  async acknowledge(id: string, actor: string): Promise<Alert> {
    return this.db.asSystem(async (tx) => {
      const row = await this.alertRow(tx, id);
      if (row.status === 'resolved') throw new DetectionError('DETECTION_ALERT_RESOLVED');
      const updated = (await store.updateAlert(tx, id, {
        status: 'acknowledged',
        acknowledgedBy: actor,
        acknowledgedAt: new Date(this.now()),
      }))!;
      await appendAudit(tx, this.operatorAudit(updated, 'detection.alert.acknowledged', actor));
      return toAlert(updated);
    });
  }

  async resolve(id: string, actor: string): Promise<Alert> {
    const alert = await this.db.asSystem(async (tx) => {
      const row = await this.alertRow(tx, id);
      if (row.status === 'resolved') throw new DetectionError('DETECTION_ALERT_RESOLVED');
      const updated = (await store.updateAlert(tx, id, {
        status: 'resolved',
        resolvedBy: actor,
        resolvedAt: new Date(this.now()),
      }))!;
      await appendAudit(tx, this.operatorAudit(updated, 'detection.alert.resolved', actor));
      return updated;
    });
    this.recent.delete(alert.dedupKey);
    return toAlert(alert);
  }

  private operatorAudit(alert: store.AlertRow, action: string, actor: string): AuditInput {
    return {
      actor: operator(actor),
      action,
      object: { type: 'detection.alert', id: alert.id },
      tenantId: alert.tenantId,
      outcome: 'success',
      details: { alertId: alert.id, detector: alert.detector, severity: alert.severity },
    };
  }

  /** Suppresses this alert's detector for its subject for `ttlSeconds`, and resolves the alert. */
  async suppressAlert(id: string, input: { ttlSeconds: number; reason: string }, actor: string) {
    const alert = await this.db.asSystem((tx) => this.alertRow(tx, id));
    const suppression = await this.suppress(
      {
        tenantId: alert.tenantId,
        detector: alert.detector,
        subject: { type: alert.subjectType, id: alert.subjectId },
        ttlSeconds: input.ttlSeconds,
        reason: input.reason,
      },
      actor,
    );
    const resolved = alert.status === 'resolved' ? toAlert(alert) : await this.resolve(id, actor);
    return { alert: resolved, suppression };
  }

  // ---- suppressions ----

  async suppress(
    input: {
      tenantId: string | null;
      detector: string | null;
      subject: { type: string; id: string } | null;
      ttlSeconds: number;
      reason: string;
    },
    actor: string,
  ): Promise<Suppression> {
    if (input.detector !== null && !DETECTOR_IDS.includes(input.detector as DetectorId)) {
      throw new DetectionError('DETECTION_DETECTOR_UNKNOWN');
    }
    const now = this.now();
    const row = await this.db.asSystem(async (tx) => {
      const saved = await store.insertSuppression(tx, {
        id: uuidv7(now),
        tenantId: input.tenantId,
        detector: input.detector,
        subjectType: input.subject?.type ?? null,
        subjectId: input.subject?.id ?? null,
        reason: input.reason,
        createdBy: actor,
        createdAt: new Date(now),
        expiresAt: new Date(now + input.ttlSeconds * 1000),
      });
      await appendAudit(tx, {
        actor: operator(actor),
        action: 'detection.suppression.created',
        object: { type: 'detection.suppression', id: saved.id },
        tenantId: input.tenantId,
        outcome: 'success',
        details: {
          suppressionId: saved.id,
          detector: input.detector ?? '*',
          subjectType: input.subject?.type ?? '*',
          ...(input.subject ? { subjectId: input.subject.id } : {}),
          ttlSeconds: input.ttlSeconds,
        },
      });
      return saved;
    });
    return toSuppression(row);
  }

  async liftSuppression(id: string, actor: string): Promise<Suppression> {
    if (!isUuid(id)) throw new DetectionError('DETECTION_SUPPRESSION_NOT_FOUND');
    return this.db.asSystem(async (tx) => {
      const row = await store.liftSuppression(tx, id, actor, new Date(this.now()));
      if (!row) throw new DetectionError('DETECTION_SUPPRESSION_NOT_FOUND');
      await appendAudit(tx, {
        actor: operator(actor),
        action: 'detection.suppression.lifted',
        object: { type: 'detection.suppression', id },
        tenantId: row.tenantId,
        outcome: 'success',
        details: { suppressionId: id },
      });
      return toSuppression(row);
    });
  }

  async listSuppressions(filter: {
    state: 'active' | 'all';
    tenantId?: string | undefined;
    after?: string | undefined;
    limit: number;
  }): Promise<Page<Suppression>> {
    const rows = await this.db.asSystem((tx) =>
      store.listSuppressions(tx, {
        ...filter,
        activeOnly: filter.state === 'active',
        now: new Date(this.now()),
      }),
    );
    return page(rows.map(toSuppression), filter.limit);
  }

  // ---- actions ----

  async listActions(filter: Parameters<typeof store.listActions>[1]): Promise<Page<Action>> {
    const rows = await this.db.asSystem((tx) => store.listActions(tx, filter));
    return page(rows.map(toAction), filter.limit);
  }

  /** An operator applies an action to an alert's evidence by hand (the detector's TTL and limits). */
  async applyAction(alertId: string, kind: ActionKind, actor: string): Promise<Action> {
    const alert = await this.db.asSystem((tx) => this.alertRow(tx, alertId));
    const policy = (await this.policyMap()).get(alert.detector as DetectorId)!;
    return this.act(alert, kind, alert.context as FindingContext, policy, `operator:${actor}`, true);
  }

  async revertAction(id: string, actor: string): Promise<Action> {
    if (!isUuid(id)) throw new DetectionError('DETECTION_ACTION_NOT_FOUND');
    const row = await this.db.asSystem((tx) => store.getActionForUpdate(tx, id));
    if (!row) throw new DetectionError('DETECTION_ACTION_NOT_FOUND');
    if (row.status !== 'applied') throw new DetectionError('DETECTION_ACTION_NOT_REVERTIBLE');
    // Undo first: if it fails, the action stays "applied" and the operator can retry.
    await this.responses.revert(row.kind, row.target as ActionTarget, row.ref, `operator:${actor}`);
    const reverted = await this.db.asSystem(async (tx) => {
      const current = await store.getActionForUpdate(tx, id);
      if (current?.status !== 'applied') throw new DetectionError('DETECTION_ACTION_NOT_REVERTIBLE');
      const saved = await store.markReverted(tx, id, actor, new Date(this.now()));
      const alert = await store.getAlert(tx, saved.alertId);
      if (alert)
        await this.timeline(tx, alert, 'action', `operator:${actor}`, {
          actionId: id,
          kind: saved.kind,
          status: 'reverted',
        });
      await appendAudit(tx, {
        actor: operator(actor),
        action: 'detection.action.reverted',
        object: { type: 'detection.action', id },
        tenantId: saved.tenantId,
        outcome: 'success',
        details: { actionId: id, alertId: saved.alertId, detector: saved.detector, kind: saved.kind },
      });
      return saved;
    });
    return toAction(reverted);
  }

  // ---- response policies ----

  private async policyMap(): Promise<Map<DetectorId, ResponsePolicy>> {
    if (this.policies) return this.policies;
    const rows = await this.db.asSystem((tx) => store.listPolicies(tx));
    const map = new Map<DetectorId, ResponsePolicy>();
    for (const detector of DETECTOR_IDS) {
      map.set(detector, { detector, ...DEFAULT_RESPONSES[detector], updatedBy: null, updatedAt: null });
    }
    for (const r of rows) {
      if (!DETECTOR_IDS.includes(r.detector as DetectorId)) continue;
      map.set(r.detector as DetectorId, {
        detector: r.detector as DetectorId,
        actions: r.actions as ActionKind[],
        minSeverity: r.minSeverity as Severity,
        ttlSeconds: r.ttlSeconds,
        throttlePerMinute: r.throttlePerMinute,
        updatedBy: r.updatedBy,
        updatedAt: iso(r.updatedAt),
      });
    }
    this.policies = map;
    return map;
  }

  /** Forget the cached policies (another instance changed one: the `detection.policy.updated` event). */
  reloadPolicies(): void {
    this.policies = undefined;
  }

  async listPolicies(): Promise<ResponsePolicy[]> {
    return [...(await this.policyMap()).values()];
  }

  async setPolicy(
    detector: string,
    input: { actions: ActionKind[]; minSeverity: Severity; ttlSeconds: number; throttlePerMinute: number },
    actor: string,
  ): Promise<ResponsePolicy> {
    if (!DETECTOR_IDS.includes(detector as DetectorId))
      throw new DetectionError('DETECTION_DETECTOR_UNKNOWN');
    const actions = [...new Set(input.actions)];
    const row = await this.db.asSystem(async (tx) => {
      const saved = await store.upsertPolicy(tx, {
        detector,
        actions,
        minSeverity: input.minSeverity,
        ttlSeconds: input.ttlSeconds,
        throttlePerMinute: input.throttlePerMinute,
        updatedBy: actor,
        updatedAt: new Date(this.now()),
      });
      await appendAudit(tx, {
        actor: operator(actor),
        action: 'detection.policy.updated',
        object: { type: 'detection.policy', id: detector },
        tenantId: null,
        outcome: 'success',
        details: {
          detector,
          actions,
          minSeverity: input.minSeverity,
          ttlSeconds: input.ttlSeconds,
          throttlePerMinute: input.throttlePerMinute,
        },
      });
      return saved;
    });
    // Other instances drop their cached policies when this event reaches them.
    await this.db
      .asSystem((tx) =>
        enqueue(tx, {
          topic: 'detection.policy.updated',
          tenantId: null,
          payload: { detector, partnerId: null },
        }),
      )
      .catch(() => {});
    this.policies = undefined;
    return (await this.policyMap()).get(row.detector as DetectorId)!;
  }

  // ---- incidents ----

  async listIncidents(filter: Parameters<typeof store.listIncidents>[1]): Promise<Page<Incident>> {
    const rows = await this.db.asSystem((tx) => store.listIncidents(tx, filter));
    const now = this.now();
    return page(
      rows.map((r) => incidentView(r, now)),
      filter.limit,
    );
  }

  async getIncident(id: string): Promise<Incident & { alertIds: string[]; timeline: TimelineEntry[] }> {
    return this.db.asSystem(async (tx) => {
      const row = await this.incidentRow(tx, id);
      return {
        ...incidentView(row, this.now()),
        alertIds: await store.alertIdsOfIncident(tx, id),
        timeline: (await store.timeline(tx, id)).map(toEntry),
      };
    });
  }

  private async incidentRow(tx: Tx, id: string, lock = false): Promise<store.IncidentRow> {
    const row = isUuid(id) ? await store.getIncident(tx, id, lock) : undefined;
    if (!row) throw new DetectionError('DETECTION_INCIDENT_NOT_FOUND');
    return row;
  }

  /**
   * Status, owner and the two regulatory flags. Flagging a personal-data breach starts the GDPR
   * clock now (or at `breachAwareAt`); flagging a major ICT incident starts the DORA clocks.
   * `closed` is final; anything else may move to any other status (reopening included).
   */
  async updateIncident(
    id: string,
    input: {
      status?: IncidentStatus | undefined;
      owner?: string | null | undefined;
      personalDataBreach?: boolean | undefined;
      breachAwareAt?: string | undefined;
      majorIct?: boolean | undefined;
    },
    actor: string,
  ): Promise<Incident> {
    const now = new Date(this.now());
    return this.db.asSystem(async (tx) => {
      const row = await this.incidentRow(tx, id, true);
      const set: Partial<typeof row> = { updatedAt: now };
      const changes: Record<string, unknown> = {};
      const entry = (kind: store.IncidentEventRow['kind'], data: Record<string, unknown>) =>
        this.timeline(tx, { incidentId: id, tenantId: row.tenantId }, kind, `operator:${actor}`, data);
      if (input.status !== undefined && input.status !== row.status) {
        if (row.status === 'closed')
          throw new DetectionError('DETECTION_INCIDENT_TRANSITION', 'closed is final');
        set.status = input.status;
        set.closedAt = input.status === 'closed' ? now : null;
        changes.status = input.status;
        await entry('status', { from: row.status, to: input.status });
      }
      if (input.owner !== undefined && input.owner !== row.owner) {
        set.owner = input.owner;
        changes.owner = input.owner ?? '-';
        await entry('owner', { from: row.owner, to: input.owner });
      }
      if (input.personalDataBreach !== undefined && input.personalDataBreach !== row.personalDataBreach) {
        set.personalDataBreach = input.personalDataBreach;
        set.breachAwareAt = input.personalDataBreach
          ? new Date(input.breachAwareAt ?? now.toISOString())
          : null;
        changes.personalDataBreach = input.personalDataBreach;
        await entry('flag', { personalDataBreach: input.personalDataBreach });
      }
      if (input.majorIct !== undefined && input.majorIct !== row.majorIct) {
        set.majorIct = input.majorIct;
        set.classifiedAt = input.majorIct ? now : null;
        changes.majorIct = input.majorIct;
        await entry('flag', { majorIct: input.majorIct });
      }
      const saved = await store.updateIncident(tx, id, set);
      if (Object.keys(changes).length > 0) {
        await appendAudit(tx, {
          actor: operator(actor),
          action: 'incident.updated',
          object: { type: 'incident', id },
          tenantId: row.tenantId,
          outcome: 'success',
          details: { incidentId: id, ...changes },
        });
      }
      return incidentView(saved, now.getTime());
    });
  }

  async addNote(id: string, text: string, actor: string): Promise<TimelineEntry> {
    const now = new Date(this.now());
    return this.db.asSystem(async (tx) => {
      const row = await this.incidentRow(tx, id, true);
      const entry = await store.insertIncidentEvent(tx, {
        id: uuidv7(now.getTime()),
        incidentId: id,
        tenantId: row.tenantId,
        at: now,
        kind: 'note',
        actor: `operator:${actor}`,
        data: { text },
      });
      await store.updateIncident(tx, id, { updatedAt: now, lastActivityAt: now });
      // The note's text stays in the incident; the audit record says that one was added.
      await appendAudit(tx, {
        actor: operator(actor),
        action: 'incident.note.added',
        object: { type: 'incident', id },
        tenantId: row.tenantId,
        outcome: 'success',
        details: { incidentId: id, noteId: entry.id },
      });
      return toEntry(entry);
    });
  }
}

interface Written {
  readonly alert: store.AlertRow;
  readonly created: boolean;
  readonly escalated: boolean;
}
