import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl, uniqueName } from '../../../test/support/backends.ts';
import { createMemoryKv, createRedisKv, type Kv, KvError, type KvScript, openKv } from './index.ts';

/**
 * One harness per backend so the same test bodies run on both. Time: the memory backend gets an
 * injected clock that `advance` moves; on Redis `advance` really sleeps, so TTLs here stay short.
 */
interface Backend {
  readonly name: 'memory' | 'redis';
  /** A new KV on the shared store (the same Redis server; the same clock for memory). */
  open(prefix: string): Promise<Kv>;
  /** `n` handles that share `kv`'s state: separate connections on Redis, the one instance in memory. */
  peers(kv: Kv, prefix: string, n: number): Promise<Kv[]>;
  advance(ms: number): Promise<void>;
  /** The clock scripts see: the injected one for memory, the wall clock (≈ Redis TIME) on Redis. */
  now(): number;
  /** Removes what the run left behind (keys without expiry would otherwise stay on the shared Redis). */
  cleanup(prefixes: readonly string[]): Promise<void>;
}

function memoryBackend(): Backend {
  let clock = 1_700_000_000_000;
  return {
    name: 'memory',
    open: async (prefix) => createMemoryKv({ prefix, now: () => clock }),
    peers: async (kv, _prefix, n) => Array.from({ length: n }, () => kv),
    advance: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    cleanup: async () => {},
  };
}

function redisBackend(url: string): Backend {
  const open = (prefix: string) => createRedisKv({ url, prefix });
  return {
    name: 'redis',
    open,
    peers: (_kv, prefix, n) => Promise.all(Array.from({ length: n }, () => open(prefix))),
    advance: (ms) => sleep(ms),
    now: () => Date.now(),
    cleanup: async (prefixes) => {
      const raw = new Redis(url);
      try {
        for (const prefix of prefixes) {
          for await (const keys of raw.scanStream({ match: `${prefix}*`, count: 500 })) {
            if ((keys as string[]).length > 0) await raw.unlink(...(keys as string[]));
          }
        }
      } finally {
        await raw.quit();
      }
    },
  };
}

/**
 * Test scripts, each written for both backends. `bounded` admits while a counter is under a limit —
 * the read-check-write shape rate limits need, which would race if split into separate commands.
 */
const bounded: KvScript<[number, number]> = {
  name: 'test-bounded',
  lua: `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return {0, n} end
redis.call('SET', KEYS[1], n + 1, 'PX', ARGV[2])
return {1, n + 1}`,
  memory: (store, keys, args) => {
    const key = keys[0]!;
    const n = Number(store.get(key) ?? '0');
    if (n >= Number(args[0])) return [0, n];
    store.set(key, String(n + 1), Number(args[1]));
    return [1, n + 1];
  },
};

/** Writes every key with the given TTL (0: none) and answers what it saw before, and the script's clock. */
const swap: KvScript<[(string | null)[], (number | null)[], number]> = {
  name: 'test-swap',
  lua: `
local before, ttls = {}, {}
for i, key in ipairs(KEYS) do
  before[i] = redis.call('GET', key)
  local left = redis.call('PTTL', key)
  if left >= 0 then ttls[i] = left else ttls[i] = false end
  if tonumber(ARGV[2]) > 0 then redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else redis.call('SET', key, ARGV[1]) end
end
local t = redis.call('TIME')
-- Lua tables stop at the first nil, so absent values travel as false (a null reply) in place.
return {before, ttls, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}`,
  memory: (store, keys, args, nowMs) => {
    const before = keys.map((key) => store.get(key) ?? null);
    const ttls = keys.map((key) => store.pttl(key) ?? null);
    const ttl = Number(args[1]);
    for (const key of keys) store.set(key, String(args[0]), ttl > 0 ? ttl : undefined);
    return [before, ttls, nowMs];
  },
};

const deleteAll: KvScript<number> = {
  name: 'test-delete-all',
  lua: `
local n = 0
for _, key in ipairs(KEYS) do n = n + redis.call('DEL', key) end
return n`,
  memory: (store, keys) => keys.filter((key) => store.del(key)).length,
};

const backends: readonly Backend[] = [memoryBackend(), ...(redisUrl ? [redisBackend(redisUrl)] : [])];

