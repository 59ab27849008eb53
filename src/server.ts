import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './platform/log.ts';

/**
 * Listen, and shut down gracefully on SIGTERM/SIGINT: stop accepting, let in-flight requests
 * finish (new ones on kept-alive connections get 503), then close the relay, bus, KV and DB pools.
 * If draining takes longer than `shutdownTimeoutMs`, exit anyway.
 */
export async function serve(config: Config, logger: Logger): Promise<FastifyInstance> {
  const app = await buildApp(config, { logger });
  await app.listen({ host: config.host, port: config.port });

  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    try {
      await app.close();
      logger.info('shut down cleanly');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return app;
}
