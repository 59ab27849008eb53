import type { Kv, KvScript, MemoryScriptStore } from '../platform/kv/index.ts';

/**
 * Sliding windows shared by every instance: one KV key per (detector, subject) holding the recent
 * entries `[at, member, weight]`, trimmed to the window and to `cap` newest entries. One atomic
 * script adds an entry and answers the window's counts, so a credential-stuffing source spread over
 * N instances behind a load balancer is counted whole, not 1/N per instance.
 *
 * The time is the caller's (`at`), not Redis TIME: detection replays and tests inject their clock,
 * and instances' NTP-synchronised clocks differ far less than any window here (minutes to days).
 */
export interface WindowCounts {
  /** Entries in the window (at most `cap`). */
  readonly count: number;
  /** Distinct members. */
  readonly distinct: number;
  /** Sum of the weights. */
  readonly weight: number;
  /** Distinct members with a positive weight. */
  readonly distinctWeighted: number;
}

export interface WindowAdd {
  readonly key: string;
  readonly at: number;
  readonly windowMs: number;
  readonly member: string;
  /** A whole number >= 0: 1/0 for a flag (failed / missed), a WAF score… */
  readonly weight: number;
  readonly cap?: number | undefined;
}

const LUA = `
local raw = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local cap = tonumber(ARGV[5])
local kept = {}
if raw then
  local e = cjson.decode(raw)
  local from = now - win
  for i = 1, #e do if e[i][1] > from then kept[#kept + 1] = e[i] end end
end
kept[#kept + 1] = { now, ARGV[3], tonumber(ARGV[4]) }
while #kept > cap do table.remove(kept, 1) end
local seen, seenW = {}, {}
local d, w, dw = 0, 0, 0
for i = 1, #kept do
  local m = kept[i][2]
  if not seen[m] then seen[m] = true; d = d + 1 end
  if kept[i][3] > 0 then
    w = w + kept[i][3]
    if not seenW[m] then seenW[m] = true; dw = dw + 1 end
  end
end
redis.call('SET', KEYS[1], cjson.encode(kept), 'PX', win)
return { #kept, d, w, dw }
`;

type Entry = [number, string, number];

function memory(store: MemoryScriptStore, keys: readonly string[], args: readonly (string | number)[]) {
  const key = keys[0] as string;
  const now = Number(args[0]);
  const win = Number(args[1]);
  const cap = Number(args[4]);
  const raw = store.get(key);
  const from = now - win;
  const kept: Entry[] = raw ? (JSON.parse(raw) as Entry[]).filter((e) => e[0] > from) : [];
  kept.push([now, String(args[2]), Number(args[3])]);
  while (kept.length > cap) kept.shift();
  const seen = new Set<string>();
  const seenW = new Set<string>();
  let w = 0;
  for (const [, m, weight] of kept) {
    seen.add(m);
    if (weight > 0) {
      w += weight;
      seenW.add(m);
    }
  }
  store.set(key, JSON.stringify(kept), win);
  return [kept.length, seen.size, w, seenW.size] as const;
}

export const WINDOW_SCRIPT: KvScript<readonly number[]> = {
  name: 'detection-window',
  lua: LUA,
  memory: (store, keys, args) => memory(store, keys, args),
};

export interface Windows {
  add(input: WindowAdd): Promise<WindowCounts>;
}

const DEFAULT_CAP = 256;

export function kvWindows(kv: Kv): Windows {
  return {
    async add({ key, at, windowMs, member, weight, cap = DEFAULT_CAP }) {
      if (!Number.isSafeInteger(weight) || weight < 0) throw new RangeError('weight must be a whole number');
      const [count = 0, distinct = 0, w = 0, dw = 0] = await kv.script(
        WINDOW_SCRIPT,
        [`detection:w:${key}`],
        [Math.floor(at), Math.max(1, Math.floor(windowMs)), member, weight, cap],
      );
      return { count, distinct, weight: w, distinctWeighted: dw };
    },
  };
}
