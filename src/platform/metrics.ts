import { sql } from 'drizzle-orm';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from './db/index.ts';
import { rows } from './db/rows.ts';

/**
 * Prometheus metrics of one instance. Request metrics are labelled by route pattern (never the raw
 * URL: ids would explode the label space), method and status. Gauges that need the database (outbox
 * backlog, audit checkpoint age) are computed when scraped, not on the request path.
 */
export function createMetrics(db: Database) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bulwark_process_' });
  const requests = new Counter({
    name: 'bulwark_http_requests_total',
    help: 'Requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'bulwark_http_request_duration_seconds',
    help: 'Time to answer, by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const blocks = new Counter({
    name: 'bulwark_gateway_blocks_total',
    help: 'Requests refused by the gateway, by stage (waf, ip, rate_limit) and rule',
    labelNames: ['stage', 'rule'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'bulwark_auth_failures_total',
    help: 'Requests answered 401, by route pattern',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'bulwark_oauth_token_requests_total',
    help: 'Token endpoint outcomes, by grant type and result (issued, or the OAuth error code)',
    labelNames: ['grant', 'result'] as const,
    registers: [registry],
  });
  const scalar = async (query: ReturnType<typeof sql>) => {
    const [r] = await db.asSystem((tx) => rows<{ v: number | string | null }>(tx, query));
    return Number(r?.v ?? 0);
  };
  new Gauge({
    name: 'bulwark_outbox_pending',
    help: 'Events committed but not yet published',
    registers: [registry],
    async collect() {
      this.set(await scalar(sql`SELECT count(*) AS v FROM outbox WHERE published_at IS NULL`));
    },
  });
  new Gauge({
    name: 'bulwark_outbox_lag_seconds',
    help: 'Age of the oldest unpublished event (0 when none)',
    registers: [registry],
    async collect() {
      this.set(
        await scalar(
          sql`SELECT coalesce(extract(epoch FROM now() - min(occurred_at)), 0) AS v FROM outbox WHERE published_at IS NULL`,
        ),
      );
    },
  });
  new Gauge({
    name: 'bulwark_webhook_deliveries_pending',
    help: 'Webhook deliveries waiting for a first attempt or a retry (backlog)',
    registers: [registry],
    async collect() {
      this.set(await scalar(sql`SELECT count(*) AS v FROM webhook_deliveries WHERE status = 'pending'`));
    },
  });
  new Gauge({
    name: 'bulwark_audit_queue_length',
    help: 'Audit records queued for the chain writer',
    registers: [registry],
    async collect() {
      this.set(await scalar(sql`SELECT count(*) AS v FROM audit_queue`));
    },
  });
  new Gauge({
    name: 'bulwark_audit_checkpoint_age_seconds',
    help: 'Time since the last signed audit checkpoint (-1 before the first)',
    registers: [registry],
    async collect() {
      this.set(
        await scalar(
          sql`SELECT coalesce(extract(epoch FROM now() - max(created_at)), -1) AS v FROM audit_checkpoints`,
        ),
      );
    },
  });
  const siemExported = new Counter({
    name: 'bulwark_siem_exported_total',
    help: 'Audit records delivered to a SIEM sink (re-sends included), by sink',
    labelNames: ['sink'] as const,
    registers: [registry],
  });
  const siemFailures = new Counter({
    name: 'bulwark_siem_export_failures_total',
    help: 'Failed SIEM deliveries (each retried), by sink',
    labelNames: ['sink'] as const,
    registers: [registry],
  });
  // Export lag per sink, from the persisted cursors (so every instance reports the same figure).
  const siemLag = async () =>
    db.asSystem((tx) =>
      rows<{ sink: string; records: number | string; seconds: number | string | null }>(
        tx,
        sql`SELECT c.sink, greatest(coalesce((SELECT max(seq) FROM audit_log), 0) - c.last_seq, 0) AS records,
                   coalesce((SELECT extract(epoch FROM now() - a.occurred_at) FROM audit_log a
                              WHERE a.seq = c.last_seq + 1), 0) AS seconds
              FROM siem_cursors c`,
      ),
    );
  new Gauge({
    name: 'bulwark_siem_export_lag_records',
    help: 'Audit records not yet acknowledged by the SIEM sink',
    labelNames: ['sink'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await siemLag()) this.set({ sink: r.sink }, Number(r.records));
    },
  });
  new Gauge({
    name: 'bulwark_siem_export_lag_seconds',
    help: 'Age of the oldest audit record not yet acknowledged by the SIEM sink (0 when caught up)',
    labelNames: ['sink'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await siemLag()) this.set({ sink: r.sink }, Math.max(0, Number(r.seconds ?? 0)));
    },
  });
  const detectionAlerts = new Counter({
    name: 'bulwark_detection_alerts_total',
    help: 'Alerts raised by threat detection (new alerts, not updates), by detector and severity',
    labelNames: ['detector', 'severity'] as const,
    registers: [registry],
  });
  const detectionSuppressed = new Counter({
    name: 'bulwark_detection_suppressed_total',
    help: 'Findings dropped by an operator suppression, by detector',
    labelNames: ['detector'] as const,
    registers: [registry],
  });
  return {
    registry,
    alert(detector: string, severity: string): void {
      detectionAlerts.inc({ detector, severity });
    },
    suppressed(detector: string): void {
      detectionSuppressed.inc({ detector });
    },
    siemExported(sink: string, records: number): void {
      siemExported.inc({ sink }, records);
    },
    siemFailure(sink: string): void {
      siemFailures.inc({ sink });
    },
    request(route: string, method: string, status: number, seconds: number): void {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route, method }, seconds);
      if (status === 401) authFailures.inc({ route });
    },
    token(grant: string, result: string): void {
      tokens.inc({ grant, result });
    },
    block(stage: 'waf' | 'ip' | 'rate_limit', rule: string): void {
      blocks.inc({ stage, rule });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
