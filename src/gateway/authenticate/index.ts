/**
 * Resource-server authentication: RFC 9068 JWT access tokens, sender-constrained by DPoP (RFC 9449)
 * or mutual TLS (RFC 8705), verified on every non-public route.
 */
export { DpopKeyCache, normaliseUri, sameHtu, verifyDpopProof } from './dpop.ts';
export { AuthErrors } from './errors.ts';
export {
  type AuthenticateHook,
  type AuthenticateOptions,
  accessTokenContext,
  authenticateRequest,
} from './hooks.ts';
export type { AuthorizationDetail, Principal } from './principal.ts';
export {
  type AuthenticationInput,
  createTokenVerifier,
  isRevokedJti,
  markRevoked,
  type PublicJwks,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './verifier.ts';
