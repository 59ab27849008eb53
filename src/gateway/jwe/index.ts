/**
 * JWE (RFC 7516, compact serialization) payloads on the partner API, for sensitive resources.
 *
 * A route opts in with `config: { jwe: 'allowed' | 'required' }`.
 *  - Request: `Content-Type: application/jose`, a compact JWE with alg ECDH-ES+A256KW, enc A256GCM,
 *    `kid` naming a key of `GET /.well-known/payload-keys.json` (`use: enc`), plaintext JSON
 *    (`cty: json` or absent). It is decrypted after authentication (and after the message
 *    signature check, which covers the encrypted bytes as sent), judged by the WAF
 *    (Gateway.inspectBody), then goes through the same JSON limits and schema validation as a
 *    plain body. `required` refuses a plain body (JWE_REQUIRED); a route without `jwe` refuses
 *    application/jose (JWE_NOT_ACCEPTED); JWE_INVALID and JWE_ALGORITHM_UNSUPPORTED for what does
 *    not decrypt.
 *  - Response: with `Accept: application/jose` (always on `required` routes), a successful answer
 *    is encrypted to the first `use: enc` key of the app's registered JWKS (EC P-256 ->
 *    ECDH-ES+A256KW, RSA -> RSA-OAEP-256; enc A256GCM; `kid` and `cty: json` in the header) and
 *    sent as application/jose. Problem documents stay plain. No enc key: JWE_CLIENT_KEY_MISSING.
 *
 * Wiring (app.ts, /v1 face): installParser on the face, checkRoute on onRoute, preValidation after
 * authentication and the message-signature step, onSend BEFORE the response-signing onSend.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MESSAGE_KEY_PURPOSE } from '../signatures/index.ts';
import type { PlatformEncryptionKeys } from './keys.ts';

export { JweErrors } from './errors.ts';
export { JOSE_MEDIA_TYPE, type JweOptions, jweHooks } from './hooks.ts';
export {
  type ClientEncryptionKey,
  CONTENT_ENCRYPTION,
  clientEncryptionKey,
  ENCRYPTION_KEY_PURPOSE,
  KEY_MANAGEMENT_ALGS,
  type PlatformEncryptionKeys,
  platformEncryptionKeys,
  REQUEST_KEY_MANAGEMENT,
} from './keys.ts';

const Jwks = Type.Object(
  { keys: Type.Array(Type.Object({}, { additionalProperties: true })) },
  { additionalProperties: false },
);

/**
 * Public: the platform's payload keys as one JWKS (RFC 7517): `use: enc` keys partners encrypt
 * request bodies to, and `use: sig` keys that verify Bulwark's response signatures (RFC 9421).
 */
export const payloadKeyRoutes: FastifyPluginAsyncTypebox<{
  encryption: PlatformEncryptionKeys;
  signing: { publicJwks(purpose: string): Promise<{ keys: ReadonlyArray<object> }> };
}> = async (app, { encryption, signing }) => {
  app.get(
    '/.well-known/payload-keys.json',
    {
      schema: {
        tags: ['payload protection'],
        summary:
          'Keys to encrypt request bodies to (JWE, use enc) and to verify response signatures (RFC 9421, use sig)',
        response: { 200: Jwks },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      const [enc, sig] = await Promise.all([
        encryption.publicJwks(),
        signing.publicJwks(MESSAGE_KEY_PURPOSE),
      ]);
      return { keys: [...enc.keys, ...sig.keys] };
    },
  );
};
