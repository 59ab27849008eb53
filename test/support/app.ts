import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/platform/log.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

/** Configuration for an in-process test app: embedded, in-memory, silent. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      NODE_ENV: 'test',
      BULWARK_DATA_DIR: 'memory://',
      BULWARK_LOG_LEVEL: 'silent',
      BULWARK_BOOTSTRAP_ADMIN_TOKENS: ADMIN_TOKEN,
      ...env,
    },
  });
}

export async function testApp(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = testConfig(env);
  return buildApp(config, { logger: createLogger('silent') });
}

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };
