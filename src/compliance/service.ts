/**
 * The risk register (domain logic, no HTTP) and the scheduled check of overdue reviews.
 *
 * A risk's score is likelihood × impact (1–25): 15 and above is high, 8–14 medium, below low.
 * Every change is audited in its transaction (`compliance.risk.created|updated|reviewed|deleted`);
 * a review date that passes raises `compliance.risk.review_overdue` once per missed date, and an
 * alert through the alert port (threat detection's alerts when wired).
 */
import { type AuditInput, appendAudit } from '../audit/index.ts';
import type { Database } from '../platform/db/index.ts';
import { uuidv7 } from '../platform/ids.ts';
import { controlByRef } from './controls.ts';
import { ComplianceError } from './errors.ts';
import type { RiskStatus, RiskTreatment } from './schema.ts';
import * as store from './store.ts';

export type Actor = AuditInput['actor'];

export interface RiskInput {
  readonly title: string;
  readonly description: string;
  readonly likelihood: number;
  readonly impact: number;
  readonly owner: string;
  readonly treatment: RiskTreatment;
  readonly treatmentPlan: string;
  readonly controls: readonly string[];
  readonly status: RiskStatus;
  readonly reviewDue: string;
}

export interface Risk extends Omit<RiskInput, 'controls'> {
  readonly id: string;
  readonly tenantId: string;
  readonly score: number;
  readonly level: 'low' | 'medium' | 'high';
  readonly controls: string[];
  readonly overdue: boolean;
  readonly lastReviewedAt: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const riskLevel = (score: number): Risk['level'] =>
  score >= 15 ? 'high' : score >= 8 ? 'medium' : 'low';

function view(r: store.RiskRow, now: number): Risk {
  const score = r.likelihood * r.impact;
  return {
    id: r.id,
    tenantId: r.tenantId,
    title: r.title,
    description: r.description,
    likelihood: r.likelihood,
    impact: r.impact,
    score,
    level: riskLevel(score),
    owner: r.owner,
    treatment: r.treatment,
    treatmentPlan: r.treatmentPlan,
    controls: [...r.controls],
    status: r.status,
    reviewDue: r.reviewDue.toISOString(),
    overdue: r.status !== 'closed' && r.reviewDue.getTime() < now,
    lastReviewedAt: r.lastReviewedAt?.toISOString() ?? null,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

function checkControls(controls: readonly string[]): string[] {
  const unknown = controls.filter((c) => !controlByRef(c));
  if (unknown.length)
    throw new ComplianceError('COMPLIANCE_RISK_CONTROL_UNKNOWN', `unknown: ${unknown.join(', ')}`);
  return [...new Set(controls)];
}

/** Where overdue reviews are announced besides the audit trail. */
export interface RiskAlertPort {
  overdue(risk: Risk, daysOverdue: number): Promise<void>;
}

export interface OverdueResult {
  readonly alerted: number;
  /** Alerts the port failed to raise (the audit record was written regardless). */
  readonly alertFailures: number;
}

const DAY = 86_400_000;

/**
 * Finds open risks whose review date has passed and that were not yet reported for that date;
 * for each appends `compliance.risk.review_overdue` (in the claiming transaction) and then raises
 * an alert. Safe to run on every instance at once.
 */
export async function checkOverdueReviews(
  deps: { db: Database; alerts?: RiskAlertPort | undefined; onError?: (err: unknown) => void },
  now: Date,
): Promise<OverdueResult> {
  let alerted = 0;
  let alertFailures = 0;
  for (;;) {
    const claimed = await deps.db.asSystem(async (tx) => {
      const rows = await store.claimOverdue(tx, now, 100);
      for (const r of rows) {
        const daysOverdue = Math.floor((now.getTime() - r.reviewDue.getTime()) / DAY);
        await appendAudit(tx, {
          actor: { type: 'system', id: 'compliance' },
          action: 'compliance.risk.review_overdue',
          object: { type: 'compliance.risk', id: r.id },
          tenantId: r.tenantId,
          outcome: 'success',
          details: {
            riskId: r.id,
            reviewDue: r.reviewDue.toISOString(),
            daysOverdue,
            score: r.likelihood * r.impact,
            status: r.status,
          },
          at: now,
        });
      }
      return rows;
    });
    for (const r of claimed) {
      alerted += 1;
      if (!deps.alerts) continue;
      const daysOverdue = Math.floor((now.getTime() - r.reviewDue.getTime()) / DAY);
      await deps.alerts.overdue(view(r, now.getTime()), daysOverdue).catch((err: unknown) => {
        alertFailures += 1;
        deps.onError?.(err);
      });
    }
    if (claimed.length < 100) return { alerted, alertFailures };
  }
}

export interface RiskServiceOptions {
  readonly db: Database;
  readonly alerts?: RiskAlertPort | undefined;
  readonly now?: () => number;
}

export class RiskService {
  private readonly db: Database;
  private readonly now: () => number;
  readonly alerts: RiskAlertPort | undefined;

  constructor(options: RiskServiceOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    this.alerts = options.alerts;
  }

  private audit(action: string, r: store.RiskRow, actor: Actor, requestId: string | undefined, extra = {}) {
    return {
      actor,
      action,
      object: { type: 'compliance.risk', id: r.id },
      tenantId: r.tenantId,
      outcome: 'success' as const,
      requestId: requestId ?? null,
      details: {
        riskId: r.id,
        likelihood: r.likelihood,
        impact: r.impact,
        treatment: r.treatment,
        status: r.status,
        reviewDue: r.reviewDue.toISOString(),
        controls: [...r.controls],
        ...extra,
      },
    };
  }

  async create(tenantId: string, input: RiskInput, actor: Actor, requestId?: string): Promise<Risk> {
    const controls = checkControls(input.controls);
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await store.insertRisk(tx, {
        id: uuidv7(this.now()),
        tenantId,
        ...input,
        controls,
        reviewDue: new Date(input.reviewDue),
        createdBy: actor.id ?? actor.type,
      });
      await appendAudit(tx, this.audit('compliance.risk.created', row, actor, requestId));
      return view(row, this.now());
    });
  }

  async get(tenantId: string, id: string): Promise<Risk> {
    const row = await this.db.withTenant(tenantId, (tx) => store.getRisk(tx, tenantId, id));
    if (!row) throw new ComplianceError('COMPLIANCE_RISK_NOT_FOUND');
    return view(row, this.now());
  }

  async list(filter: Omit<store.RiskFilter, 'dueBefore'> & { overdue?: boolean | undefined }) {
    const now = this.now();
    const rows = await this.db.withTenant(filter.tenantId, (tx) =>
      store.listRisks(tx, {
        ...filter,
        limit: filter.limit + 1,
        ...(filter.overdue ? { dueBefore: new Date(now) } : {}),
      }),
    );
    const page = rows.slice(0, filter.limit);
    return {
      items: page.map((r) => view(r, now)),
      nextCursor: rows.length > filter.limit ? page[page.length - 1]!.id : null,
    };
  }

  async replace(
    tenantId: string,
    id: string,
    input: RiskInput,
    actor: Actor,
    requestId?: string,
  ): Promise<Risk> {
    const controls = checkControls(input.controls);
    return this.db.withTenant(tenantId, async (tx) => {
      const before = await store.getRisk(tx, tenantId, id, true);
      if (!before) throw new ComplianceError('COMPLIANCE_RISK_NOT_FOUND');
      const row = (await store.updateRisk(tx, tenantId, id, {
        ...input,
        controls,
        reviewDue: new Date(input.reviewDue),
      }))!;
      const changed = (Object.keys(input) as (keyof RiskInput)[]).filter(
        (k) =>
          JSON.stringify(before[k] instanceof Date ? (before[k] as Date).toISOString() : before[k]) !==
          JSON.stringify(k === 'reviewDue' ? row.reviewDue.toISOString() : row[k]),
      );
      await appendAudit(tx, this.audit('compliance.risk.updated', row, actor, requestId, { changed }));
      return view(row, this.now());
    });
  }

  /** Records a review: the risk was looked at now; the next review is due at `nextReviewDue`. */
  async review(
    tenantId: string,
    id: string,
    input: {
      nextReviewDue: string;
      likelihood?: number | undefined;
      impact?: number | undefined;
      status?: RiskStatus | undefined;
    },
    actor: Actor,
    requestId?: string,
  ): Promise<Risk> {
    return this.db.withTenant(tenantId, async (tx) => {
      const before = await store.getRisk(tx, tenantId, id, true);
      if (!before) throw new ComplianceError('COMPLIANCE_RISK_NOT_FOUND');
      const row = (await store.updateRisk(tx, tenantId, id, {
        reviewDue: new Date(input.nextReviewDue),
        lastReviewedAt: new Date(this.now()),
        ...(input.likelihood !== undefined ? { likelihood: input.likelihood } : {}),
        ...(input.impact !== undefined ? { impact: input.impact } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
      }))!;
      await appendAudit(tx, this.audit('compliance.risk.reviewed', row, actor, requestId));
      return view(row, this.now());
    });
  }

  async delete(tenantId: string, id: string, actor: Actor, requestId?: string): Promise<void> {
    await this.db.withTenant(tenantId, async (tx) => {
      const row = await store.deleteRisk(tx, tenantId, id);
      if (!row) throw new ComplianceError('COMPLIANCE_RISK_NOT_FOUND');
      await appendAudit(tx, this.audit('compliance.risk.deleted', row, actor, requestId));
    });
  }

  checkOverdueReviews(now: Date = new Date(this.now())): Promise<OverdueResult> {
    return checkOverdueReviews({ db: this.db, alerts: this.alerts }, now);
  }
}
