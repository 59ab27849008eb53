import { defineErrors } from '../platform/errors/index.ts';

export const TenantErrors = defineErrors({
  TENANT_NOT_FOUND: { status: 404, title: 'No such tenant' },
  TENANT_SLUG_TAKEN: { status: 409, title: 'A tenant with this slug already exists' },
  PARTNER_NOT_FOUND: { status: 404, title: 'No such partner in this tenant' },
  PARTNER_NAME_TAKEN: { status: 409, title: 'A partner with this name already exists in this tenant' },
});

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class TenantError extends Error {
  constructor(readonly code: keyof typeof TenantErrors) {
    super(code);
    this.name = 'TenantError';
  }
}
