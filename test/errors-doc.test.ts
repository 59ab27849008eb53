import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../src/app.ts';
import { allErrorCodes } from '../src/platform/errors/index.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]),
);

describe('docs/errors.md', () => {
  it('documents every registered error code with its status', () => {
    const missing = [...allErrorCodes()].filter(([code, spec]) => documented.get(code) !== spec.status);
    expect(missing.map(([code, spec]) => `${code} ${spec.status}`)).toEqual([]);
  });

  it('lists no code that is not registered', () => {
    const stale = [...documented.keys()].filter((code) => !allErrorCodes().has(code));
    expect(stale).toEqual([]);
  });
});
