import { AppError, defineErrors } from '../platform/errors/index.ts';

/** Stable codes of the privacy module (docs/errors.md, section Privacy). */
export const PrivacyErrors = defineErrors({
  PRIVACY_SUBJECT_NOT_FOUND: {
    status: 404,
    title: 'No such data subject (customer or user) in this tenant, or one the caller may not act for',
  },
  PRIVACY_REQUEST_NOT_FOUND: { status: 404, title: 'No such data-subject request' },
  PRIVACY_CONSENT_NOT_FOUND: { status: 404, title: 'No such consent' },
  PRIVACY_HOLD_NOT_FOUND: { status: 404, title: 'No such legal hold' },
  PRIVACY_REQUEST_INVALID: {
    status: 422,
    title: 'The request does not fit its kind (rectification needs changes; other kinds take none)',
  },
  PRIVACY_REQUEST_CLOSED: { status: 409, title: 'The request is already closed' },
  PRIVACY_EXTENSION_NOT_ALLOWED: {
    status: 409,
    title: 'The deadline was already extended, or the request is closed (GDPR Art. 12(3): one extension)',
  },
  PRIVACY_EXPORT_UNAVAILABLE: {
    status: 409,
    title: 'Only a completed access or portability request has an export',
  },
  PRIVACY_CONSENT_ALREADY_WITHDRAWN: { status: 409, title: 'The consent was already withdrawn' },
  PRIVACY_CONSENT_INVALID: {
    status: 422,
    title: 'The consent is malformed: unknown purpose, expiry in the past, or accounts not the customer’s',
  },
  PRIVACY_CONSENT_REQUIRED: {
    status: 403,
    title: 'Reading this account needs an active account-information consent of the customer to this partner',
  },
  PRIVACY_RETENTION_INVALID: {
    status: 422,
    title: 'Unknown retention category, or a period outside its allowed range',
  },
});

export type PrivacyErrorCode = keyof typeof PrivacyErrors;

export class PrivacyError extends AppError {
  declare readonly code: PrivacyErrorCode;
  constructor(code: PrivacyErrorCode, detail?: string) {
    super(code, detail);
    this.name = 'PrivacyError';
  }
}
