/**
 * What the evidence collectors read: this deployment's configuration and a few read-only queries
 * over its data, each run at most once per report (memoised) and only when a collector asks.
 * Every query runs as the system (cross-tenant counts) and returns counts, ages and ids — never a
 * personal field.
 */
import { sql } from 'drizzle-orm';
import type { Config } from '../config/index.ts';
import type { Crypto, KekUsage } from '../platform/crypto/index.ts';
import type { Database, MigrationStatus } from '../platform/db/index.ts';
import { rows } from '../platform/db/rows.ts';
import type { Tx } from '../platform/db/types.ts';
import type { RegisteredRoute } from '../platform/http/route-guard.ts';
import { type CursorState, cursorStates } from '../siem/store.ts';

/** What a report is computed from. Only `config` and `db` are required. */
export interface EvidenceSources {
  readonly config: Config;
  readonly db: Database;
  /** For master-key usage; without it the KEK facts are read from the key tables alone. */
  readonly crypto?: Pick<Crypto, 'kekUsage'> | undefined;
  /** The server's route table (absent in the CLI, which serves nothing). */
  readonly routes?: (() => readonly RegisteredRoute[]) | undefined;
  /** Key-value store and bus kinds of the running services (absent in the CLI). */
  readonly runtime?: { readonly kv: string; readonly bus: string } | undefined;
  readonly now?: (() => number) | undefined;
}

export interface AuditFacts {
  readonly length: number;
  readonly lastRecordAt: Date | null;
  readonly checkpoints: number;
  readonly lastCheckpoint: { seq: number; treeSize: number; createdAt: Date; alg: string } | null;
  readonly queued: number;
  readonly lastVerification: { at: Date; ok: boolean; records: number | null } | null;
  /** Records appended by operators (admin changes) in the last 30 days. */
  readonly adminChanges30d: number;
}

export interface SigningKeyFacts {
  readonly purpose: string;
  readonly alg: string;
  readonly activeSince: Date;
  readonly published: number;
}

export interface KeyFacts {
  readonly kek: KekUsage | null;
  readonly dataKeys: { active: number; retired: number; destroyed: number };
  /** Live data and signing keys not wrapped by the current master key (a rotation not finished). */
  readonly notUnderCurrentKek: number | null;
  readonly signing: readonly SigningKeyFacts[];
}

export interface PlaintextScan {
  /** Rows checked, per `table.column`. */
  readonly checked: number;
  /** Values that do not have the encrypted-field format (`v1.<key id>.<sealed>`). */
  readonly plaintext: number;
  readonly columns: readonly string[];
  readonly offending: readonly string[];
}

export interface IdentityFacts {
  readonly bootstrap: { started: boolean; closed: boolean; closedAt: Date | null };
  readonly operators: { total: number; withMfa: number; active: number };
  readonly users: { total: number; active: number; withMfa: number; lockedNow: number; disabled: number };
  readonly adminRoleHolders: { total: number; withMfa: number };
  /** Users whose password hash is not Argon2id (PSD2 RTS Art. 22). */
  readonly nonArgon2Passwords: number;
  /** TOTP secrets not stored as encrypted fields. */
  readonly plainTotpSecrets: number;
  readonly apps: { total: number; byAuthMethod: Record<string, number>; live: number };
}

export interface NetworkFacts {
  readonly ipRules: { allow: number; deny: number };
  readonly activeBlocks: number;
}

export interface DetectionFacts {
  readonly openAlerts: number;
  readonly staleOpenAlerts: number;
  readonly alerts30d: number;
  readonly incidentsOpen: number;
  readonly incidentsClosed: number;
  /** Open personal-data-breach incidents whose 72-hour clock (GDPR Art. 33) has run out. */
  readonly breachClockOverdue: number;
  readonly responsePolicies: number;
}

export interface PaymentsFacts {
  readonly scaSettings: { tenants: number; modes: Record<string, number>; aboveCeilings: number };
  readonly scaApprovals: number;
  readonly paymentsByScaStatus: Record<string, number>;
  readonly paymentLimits: number;
}

export interface WebhookFacts {
  readonly subscriptions: number;
  readonly nonHttps: number;
  readonly dead: number;
}

export interface PrivacyFacts {
  /** The data-protection tables exist (src/privacy's migration). */
  readonly present: boolean;
  /** Its routes are registered in this server (unknown from the CLI). */
  readonly wired: boolean | null;
  readonly requestsOpen: number;
  readonly requestsOverdue: number;
  readonly requestsCompleted: number;
  readonly erasures: number;
  readonly consentsGranted: number;
  readonly legalHolds: number;
  readonly retentionRuns30d: number;
  readonly lastRetentionRunAt: Date | null;
}

