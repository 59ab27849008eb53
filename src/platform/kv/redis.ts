import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  checkIncrement,
  checkPrefix,
  checkScript,
  checkTtl,
  type Kv,
  KvError,
  type KvReply,
  type KvScript,
  type KvScriptArg,
} from './kv.ts';

export interface RedisKvOptions {
  /** `redis://` or `rediss://` URL. It may carry a password, so it never appears in errors or logs. */
  readonly url: string;
  readonly prefix: string;
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Bound on one command's wait. A stalled Redis must turn into a fast error the caller can handle
   * (fail a rate-limit check closed, say), not a request that hangs until the client gives up.
   */
  readonly commandTimeoutMs?: number | undefined;
  /** Receives connection errors after start-up (reconnects happen by themselves); for logging. */
  readonly onError?: ((err: Error) => void) | undefined;
}

/**
 * Read-modify-write operations as Lua: Redis runs a script without interleaving other commands, so
 * each one is atomic across every instance sharing the server, with one round trip. ioredis loads
 * them with EVALSHA and falls back to EVAL when the server's script cache is empty.
 */
const SCRIPTS = {
  // The expiry is set only by the increment that creates the key (EXISTS before INCRBY), never
  // refreshed: a fixed window must close even if the caller keeps hitting it.
  bulwarkKvIncr: {
    numberOfKeys: 1,
    lua: `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`,
  },
  // The check and the delete must not be split: between a GET and a DEL the lease may expire and
  // another owner take the lock, whose lock we would then release.
  bulwarkKvCompareAndDelete: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const;

/** The commands `defineCommand` adds at run time, which ioredis's types cannot know about. */
interface KvScripts {
  bulwarkKvIncr(key: string, by: number, ttlMs: number): Promise<number>;
  bulwarkKvCompareAndDelete(key: string, expected: string): Promise<number>;
}

type ScriptedRedis = Redis & KvScripts;

class RedisKv implements Kv {
  readonly kind = 'redis' as const;
  private closed = false;
  /** SHA-1 of each script's Lua by name, computed once: the per-call cost is one map lookup. */
  private readonly scripts = new Map<string, { readonly lua: string; readonly sha: string }>();

  constructor(
    private readonly client: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    this.open();
    return (await this.client.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, options?: { readonly ttlMs?: number | undefined }): Promise<void> {
    this.open();
    const ttlMs = options?.ttlMs;
    if (ttlMs === undefined) await this.client.set(this.prefix + key, value);
    else await this.client.set(this.prefix + key, value, 'PX', checkTtl(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.open();
    const reply = await this.client.set(this.prefix + key, value, 'PX', checkTtl(ttlMs), 'NX');
    return reply === 'OK';
  }

  async incr(
    key: string,
    options: { readonly by?: number | undefined; readonly ttlMs: number },
  ): Promise<number> {
    this.open();
    const by = checkIncrement(options.by ?? 1);
    const ttlMs = checkTtl(options.ttlMs);
    try {
      return await this.client.bulwarkKvIncr(this.prefix + key, by, ttlMs);
    } catch (err) {
      // Same error as the memory backend for the one misuse callers can cause: a non-integer value.
      if (err instanceof Error && /not an integer|overflow/.test(err.message)) {
        throw new KvError('value is not an integer or the increment would overflow');
      }
      throw err;
    }
  }

  async del(key: string): Promise<boolean> {
    this.open();
    return (await this.client.del(this.prefix + key)) > 0;
  }

  async ttl(key: string): Promise<number | undefined> {
    this.open();
    // PTTL answers -2 for a missing key and -1 for a key without expiry.
    const ms = await this.client.pttl(this.prefix + key);
    return ms >= 0 ? ms : undefined;
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    this.open();
    return (await this.client.bulwarkKvCompareAndDelete(this.prefix + key, expected)) === 1;
  }

  async script<R extends KvReply>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly KvScriptArg[],
  ): Promise<R> {
    this.open();
    const sha = this.shaOf(script);
    const prefixed = keys.map((key) => this.prefix + key);
    try {
      // The reply's shape is the script's contract (KvScript): Redis only converts the Lua value.
      return (await this.client.evalsha(sha, prefixed.length, ...prefixed, ...args)) as R;
    } catch (err) {
      // NOSCRIPT: the server's script cache is empty (restart, failover, SCRIPT FLUSH). EVAL runs
      // the body and caches it again, so the next call is back on EVALSHA.
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await this.client.eval(script.lua, prefixed.length, ...prefixed, ...args)) as R;
    }
  }

  async ping(): Promise<void> {
    this.open();
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // QUIT lets in-flight replies arrive; it fails when the link is already down, then just drop it.
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private open(): void {
    if (this.closed) throw new KvError('kv is closed');
  }

  private shaOf<R extends KvReply>(script: KvScript<R>): string {
    const known = this.scripts.get(script.name);
    if (known) {
      // Two bodies under one name would make logs and errors point at the wrong script.
      if (known.lua !== script.lua) throw new KvError(`script name ${script.name} is used for two bodies`);
      return known.sha;
    }
    checkScript(script);
    const sha = createHash('sha1').update(script.lua).digest('hex');
    this.scripts.set(script.name, { lua: script.lua, sha });
    return sha;
  }
}

/** Host and port only: what an operator needs to fix a start-up failure, without the credentials. */
function describeTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not even the parse error is kept: Node's carries the whole input, password included.
    throw new KvError('REDIS_URL is not a valid URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new KvError('REDIS_URL must start with redis:// or rediss://');
  }
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

/**
 * Connects before returning, so a wrong URL, a refused connection or a bad password stops the server
 * at start-up with a clear message instead of failing the first request that needs a rate limit.
 */
export async function createRedisKv(options: RedisKvOptions): Promise<Kv> {
  const prefix = checkPrefix(options.prefix);
  const target = describeTarget(options.url);
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    // While Redis is unreachable, fail commands at once rather than queue them: the callers are on
    // the request path and must decide (fail closed) now, not pile up behind a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  }) as ScriptedRedis;
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);

  let lastError: Error | undefined;
  // An EventEmitter 'error' with no listener would throw; a dropped connection is not a crash.
  client.on('error', (err: Error) => {
    lastError = err;
    options.onError?.(err);
  });

  try {
    await client.connect();
  } catch (err) {
    // Stop the background reconnect loop, or the failed client would keep the process alive.
    client.disconnect();
    const reason = (lastError ?? (err instanceof Error ? err : undefined))?.message ?? 'unknown error';
    throw new KvError(`cannot connect to Redis at ${target}: ${reason}`);
  }
  return new RedisKv(client, prefix);
}
