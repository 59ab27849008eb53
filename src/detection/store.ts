import { and, desc, eq, gt, isNull, lt, ne, notInArray, or, type SQL } from 'drizzle-orm';
import type { Tx } from '../platform/db/index.ts';
import {
  detectionActions,
  detectionAlerts,
  detectionIncidentEvents,
  detectionIncidents,
  detectionResponsePolicies,
  detectionSuppressions,
} from './schema.ts';

/**
 * Persistence of detection. Every function takes the caller's transaction; the service runs them
 * as the system (operators act across tenants; findings arrive from every tenant). The tenant is
 * always part of the key or the filter all the same.
 */
export type AlertRow = typeof detectionAlerts.$inferSelect;
export type SuppressionRow = typeof detectionSuppressions.$inferSelect;
export type ActionRow = typeof detectionActions.$inferSelect;
export type PolicyRow = typeof detectionResponsePolicies.$inferSelect;
export type IncidentRow = typeof detectionIncidents.$inferSelect;
export type IncidentEventRow = typeof detectionIncidentEvents.$inferSelect;

const tenantIs = (
  column: typeof detectionAlerts.tenantId | typeof detectionSuppressions.tenantId,
  tenantId: string | null,
): SQL => (tenantId === null ? isNull(column) : eq(column, tenantId));

// ---- alerts -----------------------------------------------------------------------------------

export async function openAlertForUpdate(tx: Tx, dedupKey: string): Promise<AlertRow | undefined> {
  const [row] = await tx
    .select()
    .from(detectionAlerts)
    .where(and(eq(detectionAlerts.dedupKey, dedupKey), ne(detectionAlerts.status, 'resolved')))
    .for('update');
  return row;
}

export async function insertAlert(tx: Tx, row: typeof detectionAlerts.$inferInsert): Promise<AlertRow> {
  const [created] = await tx.insert(detectionAlerts).values(row).returning();
  return created!;
}

export async function updateAlert(
  tx: Tx,
  id: string,
  set: Partial<typeof detectionAlerts.$inferInsert>,
): Promise<AlertRow | undefined> {
  const [row] = await tx.update(detectionAlerts).set(set).where(eq(detectionAlerts.id, id)).returning();
  return row;
}

export async function getAlert(tx: Tx, id: string): Promise<AlertRow | undefined> {
  const [row] = await tx.select().from(detectionAlerts).where(eq(detectionAlerts.id, id));
  return row;
}