describe.each(backends)('kv on $name', (backend) => {
  const prefix = `${uniqueName('t')}:`;
  const opened: Kv[] = [];
  const prefixes = [prefix];
  let kv: Kv;

  const open = async (p: string) => {
    prefixes.push(p);
    const k = await backend.open(p);
    opened.push(k);
    return k;
  };
  const peers = async (n: number) => {
    const ks = await backend.peers(kv, prefix, n);
    opened.push(...ks);
    return ks;
  };

  beforeAll(async () => {
    kv = await open(prefix);
  });
  afterAll(async () => {
    await Promise.all(opened.map((k) => k.close()));
    await backend.cleanup(prefixes);
  });

  it('reports its kind and answers ping', async () => {
    expect(kv.kind).toBe(backend.name);
    await expect(kv.ping()).resolves.toBeUndefined();
  });

  describe('get / set / del / ttl', () => {
    it('round-trips a value and has no ttl without one', async () => {
      expect(await kv.get('plain')).toBeUndefined();
      await kv.set('plain', 'v1');
      expect(await kv.get('plain')).toBe('v1');
      expect(await kv.ttl('plain')).toBeUndefined();
      expect(await kv.ttl('missing')).toBeUndefined();
    });

    it('expires a value after its ttl', async () => {
      await kv.set('short', 'v', { ttlMs: 150 });
      const left = await kv.ttl('short');
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(150);
      await backend.advance(250);
      expect(await kv.get('short')).toBeUndefined();
      expect(await kv.ttl('short')).toBeUndefined();
    });

    it('drops an earlier expiry when set again without one, as Redis SET does', async () => {
      await kv.set('reset', 'a', { ttlMs: 150 });
      await kv.set('reset', 'b');
      expect(await kv.ttl('reset')).toBeUndefined();
      await backend.advance(250);
      expect(await kv.get('reset')).toBe('b');
    });

    it('deletes, and says whether there was something to delete', async () => {
      await kv.set('gone', 'x');
      expect(await kv.del('gone')).toBe(true);
      expect(await kv.del('gone')).toBe(false);
      expect(await kv.get('gone')).toBeUndefined();
    });

    it('treats an expired key as absent for del', async () => {
      await kv.set('stale', 'x', { ttlMs: 50 });
      await backend.advance(150);
      expect(await kv.del('stale')).toBe(false);
    });

    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses ttlMs %s', async (ttlMs) => {
      await expect(kv.set('bad-ttl', 'v', { ttlMs })).rejects.toBeInstanceOf(KvError);
      await expect(kv.setIfAbsent('bad-ttl', 'v', ttlMs)).rejects.toBeInstanceOf(KvError);
      await expect(kv.incr('bad-ttl', { ttlMs })).rejects.toBeInstanceOf(KvError);
      expect(await kv.get('bad-ttl')).toBeUndefined();
    });
  });

  describe('setIfAbsent', () => {
    it('creates once, then refuses while the key lives, and again after it expires', async () => {
      expect(await kv.setIfAbsent('jti-1', 'first', 150)).toBe(true);
      expect(await kv.setIfAbsent('jti-1', 'second', 150)).toBe(false);
      expect(await kv.get('jti-1')).toBe('first');
      await backend.advance(250);
      expect(await kv.setIfAbsent('jti-1', 'third', 150)).toBe(true);
      expect(await kv.get('jti-1')).toBe('third');
    });

    // Regression guard for replay caches: a DPoP proof replayed concurrently must be accepted once.
    it('lets exactly one of 50 concurrent callers win', async () => {
      const clients = await peers(5);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          clients[i % clients.length]!.setIfAbsent('race', `owner-${i}`, 10_000),
        ),
      );
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await kv.get('race')).toBe(`owner-${winners[0]}`);
    });
  });

  describe('incr', () => {
    it('starts at `by`, adds, and accepts negative steps', async () => {
      expect(await kv.incr('count', { ttlMs: 10_000 })).toBe(1);
      expect(await kv.incr('count', { by: 5, ttlMs: 10_000 })).toBe(6);
      expect(await kv.incr('count', { by: -2, ttlMs: 10_000 })).toBe(4);
      expect(await kv.get('count')).toBe('4');
      expect(await kv.incr('count-by', { by: 3, ttlMs: 10_000 })).toBe(3);
    });

    // Regression guard for rate limits: a burst from many connections must count every request once.
    it('is atomic under 200 concurrent increments', async () => {
      const clients = await peers(5);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => clients[i % clients.length]!.incr('burst', { ttlMs: 10_000 })),
      );
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(await kv.get('burst')).toBe('200');
    });

    // Regression guard for fixed windows: later hits must not extend the window they are counted in.
    it('sets the expiry only when the increment creates the key', async () => {
      expect(await kv.incr('window', { ttlMs: 200 })).toBe(1);
      await backend.advance(100);
      expect(await kv.incr('window', { ttlMs: 10_000 })).toBe(2);
      const left = await kv.ttl('window');
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(105);
      await backend.advance(150);
      expect(await kv.get('window')).toBeUndefined();
      expect(await kv.incr('window', { ttlMs: 10_000 })).toBe(1);
      expect(await kv.ttl('window')).toBeGreaterThan(200);
    });

    it('keeps a key without expiry without one', async () => {
      await kv.set('forever', '10');
      expect(await kv.incr('forever', { ttlMs: 100 })).toBe(11);
      expect(await kv.ttl('forever')).toBeUndefined();
    });

    it('refuses a non-integer value or step', async () => {
      await kv.set('text', 'abc');
      await expect(kv.incr('text', { ttlMs: 1000 })).rejects.toBeInstanceOf(KvError);
      expect(await kv.get('text')).toBe('abc');
      await kv.set('padded', ' 1');
      await expect(kv.incr('padded', { ttlMs: 1000 })).rejects.toBeInstanceOf(KvError);
      await expect(kv.incr('fraction', { by: 0.5, ttlMs: 1000 })).rejects.toBeInstanceOf(KvError);
      expect(await kv.get('fraction')).toBeUndefined();
    });
  });

  describe('compareAndDelete', () => {
    it('deletes only for the value it holds', async () => {
      await kv.set('lock', 'owner-a', { ttlMs: 10_000 });
      expect(await kv.compareAndDelete('lock', 'owner-b')).toBe(false);
      expect(await kv.get('lock')).toBe('owner-a');
      expect(await kv.compareAndDelete('lock', 'owner-a')).toBe(true);
      expect(await kv.get('lock')).toBeUndefined();
      expect(await kv.compareAndDelete('lock', 'owner-a')).toBe(false);
    });

    // Regression guard for locks: a holder whose lease ran out must not release the next owner's lock.
    it('keeps a lock taken over after the first owner lease expired', async () => {
      expect(await kv.setIfAbsent('lease', 'owner-a', 100)).toBe(true);
      await backend.advance(200);
      expect(await kv.setIfAbsent('lease', 'owner-b', 10_000)).toBe(true);
      expect(await kv.compareAndDelete('lease', 'owner-a')).toBe(false);
      expect(await kv.get('lease')).toBe('owner-b');
    });
  });

  describe('prefix', () => {
    it('keeps instances with different prefixes apart', async () => {
      const other = await open(`${uniqueName('t')}:`);
      await kv.set('shared-name', 'mine');
      expect(await other.get('shared-name')).toBeUndefined();
      expect(await other.setIfAbsent('shared-name', 'theirs', 10_000)).toBe(true);
      expect(await other.incr('counter', { ttlMs: 10_000 })).toBe(1);
      expect(await kv.incr('counter', { ttlMs: 10_000 })).toBe(1);
      expect(await other.compareAndDelete('shared-name', 'mine')).toBe(false);
      expect(await other.del('shared-name')).toBe(true);
      expect(await kv.get('shared-name')).toBe('mine');
    });

    it('refuses an empty prefix', async () => {
      await expect(backend.open('')).rejects.toBeInstanceOf(KvError);
    });
  });

  describe('script', () => {
    // Regression guard for rate limits: check-then-write from many connections must not overshoot.
    it('runs atomically: 200 concurrent callers against a limit of 10 admit exactly 10', async () => {
      const clients = await peers(5);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          clients[i % clients.length]!.script(bounded, ['gate'], [10, 10_000]),
        ),
      );
      expect(results.filter(([ok]) => ok === 1)).toHaveLength(10);
      expect([...results.filter(([ok]) => ok === 1).map(([, n]) => n)].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      expect(await kv.get('gate')).toBe('10');
    });

    it('sees and writes the same keys as the other operations, under the prefix', async () => {
      await kv.set('s-a', 'old');
      const [before, ttls, now] = await kv.script(swap, ['s-a', 's-b'], ['new', 0]);
      expect(before).toEqual(['old', null]);
      expect(ttls).toEqual([null, null]);
      expect(Math.abs(now - backend.now())).toBeLessThan(5_000);
      expect(await kv.get('s-a')).toBe('new');
      expect(await kv.get('s-b')).toBe('new');
      const other = await open(`${uniqueName('t')}:`);
      expect(await other.get('s-a')).toBeUndefined();
      const [otherBefore] = await other.script(swap, ['s-a'], ['theirs', 0]);
      expect(otherBefore).toEqual([null]);
      expect(await kv.get('s-a')).toBe('new');
      expect(await kv.script(deleteAll, ['s-a', 's-b', 's-missing'], [])).toBe(2);
      expect(await kv.get('s-a')).toBeUndefined();
    });

    it('applies expiry set inside the script, and reports remaining lifetime', async () => {
      await kv.script(swap, ['s-ttl'], ['v', 150]);
      const [, ttls] = await kv.script(swap, ['s-ttl'], ['v2', 150]);
      expect(ttls[0]).toBeGreaterThan(0);
      expect(ttls[0]).toBeLessThanOrEqual(150);
      await backend.advance(250);
      expect(await kv.get('s-ttl')).toBeUndefined();
      const [before] = await kv.script(swap, ['s-ttl'], ['v3', 150]);
      expect(before).toEqual([null]);
    });

    it('propagates an error raised by the script', async () => {
      const failing: KvScript<number> = {
        name: 'test-failing',
        lua: `return redis.error_reply('refused by script')`,
        memory: () => {
          throw new Error('refused by script');
        },
      };
      await expect(kv.script(failing, [], [])).rejects.toThrow(/refused by script/);
    });

    it('refuses a script name that is not a plain identifier', async () => {
      await expect(kv.script({ ...deleteAll, name: 'bad name\n' }, [], [])).rejects.toBeInstanceOf(KvError);
    });

    it('refuses to run after close', async () => {
      const k = await backend.open(prefix);
      await k.close();
      await expect(k.script(deleteAll, ['x'], [])).rejects.toBeInstanceOf(KvError);
    });
  });

  it('refuses use after close, and closes twice without error', async () => {
    const k = await backend.open(prefix);
    await k.close();
    await expect(k.close()).resolves.toBeUndefined();
    await expect(k.get('x')).rejects.toBeInstanceOf(KvError);
    await expect(k.ping()).rejects.toBeInstanceOf(KvError);
  });
});

