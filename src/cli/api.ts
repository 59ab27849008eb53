/**
 * `bulwark api inventory`: every route of this build with its version, lifecycle, owner, data
 * classification, auth, idempotency and rate-limit class — generated from the route table of an
 * app built in memory (nothing is read from or written to the deployment's stores).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildApp } from '../app.ts';
import { loadConfig } from '../config/index.ts';
import {
  API_VERSIONS,
  deprecationSchedule,
  filterInventory,
  type GovernedRoute,
  inventoryMarkdown,
} from '../gateway/versioning/index.ts';
import { createLogger } from '../platform/log.ts';

export const API_HELP = `Usage: bulwark api inventory [--format json|markdown] [--version V] [--status S] [--owner O] [--out FILE]

  Lists every route this build registers: method, path, version, lifecycle status, owner, data
  classification, auth requirement (public / operator / access token + scopes), Idempotency-Key,
  rate-limit class, deprecation and sunset dates. The same table as GET /admin/api/inventory.

  --format json|markdown   output format (default json)
  --version V              only routes of v1, v2, … or 'unversioned'
  --status S               only beta, stable, deprecated or retired routes
  --owner O                only routes of this owner (module)
  --out FILE               write to FILE instead of stdout`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  format: { type: 'string' },
  version: { type: 'string' },
  status: { type: 'string' },
  owner: { type: 'string' },
  out: { type: 'string' },
} as const;

export interface ApiCliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** The route table of this build, from an app built in memory and closed again. */
export async function routeInventory(): Promise<readonly GovernedRoute[]> {
  const config = loadConfig({
    env: { NODE_ENV: 'development', BULWARK_DATA_DIR: 'memory://', BULWARK_LOG_LEVEL: 'silent' },
  });
  const app = await buildApp(config, { logger: createLogger('silent') });
  try {
    return app.apiInventory();
  } finally {
    await app.close();
  }
}

/** Exit codes: 0 done, 1 failure, 2 usage. */
export async function runApi(args: string[], io: ApiCliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') {
    io.out(API_HELP);
    return sub ? 0 : 2;
  }
  if (sub !== 'inventory') {
    io.err(`bulwark api: unknown subcommand '${sub}'\n\n${API_HELP}`);
    return 2;
  }
  let values: {
    help?: boolean;
    format?: string;
    version?: string;
    status?: string;
    owner?: string;
    out?: string;
  };
  try {
    ({ values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    io.err(`bulwark api: ${(e as Error).message}\n\n${API_HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(API_HELP);
    return 0;
  }
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'markdown') {
    io.err(`bulwark api: --format must be json or markdown\n\n${API_HELP}`);
    return 2;
  }
  const versions: readonly string[] = [...API_VERSIONS, 'unversioned'];
  if (values.version !== undefined && !versions.includes(values.version)) {
    io.err(`bulwark api: --version must be one of ${versions.join(', ')}`);
    return 2;
  }
  try {
    const routes = filterInventory(await routeInventory(), values);
    const text =
      format === 'json'
        ? `${JSON.stringify({ count: routes.length, routes }, null, 2)}\n`
        : `# API inventory\n\n${routes.length} routes.\n\n${inventoryMarkdown(routes)}\n${deprecationSchedule(routes)}`;
    if (values.out) writeFileSync(values.out, text);
    else io.out(text.trimEnd());
    return 0;
  } catch (e) {
    io.err(`bulwark api inventory: ${(e as Error).message}`);
    return 1;
  }
}
