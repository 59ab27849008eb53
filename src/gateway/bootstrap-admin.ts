import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError, HttpErrors } from '../platform/errors/index.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The bootstrap admin credential: a bearer token from configuration that guards the admin API
 * until the identity module's OAuth + MFA replaces it. Every configured token is compared (so a
 * rotation can keep the old one for a while), in constant time over fixed-length digests.
 */
export function bootstrapAdminAuthenticator(tokens: readonly string[]) {
  const expected = tokens.map(digest);
  return async function authenticateBootstrapAdmin(req: FastifyRequest): Promise<void> {
    const header = req.headers.authorization;
    if (!header) throw new AppError(HttpErrors.AUTH_REQUIRED);
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!match?.[1]) throw new AppError(HttpErrors.AUTH_INVALID_CREDENTIALS);
    const given = digest(match[1]);
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(given, e) || ok;
    if (!ok) throw new AppError(HttpErrors.AUTH_INVALID_CREDENTIALS);
  };
}
