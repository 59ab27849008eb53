import type { KvScript, KvScriptArg, MemoryScriptStore } from '../../platform/kv/index.ts';

/**
 * GCRA, the generic cell rate algorithm (ITU-T I.371; the "virtual scheduling" form), over one
 * stored number per key: the theoretical arrival time (TAT) of the next request. A limit of L per
 * period P gives an emission interval T = P / L; a burst of B lets TAT run at most B·T ahead of now.
 * It behaves as a leaky bucket / sliding window with no fixed window edges to game, needs no
 * per-request log, and a key that has caught up with the clock carries no state at all (it expires).
 *
 * Time is in integer microseconds so that every step is exact in a double (epoch µs < 2^53) and the
 * Lua and TypeScript halves compute bit-identical answers.
 */

/** What one key asks of the script. */
export type LimitSpec =
  | {
      readonly kind: 'gcra';
      readonly key: string;
      /** T = P / L in whole µs (rounded; ≥ 1). */
      readonly emissionUs: number;
      /** B: how many requests a rested key admits at once. */
      readonly burst: number;
      readonly cost: number;
    }
  | {
      readonly kind: 'quota';
      readonly key: string;
      /** Requests per UTC calendar month. */
      readonly limit: number;
      readonly cost: number;
    };

/** The verdict for one key. */
export interface KeyOutcome {
  readonly allowed: boolean;
  /** Requests that would still be admitted right now, after this one if it was admitted. */
  readonly remaining: number;
  /** Until the key is fully rested again (GCRA) or the month ends (quota). */
  readonly resetAfterMs: number;
  /** 0 when allowed; otherwise how long until this request would be admitted. */
  readonly retryAfterMs: number;
}

export interface CheckOutcome {
  /** True only when every key admitted the request; then, and only then, all of them were charged. */
  readonly allowed: boolean;
  /** When the store decided, by its clock (Redis TIME), in µs: orders decisions across instances. */
  readonly atUs: number;
  readonly keys: readonly KeyOutcome[];
}

/** The emission interval for L per P, in µs. Rounding moves the rate by < 0.5 µs per request. */
export function emissionIntervalUs(limit: number, periodMs: number): number {
  return Math.max(1, Math.round((periodMs * 1000) / limit));
}

interface GcraStep {
  readonly outcome: KeyOutcome;
  /** The TAT to store and its lifetime, when admitted. */
  readonly write?: { readonly tatUs: number; readonly ttlMs: number };
}

/**
 * One GCRA decision. A rejected request changes nothing — it does not eat the allowance, so a client
 * that keeps hammering while limited is admitted again as soon as its rate allows.
 */
export function gcraStep(
  storedTatUs: number | undefined,
  nowUs: number,
  emissionUs: number,
  burst: number,
  cost: number,
): GcraStep {
  const tau = emissionUs * burst;
  const tat = storedTatUs === undefined ? nowUs : Math.max(storedTatUs, nowUs);
  const newTat = tat + emissionUs * cost;
  const ahead = newTat - nowUs;
  if (ahead > tau) {
    return {
      outcome: {
        allowed: false,
        // max(0, …): a TAT stored under a larger burst (before a policy change) may exceed tau.
        remaining: Math.max(0, Math.floor((tau - (tat - nowUs)) / emissionUs)),
        resetAfterMs: Math.ceil((tat - nowUs) / 1000),
        retryAfterMs: Math.ceil((ahead - tau) / 1000),
      },
    };
  }
  const resetAfterMs = Math.ceil(ahead / 1000);
  return {
    outcome: {
      allowed: true,
      remaining: Math.floor((tau - ahead) / emissionUs),
      resetAfterMs,
      retryAfterMs: 0,
    },
    write: { tatUs: newTat, ttlMs: resetAfterMs },
  };
}

/** The UTC calendar month of `ms` as year·12 + month (0-based), and the first ms of the next month. */
export function utcMonth(ms: number): { readonly index: number; readonly endMs: number } {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  return { index: year * 12 + month, endMs: Date.UTC(year, month + 1, 1) };
}

