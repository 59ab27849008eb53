import { defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of the Idempotency-Key step (docs/errors.md, section Idempotency). */
export const IdempotencyErrors = defineErrors({
  IDEMPOTENCY_KEY_MISSING: { status: 400, title: 'This request needs an Idempotency-Key header' },
  IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    title: 'The Idempotency-Key header is malformed (a string of 1 to 255 printable ASCII characters)',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'This Idempotency-Key was already used with a different request',
  },
  IDEMPOTENCY_KEY_IN_FLIGHT: {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed; retry later',
  },
});
