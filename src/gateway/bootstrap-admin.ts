import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError, HttpErrors } from '../platform/errors/index.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether a bearer value is one of the configured bootstrap admin tokens. Every configured token
 * is compared (so a rotation can keep the old one for a while), in constant time over fixed-length
 * digests.
 */
export function bootstrapTokenMatcher(tokens: readonly string[]): (given: string) => boolean {
  const expected = tokens.map(digest);
  return (value) => {
    const given = digest(value);
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(given, e) || ok;
    return ok;
  };
}

/**
 * The bootstrap admin credential alone (tests of admin route plugins mount it in front of them);
 * the server's admin face uses `adminAuthenticator` (admin-auth.ts), which also closes it.
 */
export function bootstrapAdminAuthenticator(tokens: readonly string[]) {
  const matches = bootstrapTokenMatcher(tokens);
  return async function authenticateBootstrapAdmin(req: FastifyRequest): Promise<void> {
    const header = req.headers.authorization;
    if (!header) throw new AppError(HttpErrors.AUTH_REQUIRED);
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!match?.[1] || !matches(match[1])) throw new AppError(HttpErrors.AUTH_INVALID_CREDENTIALS);
  };
}