describe('memory kv', () => {
  it('evicts the oldest write at maxEntries rather than grow without bound', async () => {
    const kv = createMemoryKv({ prefix: 'm:', maxEntries: 3 });
    await kv.set('a', '1');
    await kv.set('b', '2');
    await kv.set('c', '3');
    await kv.set('a', '1again'); // rewriting makes `a` the newest
    await kv.set('d', '4');
    expect(await kv.get('b')).toBeUndefined();
    expect(await kv.get('a')).toBe('1again');
    expect(await kv.get('c')).toBe('3');
    expect(await kv.get('d')).toBe('4');
    await kv.close();
  });
});

describe.runIf(redisUrl)('redis kv scripts', () => {
  it('loads a script once, and reloads it after the server forgot it (SCRIPT FLUSH)', async () => {
    const prefix = `${uniqueName('t')}:`;
    const kv = await createRedisKv({ url: redisUrl!, prefix });
    const raw = new Redis(redisUrl!);
    try {
      const flushed: KvScript<number> = {
        name: `test-flush-${uniqueName('s')}`,
        lua: `return redis.call('INCR', KEYS[1])`,
        memory: () => 0,
      };
      expect(await kv.script(flushed, ['n'], [])).toBe(1);
      await raw.script('FLUSH');
      expect(await kv.script(flushed, ['n'], [])).toBe(2);
      expect(await kv.script(flushed, ['n'], [])).toBe(3);
      await raw.del(`${prefix}n`);
    } finally {
      await raw.quit();
      await kv.close();
    }
  });

  it('refuses one name for two different bodies', async () => {
    const kv = await createRedisKv({ url: redisUrl!, prefix: `${uniqueName('t')}:` });
    try {
      await kv.script(deleteAll, [], []);
      await expect(kv.script({ ...deleteAll, lua: 'return 0' }, [], [])).rejects.toBeInstanceOf(KvError);
    } finally {
      await kv.close();
    }
  });
});

