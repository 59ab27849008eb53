import { type Kv, KvError } from './kv.ts';
import { createMemoryKv } from './memory.ts';
import { createRedisKv } from './redis.ts';

export {
  checkTtl,
  type Kv,
  KvError,
  type KvReply,
  type KvScript,
  type KvScriptArg,
  type MemoryScriptStore,
} from './kv.ts';
export { createMemoryKv, type MemoryKvOptions } from './memory.ts';
export { createRedisKv, type RedisKvOptions } from './redis.ts';

export interface KvOptions {
  /** Set for scale-out (shared state across instances); absent means the in-process Map. */
  readonly redisUrl?: string | undefined;
  /** Namespace for every key, e.g. `bulwark:`, so deployments and test runs can share one Redis. */
  readonly prefix: string;
  /** Connection errors after start-up, for logging; the client reconnects by itself. */
  readonly onError?: ((err: Error) => void) | undefined;
}

/**
 * Opens the KV the configuration asks for. Redis is connected before this resolves, so a bad
 * REDIS_URL fails start-up rather than the first request.
 */
export async function openKv(options: KvOptions): Promise<Kv> {
  if (options.redisUrl !== undefined && options.redisUrl !== '') {
    return createRedisKv({ url: options.redisUrl, prefix: options.prefix, onError: options.onError });
  }
  if (options.redisUrl === '') {
    // An empty REDIS_URL is almost always a deployment mistake; silently going in-memory would split
    // rate limits and replay caches per instance without anyone noticing.
    throw new KvError('REDIS_URL is set but empty');
  }
  return createMemoryKv({ prefix: options.prefix });
}
