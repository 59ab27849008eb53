/**
 * Where a rule or block applies. Platform rules are the operators' and judge every request before
 * anything else runs; tenant rules judge the requests of that tenant's principals, app rules those
 * of one partner app (OAuth client) of the tenant.
 */
export type IpScope =
  | { readonly kind: 'platform' }
  | { readonly kind: 'tenant'; readonly tenantId: string }
  | { readonly kind: 'app'; readonly tenantId: string; readonly clientId: string };

export type IpScopeKind = IpScope['kind'];

/** `allow`: only these addresses (once a scope has one allow rule). `deny`: never these. Deny wins. */
export type IpRuleAction = 'allow' | 'deny';

/** A rule as the engine compiles it. */
export interface RuleRecord {
  readonly id: string;
  readonly tenantId: string | null;
  readonly clientId: string | null;
  readonly action: IpRuleAction;
  readonly cidr: string;
}

/** A temporary block as the engine compiles it (and as the KV mirror carries it). */
export interface BlockRecord {
  readonly id: string;
  readonly tenantId: string | null;
  readonly clientId: string | null;
  readonly cidr: string;
  /** Epoch ms; the block stops applying at this instant. */
  readonly expiresAt: number;
}

/**
 * A refusal, reported through `onDecision` (audit and detection feed). Admitted requests are not
 * reported: they are the overwhelming majority and carry no information here.
 */
export interface IpDecision {
  readonly action: 'block';
  /** The client address as judged (an IPv4-mapped address as its IPv4 address). */
  readonly ip: string;
  readonly scope: IpScope;
  /** What refused: a deny rule, a temporary block, or an allow list the address is not on. */
  readonly rule: 'deny' | 'temporary-block' | 'allow-list';
  /** The deny rule's or block's id; null for an allow list (no single rule refused). */
  readonly ruleId: string | null;
}

/** A rule as the admin API shows it. */
export interface IpRule {
  readonly id: string;
  readonly scope: IpScopeKind;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly action: IpRuleAction;
  readonly cidr: string;
  readonly note?: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

/** A temporary block as the admin API shows it. */
export interface IpBlock {
  readonly id: string;
  readonly scope: IpScopeKind;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly cidr: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
}

export function scopeOf(tenantId: string | null, clientId: string | null): IpScope {
  if (tenantId === null) return { kind: 'platform' };
  if (clientId === null) return { kind: 'tenant', tenantId };
  return { kind: 'app', tenantId, clientId };
}
