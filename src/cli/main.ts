import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from '../config/index.ts';
import { openDatabase } from '../platform/db/index.ts';
import { createLogger } from '../platform/log.ts';
import { openServices } from '../platform/services.ts';
import { runScanCli, SCAN_HELP } from '../scan/cli.ts';
import { serve } from '../server.ts';
import { API_HELP, runApi } from './api.ts';
import { AUDIT_HELP, runAudit } from './audit.ts';
import { COMPLIANCE_HELP, runCompliance } from './compliance.ts';
import { type DemoSeed, seedDemo } from './seed.ts';

const HELP: Record<string, string> = {
  main: `bulwark — security-first Banking-as-a-Service API platform for insurers

Usage: bulwark <command> [options]

Commands:
  serve     Run the server (partner API, admin API, docs, health)
  migrate   Apply pending database migrations and exit
  seed      Load data (--demo: a demo insurer, partner and app)
  audit     Verify the tamper-evident audit trail, export signed bundles, print its public keys
  compliance  Compliance report (ISO 27001, PSD2 RTS, OWASP API) on live evidence, GDPR Art. 30 record
  api       API lifecycle: the inventory of every route (JSON or Markdown)
  scan      Assess a running deployment against the OWASP API Security Top 10 (2023)

Run 'bulwark <command> --help' for a command's options.
Settings come from BULWARK_* environment variables, DATABASE_URL, REDIS_URL, NATS_URL and an
optional JSON file named by BULWARK_CONFIG; see the README's configuration table.`,
  serve: `Usage: bulwark serve [--port N] [--host ADDR] [--data-dir DIR] [--demo]

  --port N        TCP port (BULWARK_PORT, default 8080)
  --host ADDR     interface to bind (BULWARK_HOST, default 127.0.0.1)
  --data-dir DIR  embedded database directory (BULWARK_DATA_DIR, default ./.bulwark)
  --demo          seed the demo insurer, partner and app if absent, and print their credentials`,
  migrate: `Usage: bulwark migrate [--data-dir DIR]

Applies pending migrations to PostgreSQL (DATABASE_URL) or the embedded database, then exits.`,
  seed: `Usage: bulwark seed --demo [--data-dir DIR]

  --demo          create the demo insurer, partner and sandbox app (idempotent); print credentials`,
  audit: AUDIT_HELP,
  compliance: COMPLIANCE_HELP,
  scan: SCAN_HELP,
  api: API_HELP,
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  demo: { type: 'boolean' },
} as const;

class UsageError extends Error {}

function printDemo(seed: DemoSeed, config: Config, out: (s: string) => void) {
  const lines = [
    seed.created ? 'Demo data created:' : 'Demo data present:',
    `  tenant id     ${seed.tenantId}   (slug demo-insurer)`,
    `  partner id    ${seed.partnerId}`,
    `  client id     ${seed.clientId}`,
    seed.privateJwk
      ? `  private key   ${JSON.stringify(seed.privateJwk)}\n                (ES256 JWK for private_key_jwt and DPoP; shown once, only the public key is stored)`
      : '  private key   (shown when the app was created; rotate with PUT …/apps/{appId}/credentials)',
  ];
  if (config.generated.includes('bootstrapAdminTokens')) {
    lines.push(
      `  admin token   ${config.bootstrapAdminTokens[0]}   (development only; kept in ${config.dataDir}/dev-secrets.json)`,
    );
  }
  out(lines.join('\n'));
}

/** Entry point; returns the process exit code (0 ok, 1 failure, 2 usage or configuration error). */
export async function main(
  argv: string[],
  out = (s: string) => console.log(s),
  err = (s: string) => console.error(s),
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out(HELP.main!);
    return command ? 0 : 2;
  }
  if (!HELP[command] || command === 'main') {
    err(`bulwark: unknown command '${command}'\n\n${HELP.main}`);
    return 2;
  }
  // `audit` has subcommands and options of its own (src/cli/audit.ts).
  if (command === 'audit') return runAudit(rest, { out, err, progress: process.stderr });
  if (command === 'compliance') return runCompliance(rest, { out, err });
  // `scan` talks to a deployment over HTTP only; it needs no configuration (src/scan/cli.ts).
  if (command === 'scan') return runScanCli(rest, { out, err });
  // `api inventory` builds the app in memory to read its route table (src/cli/api.ts).
  if (command === 'api') return runApi(rest, { out, err });
  try {
    let values: { help?: boolean; port?: string; host?: string; 'data-dir'?: string; demo?: boolean };
    try {
      ({ values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }));
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n\n${HELP[command]}`);
    }
    if (values.help) {
      out(HELP[command]!);
      return 0;
    }
    if (command !== 'serve' && (values.port || values.host))
      throw new UsageError(`--port/--host apply to serve only\n\n${HELP[command]}`);
    if (command === 'seed' && !values.demo) throw new UsageError(`seed needs --demo\n\n${HELP.seed}`);
    if (command === 'migrate' && values.demo)
      throw new UsageError(`migrate takes no --demo\n\n${HELP.migrate}`);

    const config = loadConfig({
      overrides: { port: values.port, host: values.host, dataDir: values['data-dir'] },
    });
    const logger = createLogger(config.logLevel);

    if (command === 'serve') {
      const app = await serve(config, logger);
      if (values.demo) printDemo(await seedDemo(app.services), config, out);
      out(`Bulwark listening on ${config.publicUrl} (API docs: ${config.publicUrl}/docs)`);
      return 0;
    }
    if (command === 'migrate') {
      // Migrating needs the database only, not Redis or NATS.
      const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
      try {
        const { applied } = await db.migrate();
        const status = await db.migrationStatus();
        out(`Applied ${applied.length ? applied.join(', ') : 'nothing new'}.`);
        out(`Migrations up to date (${status.applied} applied) on ${db.kind}.`);
      } finally {
        await db.close();
      }
      return 0;
    }
    const services = await openServices(config, logger, { migrate: true });
    try {
      printDemo(await seedDemo(services), config, out);
    } finally {
      await services.close();
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`bulwark ${command}: ${e.message}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err(`bulwark: ${e.message}`);
      return 2;
    }
    err(`bulwark ${command}: ${(e as Error).message}`);
    return 1;
  }
}
