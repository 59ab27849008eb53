import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { AppError, HttpErrors } from '../errors/index.ts';
import { checkJsonShape, type JsonLimits } from './json-shape.ts';

export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 32,
  maxKeys: 1000,
  maxItems: 10_000,
  maxStringLength: 1024 * 1024,
};

/**
 * The one body parser: JSON (`application/json` and `+json` types). Its structure is checked
 * before parsing (depth, width, string length, duplicate keys), and `__proto__` and
 * `constructor.prototype` keys are refused rather than stripped, so a prototype-pollution attempt
 * is an error the caller (and later the detection stream) sees.
 */
export function installJsonBodyParser(app: FastifyInstance, limits: JsonLimits = DEFAULT_JSON_LIMITS): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/([a-z0-9.-]+\+)?json(;|$)/i,
    { parseAs: 'string' },
    (_req, body: string, done) => {
      if (body.trim() === '')
        return done(new AppError(HttpErrors.REQUEST_MALFORMED_JSON, 'The body is empty'), undefined);
      const violation = checkJsonShape(body, limits);
      if (violation) {
        const error =
          violation.kind === 'duplicate-key'
            ? new AppError(HttpErrors.REQUEST_DUPLICATE_JSON_KEY)
            : new AppError(
                HttpErrors.REQUEST_JSON_TOO_COMPLEX,
                `JSON ${violation.kind} limit is ${violation.limit}`,
              );
        return done(error, undefined);
      }
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
