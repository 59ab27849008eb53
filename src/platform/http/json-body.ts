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
 * JSON text to a value under `limits`: structure checked before parsing (depth, width, string
 * length, duplicate keys), `__proto__` and `constructor.prototype` keys refused rather than
 * stripped. Throws the AppError the caller sees. Also what decrypted JWE payloads go through.
 */
export function parseJsonText(body: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  if (body.trim() === '') throw new AppError(HttpErrors.REQUEST_MALFORMED_JSON, 'The body is empty');
  const violation = checkJsonShape(body, limits);
  if (violation) {
    throw violation.kind === 'duplicate-key'
      ? new AppError(HttpErrors.REQUEST_DUPLICATE_JSON_KEY)
      : new AppError(
          HttpErrors.REQUEST_JSON_TOO_COMPLEX,
          `JSON ${violation.kind} limit is ${violation.limit}`,
        );
  }
  try {
    return sjson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const forbidden = /prototype/i.test((err as Error).message);
    throw new AppError(forbidden ? HttpErrors.REQUEST_FORBIDDEN_JSON_KEY : HttpErrors.REQUEST_MALFORMED_JSON);
  }
}

/**
 * The one body parser: JSON (`application/json` and `+json` types), through `parseJsonText`, so a
 * prototype-pollution attempt is an error the caller (and later the detection stream) sees.
 */
export function installJsonBodyParser(app: FastifyInstance, limits: JsonLimits = DEFAULT_JSON_LIMITS): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/([a-z0-9.-]+\+)?json(;|$)/i,
    { parseAs: 'string' },
    (_req, body: string, done) => {
      let value: unknown;
      try {
        value = parseJsonText(body, limits);
      } catch (err) {
        done(err as Error, undefined);
        return;
      }
      done(null, value);
    },
  );
}
