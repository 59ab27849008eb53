/**
 * The event types a partner can subscribe to: the one list (routes validate against it, the
 * fan-out filters by it). Each is an outbox topic whose payload carries `partnerId` and only ids
 * and facts (no personal data), and is delivered as the webhook's `data` as-is.
 */
export const WEBHOOK_EVENT_TYPES = [
  'kyc.case.decided',
  'payment.submitted',
  'payment.settled',
  'payment.returned',
  'payment.failed',
  'policy.status_changed',
  'claim.status_changed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const TYPES: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isWebhookEventType(value: string): value is WebhookEventType {
  return TYPES.has(value);
}
