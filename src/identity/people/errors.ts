import { defineErrors } from '../../platform/errors/index.ts';

/**
 * Stable codes of the people module. Authentication has exactly two outcomes a caller can see,
 * AUTHN_FAILED and AUTHN_LOCKED: no code tells a wrong password from an unknown user or from a
 * wrong second factor (PSD2 RTS Art. 4(3)(a); NIST SP 800-63B-4 §3.2.2).
 */
export const PeopleErrors = defineErrors({
  USER_NOT_FOUND: { status: 404, title: 'No such user in this tenant' },
  USERNAME_TAKEN: { status: 409, title: 'Another user of this tenant already has this username' },
  USER_EMAIL_TAKEN: { status: 409, title: 'Another user of this tenant already has this e-mail address' },
  USER_INVITE_INVALID: { status: 400, title: 'The invitation is unknown, used or expired' },
  PEOPLE_PASSWORD_TOO_SHORT: { status: 422, title: 'The password is too short' },
  PEOPLE_PASSWORD_TOO_LONG: { status: 422, title: 'The password is too long' },
  PEOPLE_PASSWORD_INVALID_CHARACTERS: {
    status: 422,
    title: 'The password contains control characters',
  },
  PEOPLE_PASSWORD_BREACHED: {
    status: 422,
    title: 'The password is commonly used, predictable or known from breaches',
  },
  PEOPLE_PASSWORD_CONTEXT: {
    status: 422,
    title: 'The password contains the username, the service or organisation name',
  },
  MFA_ENROLMENT_INVALID: {
    status: 400,
    title: 'The enrolment could not be confirmed: no enrolment is pending or the code is wrong',
  },
  MFA_ALREADY_ENROLLED: { status: 409, title: 'An authenticator app is already enrolled for this user' },
  MFA_NOT_ENROLLED: { status: 409, title: 'The user has no second factor enrolled' },
  PASSKEY_REGISTRATION_INVALID: { status: 400, title: 'The passkey registration could not be verified' },
  PASSKEY_NOT_FOUND: { status: 404, title: 'No such passkey for this user' },
  AUTHN_FAILED: { status: 401, title: 'Authentication failed' },
  AUTHN_LOCKED: { status: 423, title: 'Too many failed attempts: authentication is blocked' },
  LOGIN_SESSION_EXPIRED: { status: 401, title: 'The sign-in session has expired; start again' },
  CSRF_TOKEN_INVALID: { status: 403, title: 'The form has expired or was not sent by this site' },
});

export type PeopleErrorCode = keyof typeof PeopleErrors;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class PeopleError extends Error {
  constructor(readonly code: PeopleErrorCode) {
    super(code);
    this.name = 'PeopleError';
  }
}
