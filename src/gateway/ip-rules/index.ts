/**
 * IP allow/deny lists (CIDR, IPv4 and IPv6) at platform, tenant and partner-app scope, temporary
 * blocks with expiry (operators, detection), and the client address behind trusted proxies only.
 * Rules live in the database; the active blocks are mirrored to the KV store so every instance
 * refuses a new block at once; the request path checks sets compiled ahead (node:net BlockList).
 */
export { AddressSet, Probe } from './address-set.ts';
export { type Cidr, canonicalIp, clientCidr, parseCidr } from './cidr.ts';
export {
  createIpRulesEngine,
  databaseRuleSource,
  IpRulesEngine,
  type IpRulesEngineOptions,
  type IpRulesLogger,
  IpRulesUnavailableError,
  type RuleSource,
} from './engine.ts';
export { IpRulesError, IpRulesErrors } from './errors.ts';
export { type GetIpPrincipal, type IpRulesHook, ipRulesHook, principalIpRulesHook } from './hooks.ts';
export { type IpRulesRoutesOptions, ipRulesAdminRoutes } from './routes.ts';
export {
  DEFAULT_LIMITS,
  type GuardOptions,
  type IpRulesLimits,
  IpRulesService,
  type IpRulesServiceOptions,
} from './service.ts';
export { type TrustProxyFunction, trustProxyOption } from './trust-proxy.ts';
export type {
  BlockRecord,
  IpBlock,
  IpDecision,
  IpRule,
  IpRuleAction,
  IpScope,
  IpScopeKind,
  RuleRecord,
} from './types.ts';
