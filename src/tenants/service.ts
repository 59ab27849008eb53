import { appendAudit } from '../audit/index.ts';
import type { Database, Tx } from '../platform/db/index.ts';
import { isUniqueViolation } from '../platform/db/index.ts';
import { enqueue } from '../platform/events/index.ts';
import { randomToken, uuidv7 } from '../platform/ids.ts';
import { type AppCredentials, checkAppCredentials, type Jwks } from './credentials.ts';
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
export interface App extends AppCredentials {
  id: string;
  tenantId: string;
  partnerId: string;
  name: string;
  clientId: string;
  environment: 'sandbox' | 'live';
  status: 'active' | 'suspended';
  createdAt: string;
}
/** Who asked, for the audit record written with each change. */
export interface ActorContext {
  readonly actor: { readonly type: 'operator' | 'system' | 'user' | 'client'; readonly id: string };
  readonly requestId?: string | undefined;
}

const SYSTEM: ActorContext = { actor: { type: 'system', id: 'bulwark' } };

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}

const iso = <T extends { createdAt: Date }>(row: T): Omit<T, 'createdAt'> & { createdAt: string } => ({
  ...row,
  createdAt: row.createdAt.toISOString(),
});

function toApp(row: store.AppRow): App {
  const { jwks, tlsSubjectDn, grantTypes, ...rest } = iso(row);
  return {
    ...rest,
    grantTypes: grantTypes as App['grantTypes'],
    ...(jwks ? { jwks } : {}),
    ...(tlsSubjectDn ? { tlsSubjectDn } : {}),
  };
}

function page<T extends { id: string }>(rows: T[], limit: number): PageResult<T> {
  return { items: rows, nextCursor: rows.length === limit ? (rows.at(-1)?.id ?? null) : null };
}

/** The audit record of a change, appended last in its transaction (the chain lock is held until commit). */
function audit(
  tx: Tx,
  who: ActorContext,
  action: string,
  tenantId: string,
  object: { type: string; id: string },
  details?: Record<string, unknown>,
) {
  return appendAudit(tx, {
    actor: who.actor,
    action,
    tenantId,
    object,
    outcome: 'success',
    requestId: who.requestId,
    ...(details ? { details } : {}),
  });
}

/**
 * Tenants (insurers), their partners and the partners' apps. The bootstrap admin works across
 * tenants, so tenant creation and listing run as the system; everything inside a tenant runs in
 * that tenant's row-level-security scope. Each change writes its outbox event in its transaction.
 */
export class TenantService {
  constructor(private readonly db: Database) {}

  async createTenant(input: { slug: string; name: string }, who: ActorContext = SYSTEM): Promise<Tenant> {
    try {
      return await this.db.asSystem(async (tx) => {
        const row = await store.insertTenant(tx, { id: uuidv7(), slug: input.slug, name: input.name });
        const tenant = iso(row);
        await enqueue(tx, { topic: 'tenant.created', tenantId: row.id, payload: { tenant } });
        await audit(tx, who, 'admin.tenant.created', row.id, { type: 'tenant', id: row.id });
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

  async createPartner(
    tenantId: string,
    input: { name: string },
    who: ActorContext = SYSTEM,
  ): Promise<Partner> {
    try {
      return await this.db.withTenant(tenantId, async (tx) => {
        if (!(await store.findTenant(tx, tenantId))) throw new TenantError('TENANT_NOT_FOUND');
        const partner = iso(await store.insertPartner(tx, { id: uuidv7(), tenantId, name: input.name }));
        await enqueue(tx, { topic: 'partner.created', tenantId, payload: { partner } });
        await audit(tx, who, 'admin.partner.created', tenantId, { type: 'partner', id: partner.id });
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

  /**
   * Registers a partner app as an OAuth client. It authenticates with its own keys (private_key_jwt)
   * or certificate (mTLS); Bulwark holds no secret of it.
   */
  async createApp(
    tenantId: string,
    partnerId: string,
    input: { name: string; environment: 'sandbox' | 'live' } & AppCredentials,
    who: ActorContext = SYSTEM,
  ): Promise<App> {
    checkAppCredentials(input);
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await store.findPartner(tx, tenantId, partnerId))) throw new TenantError('PARTNER_NOT_FOUND');
      const row = await store.insertApp(tx, {
        id: uuidv7(),
        tenantId,
        partnerId,
        name: input.name,
        environment: input.environment,
        clientId: `bwk_${input.environment === 'live' ? 'live' : 'test'}_${randomToken(12)}`,
        authMethod: input.authMethod,
        jwks: input.jwks ?? null,
        tlsSubjectDn: input.tlsSubjectDn ?? null,
        redirectUris: input.redirectUris,
        grantTypes: input.grantTypes,
        scope: input.scope,
      });
      const app = toApp(row);
      await enqueue(tx, {
        topic: 'app.created',
        tenantId,
        payload: { appId: app.id, clientId: app.clientId },
      });
      await audit(
        tx,
        who,
        'admin.app.created',
        tenantId,
        { type: 'app', id: app.id },
        {
          clientId: app.clientId,
          authMethod: app.authMethod,
        },
      );
      return app;
    });
  }

  /** Replaces an app's keys or certificate subject: how a partner rotates its credentials. */
  async rotateAppCredentials(
    tenantId: string,
    partnerId: string,
    appId: string,
    input: { jwks?: Jwks | undefined; tlsSubjectDn?: string | undefined },
    who: ActorContext = SYSTEM,
  ): Promise<App> {
    return this.db.withTenant(tenantId, async (tx) => {
      const current = await store.findApp(tx, tenantId, partnerId, appId);
      if (!current) throw new TenantError('APP_NOT_FOUND');
      const next = {
        authMethod: current.authMethod,
        jwks: input.jwks ?? current.jwks ?? undefined,
        tlsSubjectDn: input.tlsSubjectDn ?? current.tlsSubjectDn ?? undefined,
        redirectUris: current.redirectUris,
        grantTypes: current.grantTypes as AppCredentials['grantTypes'],
        scope: current.scope,
      };
      checkAppCredentials(next);
      const row = await store.updateAppCredentials(tx, tenantId, appId, {
        jwks: next.jwks ?? null,
        tlsSubjectDn: next.tlsSubjectDn ?? null,
      });
      const app = toApp(row!);
      await enqueue(tx, {
        topic: 'app.credentials_rotated',
        tenantId,
        payload: { appId, clientId: app.clientId },
      });
      await audit(
        tx,
        who,
        'admin.app.credentials_rotated',
        tenantId,
        { type: 'app', id: appId },
        { clientId: app.clientId },
      );
      return app;
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
    return page(rows.map(toApp), limit);
  }
}
