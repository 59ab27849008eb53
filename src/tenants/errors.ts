import { defineErrors } from '../platform/errors/index.ts';

export const TenantErrors = defineErrors({
  TENANT_NOT_FOUND: { status: 404, title: 'No such tenant' },
  TENANT_SLUG_TAKEN: { status: 409, title: 'A tenant with this slug already exists' },
  PARTNER_NOT_FOUND: { status: 404, title: 'No such partner in this tenant' },
  PARTNER_NAME_TAKEN: { status: 409, title: 'A partner with this name already exists in this tenant' },
  APP_NOT_FOUND: { status: 404, title: 'No such app for this partner' },
  APP_JWKS_INVALID: {
    status: 400,
    title: 'The JWKS must hold 1-10 public signing keys: EC P-256, Ed25519 or RSA of 2048 bits or more',
  },
  APP_CREDENTIALS_MISSING: {
    status: 400,
    title:
      'The client authentication method needs credentials that were not given (JWKS, certificate or subject DN)',
  },
  APP_REDIRECT_URI_INVALID: {
    status: 400,
    title: 'Redirect URIs must be https (or loopback http), without fragment, and go with authorization_code',
  },
  APP_SCOPE_INVALID: { status: 400, title: 'The scope names a scope Bulwark does not offer' },
});

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class TenantError extends Error {
  constructor(readonly code: keyof typeof TenantErrors) {
    super(code);
    this.name = 'TenantError';
  }
}
