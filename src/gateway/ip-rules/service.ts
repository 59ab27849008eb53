import type { Database, Tx } from '../../platform/db/index.ts';
import { isUniqueViolation } from '../../platform/db/index.ts';
import { enqueue } from '../../platform/events/index.ts';
import { isUuid, uuidv7 } from '../../platform/ids.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { TenantErrors } from '../../tenants/errors.ts';
import { Probe } from './address-set.ts';
import { type Cidr, canonicalIp, parseCidr } from './cidr.ts';
import { compileBlocks, compileScopeRules, type IpRulesEngine, judgeScope } from './engine.ts';
import { IpRulesError } from './errors.ts';
import { BLOCKS_LOCK, type MirroredBlocks, writeMirror } from './mirror.ts';
import * as store from './store.ts';
import {
  type IpBlock,
  type IpRule,
  type IpRuleAction,
  type IpScope,
  type IpScopeKind,
  scopeOf,
} from './types.ts';

/**
 * Size caps. `BlockList` checks are linear in the number of subnets (~1 µs per 200 here), and the
 * block set is re-read whole by every instance when it changes, so the lists stay short: longer
 * lists belong in a network firewall, not in an API gateway.
 */
export interface IpRulesLimits {
  /** Most rules per list (allow or deny) of one scope. */
  readonly rulesPerList: Readonly<Record<IpScopeKind, number>>;
  /** Most active temporary blocks of one scope. */
  readonly blocksPerScope: Readonly<Record<IpScopeKind, number>>;
  /** Most active temporary blocks over all scopes: the size of the mirrored set. */
  readonly blocksTotal: number;
  /** Longest temporary block; anything longer is a deny rule. */
  readonly maxTtlSeconds: number;
}

export const DEFAULT_LIMITS: IpRulesLimits = {
  rulesPerList: { platform: 500, tenant: 200, app: 100 },
  blocksPerScope: { platform: 1_000, tenant: 200, app: 100 },
  blocksTotal: 2_000,
  maxTtlSeconds: 30 * 86_400,
};

export interface IpRulesServiceOptions {
  readonly db: Database;
  /** The KV store the engines read the block mirror from. */
  readonly kv: Kv;
  /** This instance's engine, to apply a change here before the call returns. */
  readonly engine?: IpRulesEngine | undefined;
  readonly now?: (() => number) | undefined;
  readonly limits?: Partial<IpRulesLimits> | undefined;
}

export interface GuardOptions {
  /**
   * The address the change is made from. A platform change that would refuse it is itself refused
   * (`IP_RULE_LOCKOUT`): platform rules also guard the admin API, and an operator who blocks
   * themselves can only undo it from elsewhere.
   */
  readonly guardIp?: string | undefined;
}

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}

/** Reasons, notes and actors are shown to operators and exported to SIEMs: one line of text. */
const TEXT = /^[^\p{Cc}\s](?:[^\p{Cc}]*[^\p{Cc}\s])?$/u;
const MAX_TEXT = 500;

function checkText(name: string, value: string): void {
  if (typeof value !== 'string' || value.length > MAX_TEXT || !TEXT.test(value)) {
    throw new RangeError(`${name} must be 1-${MAX_TEXT} characters of one line, without surrounding spaces`);
  }
}

function cidrOf(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new IpRulesError('IP_CIDR_INVALID');
  return cidr;
}

const iso = (d: Date) => d.toISOString();

function scopeFields(tenantId: string | null, clientId: string | null) {
  return {
    scope: scopeOf(tenantId, clientId).kind,
    ...(tenantId !== null ? { tenantId } : {}),
    ...(clientId !== null ? { clientId } : {}),
  };
}

