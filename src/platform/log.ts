import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino removes from every log line: credentials, and the personal data fields Bulwark knows of
 * (DESIGN invariant 6: logs never carry secrets or raw PII). Wildcards cover one nesting level,
 * which is where request bodies and domain objects put them.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'req.headers.dpop',
  'res.headers["set-cookie"]',
  ...[
    'password',
    'secret',
    'clientSecret',
    'client_secret',
    'token',
    'accessToken',
    'access_token',
    'refreshToken',
    'refresh_token',
    'authorization',
    'cookie',
    'databaseUrl',
    'redisUrl',
    'natsUrl',
    'masterKeys',
    'bootstrapAdminTokens',
    'email',
    'phone',
    'iban',
    'nationalId',
    'dateOfBirth',
    'firstName',
    'lastName',
    'fullName',
    'address',
  ].flatMap((f) => [f, `*.${f}`]),
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'bulwark' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