describe('openKv', () => {
  it('opens the memory backend without a Redis URL', async () => {
    const kv = await openKv({ prefix: 'x:' });
    expect(kv.kind).toBe('memory');
    await kv.close();
  });

  it('refuses an empty Redis URL instead of silently going in-memory', async () => {
    await expect(openKv({ redisUrl: '', prefix: 'x:' })).rejects.toBeInstanceOf(KvError);
  });

  // Regression guard: the URL may carry the password; start-up errors name host and port only.
  it('fails start-up clearly on an unreachable Redis, without the password', async () => {
    const err: unknown = await openKv({ redisUrl: 'redis://:s3cret-pw@127.0.0.1:1', prefix: 'x:' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KvError);
    expect((err as Error).message).toMatch(/cannot connect to Redis at 127\.0\.0\.1:1\b/);
    expect(JSON.stringify(err) + String(err) + String((err as Error).stack)).not.toContain('s3cret-pw');
  });

  it.each(['redis://:s3cret-pw@[bad-host', 'http://:s3cret-pw@localhost:6379'])(
    'refuses a malformed URL without echoing it: %s',
    async (redisUrl) => {
      const err: unknown = await openKv({ redisUrl, prefix: 'x:' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvError);
      expect(String(err)).not.toContain('s3cret-pw');
      expect((err as Error).cause).toBeUndefined();
    },
  );

  it.runIf(redisUrl)('opens Redis when a URL is given', async () => {
    const kv = await openKv({ redisUrl, prefix: `${uniqueName('t')}:` });
    expect(kv.kind).toBe('redis');
    await kv.ping();
    await kv.setIfAbsent('k', 'v', 1_000);
    await kv.close();
  });
});
