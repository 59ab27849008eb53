/**
 * A bounded least-recently-used map whose entries each carry their own expiry (a verified token
 * lives until its `exp`, a DPoP public key forever). The bound caps memory whatever callers send;
 * expiry is checked on read, so nothing is served past its time even if never swept.
 */
export class ExpiringLru<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(private readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new Error('ExpiringLru needs room for at least one entry');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live value, refreshed as most recently used; an expired entry is dropped. */
  get(key: K, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    // Map keeps insertion order: re-inserting makes this the most recently used entry.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (ms; `Infinity` for never), evicting the least recently used. */
  set(key: K, value: V, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose value matches; returns how many. */
  deleteWhere(match: (value: V) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.entries) {
      if (match(entry.value)) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.entries.clear();
  }
}
