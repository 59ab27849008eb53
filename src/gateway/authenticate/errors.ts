import { defineErrors } from '../../platform/errors/index.ts';

/**
 * Stable codes of access-token authentication (docs/errors.md, "Authentication"). A missing
 * Authorization header stays the shared `AUTH_REQUIRED`. Every 401 carries a `WWW-Authenticate`
 * challenge (RFC 9449 §7.1, RFC 6750 §3); the token and the proof are never echoed.
 */
export const AuthErrors = defineErrors({
  AUTH_TOKEN_INVALID: {
    status: 401,
    title: 'The access token is malformed, not signed by a trusted key, or not meant for this API',
  },
  AUTH_TOKEN_EXPIRED: { status: 401, title: 'The access token has expired' },
  AUTH_TOKEN_REVOKED: { status: 401, title: 'The access token has been revoked' },
  AUTH_DPOP_PROOF_INVALID: { status: 401, title: 'The DPoP proof is missing or not valid for this request' },
  AUTH_DPOP_PROOF_REPLAYED: { status: 401, title: 'The DPoP proof has been used before' },
  AUTH_TOKEN_BINDING_MISMATCH: {
    status: 401,
    title: 'The access token is not bound to the key or certificate presented with it',
  },
  AUTH_INSUFFICIENT_SCOPE: { status: 403, title: 'The access token lacks a scope this route requires' },
});
