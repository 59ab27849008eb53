/**
 * Detection: alerts, suppressions, response actions, response policies, incidents and their
 * timelines. Alerts and incidents of a tenant carry its `tenant_id`; platform-level ones (a WAF
 * near-miss from an anonymous source) have none and, under the `tenant_isolation` policy, are
 * visible to the system only. The admin API (operators) reads across tenants as the system.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenantPolicy, tenants } from '../platform/db/schema.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const detectionAlerts = pgTable(
  'detection_alerts',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    detector: text('detector').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    /** tenant|detector|subject: at most one open (or acknowledged) alert per key. */
    dedupKey: text('dedup_key').notNull(),
    severity: text('severity', { enum: ['low', 'medium', 'high', 'critical'] }).notNull(),
    status: text('status', { enum: ['open', 'acknowledged', 'resolved'] }).notNull(),
    /** Findings folded into this alert. */
    count: integer('count').notNull().default(1),
    summary: text('summary').notNull(),
    /** `{ what, why, numbers }` of the latest finding. */
    explanation: jsonb('explanation').notNull(),
    /** Ids the responses act on: ip, clientId, userId, tokenId. */
    context: jsonb('context').notNull(),
    incidentId: uuid('incident_id'),
    firstSeenAt: ts('first_seen_at').notNull(),
    lastSeenAt: ts('last_seen_at').notNull(),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: ts('acknowledged_at'),
    resolvedBy: text('resolved_by'),
    resolvedAt: ts('resolved_at'),
  },
  (t) => [
    uniqueIndex('detection_alerts_open_key').on(t.dedupKey).where(sql`${t.status} <> 'resolved'`),
    index('detection_alerts_seen_idx').on(t.lastSeenAt),
    index('detection_alerts_incident_idx').on(t.incidentId),
    tenantPolicy(),
  ],
).enableRLS();

export const detectionSuppressions = pgTable(
  'detection_suppressions',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    /** Null: every detector. */
    detector: text('detector'),
    /** Null (both): every subject. */
    subjectType: text('subject_type'),
    subjectId: text('subject_id'),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    liftedBy: text('lifted_by'),
    liftedAt: ts('lifted_at'),
  },
  (t) => [
    index('detection_suppressions_active_idx').on(t.expiresAt).where(sql`${t.liftedAt} is null`),
    check('detection_suppressions_subject_check', sql`(${t.subjectType} is null) = (${t.subjectId} is null)`),
    tenantPolicy(),
  ],
).enableRLS();

export const detectionActions = pgTable(
  'detection_actions',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    alertId: uuid('alert_id').notNull(),
    detector: text('detector').notNull(),
    kind: text('kind', { enum: ['ip_block', 'throttle', 'revoke_token', 'step_up'] }).notNull(),
    /** What it acted on: `{ cidr }`, `{ clientId }`, `{ tokenId }`, `{ userId }`. */
    target: jsonb('target').notNull(),
    status: text('status', { enum: ['applied', 'reverted', 'failed', 'skipped'] }).notNull(),
    /** The IP block's id, for an ip_block. */
    ref: text('ref'),
    /** Why it failed or was skipped. */
    note: text('note'),
    expiresAt: ts('expires_at'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    revertedBy: text('reverted_by'),
    revertedAt: ts('reverted_at'),
  },
  (t) => [index('detection_actions_alert_idx').on(t.alertId), tenantPolicy()],
).enableRLS();

/** Platform-wide response configuration per detector (operators'). No tenant: not tenant data. */
export const detectionResponsePolicies = pgTable('detection_response_policies', {
  detector: text('detector').primaryKey(),
  actions: jsonb('actions').notNull(),
  minSeverity: text('min_severity').notNull(),
  ttlSeconds: integer('ttl_seconds').notNull(),
  throttlePerMinute: integer('throttle_per_minute').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

export const detectionIncidents = pgTable(
  'detection_incidents',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    /** tenant|subject: alerts about one subject group into its open incident. */
    groupKey: text('group_key').notNull(),
    title: text('title').notNull(),
    status: text('status', { enum: ['open', 'investigating', 'contained', 'resolved', 'closed'] }).notNull(),
    severity: text('severity', { enum: ['low', 'medium', 'high', 'critical'] }).notNull(),
    owner: text('owner'),
    alertCount: integer('alert_count').notNull().default(0),
    /** When the first alert was raised: the DORA "detection" instant. */
    detectedAt: ts('detected_at').notNull(),
    lastActivityAt: ts('last_activity_at').notNull(),
    personalDataBreach: boolean('personal_data_breach').notNull().default(false),
    /** GDPR Art. 33(1): the 72 hours run from when the controller became aware of the breach. */
    breachAwareAt: ts('breach_aware_at'),
    majorIct: boolean('major_ict').notNull().default(false),
    /** DORA Art. 19: when the incident was classified as major. */
    classifiedAt: ts('classified_at'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    closedAt: ts('closed_at'),
  },
  (t) => [
    index('detection_incidents_group_idx').on(t.groupKey, t.lastActivityAt),
    index('detection_incidents_activity_idx').on(t.lastActivityAt),
    tenantPolicy(),
  ],
).enableRLS();

export const detectionIncidentEvents = pgTable(
  'detection_incident_events',
  {
    id: uuid('id').primaryKey(),
    incidentId: uuid('incident_id')
      .notNull()
      .references(() => detectionIncidents.id),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    at: ts('at').notNull(),
    kind: text('kind', { enum: ['alert', 'action', 'note', 'status', 'owner', 'flag'] }).notNull(),
    actor: text('actor').notNull(),
    /** Ids and facts: `{ alertId, detector, severity }`, `{ from, to }`, `{ text }` for a note. */
    data: jsonb('data').notNull(),
  },
  (t) => [index('detection_incident_events_incident_idx').on(t.incidentId, t.at), tenantPolicy()],
).enableRLS();
