import { createHash } from 'node:crypto';
import type { Database } from '../platform/db/index.ts';
import { isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { randomToken, uuidv7 } from '../platform/ids.ts';
import { TenantError } from './errors.ts';
import * as store from './store.ts';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}
export interface Partner {
  id: string;
  tenantId: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}
export interface App {
  id: string;
  tenantId: string;
  partnerId: string;
  name: string;
  clientId: string;
  environment: 'sandbox' | 'live';
  status: 'active' | 'suspended';
  createdAt: string;
}
export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}

const iso = <T extends { createdAt: Date }>(row: T): Omit<T, 'createdAt'> & { createdAt: string } => ({
  ...row,
  createdAt: row.createdAt.toISOString(),
});

function page<T extends { id: string }>(rows: T[], limit: number): PageResult<T> {
  return { items: rows, nextCursor: rows.length === limit ? (rows.at(-1)?.id ?? null) : null };
}

export const hashClientSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * Tenants (insurers), their partners and the partners' apps. The bootstrap admin works across
 * tenants, so tenant creation and listing run as the system; everything inside a tenant runs in
 * that tenant's row-level-security scope. Each change writes its outbox event in its transaction.
 */
export class TenantService {
  constructor(private readonly db: Database) {}

  async createTenant(input: { slug: string; name: string }): Promise<Tenant> {
    try {
      return await this.db.asSystem(async (tx) => {
        const row = await store.insertTenant(tx, { id: uuidv7(), slug: input.slug, name: input.name });
        const tenant = iso(row);
        await enqueue(tx, { topic: 'tenant.created', tenantId: row.id, payload: { tenant } });
        return tenant;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new TenantError('TENANT_SLUG_TAKEN');
      throw err;
    }
  }

  async listTenants(limit: number, after?: string): Promise<PageResult<Tenant>> {
    const rows = await this.db.asSystem((tx) => store.listTenants(tx, { limit, after }));
    return page(rows.map(iso), limit);
  }

  async getTenant(tenantId: string): Promise<Tenant> {
    const row = await this.db.withTenant(tenantId, (tx) => store.findTenant(tx, tenantId));
    if (!row) throw new TenantError('TENANT_NOT_FOUND');
    return iso(row);
  }

  async findTenantBySlug(slug: string): Promise<Tenant | undefined> {
    const row = await this.db.asSystem((tx) => store.findTenantBySlug(tx, slug));
    return row && iso(row);
  }

  async createPartner(tenantId: string, input: { name: string }): Promise<Partner> {
    try {
      return await this.db.withTenant(tenantId, async (tx) => {
        if (!(await store.findTenant(tx, tenantId))) throw new TenantError('TENANT_NOT_FOUND');
        const partner = iso(await store.insertPartner(tx, { id: uuidv7(), tenantId, name: input.name }));
        await enqueue(tx, { topic: 'partner.created', tenantId, payload: { partner } });
        return partner;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new TenantError('PARTNER_NAME_TAKEN');
      throw err;
    }
  }

  async listPartners(tenantId: string, limit: number, after?: string): Promise<PageResult<Partner>> {
    const rows = await this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findTenant(tx, tenantId))) throw new TenantError('TENANT_NOT_FOUND');
      return store.listPartners(tx, tenantId, { limit, after });
    });
    return page(rows.map(iso), limit);
  }

  async findPartnerByName(tenantId: string, name: string): Promise<Partner | undefined> {
    const row = await this.db.withTenant(tenantId, (tx) => store.findPartnerByName(tx, tenantId, name));
    return row && iso(row);
  }

  /** Registers an app; its client secret is returned this once and only its hash is kept. */
  async createApp(
    tenantId: string,
    partnerId: string,
    input: { name: string; environment: 'sandbox' | 'live' },
  ): Promise<{ app: App; clientSecret: string }> {
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findPartner(tx, tenantId, partnerId))) throw new TenantError('PARTNER_NOT_FOUND');
      const clientSecret = randomToken(32);
      const row = await store.insertApp(tx, {
        id: uuidv7(),
        tenantId,
        partnerId,
        name: input.name,
        environment: input.environment,
        clientId: `bwk_${input.environment === 'live' ? 'live' : 'test'}_${randomToken(12)}`,
        secretHash: hashClientSecret(clientSecret),
      });
      const app = iso(row);
      await enqueue(tx, { topic: 'app.created', tenantId, payload: { app } });
      return { app, clientSecret };
    });
  }

  async listApps(
    tenantId: string,
    partnerId: string,
    limit: number,
    after?: string,
  ): Promise<PageResult<App>> {
    const rows = await this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findPartner(tx, tenantId, partnerId))) throw new TenantError('PARTNER_NOT_FOUND');
      return store.listApps(tx, tenantId, partnerId, { limit, after });
    });
    return page(rows.map(iso), limit);
  }
}
