import { defineErrors } from '../platform/errors/index.ts';

/** Audit failures a caller of the admin API may see (routes.ts maps them). */
export const AuditErrors = defineErrors({
  AUDIT_RECORD_NOT_FOUND: { status: 404, title: 'No audit record with this sequence number' },
  AUDIT_NOT_CHECKPOINTED: {
    status: 409,
    title: 'No signed checkpoint covers this audit record yet; retry after the next checkpoint',
  },
  AUDIT_RANGE_INVALID: { status: 400, title: 'The time range is empty or reversed' },
  AUDIT_VERIFICATION_RUNNING: {
    status: 409,
    title: 'An audit verification is already running on this instance; retry when it has finished',
  },
});

/**
 * Failures that are programming or integrity errors, never described to an API caller: they
 * become the generic 500 and are logged with this code (or, in the CLI, printed).
 */
export type InternalAuditErrorCode =
  /** `details` names a secret or personal datum, or a value looks like one (see details.ts). */
  | 'AUDIT_DETAILS_PII'
  /** `details` is not a small plain JSON object within the limits. */
  | 'AUDIT_DETAILS_INVALID'
  /** A record field is malformed (action, actor, ids, tenant, outcome, time). */
  | 'AUDIT_RECORD_INVALID'
  /** The checkpointer found the chain broken since the last checkpoint and refused to sign it. */
  | 'AUDIT_CHAIN_BROKEN'
  /** A bundle file is not a well-formed audit bundle. */
  | 'AUDIT_BUNDLE_MALFORMED'
  /** A proof was asked for outside the tree (index beyond the size, or sizes reversed). */
  | 'AUDIT_PROOF_RANGE';

export type AuditErrorCode = keyof typeof AuditErrors | InternalAuditErrorCode;

/** Domain failure of the audit module, free of HTTP. */
export class AuditError extends Error {
  constructor(
    readonly code: AuditErrorCode,
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'AuditError';
  }

  /** Whether the code is registered for callers (otherwise it must surface as a generic 500). */
  get public(): boolean {
    return this.code in AuditErrors;
  }
}
