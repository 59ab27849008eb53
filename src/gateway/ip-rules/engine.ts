import type { FastifyRequest } from 'fastify';
import type { Database } from '../../platform/db/index.ts';
import type { EventBus, Unsubscribe } from '../../platform/events/index.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { AddressSet, Probe, type SetEntry } from './address-set.ts';
import { canonicalIp, parseCidr } from './cidr.ts';
import { type MirroredBlocks, readGeneration, readMirror, rebuildMirror } from './mirror.ts';
import { ruleRecords } from './store.ts';
import type { BlockRecord, IpDecision, IpScope, RuleRecord } from './types.ts';

/** Where the engine reads rules and rebuilds the block mirror from; the database in production. */
export interface RuleSource {
  /** The platform's rules (`null`), or one tenant's rules together with its apps'. */
  rules(tenantId: string | null): Promise<readonly RuleRecord[]>;
  /** Rebuilds the KV mirror of the active blocks from the source of truth, and returns it. */
  rebuildBlocks(): Promise<MirroredBlocks>;
}

/** Platform rules as the system; a tenant's under its row-level security, the second wall. */
export function databaseRuleSource(db: Database, kv: Kv, now: () => number = Date.now): RuleSource {
  return {
    rules: (tenantId) =>
      tenantId === null
        ? db.asSystem((tx) => ruleRecords(tx, null))
        : db.withTenant(tenantId, (tx) => ruleRecords(tx, tenantId)),
    rebuildBlocks: () => rebuildMirror(db, kv, now),
  };
}

/** The slice of a pino logger the engine uses. */
export interface IpRulesLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface IpRulesEngineOptions {
  readonly source: RuleSource;
  /** Where the block mirror lives: memory on the embedded default, Redis across instances. */
  readonly kv: Kv;
  /** Rule changes arrive as `ip_rule.*` events; without a bus, only `refreshMs` picks them up. */
  readonly bus?: EventBus | undefined;
  readonly logger?: IpRulesLogger | undefined;
  readonly now?: (() => number) | undefined;
  /**
   * How old the view of the block mirror may be when a request is judged. 0 (the default): every
   * request confirms the generation with the KV store — one GET, shared by all requests waiting at
   * that moment — so a block set on any instance applies to the next request everywhere. Raise it
   * to trade that immediacy for no KV round trip on most requests.
   */
  readonly maxStalenessMs?: number | undefined;
  /**
   * Compiled rules older than this are reloaded in the background (serving the old ones meanwhile):
   * the backstop should an `ip_rule.*` event be missed. Default 60 s.
   */
  readonly refreshMs?: number | undefined;
  /** Tenants whose compiled rules are kept; beyond it the oldest-loaded are dropped. Default 10,000. */
  readonly maxCachedTenants?: number | undefined;
  /** Every refusal, for the audit and detection feed. */
  readonly onDecision?: ((decision: IpDecision, req: FastifyRequest) => void) | undefined;
}

/** Thrown by `checkPrincipal` when a tenant's rules cannot be loaded: the request must not pass unjudged. */
export class IpRulesUnavailableError extends Error {
  override readonly name = 'IpRulesUnavailableError';
}

interface ScopeLists {
  readonly deny: AddressSet;
  readonly allow: AddressSet;
}

const NO_RULES: ScopeLists = { deny: AddressSet.EMPTY, allow: AddressSet.EMPTY };

interface TenantRules {
  readonly tenant: ScopeLists;
  readonly apps: ReadonlyMap<string, ScopeLists>;
  checkedAt: number;
}

interface CompiledBlocks {
  readonly generation: string | undefined;
  /** Every record received, expired ones included: they are dropped when the set is recompiled. */
  readonly records: readonly BlockRecord[];
  readonly platform: AddressSet;
  readonly tenants: ReadonlyMap<string, AddressSet>;
  /** Keyed by `appKey`. */
  readonly apps: ReadonlyMap<string, AddressSet>;
  /** The earliest expiry among the compiled blocks: the set is recompiled when it passes. */
  readonly nextExpiry: number;
}

interface TenantLoad {
  stale: boolean;
  promise?: Promise<TenantRules>;
}