export interface AlertFilter {
  readonly tenantId?: string | undefined;
  readonly detector?: string | undefined;
  readonly status?: string | undefined;
  readonly severity?: string | undefined;
  readonly subjectType?: string | undefined;
  readonly subjectId?: string | undefined;
  readonly incidentId?: string | undefined;
  readonly since?: Date | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export async function listAlerts(tx: Tx, f: AlertFilter): Promise<AlertRow[]> {
  const where: (SQL | undefined)[] = [
    f.tenantId ? eq(detectionAlerts.tenantId, f.tenantId) : undefined,
    f.detector ? eq(detectionAlerts.detector, f.detector) : undefined,
    f.status ? eq(detectionAlerts.status, f.status as AlertRow['status']) : undefined,
    f.severity ? eq(detectionAlerts.severity, f.severity as AlertRow['severity']) : undefined,
    f.subjectType ? eq(detectionAlerts.subjectType, f.subjectType) : undefined,
    f.subjectId ? eq(detectionAlerts.subjectId, f.subjectId) : undefined,
    f.incidentId ? eq(detectionAlerts.incidentId, f.incidentId) : undefined,
    f.since ? gt(detectionAlerts.lastSeenAt, f.since) : undefined,
    f.after ? lt(detectionAlerts.id, f.after) : undefined,
  ];
  return tx
    .select()
    .from(detectionAlerts)
    .where(and(...where))
    .orderBy(desc(detectionAlerts.id))
    .limit(f.limit);
}

// ---- suppressions -----------------------------------------------------------------------------

/** The active suppression that covers this finding, if any. */
export async function coveringSuppression(
  tx: Tx,
  q: { tenantId: string | null; detector: string; subjectType: string; subjectId: string; now: Date },
): Promise<SuppressionRow | undefined> {
  const [row] = await tx
    .select()
    .from(detectionSuppressions)
    .where(
      and(
        tenantIs(detectionSuppressions.tenantId, q.tenantId),
        isNull(detectionSuppressions.liftedAt),
        gt(detectionSuppressions.expiresAt, q.now),
        or(isNull(detectionSuppressions.detector), eq(detectionSuppressions.detector, q.detector)),
        or(
          isNull(detectionSuppressions.subjectType),
          and(
            eq(detectionSuppressions.subjectType, q.subjectType),
            eq(detectionSuppressions.subjectId, q.subjectId),
          ),
        ),
      ),
    )
    .limit(1);
  return row;
}

export async function insertSuppression(
  tx: Tx,
  row: typeof detectionSuppressions.$inferInsert,
): Promise<SuppressionRow> {
  const [created] = await tx.insert(detectionSuppressions).values(row).returning();
  return created!;
}

export async function liftSuppression(
  tx: Tx,
  id: string,
  by: string,
  now: Date,
): Promise<SuppressionRow | undefined> {
  const [row] = await tx
    .update(detectionSuppressions)
    .set({ liftedBy: by, liftedAt: now })
    .where(
      and(
        eq(detectionSuppressions.id, id),
        isNull(detectionSuppressions.liftedAt),
        gt(detectionSuppressions.expiresAt, now),
      ),
    )
    .returning();
  return row;
}

export async function listSuppressions(
  tx: Tx,
  f: {
    activeOnly: boolean;
    now: Date;
    tenantId?: string | undefined;
    after?: string | undefined;
    limit: number;
  },
): Promise<SuppressionRow[]> {
  return tx
    .select()
    .from(detectionSuppressions)
    .where(
      and(
        f.activeOnly
          ? and(isNull(detectionSuppressions.liftedAt), gt(detectionSuppressions.expiresAt, f.now))
          : undefined,
        f.tenantId ? eq(detectionSuppressions.tenantId, f.tenantId) : undefined,
        f.after ? lt(detectionSuppressions.id, f.after) : undefined,
      ),
    )
    .orderBy(desc(detectionSuppressions.id))
    .limit(f.limit);
}

// ---- actions ----------------------------------------------------------------------------------

export async function insertAction(tx: Tx, row: typeof detectionActions.$inferInsert): Promise<ActionRow> {
  const [created] = await tx.insert(detectionActions).values(row).returning();
  return created!;
}

export async function getActionForUpdate(tx: Tx, id: string): Promise<ActionRow | undefined> {
  const [row] = await tx.select().from(detectionActions).where(eq(detectionActions.id, id)).for('update');
  return row;
}

export async function markReverted(tx: Tx, id: string, by: string, now: Date): Promise<ActionRow> {
  const [row] = await tx
    .update(detectionActions)
    .set({ status: 'reverted', revertedBy: by, revertedAt: now })
    .where(eq(detectionActions.id, id))
    .returning();
  return row!;
}

export async function actionsOfAlert(tx: Tx, alertId: string): Promise<ActionRow[]> {
  return tx.select().from(detectionActions).where(eq(detectionActions.alertId, alertId));
}

export async function listActions(
  tx: Tx,
  f: {
    alertId?: string | undefined;
    status?: string | undefined;
    tenantId?: string | undefined;
    after?: string | undefined;
    limit: number;
  },
): Promise<ActionRow[]> {
  return tx
    .select()
    .from(detectionActions)
    .where(
      and(
        f.alertId ? eq(detectionActions.alertId, f.alertId) : undefined,
        f.status ? eq(detectionActions.status, f.status as ActionRow['status']) : undefined,
        f.tenantId ? eq(detectionActions.tenantId, f.tenantId) : undefined,
        f.after ? lt(detectionActions.id, f.after) : undefined,
      ),
    )
    .orderBy(desc(detectionActions.id))
    .limit(f.limit);
}

// ---- response policies ------------------------------------------------------------------------

export async function listPolicies(tx: Tx): Promise<PolicyRow[]> {
  return tx.select().from(detectionResponsePolicies);
}

export async function upsertPolicy(
  tx: Tx,
  row: typeof detectionResponsePolicies.$inferInsert,
): Promise<PolicyRow> {
  const [saved] = await tx
    .insert(detectionResponsePolicies)
    .values(row)
    .onConflictDoUpdate({
      target: detectionResponsePolicies.detector,
      set: {
        actions: row.actions,
        minSeverity: row.minSeverity,
        ttlSeconds: row.ttlSeconds,
        throttlePerMinute: row.throttlePerMinute,
        updatedBy: row.updatedBy,
        updatedAt: row.updatedAt,
      },
    })
    .returning();
  return saved!;
}

// ---- incidents --------------------------------------------------------------------------------

const CLOSED_STATES: IncidentRow['status'][] = ['resolved', 'closed'];

/** The open incident of a group with activity since `since`, locked. */
export async function openIncidentForUpdate(
  tx: Tx,
  groupKey: string,
  since: Date,
): Promise<IncidentRow | undefined> {
  const [row] = await tx
    .select()
    .from(detectionIncidents)
    .where(
      and(
        eq(detectionIncidents.groupKey, groupKey),
        notInArray(detectionIncidents.status, CLOSED_STATES),
        gt(detectionIncidents.lastActivityAt, since),
      ),
    )
    .orderBy(desc(detectionIncidents.lastActivityAt))
    .limit(1)
    .for('update');
  return row;
}

export async function insertIncident(
  tx: Tx,
  row: typeof detectionIncidents.$inferInsert,
): Promise<IncidentRow> {
  const [created] = await tx.insert(detectionIncidents).values(row).returning();
  return created!;
}

export async function updateIncident(
  tx: Tx,
  id: string,
  set: Partial<typeof detectionIncidents.$inferInsert>,
): Promise<IncidentRow> {
  const [row] = await tx.update(detectionIncidents).set(set).where(eq(detectionIncidents.id, id)).returning();
  return row!;
}

export async function getIncident(tx: Tx, id: string, lock = false): Promise<IncidentRow | undefined> {
  const q = tx.select().from(detectionIncidents).where(eq(detectionIncidents.id, id));
  const [row] = lock ? await q.for('update') : await q;
  return row;
}

export async function listIncidents(
  tx: Tx,
  f: {
    status?: string | undefined;
    tenantId?: string | undefined;
    open?: boolean | undefined;
    after?: string | undefined;
    limit: number;
  },
): Promise<IncidentRow[]> {
  return tx
    .select()
    .from(detectionIncidents)
    .where(
      and(
        f.status ? eq(detectionIncidents.status, f.status as IncidentRow['status']) : undefined,
        f.open ? notInArray(detectionIncidents.status, CLOSED_STATES) : undefined,
        f.tenantId ? eq(detectionIncidents.tenantId, f.tenantId) : undefined,
        f.after ? lt(detectionIncidents.id, f.after) : undefined,
      ),
    )
    .orderBy(desc(detectionIncidents.id))
    .limit(f.limit);
}

export async function insertIncidentEvent(
  tx: Tx,
  row: typeof detectionIncidentEvents.$inferInsert,
): Promise<IncidentEventRow> {
  const [created] = await tx.insert(detectionIncidentEvents).values(row).returning();
  return created!;
}

export async function timeline(tx: Tx, incidentId: string): Promise<IncidentEventRow[]> {
  return tx
    .select()
    .from(detectionIncidentEvents)
    .where(eq(detectionIncidentEvents.incidentId, incidentId))
    .orderBy(detectionIncidentEvents.at, detectionIncidentEvents.id);
}

export async function alertIdsOfIncident(tx: Tx, incidentId: string): Promise<string[]> {
  const rows = await tx
    .select({ id: detectionAlerts.id })
    .from(detectionAlerts)
    .where(eq(detectionAlerts.incidentId, incidentId))
    .orderBy(detectionAlerts.id);
  return rows.map((r) => r.id);
}
