import { defineErrors } from '../platform/errors/index.ts';

/** Stable codes of the webhooks module. Each refusal of a subscription URL has its own. */
export const WebhookErrors = defineErrors({
  WEBHOOK_SUBSCRIPTION_NOT_FOUND: { status: 404, title: 'No such webhook subscription' },
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, title: 'No such webhook delivery' },
  WEBHOOK_URL_INVALID: {
    status: 400,
    title: 'The webhook URL is not an absolute URL, carries credentials or names port 0',
  },
  WEBHOOK_URL_NOT_HTTPS: { status: 400, title: 'The webhook URL must use https' },
  WEBHOOK_URL_FORBIDDEN_HOST: {
    status: 400,
    title: 'The webhook URL names a local, internal or unqualified host',
  },
  WEBHOOK_URL_FORBIDDEN_ADDRESS: {
    status: 400,
    title: 'The webhook URL reaches a private, loopback, link-local, reserved, multicast or metadata address',
  },
  WEBHOOK_URL_UNRESOLVABLE: { status: 422, title: 'The webhook URL host name does not resolve' },
  WEBHOOK_EVENT_TYPE_UNKNOWN: { status: 400, title: 'An event type is not one partners can subscribe to' },
  WEBHOOK_PARTNER_ONLY: {
    status: 403,
    title: "Webhook subscriptions are managed by a partner's app with its own client credentials",
  },
  WEBHOOK_SUBSCRIPTION_LIMIT: {
    status: 409,
    title: 'The partner has reached the maximum number of webhook subscriptions',
  },
  WEBHOOK_DELIVERY_NOT_DEAD: {
    status: 409,
    title: 'Only a dead-lettered delivery can be redelivered by hand',
  },
});

export type WebhookErrorCode = keyof typeof WebhookErrors;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class WebhookError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'WebhookError';
  }
}
