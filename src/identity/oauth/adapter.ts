import { and, eq, lt, sql } from 'drizzle-orm';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Database } from '../../platform/db/index.ts';
import { oidcModels } from '../schema.ts';
import { type ClientLookup, clientMetadata } from './clients.ts';

/** Models whose records may be revoked together through their grant (oidc-provider's contract). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/**
 * oidc-provider storage on our database: every model in `oidc_models`, in system transactions
 * (the authorization server spans tenants). Clients are not stored here: they are the partner
 * apps registered through the admin API and are read from `apps`. Nothing lives in memory, so any
 * instance can continue what another started.
 */
export function adapterFactory(db: Database, clients: ClientLookup) {
  return class DbAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are registered through the admin API');
      const row = {
        model: this.model,
        id,
        payload: payload as Record<string, unknown>,
        grantId: GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      await db.asSystem((tx) =>
        tx
          .insert(oidcModels)
          .values(row)
          .onConflictDoUpdate({
            target: [oidcModels.model, oidcModels.id],
            set: {
              payload: row.payload,
              grantId: row.grantId,
              userCode: row.userCode,
              uid: row.uid,
              expiresAt: row.expiresAt,
            },
          }),
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clientMetadata(await clients(id));
      return this.findBy(eq(oidcModels.id, id));
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findBy(eq(oidcModels.uid, uid));
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.findBy(eq(oidcModels.userCode, userCode));
    }

    private async findBy(where: ReturnType<typeof eq>): Promise<AdapterPayload | undefined> {
      const [row] = await db.asSystem((tx) =>
        tx
          .select()
          .from(oidcModels)
          .where(and(eq(oidcModels.model, this.model), where)),
      );
      if (!row || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return undefined;
      return {
        ...(row.payload as AdapterPayload),
        ...(row.consumedAt ? { consumed: Math.floor(row.consumedAt.getTime() / 1000) } : {}),
      };
    }

    async consume(id: string): Promise<void> {
      await db.asSystem((tx) =>
        tx
          .update(oidcModels)
          .set({ consumedAt: new Date() })
          .where(and(eq(oidcModels.model, this.model), eq(oidcModels.id, id))),
      );
    }

    async destroy(id: string): Promise<void> {
      await db.asSystem((tx) =>
        tx.delete(oidcModels).where(and(eq(oidcModels.model, this.model), eq(oidcModels.id, id))),
      );
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.asSystem((tx) => tx.delete(oidcModels).where(eq(oidcModels.grantId, grantId)));
    }
  };
}

/** Delete expired records (codes, sessions, interactions, tokens). Run periodically by any instance. */
export async function pruneExpired(db: Database): Promise<number> {
  const deleted = await db.asSystem((tx) =>
    tx.delete(oidcModels).where(lt(oidcModels.expiresAt, sql`now()`)).returning({ id: oidcModels.id }),
  );
  return deleted.length;
}
