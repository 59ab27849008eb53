import { defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of the rate limiter (docs/errors.md, "Gateway"). */
export const RateLimitErrors = defineErrors({
  // RFC 6585 §4: 429 Too Many Requests, with Retry-After.
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  QUOTA_EXCEEDED: { status: 429, title: "The plan's monthly request quota is used up" },
  // RFC 9110 §15.6.4: a temporary condition; Retry-After says when to try again.
  RATE_LIMIT_UNAVAILABLE: { status: 503, title: 'Rate limiting is temporarily unavailable' },
});
