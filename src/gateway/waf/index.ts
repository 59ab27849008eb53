/**
 * Bulwark's WAF: our ruleset for JSON APIs on libddwaf, our decoders and normalisation, and the
 * Fastify hooks that put it in the request path. See docs/waf.md.
 */
export {
  compileWaf,
  type Decision,
  type Placement,
  type Waf,
  type WafExclusion,
  type WafMatch,
  type WafOptions,
} from './engine.ts';
export { WafErrors } from './errors.ts';
export { type InstallWafOptions, installWaf } from './hooks.ts';
export { allRules, NATIVE_RULES } from './rules/index.ts';
