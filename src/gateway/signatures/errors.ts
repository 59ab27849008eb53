import { defineErrors } from '../../platform/errors/index.ts';

/**
 * Stable codes of the message-signature step (docs/errors.md, "Message signatures"). A refusal of
 * the signature itself is a 401 (the message is not authenticated) and carries `Accept-Signature`
 * (RFC 9421 §5.1) saying what a valid signature must cover; a body that does not match its signed
 * digest is a 400.
 */
export const SignatureErrors = defineErrors({
  SIGNATURE_MISSING: {
    status: 401,
    title: 'This request must carry an HTTP message signature (RFC 9421 Signature and Signature-Input)',
  },
  SIGNATURE_MALFORMED: {
    status: 400,
    title: 'The Signature or Signature-Input header is not a valid structured field (RFC 8941, RFC 9421 §4)',
  },
  SIGNATURE_COVERAGE_INSUFFICIENT: {
    status: 401,
    title:
      'The signature does not cover what is required (@method, @target-uri or @authority + @path + @query, content-digest when there is a body) or lacks created, keyid or nonce',
  },
  SIGNATURE_KEY_UNKNOWN: {
    status: 401,
    title: "The signature's keyid names no signing key registered for the calling client",
  },
  SIGNATURE_ALGORITHM_UNSUPPORTED: {
    status: 401,
    title: 'The signing key or the alg parameter is not one of ecdsa-p256-sha256, ed25519, rsa-pss-sha512',
  },
  SIGNATURE_INVALID: { status: 401, title: 'The message signature does not verify' },
  SIGNATURE_EXPIRED: {
    status: 401,
    title: 'The signature was created outside the accepted window, or has expired',
  },
  SIGNATURE_REPLAYED: { status: 401, title: "The signature's nonce has been used before" },
  CONTENT_DIGEST_MISSING: {
    status: 400,
    title:
      'A signed request with a body must carry a Content-Digest header (RFC 9530) covered by the signature',
  },
  CONTENT_DIGEST_MISMATCH: {
    status: 400,
    title: 'The body does not match its Content-Digest (sha-256 or sha-512)',
  },
});
