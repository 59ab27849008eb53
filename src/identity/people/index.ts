/**
 * People of each tenant and how they prove who they are: users and roles, passwords (Argon2id,
 * NIST SP 800-63B-4), TOTP with recovery codes, passkeys, lockout (PSD2 RTS Art. 4), login-UI
 * sessions with CSRF tokens, and the server-rendered sign-in, second-factor, enrolment and consent
 * pages. The authorization server drives the interactions; the admin API manages users.
 */
export { ACR_1FA, ACR_2FA, type Acr, type Amr, acrFor, amrFor, type FactorMethod } from './amr.ts';
export { PeopleError, type PeopleErrorCode, PeopleErrors } from './errors.ts';
export { DEFAULT_LOCKOUT, type LockoutPolicy } from './lockout.ts';
export {
  ASSET_PREFIX,
  assetUrl,
  pageCsp,
  pageHeaders,
  passkeyScript,
  peopleAssetRoutes,
  stylesheet,
} from './pages/assets.ts';
export { escapeHtml } from './pages/html.ts';
export {
  type ConsentPageInput,
  type ConsentScope,
  CSRF_FIELD,
  consentPage,
  formatAmount,
  type LoginPageInput,
  loginPage,
  type MessagePageInput,
  messagePage,
  type PasskeyRegistrationPageInput,
  type PaymentDetails,
  passkeyRegistrationPage,
  type RecoveryCodesPageInput,
  recoveryCodesPage,
  type SecondFactorPageInput,
  secondFactorPage,
  type TotpEnrolmentPageInput,
  totpEnrolmentPage,
} from './pages/pages.ts';
export {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type PasswordCheck,
  PasswordPolicy,
  type PasswordRejection,
} from './password-policy.ts';
export { type Argon2Params, DEFAULT_ARGON2, PasswordHasher } from './passwords.ts';
export { peopleAdminRoutes } from './routes.ts';
export { USER_ROLES, type UserRole, type UserStatus } from './schema.ts';
export {
  type AuthnResult,
  type CreateUserInput,
  normalizeUsername,
  type Passkey,
  type PendingAuthn,
  PeopleService,
  type PeopleServiceOptions,
  type SecondFactorProof,
  type User,
} from './service.ts';
export {
  checkCsrf,
  issueCsrf,
  type LoginSession,
  type LoginSessionOptions,
  LoginSessions,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
} from './sessions.ts';
export type { MfaSummary } from './store.ts';
export type {
  AuthenticationResponseJSON,
  PasskeyCreationOptions,
  PasskeyRequestOptions,
  RegistrationResponseJSON,
  WebAuthnConfig,
} from './webauthn.ts';