/** Client ids are free text to this module; a separator no id contains keeps keys unambiguous. */
const appKey = (tenantId: string, clientId: string) => `${tenantId}\u0000${clientId}`;

function entryOf(record: { id: string; cidr: string }): SetEntry {
  const cidr = parseCidr(record.cidr);
  // The database column is `cidr`, so this means a corrupt row: refuse to compile rather than
  // silently drop a deny rule (or narrow an allow list).
  if (!cidr) throw new Error(`ip rule ${record.id} holds an invalid cidr`);
  return { id: record.id, cidr };
}

function compileLists(records: readonly RuleRecord[]): ScopeLists {
  if (records.length === 0) return NO_RULES;
  const deny = records.filter((r) => r.action === 'deny').map(entryOf);
  const allow = records.filter((r) => r.action === 'allow').map(entryOf);
  return {
    deny: deny.length ? new AddressSet(deny) : AddressSet.EMPTY,
    allow: allow.length ? new AddressSet(allow) : AddressSet.EMPTY,
  };
}

/** The rules of one scope level: `records` must all be platform rules, or all of one tenant. */
export function compileScopeRules(records: readonly RuleRecord[]): {
  scope: ScopeLists;
  apps: Map<string, ScopeLists>;
} {
  const byApp = new Map<string, RuleRecord[]>();
  const own: RuleRecord[] = [];
  for (const r of records) {
    if (r.clientId === null) own.push(r);
    else byApp.set(r.clientId, [...(byApp.get(r.clientId) ?? []), r]);
  }
  const apps = new Map<string, ScopeLists>();
  for (const [clientId, list] of byApp) apps.set(clientId, compileLists(list));
  return { scope: compileLists(own), apps };
}

export function compileBlocks(
  generation: string | undefined,
  records: readonly BlockRecord[],
  now: number,
): CompiledBlocks {
  const platform: SetEntry[] = [];
  const tenants = new Map<string, SetEntry[]>();
  const apps = new Map<string, SetEntry[]>();
  let nextExpiry = Number.POSITIVE_INFINITY;
  for (const b of records) {
    if (b.expiresAt <= now) continue;
    nextExpiry = Math.min(nextExpiry, b.expiresAt);
    const entry = entryOf(b);
    if (b.tenantId === null) platform.push(entry);
    else if (b.clientId === null) tenants.set(b.tenantId, [...(tenants.get(b.tenantId) ?? []), entry]);
    else {
      const key = appKey(b.tenantId, b.clientId);
      apps.set(key, [...(apps.get(key) ?? []), entry]);
    }
  }
  const sets = (m: Map<string, SetEntry[]>) => new Map([...m].map(([k, v]) => [k, new AddressSet(v)]));
  return {
    generation,
    records,
    platform: platform.length ? new AddressSet(platform) : AddressSet.EMPTY,
    tenants: sets(tenants),
    apps: sets(apps),
    nextExpiry,
  };
}

type Verdict = { readonly rule: IpDecision['rule']; readonly ruleId: string | null };

/** One scope's judgement: its deny rules, then its blocks, then its allow list. */
export function judgeScope(
  lists: ScopeLists,
  blocks: AddressSet | undefined,
  probe: Probe,
): Verdict | undefined {
  if (lists.deny.has(probe)) return { rule: 'deny', ruleId: lists.deny.find(probe) };
  if (blocks?.has(probe)) return { rule: 'temporary-block', ruleId: blocks.find(probe) };
  if (lists.allow.size > 0 && !lists.allow.has(probe)) return { rule: 'allow-list', ruleId: null };
  return undefined;
}

/**
 * The IP rules of every scope, compiled for the request path. Lookups are synchronous hash and
 * `BlockList` checks on sets compiled ahead; nothing on the request path parses a rule or touches
 * the database, except the first request of a tenant whose rules are not loaded yet.
 *
 *  - Platform rules: loaded at start, reloaded when an `ip_rule.*` event without tenant arrives.
 *  - Tenant (and app) rules: loaded on the tenant's first request, dropped on its `ip_rule.*` event.
 *  - Temporary blocks: the KV mirror (see mirror.ts), checked per `maxStalenessMs`; an expired
 *    block stops applying at its expiry without anyone having to remove it.
 */