function toRule(row: store.RuleRow): IpRule {
  return {
    id: row.id,
    ...scopeFields(row.tenantId, row.clientId),
    action: row.action,
    cidr: row.cidr,
    ...(row.note !== null ? { note: row.note } : {}),
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}

function toBlock(row: store.BlockRow): IpBlock {
  return {
    id: row.id,
    ...scopeFields(row.tenantId, row.clientId),
    cidr: row.cidr,
    reason: row.reason,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    expiresAt: iso(row.expiresAt),
    ...(row.revokedAt !== null ? { revokedAt: iso(row.revokedAt) } : {}),
    ...(row.revokedBy !== null ? { revokedBy: row.revokedBy } : {}),
  };
}

const tenantOf = (scope: IpScope) => (scope.kind === 'platform' ? null : scope.tenantId);
const clientOf = (scope: IpScope) => (scope.kind === 'app' ? scope.clientId : null);
const listLock = (scope: IpScope) =>
  scope.kind === 'platform'
    ? 'ip_rules:platform'
    : scope.kind === 'tenant'
      ? `ip_rules:tenant:${scope.tenantId}`
      : `ip_rules:app:${scope.tenantId}:${scope.clientId}`;

/**
 * IP allow/deny rules and temporary blocks: what operators manage through the admin API and what
 * the detection module calls (`blockIp`). Tenant and app rules are written in the tenant's
 * row-level-security scope; platform rules, and blocks of every scope (an operator's or a
 * detector's cross-tenant act, which must also rewrite the whole mirrored set), as the system.
 * Every change writes its outbox event in its transaction.
 */
export class IpRulesService {
  private readonly db: Database;
  private readonly kv: Kv;
  private readonly engine: IpRulesEngine | undefined;
  private readonly now: () => number;
  readonly limits: IpRulesLimits;

  constructor(options: IpRulesServiceOptions) {
    this.db = options.db;
    this.kv = options.kv;
    this.engine = options.engine;
    this.now = options.now ?? Date.now;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  // ---- rules ----------------------------------------------------------------------------------

  /** The platform's rules (`tenantId` null), or a tenant's — all of them, or one app's. */
  async listRules(tenantId: string | null, clientId?: string): Promise<IpRule[]> {
    if (tenantId === null)
      return (await this.db.asSystem((tx) => store.listRules(tx, { tenantId }))).map(toRule);
    const rows = await this.db.withTenant(tenantId, async (tx) => {
      await this.checkScope(
        tx,
        clientId === undefined ? { kind: 'tenant', tenantId } : { kind: 'app', tenantId, clientId },
      );
      return store.listRules(tx, { tenantId, clientId });
    });
    return rows.map(toRule);
  }

  /**
   * Adds an allow or deny rule to a scope. The CIDR is normalised: host bits are cleared
   * (`192.0.2.7/24` is stored as `192.0.2.0/24`) and an IPv4-mapped block becomes IPv4.
   */
  async addRule(
    scope: IpScope,
    input: { readonly action: IpRuleAction; readonly cidr: string; readonly note?: string | undefined },
    actor: string,
    options: GuardOptions = {},
  ): Promise<IpRule> {
    checkText('actor', actor);
    if (input.note !== undefined) checkText('note', input.note);
    const cidr = cidrOf(input.cidr);
    let rule: IpRule;
    try {
      rule = await this.inScope(scope, async (tx) => {
        await this.checkScope(tx, scope);
        await store.lock(tx, listLock(scope));
        if ((await store.countRules(tx, scope, input.action)) >= this.limits.rulesPerList[scope.kind]) {
          throw new IpRulesError('IP_LIST_FULL');
        }
        const row = await store.insertRule(tx, {
          id: uuidv7(this.now()),
          tenantId: tenantOf(scope),
          clientId: clientOf(scope),
          action: input.action,
          cidr: cidr.text,
          note: input.note ?? null,
          createdBy: actor,
          createdAt: new Date(this.now()),
        });
        if (scope.kind === 'platform' && options.guardIp !== undefined) {
          await this.guardPlatform(tx, options.guardIp);
        }
        const created = toRule(row);
        await enqueue(tx, {
          topic: 'ip_rule.created',
          tenantId: tenantOf(scope),
          payload: { rule: created, actor },
        });
        return created;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new IpRulesError('IP_RULE_DUPLICATE');
      throw err;
    }
    await this.engine?.rulesChanged(scope);
    return rule;
  }

  /** Deletes a rule of the platform (`tenantId` null) or of the tenant (tenant-wide or an app's). */
  async deleteRule(
    tenantId: string | null,
    ruleId: string,
    actor: string,
    options: GuardOptions = {},
  ): Promise<IpRule> {
    checkText('actor', actor);
    if (!isUuid(ruleId)) throw new IpRulesError('IP_RULE_NOT_FOUND');
    const scope: IpScope = tenantId === null ? { kind: 'platform' } : { kind: 'tenant', tenantId };
    const rule = await this.inScope(scope, async (tx) => {
      if (tenantId === null) await store.lock(tx, listLock(scope));
      else await this.checkScope(tx, scope);
      const row = await store.deleteRule(tx, tenantId, ruleId);
      if (!row) throw new IpRulesError('IP_RULE_NOT_FOUND');
      // Removing an allow rule can shut out whoever the list still admitted.
      if (tenantId === null && options.guardIp !== undefined) await this.guardPlatform(tx, options.guardIp);
      const deleted = toRule(row);
      await enqueue(tx, { topic: 'ip_rule.deleted', tenantId, payload: { rule: deleted, actor } });
      return deleted;
    });
    await this.engine?.rulesChanged(scopeOf(rule.tenantId ?? null, rule.clientId ?? null));
    return rule;
  }

  // ---- temporary blocks -----------------------------------------------------------------------

  /**
   * Blocks `cidr` in `scope` for `ttlSeconds`, because of `reason`, on behalf of `actor`
   * (`operator:<who>`, `detection:<detector>`). The block is recorded in the database (its history
   * stays there after it ends) and the mirrored set is rewritten in the same transaction, so every
   * instance refuses the block's addresses from its next request on. To block one client, pass
   * `clientCidr(ip)`: IPv6 clients are blocked per /64, as they are rate-limited.
   */
  async blockIp(
    scope: IpScope,
    cidr: string,
    ttlSeconds: number,
    reason: string,
    actor: string,
    options: GuardOptions = {},
  ): Promise<IpBlock> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > this.limits.maxTtlSeconds) {
      throw new RangeError(`ttlSeconds must be a whole number from 1 to ${this.limits.maxTtlSeconds}`);
    }
    checkText('reason', reason);
    checkText('actor', actor);
    const parsed = cidrOf(cidr);
    const now = this.now();
    const { block, mirror } = await this.db.asSystem(async (tx) => {
      await this.checkScope(tx, scope);
      await store.lock(tx, BLOCKS_LOCK);
      const at = new Date(now);
      if (
        (await store.countActiveBlocks(tx, scope, at)) >= this.limits.blocksPerScope[scope.kind] ||
        (await store.countActiveBlocks(tx, 'all', at)) >= this.limits.blocksTotal
      ) {
        throw new IpRulesError('IP_LIST_FULL');
      }
      const row = await store.insertBlock(tx, {
        id: uuidv7(now),
        tenantId: tenantOf(scope),
        clientId: clientOf(scope),
        cidr: parsed.text,
        reason,
        createdBy: actor,
        createdAt: at,
        expiresAt: new Date(now + ttlSeconds * 1000),
      });
      if (scope.kind === 'platform' && options.guardIp !== undefined) {
        await this.guardPlatform(tx, options.guardIp);
      }
      const created = toBlock(row);
      await enqueue(tx, {
        topic: 'ip_block.created',
        tenantId: tenantOf(scope),
        payload: { block: created },
      });
      // Last, so nothing after it can roll the block back once the other instances see it.
      return { block: created, mirror: await this.mirror(tx, at) };
    });
    this.engine?.blocksChanged(mirror);
    return block;
  }

  /** Ends an active block now. */
  async unblock(blockId: string, actor: string): Promise<IpBlock> {
    checkText('actor', actor);
    if (!isUuid(blockId)) throw new IpRulesError('IP_BLOCK_NOT_FOUND');
    const now = new Date(this.now());
    const { block, mirror } = await this.db.asSystem(async (tx) => {
      await store.lock(tx, BLOCKS_LOCK);
      const row = await store.revokeBlock(tx, blockId, actor, now);
      if (!row) throw new IpRulesError('IP_BLOCK_NOT_FOUND');
      const revoked = toBlock(row);
      await enqueue(tx, { topic: 'ip_block.revoked', tenantId: row.tenantId, payload: { block: revoked } });
      return { block: revoked, mirror: await this.mirror(tx, now) };
    });
    this.engine?.blocksChanged(mirror);
    return block;
  }

  /** Blocks of every scope, newest first: the active ones, or the whole history. */
  async listBlocks(filter: {
    readonly state: 'active' | 'all';
    readonly limit: number;
    readonly after?: string | undefined;
  }): Promise<PageResult<IpBlock>> {
    const rows = await this.db.asSystem((tx) =>
      store.listBlocks(tx, {
        activeOnly: filter.state === 'active',
        now: new Date(this.now()),
        limit: filter.limit,
        after: filter.after,
      }),
    );
    return {
      items: rows.map(toBlock),
      nextCursor: rows.length === filter.limit ? (rows.at(-1)?.id ?? null) : null,
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  private inScope<T>(scope: IpScope, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return scope.kind === 'platform' ? this.db.asSystem(fn) : this.db.withTenant(scope.tenantId, fn);
  }

  /** The tenant, and the app within it, must exist (and, under RLS, be the transaction's own). */
  private async checkScope(tx: Tx, scope: IpScope): Promise<void> {
    if (scope.kind === 'platform') return;
    if (!isUuid(scope.tenantId) || !(await store.tenantExists(tx, scope.tenantId))) {
      throw new IpRulesError(TenantErrors.TENANT_NOT_FOUND);
    }
    if (scope.kind === 'app' && !(await store.appExists(tx, scope.tenantId, scope.clientId))) {
      throw new IpRulesError(TenantErrors.APP_NOT_FOUND);
    }
  }

  /** Refuses (rolling the transaction back) when the platform rules and blocks would refuse `ip`. */
  private async guardPlatform(tx: Tx, ip: string): Promise<void> {
    const now = this.now();
    const rules = compileScopeRules(await store.ruleRecords(tx, null)).scope;
    const blocks = compileBlocks(undefined, await store.activeBlockRecords(tx, new Date(now)), now).platform;
    if (judgeScope(rules, blocks, new Probe(canonicalIp(ip)))) throw new IpRulesError('IP_RULE_LOCKOUT');
  }

  /** Rewrites the mirror from this transaction (which holds the blocks lock). */
  private async mirror(tx: Tx, now: Date): Promise<MirroredBlocks> {
    const blocks = await store.activeBlockRecords(tx, now);
    try {
      return await writeMirror(this.kv, blocks);
    } catch {
      // Unmirrored, the block would be in the database but refused nowhere: roll it back instead.
      throw new IpRulesError('IP_RULES_UNAVAILABLE');
    }
  }
}
