import { codeRules } from './code.ts';
import { fileRules } from './files.ts';
import { protocolValueRules } from './protocol.ts';
import { sqlRules } from './sql.ts';
import type { WafRule } from './types.ts';
import { xssRules } from './xss.ts';

/** Every value rule of the ruleset, in evaluation order. */
export const allRules: readonly WafRule[] = [
  ...protocolValueRules,
  ...sqlRules,
  ...xssRules,
  ...fileRules,
  ...codeRules,
];

export { NATIVE_RULES } from './protocol.ts';
export type { Family, NativeRule, Paranoia, Severity, Target, WafRule } from './types.ts';