export class IpRulesEngine {
  private readonly source: RuleSource;
  private readonly kv: Kv;
  private readonly logger: IpRulesLogger | undefined;
  private readonly now: () => number;
  private readonly maxStalenessMs: number;
  private readonly refreshMs: number;
  private readonly maxCachedTenants: number;
  private readonly onDecision: IpRulesEngineOptions['onDecision'];

  private platform: ScopeLists = NO_RULES;
  private platformCheckedAt = 0;
  private platformLoad: Promise<void> | undefined;
  /** A change was announced while `platformLoad` was reading: read again before resolving. */
  private platformDirty = false;
  /** Read order of platform loads, so an older read finishing late never replaces a newer one. */
  private platformReads = 0;
  private platformApplied = 0;
  private readonly tenants = new Map<string, TenantRules>();
  private readonly loading = new Map<string, TenantLoad>();
  private blocks: CompiledBlocks = compileBlocks(undefined, [], 0);
  private syncedAt = Number.NEGATIVE_INFINITY;
  private syncing: Promise<void> | undefined;
  private syncFailing = false;
  /** Bumped when this instance adopts a set it wrote itself; a sync begun before must not undo it. */
  private blocksEpoch = 0;
  private unsubscribe: Unsubscribe | undefined;
  private closed = false;

  constructor(private readonly options: IpRulesEngineOptions) {
    this.source = options.source;
    this.kv = options.kv;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.maxStalenessMs = options.maxStalenessMs ?? 0;
    this.refreshMs = options.refreshMs ?? 60_000;
    this.maxCachedTenants = options.maxCachedTenants ?? 10_000;
    this.onDecision = options.onDecision;
    if (!(this.maxStalenessMs >= 0) || !(this.refreshMs > 0) || !(this.maxCachedTenants >= 1)) {
      throw new Error('ip rules engine: maxStalenessMs >= 0, refreshMs > 0 and maxCachedTenants >= 1');
    }
  }

