import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactedConfig } from './load.ts';
import { SETTINGS } from './settings.ts';

const base = { NODE_ENV: 'test', BULWARK_DATA_DIR: 'memory://' };
const strongToken = 'x'.repeat(40);
const key = Buffer.alloc(32, 7).toString('base64');
const production = {
  NODE_ENV: 'production',
  BULWARK_PUBLIC_URL: 'https://api.example.test',
  BULWARK_BOOTSTRAP_ADMIN_TOKENS: strongToken,
  BULWARK_MASTER_KEYS: key,
  BULWARK_BEHIND_TLS_PROXY: 'true',
  DATABASE_URL: 'postgres://bulwark@db.internal/bulwark',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies defaults and freezes the result', () => {
    const config = loadConfig({ env: base });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      env: 'test',
      publicUrl: 'http://127.0.0.1:8080',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow();
  });

  it('reads typed values from the environment without guessing', () => {
    const config = loadConfig({
      env: {
        ...base,
        BULWARK_PORT: '9090',
        BULWARK_BEHIND_TLS_PROXY: 'true',
        BULWARK_TRUST_PROXY: '10.0.0.0/8, 192.168.1.1',
      },
    });
    expect(config.port).toBe(9090);
    expect(config.behindTlsProxy).toBe(true);
    expect(config.trustProxy).toEqual(['10.0.0.0/8', '192.168.1.1']);
  });

  it('stops on an unknown BULWARK_ variable, naming it and what is allowed', () => {
    const [problem] = problemsOf({ ...base, BULWARK_PROT: '80' });
    expect(problem).toMatch(/^BULWARK_PROT: unknown setting; allowed: .*BULWARK_PORT/);
  });

  it('stops on a bad value, naming the key and the allowed form', () => {
    expect(problemsOf({ ...base, BULWARK_PORT: '80a' })).toEqual([
      'BULWARK_PORT: invalid value "80a"; expected an integer port 1-65535',
    ]);
    expect(problemsOf({ ...base, BULWARK_LOG_LEVEL: 'loud' })[0]).toContain('expected one of fatal, error');
    expect(problemsOf({ ...base, DATABASE_URL: 'mysql://x' })[0]).toMatch(
      /^DATABASE_URL: invalid value \(hidden\)/,
    );
  });

  it('reports every problem at once', () => {
    expect(
      problemsOf({ ...base, BULWARK_PORT: '0', BULWARK_BODY_LIMIT: '1', BULWARK_NOPE: '1' }),
    ).toHaveLength(3);
  });

  it('reads a JSON config file, refusing unknown keys in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-cfg-'));
    const file = join(dir, 'bulwark.json');
    writeFileSync(file, JSON.stringify({ port: 7070, logLevel: 'warn' }));
    expect(loadConfig({ env: { ...base, BULWARK_CONFIG: file } })).toMatchObject({
      port: 7070,
      logLevel: 'warn',
    });
    // the environment wins over the file
    expect(loadConfig({ env: { ...base, BULWARK_CONFIG: file, BULWARK_PORT: '7171' } }).port).toBe(7171);
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(problemsOf({ ...base, BULWARK_CONFIG: file })[0]).toMatch(
      /unknown setting "prot"; allowed: env, host, port/,
    );
  });

  it('lets CLI overrides win', () => {
    expect(loadConfig({ env: { ...base, BULWARK_PORT: '9000' }, overrides: { port: '9001' } }).port).toBe(
      9001,
    );
  });

  it('generates development secrets once and keeps them private in the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-data-'));
    const first = loadConfig({ env: { NODE_ENV: 'development', BULWARK_DATA_DIR: dir } });
    const second = loadConfig({ env: { NODE_ENV: 'development', BULWARK_DATA_DIR: dir } });
    expect(first.generated).toEqual(['bootstrapAdminTokens', 'masterKeys']);
    expect(second.bootstrapAdminTokens).toEqual(first.bootstrapAdminTokens);
    expect(second.masterKeys).toEqual(first.masterKeys);
    const file = join(dir, 'dev-secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(first.masterKeys[0]);
  });

  it('refuses short admin tokens and malformed master keys', () => {
    expect(problemsOf({ ...base, BULWARK_BOOTSTRAP_ADMIN_TOKENS: 'short' })[0]).toContain(
      'at least 32 characters',
    );
    expect(problemsOf({ ...base, BULWARK_MASTER_KEYS: 'abcd' })[0]).toContain('32 bytes');
  });

  it('redacts secrets when printed', () => {
    const printed = redactedConfig(
      loadConfig({ env: { ...base, BULWARK_BOOTSTRAP_ADMIN_TOKENS: strongToken } }),
    );
    expect(JSON.stringify(printed)).not.toContain(strongToken);
  });
});

describe('production mode', () => {
  it('accepts a complete, explicit production configuration', () => {
    const config = loadConfig({ env: production });
    expect(config.generated).toEqual([]);
  });

  it('refuses generated keys and bootstrap secrets', () => {
    const { BULWARK_MASTER_KEYS: _k, BULWARK_BOOTSTRAP_ADMIN_TOKENS: _t, ...rest } = production;
    const problems = problemsOf(rest);
    expect(problems).toContainEqual(expect.stringMatching(/^BULWARK_MASTER_KEYS: required in production/));
    expect(problems).toContainEqual(
      expect.stringMatching(/^BULWARK_BOOTSTRAP_ADMIN_TOKENS: required in production/),
    );
  });

  it('refuses plain HTTP unless a TLS-terminating proxy is declared', () => {
    const { BULWARK_BEHIND_TLS_PROXY: _p, ...rest } = production;
    expect(problemsOf(rest)).toContainEqual(expect.stringContaining('production refuses plain HTTP'));
    expect(problemsOf({ ...production, BULWARK_PUBLIC_URL: 'http://api.example.test' })).toContainEqual(
      expect.stringContaining('must be an https:// URL'),
    );
  });

  it('refuses an in-memory database', () => {
    const { DATABASE_URL: _d, ...rest } = production;
    expect(problemsOf({ ...rest, BULWARK_DATA_DIR: 'memory://' })).toContainEqual(
      expect.stringContaining('in-memory database'),
    );
  });
});

describe('README', () => {
  it('documents every setting in its configuration table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = SETTINGS.filter((s) => !readme.includes(`| \`${s.env}\``)).map((s) => s.env);
    expect(missing).toEqual([]);
  });
});
