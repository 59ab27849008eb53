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
  /** Resolves when the backend answers; for readiness checks. */
  ping(): Promise<void>;
  /** Releases timers and connections. Idempotent. */
  close(): Promise<void>;
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
