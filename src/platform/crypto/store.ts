import { and, asc, eq, getTableColumns, gt, inArray, isNotNull, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { rows } from '../db/rows.ts';
import { dataKeys, signingKeys } from '../db/schema.ts';
import type { Tx } from '../db/types.ts';

/**
 * Persistence of data keys and signing keys: the only SQL of the crypto kernel. Data-key queries
 * run in the tenant's transaction and filter by tenant although row-level security would too;
 * signing-key queries touch platform keys (no tenant) and run as the system.
 */
export type DataKeyRow = typeof dataKeys.$inferSelect;
export type DataKeyPurpose = DataKeyRow['purpose'];
export type SigningKeyRow = typeof signingKeys.$inferSelect;

export interface Visible<T> {
  readonly row: T;
  /**
   * True when the transaction has written nothing yet, so every row it sees was committed by
   * another transaction (a row written in this one would need a transaction id assigned first).
   * Only such rows may be cached beyond the transaction: a key created in a transaction that then
   * rolls back must never encrypt anything.
   */
  readonly committed: boolean;
}

const committed = sql<boolean>`pg_current_xact_id_if_assigned() is null`.as('committed');

function visible<T extends { committed: boolean }>(
  r: T | undefined,
): Visible<Omit<T, 'committed'>> | undefined {
  if (!r) return undefined;
  const { committed: c, ...row } = r;
  return { row, committed: c === true };
}

// ---- data keys --------------------------------------------------------------------------------

export async function findActiveDataKey(
  tx: Tx,
  tenantId: string,
  scope: string,
  purpose: DataKeyPurpose,
): Promise<Visible<DataKeyRow> | undefined> {
  const [r] = await tx
    .select({ ...getTableColumns(dataKeys), committed })
    .from(dataKeys)
    .where(
      and(
        eq(dataKeys.tenantId, tenantId),
        eq(dataKeys.scope, scope),
        eq(dataKeys.purpose, purpose),
        eq(dataKeys.status, 'active'),
      ),
    );
  return visible(r);
}

export async function findDataKey(
  tx: Tx,
  tenantId: string,
  id: string,
): Promise<Visible<DataKeyRow> | undefined> {
  const [r] = await tx
    .select({ ...getTableColumns(dataKeys), committed })
    .from(dataKeys)
    .where(and(eq(dataKeys.tenantId, tenantId), eq(dataKeys.id, id)));
  return visible(r);
}

export async function scopeDestroyed(tx: Tx, tenantId: string, scope: string): Promise<boolean> {
  const [r] = await tx
    .select({ id: dataKeys.id })
    .from(dataKeys)
    .where(and(eq(dataKeys.tenantId, tenantId), eq(dataKeys.scope, scope), eq(dataKeys.status, 'destroyed')))
    .limit(1);
  return r !== undefined;
}

/**
 * Inserts a new active key unless the scope already has one. The partial unique index settles a
 * race between instances: the loser inserts nothing (after waiting for the winner to commit) and
 * reads the winner's key, without aborting its transaction.
 */
export async function insertDataKey(
  tx: Tx,
  row: Pick<DataKeyRow, 'id' | 'tenantId' | 'scope' | 'purpose' | 'kekId' | 'wrappedKey'>,
): Promise<boolean> {
  const inserted = await tx
    .insert(dataKeys)
    .values({ ...row, status: 'active' })
    .onConflictDoNothing({
      target: [dataKeys.tenantId, dataKeys.scope, dataKeys.purpose],
      where: sql`status = 'active'`,
    })
    .returning({ id: dataKeys.id });
  return inserted.length === 1;
}

export async function retireActiveDataKey(
  tx: Tx,
  tenantId: string,
  scope: string,
  purpose: DataKeyPurpose,
): Promise<void> {
  await tx
    .update(dataKeys)
    .set({ status: 'retired', retiredAt: sql`now()` })
    .where(
      and(
        eq(dataKeys.tenantId, tenantId),
        eq(dataKeys.scope, scope),
        eq(dataKeys.purpose, purpose),
        eq(dataKeys.status, 'active'),
      ),
    );
}

/** Crypto-shredding: the wrapped material is overwritten with NULL; the row remains as a tombstone. */
export async function destroyScope(tx: Tx, tenantId: string, scope: string): Promise<number> {
  const destroyed = await tx
    .update(dataKeys)
    .set({ status: 'destroyed', wrappedKey: null, kekId: null, destroyedAt: sql`now()` })
    .where(and(eq(dataKeys.tenantId, tenantId), eq(dataKeys.scope, scope), ne(dataKeys.status, 'destroyed')))
    .returning({ id: dataKeys.id });
  return destroyed.length;
}

/** System job: live data keys not wrapped by `kekId`, after `afterId`, locked for re-wrapping. */
export function dataKeysToRewrap(tx: Tx, kekId: string, afterId: string | undefined, limit: number) {
  return tx
    .select()
    .from(dataKeys)
    .where(
      and(
        ne(dataKeys.status, 'destroyed'),
        ne(dataKeys.kekId, kekId),
        afterId ? gt(dataKeys.id, afterId) : undefined,
      ),
    )
    .orderBy(asc(dataKeys.id))
    .limit(limit)
    .for('update');
}

export async function rewrapDataKey(tx: Tx, id: string, kekId: string, wrappedKey: string): Promise<void> {
  await tx
    .update(dataKeys)
    .set({ kekId, wrappedKey })
    .where(and(eq(dataKeys.id, id), ne(dataKeys.status, 'destroyed')));
}

// ---- signing keys (platform keys: tenant_id IS NULL) ------------------------------------------

const platform = isNull(signingKeys.tenantId);

/**
 * Serialises changes to one purpose's keys across instances for the rest of the transaction
 * (PostgreSQL advisory lock keyed by a hash of the purpose).
 */
export async function lockPurpose(tx: Tx, purpose: string): Promise<void> {
  await tx.execute(
    sql`SELECT pg_advisory_xact_lock(hashtextextended(${`bulwark.signing-key:${purpose}`}, 0))`,
  );
}

export async function insertSigningKey(tx: Tx, row: typeof signingKeys.$inferInsert): Promise<SigningKeyRow> {
  const [created] = await tx.insert(signingKeys).values(row).returning();
  return created!;
}

export async function activeSigningKey(tx: Tx, purpose: string): Promise<SigningKeyRow | undefined> {
  const [r] = await tx
    .select()
    .from(signingKeys)
    .where(and(platform, eq(signingKeys.purpose, purpose), eq(signingKeys.state, 'active')));
  return r;
}

/** Pending and active keys, and retired keys still inside their verification window. */
export function publishedSigningKeys(tx: Tx, purpose: string, now: Date): Promise<SigningKeyRow[]> {
  return tx
    .select()
    .from(signingKeys)
    .where(
      and(
        platform,
        eq(signingKeys.purpose, purpose),
        or(
          inArray(signingKeys.state, ['pending', 'active']),
          and(eq(signingKeys.state, 'retired'), gt(signingKeys.verifyUntil, now)),
        ),
      ),
    )
    .orderBy(asc(signingKeys.createdAt));
}

export function listSigningKeys(tx: Tx, purpose: string): Promise<SigningKeyRow[]> {
  return tx
    .select()
    .from(signingKeys)
    .where(and(platform, eq(signingKeys.purpose, purpose)))
    .orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
}

export async function findSigningKey(tx: Tx, kid: string): Promise<SigningKeyRow | undefined> {
  const [r] = await tx
    .select()
    .from(signingKeys)
    .where(and(platform, eq(signingKeys.kid, kid)));
  return r;
}

export async function oldestPendingBefore(
  tx: Tx,
  purpose: string,
  before: Date,
): Promise<SigningKeyRow | undefined> {
  const [r] = await tx
    .select()
    .from(signingKeys)
    .where(
      and(
        platform,
        eq(signingKeys.purpose, purpose),
        eq(signingKeys.state, 'pending'),
        lte(signingKeys.createdAt, before),
      ),
    )
    .orderBy(asc(signingKeys.createdAt))
    .limit(1);
  return r;
}

export async function retireActiveSigningKey(tx: Tx, purpose: string, at: Date, until: Date): Promise<void> {
  await tx
    .update(signingKeys)
    .set({ state: 'retired', retiredAt: at, verifyUntil: until })
    .where(and(platform, eq(signingKeys.purpose, purpose), eq(signingKeys.state, 'active')));
}

export async function activateSigningKey(tx: Tx, kid: string, at: Date): Promise<SigningKeyRow | undefined> {
  const [r] = await tx
    .update(signingKeys)
    .set({ state: 'active', activatedAt: at })
    .where(and(platform, eq(signingKeys.kid, kid), eq(signingKeys.state, 'pending')))
    .returning();
  return r;
}

/** Revocation deletes the private key for good; the public half stays on record (for audits). */
export async function revokeSigningKey(tx: Tx, kid: string, at: Date): Promise<SigningKeyRow | undefined> {
  const [r] = await tx
    .update(signingKeys)
    .set({ state: 'revoked', revokedAt: at, privateKey: null, kekId: null })
    .where(and(platform, eq(signingKeys.kid, kid), ne(signingKeys.state, 'revoked')))
    .returning();
  return r;
}

/** Retired keys past their window sign nothing and verify nothing: their private half goes. */
export async function pruneRetiredSigningKeys(tx: Tx, purpose: string, now: Date): Promise<number> {
  const pruned = await tx
    .update(signingKeys)
    .set({ privateKey: null, kekId: null })
    .where(
      and(
        platform,
        eq(signingKeys.purpose, purpose),
        eq(signingKeys.state, 'retired'),
        lte(signingKeys.verifyUntil, now),
        isNotNull(signingKeys.privateKey),
      ),
    )
    .returning({ kid: signingKeys.kid });
  return pruned.length;
}

export function signingKeysToRewrap(tx: Tx, kekId: string, afterKid: string | undefined, limit: number) {
  return tx
    .select()
    .from(signingKeys)
    .where(
      and(
        isNotNull(signingKeys.privateKey),
        ne(signingKeys.kekId, kekId),
        afterKid ? gt(signingKeys.kid, afterKid) : undefined,
      ),
    )
    .orderBy(asc(signingKeys.kid))
    .limit(limit)
    .for('update');
}

export async function rewrapSigningKey(
  tx: Tx,
  kid: string,
  kekId: string,
  privateKey: string,
): Promise<void> {
  await tx
    .update(signingKeys)
    .set({ kekId, privateKey })
    .where(and(eq(signingKeys.kid, kid), isNotNull(signingKeys.privateKey)));
}

// ---- both -------------------------------------------------------------------------------------

/** How many live keys each master key wraps: a master key may be removed once its count is zero. */
export async function kekUsage(tx: Tx): Promise<Map<string, { dataKeys: number; signingKeys: number }>> {
  const counts = await rows<{ kek_id: string; data_keys: number; signing_keys: number }>(
    tx,
    sql`SELECT kek_id, sum(d)::int AS data_keys, sum(s)::int AS signing_keys FROM (
          SELECT kek_id, 1 AS d, 0 AS s FROM data_keys WHERE kek_id IS NOT NULL
          UNION ALL
          SELECT kek_id, 0 AS d, 1 AS s FROM signing_keys WHERE kek_id IS NOT NULL
        ) k GROUP BY kek_id ORDER BY kek_id`,
  );
  return new Map(counts.map((c) => [c.kek_id, { dataKeys: c.data_keys, signingKeys: c.signing_keys }]));
}