export interface RiskFacts {
  readonly total: number;
  readonly open: number;
  readonly overdue: number;
  readonly high: number;
}

const DAY = 86_400_000;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

async function tableExists(tx: Tx, name: string): Promise<boolean> {
  const [r] = await rows<{ t: string | null }>(tx, sql`SELECT to_regclass(${`public.${name}`})::text AS t`);
  return Boolean(r?.t);
}

async function grouped(tx: Tx, query: ReturnType<typeof sql>): Promise<Record<string, number>> {
  const found = await rows<{ k: string; n: string | number }>(tx, query);
  return Object.fromEntries(found.map((r) => [r.k, num(r.n)]));
}

/** PII columns sampled for the plaintext scan: every `*_enc` column of these tables. */
const ENCRYPTED_COLUMNS: readonly (readonly [string, string])[] = [
  ['users', 'username_enc'],
  ['users', 'email_enc'],
  ['users', 'display_name_enc'],
  ['user_totp', 'secret_enc'],
  ['customers', 'data_enc'],
  ['payments', 'counterparty_name_enc'],
  ['payments', 'counterparty_iban_enc'],
  ['webhook_subscriptions', 'secret_enc'],
];
/** Rows read per column: enough to catch a writer that skips encryption, bounded for big tables. */
const SCAN_LIMIT = 5000;
const ENCRYPTED_RE = '^v1\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]+$';

/** Memoised read-only facts for one report. */
export class DeploymentFacts {
  readonly config: Config;
  readonly now: Date;
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(private readonly sources: EvidenceSources) {
    this.config = sources.config;
    this.now = new Date((sources.now ?? Date.now)());
  }

  get routes(): readonly RegisteredRoute[] | undefined {
    return this.sources.routes?.();
  }

  get runtime() {
    return this.sources.runtime;
  }

