/**
 * Test harness: the same test bodies run on the embedded store always and on Redis when REDIS_URL is
 * set (as the KV tests do): for modules built on the KV store (rate limits, IP rules, replay caches).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createMemoryKv, createRedisKv, type Kv } from '../../src/platform/kv/index.ts';
import { redisUrl, uniqueName } from './backends.ts';

export interface Backend {
  readonly name: 'memory' | 'redis';
  /**
   * A new handle on one shared store, as another Bulwark instance would hold: its own connection on
   * Redis; the one in-process map in memory.
   */
  connect(): Promise<Kv>;
  /** Moves time: the injected clock in memory (unless real time was asked for), a real sleep on Redis. */
  advance(ms: number): Promise<void>;
  /** Closes every handle and deletes what the run wrote. */
  close(): Promise<void>;
}

function memoryBackend(realTime: boolean): Backend {
  let clock = Date.UTC(2025, 0, 15, 12, 0, 0);
  let kv: Kv | undefined;
  return {
    name: 'memory',
    connect: async () => {
      kv ??= createMemoryKv({ prefix: `${uniqueName('rl')}:`, ...(realTime ? {} : { now: () => clock }) });
      return kv;
    },
    advance: async (ms) => {
      if (realTime) await sleep(ms);
      else clock += ms;
    },
    close: async () => {
      await kv?.close();
    },
  };
}

function redisBackend(url: string): Backend {
  const prefix = `${uniqueName('rl')}:`;
  const opened: Kv[] = [];
  return {
    name: 'redis',
    connect: async () => {
      const kv = await createRedisKv({ url, prefix });
      opened.push(kv);
      return kv;
    },
    advance: (ms) => sleep(ms),
    close: async () => {
      await Promise.all(opened.map((kv) => kv.close()));
      const raw = new Redis(url);
      try {
        for await (const keys of raw.scanStream({ match: `${prefix}*`, count: 500 })) {
          if ((keys as string[]).length > 0) await raw.unlink(...(keys as string[]));
        }
      } finally {
        await raw.quit();
      }
    },
  };
}

/** Fresh backends (own prefix, own memory map) for one describe block. */
export function backends(options: { realTime?: boolean } = {}): Backend[] {
  return [memoryBackend(options.realTime ?? false), ...(redisUrl ? [redisBackend(redisUrl)] : [])];
}
