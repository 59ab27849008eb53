/**
 * Corpus harness: Bulwark's WAF in front of an unauthenticated API. A bare Fastify 5 instance with
 * the project's JSON body parser and problem handlers, the WAF installed, and every other request
 * answered 401 — so a 403 can only come from the WAF.
 *
 *   npx tsx bench/waf-server.ts --port 18090 [--paranoia 1] [--mode block|monitor]
 */
import Fastify from 'fastify';
import { compileWaf, installWaf } from '../src/gateway/waf/index.ts';
import { AppError, HttpErrors } from '../src/platform/errors/index.ts';
import { installJsonBodyParser } from '../src/platform/http/json-body.ts';
import { installProblemHandlers } from '../src/platform/http/problems.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const port = Number(arg('port', '18090'));
const paranoia = Number(arg('paranoia', '1'));
const mode = arg('mode', 'block') === 'monitor' ? 'monitor' : 'block';
if (paranoia !== 1 && paranoia !== 2 && paranoia !== 3 && paranoia !== 4)
  throw new Error('--paranoia must be 1-4');

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
installJsonBodyParser(app);
installProblemHandlers(app);
installWaf(app, compileWaf({ paranoia, mode }));
app.all('/*', async () => {
  throw new AppError(HttpErrors.AUTH_REQUIRED);
});
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`waf harness on http://127.0.0.1:${port} (paranoia ${paranoia}, ${mode})\n`);
