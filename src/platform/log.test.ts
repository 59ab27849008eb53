import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('logger', () => {
  it('redacts credentials in request headers', () => {
    const { logger, lines } = capture();
    logger.info(
      { req: { headers: { authorization: 'Bearer s3cr3t', cookie: 'sid=abc', dpop: 'eyJ' } } },
      'r',
    );
    expect(lines.join('')).not.toMatch(/s3cr3t|sid=abc|eyJ/);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('redacts secrets and personal data fields at the top level and one level down', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        clientSecret: 'cs-1',
        party: { email: 'a@example.test', iban: 'DE89370400440532013000', name: 'kept' },
      },
      'x',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/cs-1|a@example\.test|DE89370400440532013000/);
    expect(out).toContain('kept');
  });
});