/**
 * The same in Lua, from days since the epoch (H. Hinnant's `civil_from_days` / `days_from_civil`,
 * exact for the proleptic Gregorian calendar): Redis's Lua has no date library, and the month must
 * come from the server's clock like everything else. Exported so a test can compare it with `Date`.
 */
export const UTC_MONTH_LUA = `
local function utc_month(ms)
  local z = math.floor(ms / 86400000) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then year = year + 1 end
  local ny, nm = year, month + 1
  if nm > 12 then ny, nm = year + 1, 1 end
  if nm <= 2 then ny = ny - 1 end
  local era2 = math.floor(ny / 400)
  local yoe2 = ny - era2 * 400
  local mm = nm > 2 and nm - 3 or nm + 9
  local doe2 = yoe2 * 365 + math.floor(yoe2 / 4) - math.floor(yoe2 / 100) + math.floor((153 * mm + 2) / 5)
  return year * 12 + month - 1, (era2 * 146097 + doe2 - 719468) * 86400000
end
`;

interface QuotaStep {
  readonly outcome: KeyOutcome;
  readonly write?: { readonly value: string; readonly ttlMs: number };
}

const QUOTA_VALUE = /^(\d+):(\d+)$/;

/**
 * One monthly-quota decision. The stored value is `<month index>:<count>`, so a counter left from last
 * month reads as zero even if its expiry has not fired yet; it expires at the month's end anyway.
 * Only admitted requests are counted (the caller writes only when every key admitted).
 */
export function quotaStep(stored: string | undefined, nowMs: number, limit: number, cost: number): QuotaStep {
  const month = utcMonth(nowMs);
  const match = stored === undefined ? null : QUOTA_VALUE.exec(stored);
  const count = match && Number(match[1]) === month.index ? Number(match[2]) : 0;
  const resetAfterMs = month.endMs - nowMs;
  if (count + cost > limit) {
    return {
      outcome: {
        allowed: false,
        remaining: Math.max(0, limit - count),
        resetAfterMs,
        retryAfterMs: resetAfterMs,
      },
    };
  }
  return {
    outcome: { allowed: true, remaining: limit - count - cost, resetAfterMs, retryAfterMs: 0 },
    write: { value: `${month.index}:${count + cost}`, ttlMs: resetAfterMs },
  };
}

/**
 * The wire format: ARGV holds four values per key — kind (`g`/`q`), two parameters, cost — and the
 * reply is `[allAllowed, nowUs, then per key: allowed, remaining, resetAfterMs, retryAfterMs]`, all
 * integers.
 */
type CheckReply = number[];
const HEAD = 2;
const STRIDE = 4;

/**
 * Every key is decided first and written only if all admit the request: a request refused by one
 * policy is charged to none (no half-charged requests, no allowance lost to refused traffic).
 * The clock is the server's TIME, so instances with skewed clocks still share one timeline.
 */
