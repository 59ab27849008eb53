import { defineErrors } from '../../platform/errors/index.ts';
import type { TenantErrors } from '../../tenants/errors.ts';

/** Stable codes of the IP rules (docs/errors.md, "Gateway"). */
export const IpRulesErrors = defineErrors({
  // Which rule refused is logged and reported (onDecision), never told to the caller.
  IP_BLOCKED: { status: 403, title: 'Requests from this address are not allowed' },
  IP_CIDR_INVALID: { status: 400, title: 'Not an IPv4 or IPv6 address or CIDR block' },
  IP_RULE_NOT_FOUND: { status: 404, title: 'No such IP rule in this scope' },
  IP_BLOCK_NOT_FOUND: { status: 404, title: 'No such active IP block' },
  IP_RULE_DUPLICATE: { status: 409, title: 'This scope already has this rule' },
  IP_LIST_FULL: { status: 409, title: 'This IP list, or the set of active blocks, is full' },
  IP_RULE_LOCKOUT: {
    status: 409,
    title: 'The change would block the address it was made from',
  },
  IP_RULES_UNAVAILABLE: { status: 503, title: 'IP rules cannot be checked right now' },
});

type Code =
  | keyof typeof IpRulesErrors
  | typeof TenantErrors.TENANT_NOT_FOUND
  | typeof TenantErrors.APP_NOT_FOUND;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class IpRulesError extends Error {
  constructor(
    readonly code: Code,
    readonly detail?: string,
  ) {
    super(code);
    this.name = 'IpRulesError';
  }
}
