/**
 * Who still calls deprecated routes. The request path only bumps an in-memory counter (a map
 * lookup); `flush` adds the counts to `api_deprecated_usage` — one upsert per (tenant, client,
 * route) touched since the last flush — so N instances add up rather than overwrite. Counts of an
 * instance that dies between flushes are lost: this is a contact list for route owners, not billing.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/index.ts';

export interface UsageCaller {
  readonly tenantId: string;
  readonly clientId: string;
  readonly partnerId?: string | undefined;
}

export interface UsageRow {
  readonly tenantId: string;
  readonly partnerId: string | null;
  readonly clientId: string;
  readonly method: string;
  readonly route: string;
  readonly calls: number;
  readonly refused: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
}

export interface UsageFilter {
  readonly tenantId?: string | undefined;
  readonly clientId?: string | undefined;
  readonly route?: string | undefined;
  readonly limit: number;
}

interface Pending {
  readonly tenantId: string;
  readonly partnerId: string | null;
  readonly clientId: string;
  readonly method: string;
  readonly route: string;
  calls: number;
  refused: number;
  firstSeen: number;
  lastSeen: number;
}

/** Most distinct (tenant, client, route) entries held between flushes; beyond it, flush early. */
const MAX_PENDING = 10_000;

export class DeprecatedUsage {
  private pending = new Map<string, Pending>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Database) {}

  /** Count one call (`refused`: answered 410 after the sunset). Never waits on the database. */
  record(caller: UsageCaller, method: string, route: string, at: number, refused: boolean): void {
    // HEAD is GET without the body; one row answers "who calls GET /v1/me".
    const m = method === 'HEAD' ? 'GET' : method;
    const key = `${caller.tenantId}\u0000${caller.clientId}\u0000${m}\u0000${route}`;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = {
        tenantId: caller.tenantId,
        partnerId: caller.partnerId ?? null,
        clientId: caller.clientId,
        method: m,
        route,
        calls: 0,
        refused: 0,
        firstSeen: at,
        lastSeen: at,
      };
      this.pending.set(key, entry);
      if (this.pending.size >= MAX_PENDING) void this.flush().catch(() => {});
    }
    if (refused) entry.refused += 1;
    else entry.calls += 1;
    entry.firstSeen = Math.min(entry.firstSeen, at);
    entry.lastSeen = Math.max(entry.lastSeen, at);
  }

  /** Add the counts gathered since the last flush to the table. Flushes run one at a time. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.write());
    this.flushing = run.catch(() => {});
    return run;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      // A system job across tenants (like the outbox relay): rows carry their own tenant_id.
      await this.db.asSystem(async (tx) => {
        for (const e of batch) {
          await tx.execute(
            sql`INSERT INTO api_deprecated_usage AS u
                  (tenant_id, partner_id, client_id, method, route, calls, refused, first_seen, last_seen)
                VALUES (${e.tenantId}, ${e.partnerId}, ${e.clientId}, ${e.method}, ${e.route}, ${e.calls},
                        ${e.refused}, ${new Date(e.firstSeen).toISOString()}, ${new Date(e.lastSeen).toISOString()})
                ON CONFLICT (tenant_id, client_id, method, route) DO UPDATE SET
                  calls = u.calls + excluded.calls,
                  refused = u.refused + excluded.refused,
                  partner_id = coalesce(excluded.partner_id, u.partner_id),
                  first_seen = least(u.first_seen, excluded.first_seen),
                  last_seen = greatest(u.last_seen, excluded.last_seen)`,
          );
        }
      });
    } catch (err) {
      // Put the counts back so the next flush carries them.
      for (const e of batch) this.merge(e);
      throw err;
    }
  }

  private merge(e: Pending): void {
    const key = `${e.tenantId}\u0000${e.clientId}\u0000${e.method}\u0000${e.route}`;
    const cur = this.pending.get(key);
    if (!cur) {
      this.pending.set(key, e);
      return;
    }
    cur.calls += e.calls;
    cur.refused += e.refused;
    cur.firstSeen = Math.min(cur.firstSeen, e.firstSeen);
    cur.lastSeen = Math.max(cur.lastSeen, e.lastSeen);
  }

  /** The recorded usage, most recently seen first (operators' view across tenants). */
  async list(filter: UsageFilter): Promise<UsageRow[]> {
    const where = [sql`true`];
    if (filter.tenantId) where.push(sql`tenant_id = ${filter.tenantId}`);
    if (filter.clientId) where.push(sql`client_id = ${filter.clientId}`);
    if (filter.route) where.push(sql`route = ${filter.route}`);
    const found = await this.db.asSystem((tx) =>
      rows<{
        tenant_id: string;
        partner_id: string | null;
        client_id: string;
        method: string;
        route: string;
        calls: string | number;
        refused: string | number;
        first_seen: string | Date;
        last_seen: string | Date;
      }>(
        tx,
        sql`SELECT tenant_id, partner_id, client_id, method, route, calls, refused, first_seen, last_seen
              FROM api_deprecated_usage
             WHERE ${sql.join(where, sql` AND `)}
             ORDER BY last_seen DESC, tenant_id, client_id, method, route
             LIMIT ${filter.limit}`,
      ),
    );
    return found.map((r) => ({
      tenantId: r.tenant_id,
      partnerId: r.partner_id,
      clientId: r.client_id,
      method: r.method,
      route: r.route,
      calls: Number(r.calls),
      refused: Number(r.refused),
      firstSeen: new Date(r.first_seen).toISOString(),
      lastSeen: new Date(r.last_seen).toISOString(),
    }));
  }
}