  get databaseKind(): 'pglite' | 'postgres' {
    return this.sources.db.kind;
  }

  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      this.memo.set(key, p);
    }
    return p;
  }

  private system<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.sources.db.asSystem(fn);
  }

  migrations(): Promise<MigrationStatus> {
    return this.once('migrations', () => this.sources.db.migrationStatus());
  }

  /** Database clock minus this process's clock, in ms (ISO 27001 8.17). */
  clockSkewMs(): Promise<number> {
    return this.once('clock', async () => {
      const before = Date.now();
      const [r] = await this.system((tx) =>
        rows<{ ms: string | number }>(
          tx,
          sql`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
        ),
      );
      const after = Date.now();
      return Math.round(num(r?.ms) - (before + after) / 2);
    });
  }

  audit(): Promise<AuditFacts> {
    return this.once('audit', () =>
      this.system(async (tx) => {
        const [head] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT coalesce(max(seq), 0) AS length, max(occurred_at) AS last_at,
                     (SELECT count(*) FROM audit_checkpoints) AS checkpoints,
                     (SELECT count(*) FROM audit_queue) AS queued,
                     (SELECT count(*) FROM audit_log WHERE actor_type = 'operator'
                         AND occurred_at > ${new Date(this.now.getTime() - 30 * DAY)}) AS admin_changes
                FROM audit_log`,
        );
        const [cp] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT seq, tree_size, created_at, alg FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`,
        );
        const [ver] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT occurred_at, outcome, details->>'records' AS records FROM audit_log
               WHERE action = 'audit.verification.completed' ORDER BY seq DESC LIMIT 1`,
        );
        return {
          length: num(head?.length),
          lastRecordAt: date(head?.last_at),
          checkpoints: num(head?.checkpoints),
          queued: num(head?.queued),
          adminChanges30d: num(head?.admin_changes),
          lastCheckpoint: cp
            ? {
                seq: num(cp.seq),
                treeSize: num(cp.tree_size),
                createdAt: date(cp.created_at)!,
                alg: String(cp.alg),
              }
            : null,
          lastVerification: ver
            ? {
                at: date(ver.occurred_at)!,
                ok: ver.outcome === 'success',
                records: ver.records === null ? null : num(ver.records),
              }
            : null,
        };
      }),
    );
  }

  keys(): Promise<KeyFacts> {
    return this.once('keys', async () => {
      const kek = this.sources.crypto ? await this.sources.crypto.kekUsage() : null;
      return this.system(async (tx) => {
        const dk = await grouped(tx, sql`SELECT status AS k, count(*) AS n FROM data_keys GROUP BY status`);
        const signing = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT purpose, alg, coalesce(activated_at, created_at) AS since,
                     (SELECT count(*) FROM signing_keys p WHERE p.purpose = s.purpose AND p.tenant_id IS NULL
                         AND p.state IN ('pending', 'active', 'retired')) AS published
                FROM signing_keys s WHERE state = 'active' AND tenant_id IS NULL ORDER BY purpose`,
        );
        let notUnderCurrentKek: number | null = null;
        if (kek) {
          const [r] = await rows<{ n: string | number }>(
            tx,
            sql`SELECT (SELECT count(*) FROM data_keys WHERE status <> 'destroyed' AND kek_id <> ${kek.current})
                     + (SELECT count(*) FROM signing_keys WHERE private_key IS NOT NULL AND kek_id <> ${kek.current}) AS n`,
          );
          notUnderCurrentKek = num(r?.n);
        }
        return {
          kek,
          dataKeys: { active: dk.active ?? 0, retired: dk.retired ?? 0, destroyed: dk.destroyed ?? 0 },
          notUnderCurrentKek,
          signing: signing.map((s) => ({
            purpose: String(s.purpose),
            alg: String(s.alg),
            activeSince: date(s.since)!,
            published: num(s.published),
          })),
        };
      });
    });
  }

  /** Reads up to SCAN_LIMIT newest values of each PII column and counts those not encrypted. */
  plaintextScan(): Promise<PlaintextScan> {
    return this.once('plaintext', () =>
      this.system(async (tx) => {
        let checked = 0;
        let plaintext = 0;
        const columns: string[] = [];
        const offending: string[] = [];
        for (const [table, column] of ENCRYPTED_COLUMNS) {
          if (!(await tableExists(tx, table))) continue;
          const [r] = await rows<{ checked: string | number; plain: string | number }>(
            tx,
            sql`SELECT count(*) AS checked, count(*) FILTER (WHERE v !~ ${ENCRYPTED_RE}) AS plain
                  FROM (SELECT ${sql.identifier(column)} AS v FROM ${sql.identifier(table)}
                         WHERE ${sql.identifier(column)} IS NOT NULL LIMIT ${SCAN_LIMIT}) s`,
          );
          columns.push(`${table}.${column}`);
          checked += num(r?.checked);
          plaintext += num(r?.plain);
          if (num(r?.plain) > 0) offending.push(`${table}.${column}`);
        }
        return { checked, plaintext, columns, offending };
      }),
    );
  }

  identity(): Promise<IdentityFacts> {
    return this.once('identity', () =>
      this.system(async (tx) => {
        const [b] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT platform_tenant_id, closed_at FROM operator_bootstrap WHERE id = 1`,
        );
        const platform = (b?.platform_tenant_id as string | undefined) ?? null;
        const mfa = sql`(EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id AND t.status = 'active')
                      OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id AND w.status = 'active'))`;
        const [u] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT
                count(*) FILTER (WHERE u.tenant_id IS DISTINCT FROM ${platform}::uuid) AS total,
                count(*) FILTER (WHERE u.tenant_id IS DISTINCT FROM ${platform}::uuid AND u.status = 'active') AS active,
                count(*) FILTER (WHERE u.tenant_id IS DISTINCT FROM ${platform}::uuid AND ${mfa}) AS with_mfa,
                count(*) FILTER (WHERE u.status = 'disabled') AS disabled,
                count(*) FILTER (WHERE u.locked_at IS NOT NULL AND (u.locked_until IS NULL OR u.locked_until > now())) AS locked,
                count(*) FILTER (WHERE u.tenant_id = ${platform}::uuid) AS ops,
                count(*) FILTER (WHERE u.tenant_id = ${platform}::uuid AND u.status = 'active') AS ops_active,
                count(*) FILTER (WHERE u.tenant_id = ${platform}::uuid AND ${mfa}) AS ops_mfa,
                count(*) FILTER (WHERE u.roles && ARRAY['tenant_admin', 'security_operator']::text[]) AS admins,
                count(*) FILTER (WHERE u.roles && ARRAY['tenant_admin', 'security_operator']::text[] AND ${mfa}) AS admins_mfa,
                count(*) FILTER (WHERE u.password_hash IS NOT NULL AND u.password_hash NOT LIKE '$argon2id$%') AS weak_hash
              FROM users u`,
        );
        const [t] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM user_totp WHERE secret_enc !~ ${ENCRYPTED_RE}`,
        );
        const byAuth = await grouped(
          tx,
          sql`SELECT auth_method AS k, count(*) AS n FROM apps WHERE status = 'active' GROUP BY auth_method`,
        );
        const [live] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM apps WHERE status = 'active' AND environment = 'live'`,
        );
        return {
          bootstrap: { started: Boolean(b), closed: Boolean(b?.closed_at), closedAt: date(b?.closed_at) },
          operators: { total: num(u?.ops), withMfa: num(u?.ops_mfa), active: num(u?.ops_active) },
          users: {
            total: num(u?.total),
            active: num(u?.active),
            withMfa: num(u?.with_mfa),
            lockedNow: num(u?.locked),
            disabled: num(u?.disabled),
          },
          adminRoleHolders: { total: num(u?.admins), withMfa: num(u?.admins_mfa) },
          nonArgon2Passwords: num(u?.weak_hash),
          plainTotpSecrets: num(t?.n),
          apps: {
            total: Object.values(byAuth).reduce((a, b) => a + b, 0),
            byAuthMethod: byAuth,
            live: num(live?.n),
          },
        };
      }),
    );
  }

  network(): Promise<NetworkFacts> {
    return this.once('network', () =>
      this.system(async (tx) => {
        const rules = await grouped(tx, sql`SELECT action AS k, count(*) AS n FROM ip_rules GROUP BY action`);
        const [blocks] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM ip_blocks WHERE revoked_at IS NULL AND expires_at > now()`,
        );
        return { ipRules: { allow: rules.allow ?? 0, deny: rules.deny ?? 0 }, activeBlocks: num(blocks?.n) };
      }),
    );
  }

  detection(): Promise<DetectionFacts | null> {
    return this.once('detection', () =>
      this.system(async (tx) => {
        if (!(await tableExists(tx, 'detection_alerts'))) return null;
        const now = this.now.getTime();
        const [a] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) FILTER (WHERE status = 'open') AS open,
                     count(*) FILTER (WHERE status = 'open' AND first_seen_at < ${new Date(now - DAY)}) AS stale,
                     count(*) FILTER (WHERE first_seen_at > ${new Date(now - 30 * DAY)}) AS recent
                FROM detection_alerts`,
        );
        const [i] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) FILTER (WHERE status NOT IN ('resolved', 'closed')) AS open,
                     count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS closed,
                     count(*) FILTER (WHERE personal_data_breach AND status NOT IN ('resolved', 'closed')
                        AND coalesce(breach_aware_at, detected_at) < ${new Date(now - 3 * DAY)}) AS breach_overdue
                FROM detection_incidents`,
        );
        const [p] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM detection_response_policies`,
        );
        return {
          openAlerts: num(a?.open),
          staleOpenAlerts: num(a?.stale),
          alerts30d: num(a?.recent),
          incidentsOpen: num(i?.open),
          incidentsClosed: num(i?.closed),
          breachClockOverdue: num(i?.breach_overdue),
          responsePolicies: num(p?.n),
        };
      }),
    );
  }

  payments(): Promise<PaymentsFacts> {
    return this.once('payments', () =>
      this.system(async (tx) => {
        const modes = await grouped(tx, sql`SELECT mode AS k, count(*) AS n FROM sca_settings GROUP BY mode`);
        // The RTS ceilings (Art. 16: EUR 30 single, EUR 100 cumulative, 5 consecutive), in minor units.
        const [above] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM sca_settings WHERE mode <> 'disabled'
                AND (low_value_limit > 3000 OR cumulative_limit > 10000 OR count_limit > 5)`,
        );
        const [approvals] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM sca_approvals`,
        );
        const sca = (await tableExists(tx, 'payments'))
          ? await grouped(tx, sql`SELECT sca_status AS k, count(*) AS n FROM payments GROUP BY sca_status`)
          : {};
        const [limits] = (await tableExists(tx, 'payment_limits'))
          ? await rows<{ n: string | number }>(tx, sql`SELECT count(*) AS n FROM payment_limits`)
          : [{ n: 0 }];
        return {
          scaSettings: {
            tenants: Object.values(modes).reduce((a, b) => a + b, 0),
            modes,
            aboveCeilings: num(above?.n),
          },
          scaApprovals: num(approvals?.n),
          paymentsByScaStatus: sca,
          paymentLimits: num(limits?.n),
        };
      }),
    );
  }

  webhooks(): Promise<WebhookFacts> {
    return this.once('webhooks', () =>
      this.system(async (tx) => {
        const [s] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) FILTER (WHERE active) AS subs,
                     count(*) FILTER (WHERE active AND url NOT LIKE 'https://%') AS plain
                FROM webhook_subscriptions`,
        );
        const [d] = await rows<{ n: string | number }>(
          tx,
          sql`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'dead'`,
        );
        return { subscriptions: num(s?.subs), nonHttps: num(s?.plain), dead: num(d?.n) };
      }),
    );
  }

  siem(): Promise<readonly CursorState[]> {
    return this.once('siem', () => cursorStates(this.sources.db));
  }

  privacy(): Promise<PrivacyFacts> {
    return this.once('privacy', () =>
      this.system(async (tx) => {
        const routes = this.routes;
        const wired = routes
          ? routes.some((r) => /\/privacy(\/|$)|\/data-requests|\/consents/.test(r.url))
          : null;
        const empty = {
          present: false,
          wired,
          requestsOpen: 0,
          requestsOverdue: 0,
          requestsCompleted: 0,
          erasures: 0,
          consentsGranted: 0,
          legalHolds: 0,
          retentionRuns30d: 0,
          lastRetentionRunAt: null,
        };
        if (!(await tableExists(tx, 'privacy_requests'))) return empty;
        const now = this.now;
        const [r] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) FILTER (WHERE status = 'received') AS open,
                     count(*) FILTER (WHERE status = 'received' AND coalesce(extended_due_at, due_at) < ${now}) AS overdue,
                     count(*) FILTER (WHERE status IN ('completed', 'partially_completed')) AS done,
                     count(*) FILTER (WHERE kind = 'erasure' AND status IN ('completed', 'partially_completed')) AS erasures
                FROM privacy_requests`,
        );
        const [c] = (await tableExists(tx, 'privacy_consents'))
          ? await rows<{ n: string | number }>(
              tx,
              sql`SELECT count(*) AS n FROM privacy_consents WHERE status = 'granted' AND (expires_at IS NULL OR expires_at > ${now})`,
            )
          : [{ n: 0 }];
        const [h] = (await tableExists(tx, 'privacy_legal_holds'))
          ? await rows<{ n: string | number }>(
              tx,
              sql`SELECT count(*) AS n FROM privacy_legal_holds WHERE released_at IS NULL`,
            )
          : [{ n: 0 }];
        const [runs] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) FILTER (WHERE occurred_at > ${new Date(now.getTime() - 30 * DAY)}) AS n, max(occurred_at) AS last
                FROM audit_log WHERE action LIKE 'privacy.retention.%'`,
        );
        return {
          present: true,
          wired,
          requestsOpen: num(r?.open),
          requestsOverdue: num(r?.overdue),
          requestsCompleted: num(r?.done),
          erasures: num(r?.erasures),
          consentsGranted: num(c?.n),
          legalHolds: num(h?.n),
          retentionRuns30d: num(runs?.n),
          lastRetentionRunAt: date(runs?.last),
        };
      }),
    );
  }

  /** Tables with a `tenant_id` column and row-level security off (invariant 2's second wall). */
  tablesWithoutRls(): Promise<{ tenantTables: number; without: string[] }> {
    return this.once('rls', () =>
      this.system(async (tx) => {
        const found = await rows<{ name: string; rls: boolean }>(
          tx,
          sql`SELECT c.relname AS name, c.relrowsecurity AS rls
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
               WHERE c.relkind = 'r' ORDER BY c.relname`,
        );
        return { tenantTables: found.length, without: found.filter((r) => !r.rls).map((r) => r.name) };
      }),
    );
  }

  risks(): Promise<RiskFacts> {
    return this.once('risks', () =>
      this.system(async (tx) => {
        if (!(await tableExists(tx, 'compliance_risks'))) return { total: 0, open: 0, overdue: 0, high: 0 };
        const [r] = await rows<Record<string, unknown>>(
          tx,
          sql`SELECT count(*) AS total,
                     count(*) FILTER (WHERE status <> 'closed') AS open,
                     count(*) FILTER (WHERE status <> 'closed' AND review_due < ${this.now}) AS overdue,
                     count(*) FILTER (WHERE status <> 'closed' AND likelihood * impact >= 15) AS high
                FROM compliance_risks`,
        );
        return { total: num(r?.total), open: num(r?.open), overdue: num(r?.overdue), high: num(r?.high) };
      }),
    );
  }
}
