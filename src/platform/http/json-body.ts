import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { AppError, HttpErrors } from '../errors/index.ts';

/**
 * The one body parser: JSON (`application/json` and `+json` types). `__proto__` and
 * `constructor.prototype` keys are refused rather than stripped, so a prototype-pollution attempt
 * is an error the caller (and later the detection stream) sees.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/([a-z0-9.-]+\+)?json(;|$)/i,
    { parseAs: 'string' },
    (_req, body: string, done) => {
      if (body.trim() === '')
        return done(new AppError(HttpErrors.REQUEST_MALFORMED_JSON, 'The body is empty'), undefined);
      try {
        done(null, sjson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' }));
      } catch (err) {
        const forbidden = /prototype/i.test((err as Error).message);
        done(
          new AppError(forbidden ? HttpErrors.REQUEST_FORBIDDEN_JSON_KEY : HttpErrors.REQUEST_MALFORMED_JSON),
          undefined,
        );
      }
    },
  );
}
