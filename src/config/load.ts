import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, DEFAULTS, SETTINGS, type Setting } from './settings.ts';

export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Start-up refused: every problem found, each naming the setting and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Environment to read (defaults to process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Highest-precedence values, e.g. from CLI flags, keyed like the config file. */
  readonly overrides?: Readonly<Record<string, unknown>>;
}

const BY_KEY = new Map<string, Setting>(SETTINGS.map((s) => [s.key, s]));
const BY_ENV = new Map<string, Setting>(SETTINGS.map((s) => [s.env, s]));
/** Environment variables with our prefix that are not settings but are still ours. */
const OTHER_ENV = new Set(['BULWARK_CONFIG']);

/** Embedded database kept in memory only (tests, throwaway demos). */
export const MEMORY_DATA_DIR = 'memory://';

function describe(s: Setting): string {
  switch (s.type) {
    case 'enum':
      return `one of ${s.values?.join(', ')}`;
    case 'port':
      return 'an integer port 1-65535';
    case 'int':
      return `an integer ${s.min}-${s.max}`;
    case 'bool':
      return 'true or false';
    case 'list':
      return 'a comma-separated list';
    case 'url':
      return `a URL (${s.schemes?.join(' ')})`;
    default:
      return 'a non-empty string';
  }
}

/** Parse one raw value (string from env, or JSON value from the file) to the setting's type. */
function parse(s: Setting, raw: unknown): { ok: true; value: unknown } | { ok: false } {
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  switch (s.type) {
    case 'port':
    case 'int': {
      const n =
        typeof raw === 'number'
          ? raw
          : text !== undefined && /^-?\d+$/.test(text)
            ? Number(text)
            : Number.NaN;
      const [min, max] = s.type === 'port' ? [1, 65_535] : [s.min ?? 0, s.max ?? Number.MAX_SAFE_INTEGER];
      return Number.isSafeInteger(n) && n >= min && n <= max ? { ok: true, value: n } : { ok: false };
    }
    case 'bool':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (text === 'true' || text === '1') return { ok: true, value: true };
      if (text === 'false' || text === '0') return { ok: true, value: false };
      return { ok: false };
    case 'list': {
      const items = Array.isArray(raw) ? raw : text !== undefined ? text.split(',') : undefined;
      if (!items?.every((i) => typeof i === 'string')) return { ok: false };
      return { ok: true, value: Object.freeze(items.map((i: string) => i.trim()).filter(Boolean)) };
    }
    case 'enum':
      return text !== undefined && s.values?.includes(text) ? { ok: true, value: text } : { ok: false };
    case 'url': {
      if (!text) return { ok: false };
      try {
        const u = new URL(text);
        return s.schemes?.includes(u.protocol) ? { ok: true, value: text } : { ok: false };
      } catch {
        return { ok: false };
      }
    }
    default:
      return text ? { ok: true, value: text } : { ok: false };
  }
}

function readFileLayer(path: string, problems: string[]): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`BULWARK_CONFIG: cannot read ${path} as JSON (${(err as Error).message.split('\n')[0]})`);
    return {};
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.push(`BULWARK_CONFIG: ${path} must hold a JSON object of settings`);
    return {};
  }
  return data as Record<string, unknown>;
}

