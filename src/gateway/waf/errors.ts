import { defineErrors } from '../../platform/errors/index.ts';

export const WafErrors = defineErrors({
  WAF_BLOCKED: { status: 403, title: 'The request was blocked by the web application firewall' },
});