const CHECK_LUA = `${UTC_MONTH_LUA}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)
local reply = {1, now}
local writes = {}
local all = true
for i, key in ipairs(KEYS) do
  local base = (i - 1) * ${STRIDE}
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  local cost = tonumber(ARGV[base + 4])
  local stored = redis.call('GET', key)
  local ok, remaining, reset_after, retry_after
  if kind == 'g' then
    local tau = a * b
    local tat = now
    if stored then tat = math.max(tonumber(stored), now) end
    local new_tat = tat + a * cost
    local ahead = new_tat - now
    if ahead > tau then
      ok = false
      remaining = math.max(0, math.floor((tau - (tat - now)) / a))
      reset_after = math.ceil((tat - now) / 1000)
      retry_after = math.ceil((ahead - tau) / 1000)
    else
      ok = true
      remaining = math.floor((tau - ahead) / a)
      reset_after = math.ceil(ahead / 1000)
      retry_after = 0
      -- A number argument reaches Redis in round-trip form (%.17g), so the µs TAT stays exact.
      writes[#writes + 1] = {key, new_tat, reset_after}
    end
  elseif kind == 'q' then
    local month, month_end = utc_month(now_ms)
    local count = 0
    if stored then
      local m, c = string.match(stored, '^(%d+):(%d+)$')
      if m and tonumber(m) == month then count = tonumber(c) end
    end
    reset_after = month_end - now_ms
    if count + cost > a then
      ok = false
      remaining = math.max(0, a - count)
      retry_after = reset_after
    else
      ok = true
      remaining = a - count - cost
      retry_after = 0
      writes[#writes + 1] = {key, string.format('%d:%d', month, count + cost), reset_after}
    end
  else
    return redis.error_reply('unknown limit kind')
  end
  if not ok then all = false end
  reply[#reply + 1] = ok and 1 or 0
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset_after
  reply[#reply + 1] = retry_after
end
if all then
  for _, w in ipairs(writes) do redis.call('SET', w[1], w[2], 'PX', w[3]) end
else
  reply[1] = 0
end
return reply
`;

/** The memory half: the same decisions with the same numbers, against the embedded map. */
function checkInMemory(
  store: MemoryScriptStore,
  keys: readonly string[],
  args: readonly KvScriptArg[],
  nowMs: number,
): CheckReply {
  const nowUs = nowMs * 1000;
  const reply: CheckReply = [1, nowUs];
  const writes: { key: string; value: string; ttlMs: number }[] = [];
  let all = true;
  keys.forEach((key, i) => {
    const base = i * STRIDE;
    const kind = args[base];
    const a = Number(args[base + 1]);
    const b = Number(args[base + 2]);
    const cost = Number(args[base + 3]);
    const stored = store.get(key);
    let outcome: KeyOutcome;
    if (kind === 'g') {
      const step = gcraStep(stored === undefined ? undefined : Number(stored), nowUs, a, b, cost);
      outcome = step.outcome;
      if (step.write) writes.push({ key, value: String(step.write.tatUs), ttlMs: step.write.ttlMs });
    } else if (kind === 'q') {
      const step = quotaStep(stored, nowMs, a, cost);
      outcome = step.outcome;
      if (step.write) writes.push({ key, ...step.write });
    } else {
      throw new Error('unknown limit kind');
    }
    if (!outcome.allowed) all = false;
    reply.push(outcome.allowed ? 1 : 0, outcome.remaining, outcome.resetAfterMs, outcome.retryAfterMs);
  });
  if (all) for (const w of writes) store.set(w.key, w.value, w.ttlMs);
  else reply[0] = 0;
  return reply;
}

export const RATE_LIMIT_SCRIPT: KvScript<CheckReply> = Object.freeze({
  name: 'bulwark-rate-limit-check',
  lua: CHECK_LUA,
  memory: checkInMemory,
});

/** Flattens specs into the script's KEYS and ARGV. */
export function encodeSpecs(specs: readonly LimitSpec[]): { keys: string[]; args: KvScriptArg[] } {
  const keys: string[] = [];
  const args: KvScriptArg[] = [];
  for (const spec of specs) {
    keys.push(spec.key);
    if (spec.kind === 'gcra') args.push('g', spec.emissionUs, spec.burst, spec.cost);
    else args.push('q', spec.limit, 0, spec.cost);
  }
  return { keys, args };
}

export function decodeReply(reply: CheckReply, count: number): CheckOutcome {
  if (!Array.isArray(reply) || reply.length !== HEAD + count * STRIDE) {
    throw new Error('rate-limit script answered an unexpected shape');
  }
  const keys: KeyOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const base = HEAD + i * STRIDE;
    keys.push({
      allowed: reply[base] === 1,
      remaining: Number(reply[base + 1]),
      resetAfterMs: Number(reply[base + 2]),
      retryAfterMs: Number(reply[base + 3]),
    });
  }
  return { allowed: reply[0] === 1, atUs: Number(reply[1]), keys };
}
