/**
 * The key-value kernel: one small interface over an in-process Map (embedded default) and Redis
 * (scale-out). It carries short-lived security state — rate-limit counters, replay caches (DPoP `jti`,
 * nonces), idempotency and distributed locks — so every operation that must be atomic is atomic on
 * both backends: the memory backend never awaits inside an operation, the Redis backend runs the
 * read-modify-write operations as single Lua scripts.
 *
 * Keys are given without the instance prefix; the backend adds it. Durations are milliseconds.
 */
export interface Kv {
  readonly kind: 'memory' | 'redis';
  /** The value, or undefined when the key is absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Writes the value; without `ttlMs` the key never expires (a previous expiry is dropped, as Redis SET does). */
  set(key: string, value: string, options?: { readonly ttlMs?: number | undefined }): Promise<void>;
  /** True when this call created the key (SET NX PX): the primitive behind replay caches and locks. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) and returns the new value. The key expires `ttlMs` after the
   * increment that created it; later increments leave the expiry alone, so a fixed window cannot be
   * kept open forever by a caller who keeps hitting it. Fails when the stored value is not an integer.
   */
  incr(key: string, options: { readonly by?: number | undefined; readonly ttlMs: number }): Promise<number>;
  /** True when a key was removed. */
  del(key: string): Promise<boolean>;
  /** Remaining lifetime in ms; undefined when the key is absent or has no expiry. */
  ttl(key: string): Promise<number | undefined>;
  /**
   * Deletes the key only if it still holds `expected`, atomically — so a lock holder whose lease
   * expired cannot release the lock someone else has taken since.
   */
  compareAndDelete(key: string, expected: string): Promise<boolean>;
  /**
   * Runs one atomic read-modify-write operation that the methods above cannot express (a GCRA
   * check over several keys, say): on Redis the script's Lua, on the memory backend its `memory`
   * function, each without interleaving any other operation. Keys are given without the prefix,
   * like every other key; the backend adds it. See `KvScript` for the contract both halves keep.
   */
  script<R extends KvReply>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly KvScriptArg[],
  ): Promise<R>;
  /** Resolves when the backend answers; for readiness checks. */
  ping(): Promise<void>;
  /** Releases timers and connections. Idempotent. */
  close(): Promise<void>;
}

/** An argument of a script: Redis receives it as ARGV[i] (numbers as their decimal form). */
export type KvScriptArg = string | number;

/**
 * What a script may return: what a Lua reply can carry once Redis converts it (integers — Lua
 * numbers are truncated —, strings, nil as null, and arrays of these). Returning only these from the
 * memory half too keeps both backends answering the same value to the same caller.
 */
export type KvReply = number | string | null | readonly KvReply[];

/**
 * The state a memory script reads and writes: the backend's own map, with the instance prefix added
 * and expiry applied exactly as for the other operations. Synchronous on purpose — a script that
 * could await could interleave with another one and would no longer be atomic.
 */
export interface MemoryScriptStore {
  get(key: string): string | undefined;
  /** Without `ttlMs` the key never expires (as Redis SET drops an earlier expiry). */
  set(key: string, value: string, ttlMs?: number): void;
  del(key: string): boolean;
  /** Remaining lifetime in ms; undefined when the key is absent or has no expiry (Redis PTTL). */
  pttl(key: string): number | undefined;
}

/**
 * One atomic operation, written twice: `lua` for Redis, `memory` for the embedded backend. The two
 * must agree — same result for the same state — which tests of the script check on both backends.
 *  - `lua` receives the prefixed keys as KEYS and `args` as ARGV. Its clock, if it needs one, is
 *    `redis.call('TIME')`: the server's clock is the one every instance shares, however skewed
 *    theirs are.
 *  - `memory` receives the unprefixed keys (the store prefixes them), the same `args`, and the
 *    backend's clock in ms. It must return what the Lua would (see `KvReply`) and must not await.
 * Redis caches the Lua by its SHA-1: the backend sends EVALSHA and falls back to EVAL once when the
 * server's script cache does not have it (after a restart or SCRIPT FLUSH).
 */
export interface KvScript<R extends KvReply> {
  /** For errors and logs; letters, digits, `-` and `_`. Unique per Lua body. */
  readonly name: string;
  readonly lua: string;
  readonly memory: (
    store: MemoryScriptStore,
    keys: readonly string[],
    args: readonly KvScriptArg[],
    nowMs: number,
  ) => R;
}

/** Thrown for misuse of the API (bad TTL, bad increment, use after close), the same on both backends. */
export class KvError extends Error {
  override readonly name = 'KvError';
}

/**
 * A TTL must be a positive whole number of ms: Redis refuses anything else for PX, and a zero or
 * negative TTL on a replay cache would silently store nothing, so both backends reject it alike.
 */
export function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new KvError(`ttlMs must be a positive integer, got ${String(ttlMs)}`);
  }
  return ttlMs;
}

/** INCRBY takes integers only; refuse fractions here rather than get a different error per backend. */
export function checkIncrement(by: number): number {
  if (!Number.isSafeInteger(by)) throw new KvError(`incr by must be a safe integer, got ${String(by)}`);
  return by;
}

/**
 * An empty prefix would let two deployments (or a test run and production) on one Redis read each
 * other's counters and locks; refuse it rather than default it.
 */
export function checkPrefix(prefix: string): string {
  if (prefix.length === 0) throw new KvError('kv prefix must not be empty');
  return prefix;
}

/** A script name appears in errors and logs; keep it to a plain identifier. */
export function checkScript<R extends KvReply>(script: KvScript<R>): KvScript<R> {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(script.name)) {
    throw new KvError(`script name must be a plain identifier, got ${JSON.stringify(script.name)}`);
  }
  if (script.lua.trim() === '') throw new KvError(`script ${script.name} has no Lua body`);
  return script;
}