/**
 * Load, validate and freeze the configuration. Precedence: defaults < config file (BULWARK_CONFIG)
 * < environment < overrides. Throws ConfigError listing every problem; nothing is half-applied.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const values: Record<string, unknown> = { ...DEFAULTS };

  const apply = (s: Setting, raw: unknown, source: string) => {
    const parsed = parse(s, raw);
    if (parsed.ok) values[s.key] = parsed.value;
    else {
      const shown = s.secret ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${source}: invalid value ${shown}; expected ${describe(s)}`);
    }
  };

  const file = env.BULWARK_CONFIG;
  if (file) {
    for (const [key, raw] of Object.entries(readFileLayer(file, problems))) {
      const s = BY_KEY.get(key);
      if (!s) problems.push(`${file}: unknown setting "${key}"; allowed: ${[...BY_KEY.keys()].join(', ')}`);
      else apply(s, raw, `${file}: ${key}`);
    }
  }
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const s = BY_ENV.get(name);
    if (s) {
      if (raw !== '') apply(s, raw, name);
    } else if (name.startsWith('BULWARK_') && !OTHER_ENV.has(name)) {
      problems.push(`${name}: unknown setting; allowed: ${[...BY_ENV.keys()].join(', ')}`);
    }
  }
  for (const [key, raw] of Object.entries(options.overrides ?? {})) {
    if (raw === undefined) continue;
    const s = BY_KEY.get(key);
    if (!s) problems.push(`unknown setting "${key}"`);
    else apply(s, typeof raw === 'number' || typeof raw === 'boolean' ? raw : String(raw), `--${key}`);
  }
  if (problems.length) throw new ConfigError(problems);

  values.publicUrl ??= `http://${values.host}:${values.port}`;
  const generated: ('bootstrapAdminTokens' | 'masterKeys')[] = [];
  const production = values.env === 'production';
  if (!production) {
    const dev = devSecrets(values.dataDir as string);
    if (!(values.bootstrapAdminTokens as string[] | undefined)?.length) {
      values.bootstrapAdminTokens = Object.freeze([dev.bootstrapAdminToken]);
      generated.push('bootstrapAdminTokens');
    }
    if (!(values.masterKeys as string[] | undefined)?.length) {
      values.masterKeys = Object.freeze([dev.masterKey]);
      generated.push('masterKeys');
    }
  }
  const config = { ...values, generated: Object.freeze(generated) } as unknown as Config;
  problems.push(...checkConfig(config));
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Rules that span settings; in production, weak settings are refused (DESIGN invariant 8). */
export function checkConfig(c: Config): string[] {
  const problems: string[] = [];
  if (Boolean(c.tlsCertFile) !== Boolean(c.tlsKeyFile)) {
    problems.push('BULWARK_TLS_CERT_FILE and BULWARK_TLS_KEY_FILE must be set together');
  }
  if (c.tlsClientCaFile && !c.tlsCertFile) {
    problems.push(
      'BULWARK_TLS_CLIENT_CA_FILE needs the HTTPS listener (BULWARK_TLS_CERT_FILE/BULWARK_TLS_KEY_FILE)',
    );
  }
  for (const [i, k] of (c.masterKeys ?? []).entries()) {
    if (Buffer.from(k, 'base64').length !== 32) {
      problems.push(`BULWARK_MASTER_KEYS: entry ${i + 1} must be 32 bytes encoded in base64`);
    }
  }
  for (const [i, t] of (c.bootstrapAdminTokens ?? []).entries()) {
    if (t.length < MIN_ADMIN_TOKEN_LENGTH) {
      problems.push(
        `BULWARK_BOOTSTRAP_ADMIN_TOKENS: entry ${i + 1} must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`,
      );
    }
  }
  if (c.env !== 'production') return problems;
  if (!c.masterKeys?.length) {
    problems.push('BULWARK_MASTER_KEYS: required in production (generated development keys are refused)');
  }
  if (!c.bootstrapAdminTokens?.length) {
    problems.push(
      'BULWARK_BOOTSTRAP_ADMIN_TOKENS: required in production (generated bootstrap secrets are refused)',
    );
  }
  if (!c.tlsCertFile && !c.behindTlsProxy) {
    problems.push(
      'BULWARK_TLS_CERT_FILE/BULWARK_TLS_KEY_FILE: production refuses plain HTTP; set them, or set BULWARK_BEHIND_TLS_PROXY=true when a TLS-terminating proxy is in front',
    );
  }
  if (!c.publicUrl.startsWith('https://')) {
    problems.push('BULWARK_PUBLIC_URL: must be an https:// URL in production');
  }
  if (c.dataDir === MEMORY_DATA_DIR && !c.databaseUrl) {
    problems.push(
      'BULWARK_DATA_DIR: an in-memory database loses every record on restart; refused in production',
    );
  }
  return problems;
}

interface DevSecrets {
  bootstrapAdminToken: string;
  masterKey: string;
}

const memoryDevSecrets = new Map<string, DevSecrets>();

/**
 * Development-only secrets, generated once and kept (mode 0600) in the data directory so that a
 * restart keeps decrypting what it encrypted. Production never reaches this.
 */
function devSecrets(dataDir: string): DevSecrets {
  const fresh = (): DevSecrets => ({
    bootstrapAdminToken: `dev-admin-${randomBytes(24).toString('base64url')}`,
    masterKey: randomBytes(32).toString('base64'),
  });
  if (dataDir === MEMORY_DATA_DIR) {
    // One per process, so every app built in a test run agrees.
    const s = memoryDevSecrets.get(dataDir) ?? fresh();
    memoryDevSecrets.set(dataDir, s);
    return s;
  }
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const s = fresh();
  // Written whole to a private file first, then linked into place: link() fails if the file exists,
  // so a process starting at the same moment either wins or reads the winner's COMPLETE file (an
  // exclusive create alone lets it read the file while still empty).
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, file);
  } catch (err) {
    // Another process started at the same moment and linked first: use its secrets.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  return s;
}

/** A copy of the config safe to print or log: secrets replaced. */
export function redactedConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  for (const s of SETTINGS) {
    if ('secret' in s && s.secret && out[s.key] !== undefined) out[s.key] = '[redacted]';
  }
  return out;
}