  /**
   * Subscribes, then loads the platform rules and the block set (rebuilding the mirror from the
   * database, which also reconciles it with the database at every start). Subscribing first means
   * no change can slip between the load and the subscription.
   */
  async start(): Promise<void> {
    // Not durable: every instance must hear every change, not share them out.
    this.unsubscribe = await this.options.bus?.subscribe('ip_rule.*', async (event) => {
      if (event.tenantId === null) await this.reloadPlatform();
      else this.dropTenant(event.tenantId);
    });
    try {
      await this.loadPlatform();
      this.adopt(await this.source.rebuildBlocks());
      this.syncedAt = this.now();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.unsubscribe?.();
  }

  // ---- the request path -----------------------------------------------------------------------

  /** Whether the block view is older than `maxStalenessMs`: then `sync()` before judging. */
  needsSync(): boolean {
    return this.now() - this.syncedAt >= this.maxStalenessMs;
  }

  /**
   * Brings the block view up to date with the KV mirror: one read of the generation key, shared by
   * every caller while it is in flight. Never throws: while the KV store is unreachable the last
   * known blocks keep applying (and the rules, which do not depend on it), and the outage is logged.
   */
  sync(): Promise<void> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Platform rules and platform blocks, for `onRequest`. */
  checkPlatform(ip: string): IpDecision | undefined {
    const now = this.now();
    if (now - this.platformCheckedAt >= this.refreshMs) void this.reloadPlatform();
    const blocks = this.currentBlocks(now);
    const probe = new Probe(canonicalIp(ip));
    const verdict = judgeScope(this.platform, blocks.platform, probe);
    return verdict && { action: 'block', ip: probe.ip, scope: { kind: 'platform' }, ...verdict };
  }

  /**
   * The rules and blocks of the principal's tenant and app. Deny wins at every level: a deny rule
   * or block of the tenant or the app refuses before any allow list is read; then the tenant's allow
   * list and the app's must both admit the address. Synchronous once the tenant's rules are loaded.
   */
  checkPrincipal(
    ip: string,
    tenantId: string,
    clientId: string,
  ): IpDecision | undefined | Promise<IpDecision | undefined> {
    const now = this.now();
    const loaded = this.tenants.get(tenantId);
    if (loaded) {
      if (now - loaded.checkedAt >= this.refreshMs) this.refreshTenant(tenantId, loaded, now);
      return this.judgePrincipal(loaded, ip, tenantId, clientId, now);
    }
    return this.loadTenant(tenantId).then(
      (rules) => this.judgePrincipal(rules, ip, tenantId, clientId, this.now()),
      (err: unknown) => {
        this.logger?.error({ err, tenantId }, 'ip rules: cannot load the tenant rules');
        throw new IpRulesUnavailableError('tenant ip rules unavailable');
      },
    );
  }

  /** Hands a refusal to `onDecision`. */
  report(decision: IpDecision, req: FastifyRequest): void {
    this.onDecision?.(decision, req);
  }

  // ---- changes --------------------------------------------------------------------------------

  /**
   * A rule of `scope` changed on this instance: apply it here now (other instances hear the
   * `ip_rule.*` event). Platform rules are reloaded before this resolves; a tenant's are dropped and
   * reloaded by its next request.
   */
  async rulesChanged(scope: IpScope): Promise<void> {
    if (scope.kind === 'platform') await this.reloadPlatform();
    else this.dropTenant(scope.tenantId);
  }

  /** The block mirror was just rewritten on this instance: adopt it without reading it back. */
  blocksChanged(mirror: MirroredBlocks): void {
    this.blocksEpoch++;
    this.adopt(mirror);
  }

  // ---- internals ------------------------------------------------------------------------------

  private judgePrincipal(
    rules: TenantRules,
    ip: string,
    tenantId: string,
    clientId: string,
    now: number,
  ): IpDecision | undefined {
    const blocks = this.currentBlocks(now);
    const probe = new Probe(canonicalIp(ip));
    const app = rules.apps.get(clientId) ?? NO_RULES;
    const tenantBlocks = blocks.tenants.get(tenantId);
    const appBlocks = blocks.apps.size > 0 ? blocks.apps.get(appKey(tenantId, clientId)) : undefined;
    const tenantScope = (): IpScope => ({ kind: 'tenant', tenantId });
    const appScope = (): IpScope => ({ kind: 'app', tenantId, clientId });
    const refuse = (scope: IpScope, rule: IpDecision['rule'], ruleId: string | null): IpDecision => ({
      action: 'block',
      ip: probe.ip,
      scope,
      rule,
      ruleId,
    });
    if (rules.tenant.deny.has(probe)) return refuse(tenantScope(), 'deny', rules.tenant.deny.find(probe));
    if (app.deny.has(probe)) return refuse(appScope(), 'deny', app.deny.find(probe));
    if (tenantBlocks?.has(probe)) return refuse(tenantScope(), 'temporary-block', tenantBlocks.find(probe));
    if (appBlocks?.has(probe)) return refuse(appScope(), 'temporary-block', appBlocks.find(probe));
    if (rules.tenant.allow.size > 0 && !rules.tenant.allow.has(probe)) {
      return refuse(tenantScope(), 'allow-list', null);
    }
    if (app.allow.size > 0 && !app.allow.has(probe)) return refuse(appScope(), 'allow-list', null);
    return undefined;
  }

  private currentBlocks(now: number): CompiledBlocks {
    if (now >= this.blocks.nextExpiry) {
      this.blocks = compileBlocks(this.blocks.generation, this.blocks.records, now);
    }
    return this.blocks;
  }

  private adopt(mirror: MirroredBlocks): void {
    this.blocks = compileBlocks(mirror.generation, mirror.blocks, this.now());
  }

  private async runSync(): Promise<void> {
    const started = this.now();
    const epoch = this.blocksEpoch;
    try {
      const generation = await readGeneration(this.kv);
      if (generation === undefined || generation !== this.blocks.generation) {
        // The document is written before its generation, so it is at least as new; when it is
        // missing (or the generation is), the store lost them: rebuild from the database.
        const mirror = generation === undefined ? undefined : await readMirror(this.kv);
        const next = mirror ?? (await this.source.rebuildBlocks());
        // What this instance wrote meanwhile may be newer than what was read: keep it, and let
        // the next sync (not marked done) compare generations again.
        if (this.blocksEpoch !== epoch) return;
        this.adopt(next);
      }
      this.syncedAt = started;
      if (this.syncFailing) {
        this.syncFailing = false;
        this.logger?.warn({}, 'ip rules: temporary blocks are in sync again');
      }
    } catch (err) {
      if (!this.syncFailing) {
        this.syncFailing = true;
        this.logger?.error({ err }, 'ip rules: cannot read temporary blocks; the last known ones apply');
      }
    }
  }

  private async loadPlatform(): Promise<void> {
    const read = ++this.platformReads;
    this.platformCheckedAt = this.now();
    const compiled = compileScopeRules(await this.source.rules(null)).scope;
    if (read > this.platformApplied) {
      this.platform = compiled;
      this.platformApplied = read;
    }
  }

  /**
   * Single flight. A reload asked for while one is reading (a change committed meanwhile) makes
   * it read once more before it resolves, so a caller that awaits it sees its change. On failure
   * the old rules stay and a retry comes within a second.
   */
  private reloadPlatform(): Promise<void> {
    if (this.platformLoad) {
      this.platformDirty = true;
      return this.platformLoad;
    }
    this.platformLoad = (async () => {
      try {
        do {
          this.platformDirty = false;
          await this.loadPlatform();
        } while (this.platformDirty);
      } catch (err) {
        this.platformCheckedAt = this.now() - this.refreshMs + 1_000;
        this.logger?.error({ err }, 'ip rules: cannot reload the platform rules; the previous ones apply');
      } finally {
        this.platformLoad = undefined;
      }
    })();
    return this.platformLoad;
  }

  private dropTenant(tenantId: string): void {
    this.tenants.delete(tenantId);
    const inFlight = this.loading.get(tenantId);
    if (inFlight) inFlight.stale = true;
  }

  private refreshTenant(tenantId: string, loaded: TenantRules, now: number): void {
    // Marked first so one refresh runs at a time; the old rules serve until the new ones arrive.
    loaded.checkedAt = now;
    this.loadTenant(tenantId).catch((err: unknown) => {
      this.logger?.error(
        { err, tenantId },
        'ip rules: cannot refresh the tenant rules; the previous ones apply',
      );
    });
  }

  /**
   * Single flight per tenant. A change announced while the load was reading (`dropTenant` marks
   * it stale) may be missing from what it read, so such a result is not cached: it is read again.
   */
  private loadTenant(tenantId: string): Promise<TenantRules> {
    const existing = this.loading.get(tenantId);
    if (existing?.promise) return existing.promise;
    const flight: TenantLoad = { stale: false };
    this.loading.set(tenantId, flight);
    flight.promise = this.readTenant(tenantId, flight).finally(() => {
      this.loading.delete(tenantId);
    });
    return flight.promise;
  }

  private async readTenant(tenantId: string, flight: TenantLoad): Promise<TenantRules> {
    for (let attempt = 1; ; attempt++) {
      flight.stale = false;
      const { scope, apps } = compileScopeRules(await this.source.rules(tenantId));
      const rules: TenantRules = { tenant: scope, apps, checkedAt: this.now() };
      if (!flight.stale) {
        this.cacheTenant(tenantId, rules);
        return rules;
      }
      // Changing without pause for three reads running: judge this request on the latest read,
      // keep nothing cached, and let the next request read again.
      if (attempt === 3) return rules;
    }
  }

  private cacheTenant(tenantId: string, rules: TenantRules): void {
    this.tenants.delete(tenantId);
    this.tenants.set(tenantId, rules);
    while (this.tenants.size > this.maxCachedTenants) {
      const oldest = this.tenants.keys().next();
      if (oldest.done) break;
      this.tenants.delete(oldest.value);
    }
  }
}

export async function createIpRulesEngine(options: IpRulesEngineOptions): Promise<IpRulesEngine> {
  const engine = new IpRulesEngine(options);
  await engine.start();
  return engine;
}
