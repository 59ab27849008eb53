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
  type MemoryScriptStore,
} from './kv.ts';

export interface MemoryKvOptions {
  readonly prefix: string;
  /** Injectable clock so tests can move time without sleeping. */
  readonly now?: (() => number) | undefined;
  /** How often expired entries are swept out (they are also dropped lazily on read). */
  readonly sweepIntervalMs?: number | undefined;
  /**
   * Upper bound on live entries. Without one, a flood of distinct keys (one rate-limit counter per
   * spoofed client id, say) grows the process until it dies. At the bound the oldest-written entry is
   * evicted: that forgets state (a replay entry, a counter), so size it well above the live set — the
   * sweep keeps expired entries from counting — and use Redis where that trade-off is unacceptable.
   */
  readonly maxEntries?: number | undefined;
}

interface Entry {
  value: string;
  /** Absolute ms on the injected clock; undefined means no expiry. */
  expiresAt: number | undefined;
}

const DEFAULT_SWEEP_MS = 30_000;
const DEFAULT_MAX_ENTRIES = 1_000_000;

/** Redis's INCR accepts only the canonical decimal form of an integer; mirror it so backends agree. */
const INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * The embedded backend. Node runs each method body to completion without interleaving (none of them
 * awaits), which is what makes setIfAbsent, incr, compareAndDelete and scripts atomic here.
 */
class MemoryKv implements Kv {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: MemoryKvOptions) {
    this.prefix = checkPrefix(options.prefix);
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new KvError('maxEntries must be a positive integer');
    }
    this.timer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_MS);
    // A cache sweep must never be what keeps the process (or a test worker) alive.
    this.timer.unref();
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, options?: { readonly ttlMs?: number | undefined }): Promise<void> {
    const ttlMs = options?.ttlMs;
    this.write(key, value, ttlMs === undefined ? undefined : this.now() + checkTtl(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const expiresAt = this.now() + checkTtl(ttlMs);
    if (this.live(key)) return false;
    this.write(key, value, expiresAt);
    return true;
  }

  async incr(
    key: string,
    options: { readonly by?: number | undefined; readonly ttlMs: number },
  ): Promise<number> {
    const by = checkIncrement(options.by ?? 1);
    const ttlMs = checkTtl(options.ttlMs);
    const entry = this.live(key);
    if (!entry) {
      this.write(key, String(by), this.now() + ttlMs);
      return by;
    }
    if (!INTEGER.test(entry.value)) throw new KvError('value is not an integer');
    const next = Number(entry.value) + by;
    if (!Number.isSafeInteger(next)) throw new KvError('increment would overflow');
    // Updated in place: the expiry belongs to the creating increment (see Kv.incr).
    entry.value = String(next);
    return next;
  }

  async del(key: string): Promise<boolean> {
    this.open();
    const existed = this.live(key) !== undefined;
    this.entries.delete(this.prefix + key);
    return existed;
  }

  async ttl(key: string): Promise<number | undefined> {
    const entry = this.live(key);
    if (entry?.expiresAt === undefined) return undefined;
    return entry.expiresAt - this.now();
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    const entry = this.live(key);
    if (entry?.value !== expected) return false;
    this.entries.delete(this.prefix + key);
    return true;
  }

  async script<R extends KvReply>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly KvScriptArg[],
  ): Promise<R> {
    this.open();
    checkScript(script);
    // One instant for the whole operation, as a Lua script sees one TIME: expiry decisions inside
    // the script cannot disagree with the clock the script computed with.
    const now = this.now();
    const store: MemoryScriptStore = {
      get: (key) => this.live(key, now)?.value,
      set: (key, value, ttlMs) => {
        this.write(key, value, ttlMs === undefined ? undefined : now + checkTtl(ttlMs));
      },
      del: (key) => {
        const existed = this.live(key, now) !== undefined;
        this.entries.delete(this.prefix + key);
        return existed;
      },
      pttl: (key) => {
        const entry = this.live(key, now);
        return entry?.expiresAt === undefined ? undefined : entry.expiresAt - now;
      },
    };
    // Synchronous by contract (KvScript.memory): nothing else runs until it returns.
    return script.memory(store, keys, args, now);
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  /** The unexpired entry, dropping it if it has expired (lazy expiry). */
  private live(key: string, now = this.now()): Entry | undefined {
    this.open();
    const full = this.prefix + key;
    const entry = this.entries.get(full);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      this.entries.delete(full);
      return undefined;
    }
    return entry;
  }

  private write(key: string, value: string, expiresAt: number | undefined): void {
    this.open();
    const full = this.prefix + key;
    // Re-inserting moves the key to the end of the Map's order, so the first key is the oldest write.
    this.entries.delete(full);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(full, { value, expiresAt });
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.entries.delete(key);
    }
  }

  private open(): void {
    if (this.closed) throw new KvError('kv is closed');
  }
}

export function createMemoryKv(options: MemoryKvOptions): Kv {
  return new MemoryKv(options);
}
