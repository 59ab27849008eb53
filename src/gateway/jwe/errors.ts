import { defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of the JWE step (docs/errors.md, "Encrypted payloads (JWE)"). */
export const JweErrors = defineErrors({
  JWE_NOT_ACCEPTED: {
    status: 415,
    title: 'This route does not take encrypted (application/jose) bodies',
  },
  JWE_REQUIRED: {
    status: 415,
    title: 'This route takes only encrypted bodies: a compact JWE as application/jose',
  },
  JWE_INVALID: {
    status: 400,
    title: 'The body is not a compact JWE that decrypts with a published platform encryption key',
  },
  JWE_ALGORITHM_UNSUPPORTED: {
    status: 400,
    title: 'JWE algorithms accepted: alg ECDH-ES+A256KW or RSA-OAEP-256, enc A256GCM, no zip',
  },
  JWE_CLIENT_KEY_MISSING: {
    status: 400,
    title: "An encrypted response needs an encryption key (use: enc) in the app's registered JWKS",
  },
});
