import { SeasonalBaseline } from '../baseline.ts';
import type { Finding } from '../types.ts';
import { type Detector, round } from './types.ts';

export interface ClientVolumeTuning {
  readonly bucketMs: number;
  /** How many standard deviations above the learnt expectation the running bucket must be. */
  readonly zThreshold: number;
  /** Buckets a client must have been watched before it can be judged (warm-up). */
  readonly warmupBuckets: number;
  /** A slot (hour of day) is used once it has learnt this many buckets; the overall baseline before. */
  readonly slotWarmup: number;
  /** At least this many requests in the bucket, so a near-silent client going to 3 is not an incident. */
  readonly minRequests: number;
  /** And at least this multiple of the expectation: a change, not the noise of a bursty client. */
  readonly minRatio: number;
}

export const CLIENT_VOLUME_DEFAULTS: ClientVolumeTuning = {
  bucketMs: 5 * 60_000,
  zThreshold: 10,
  warmupBuckets: 36,
  slotWarmup: 12,
  minRequests: 30,
  minRatio: 6,
};

const MAX_CLIENTS = 50_000;

interface State {
  readonly baseline: SeasonalBaseline;
  bucketStart: number;
  count: number;
  objects: Set<string>;
  alerted: boolean;
}

/**
 * Scraping and sudden volume changes per client: each client's request count per bucket (5 min) is
 * compared, while the bucket fills, with what that client usually sends at that hour (seasonal
 * EWMA mean and variance, learnt online). The running count's z-score crossing the threshold raises
 * at once — not at the end of the bucket. A bucket that alerted is learnt clipped to mean + 3 sd,
 * so an attack does not teach the baseline that attacks are normal. "Scraping" when most requests
 * fetch distinct objects, "volume spike" otherwise.
 */
export function clientVolume(tuning: ClientVolumeTuning = CLIENT_VOLUME_DEFAULTS): Detector {
  const clients = new Map<string, State>();
  const close = (s: State, until: number) => {
    // Learn the bucket that ended and any empty ones since (a quiet client is normal too), bounded.
    let start = s.bucketStart;
    let first = true;
    for (let i = 0; start + tuning.bucketMs <= until && i < 288; i++, start += tuning.bucketMs) {
      let value = first ? s.count : 0;
      if (first && s.alerted) {
        const e = s.baseline.expect(start, tuning.slotWarmup);
        value = Math.min(value, e.mean + 3 * e.sd);
      }
      s.baseline.learn(start, value);
      first = false;
    }
    s.bucketStart = until - (until % tuning.bucketMs);
    s.count = 0;
    s.objects = new Set();
    s.alerted = false;
  };
  return {
    id: 'client_volume',
    kinds: ['response'],
    async observe(event): Promise<Finding | undefined> {
      if (event.kind !== 'response' || !event.clientId || event.tenantId === null) return undefined;
      const key = `${event.tenantId}:${event.clientId}`;
      let s = clients.get(key);
      if (!s) {
        if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
        s = {
          baseline: new SeasonalBaseline(tuning.bucketMs),
          bucketStart: event.at - (event.at % tuning.bucketMs),
          count: 0,
          objects: new Set(),
          alerted: false,
        };
        clients.set(key, s);
      }
      if (event.at >= s.bucketStart + tuning.bucketMs) close(s, event.at);
      s.count++;
      if (event.objectId !== undefined && s.objects.size < 10_000) s.objects.add(event.objectId);
      if (s.baseline.observed < tuning.warmupBuckets || s.count < tuning.minRequests) return undefined;
      const e = s.baseline.expect(s.bucketStart, tuning.slotWarmup);
      const z = (s.count - e.mean) / e.sd;
      if (z < tuning.zThreshold || s.count < tuning.minRatio * e.mean) return undefined;
      s.alerted = true;
      const scraping = s.objects.size >= s.count * 0.5;
      return {
        detector: 'client_volume',
        tenantId: event.tenantId,
        subject: { type: 'client', id: event.clientId },
        severity: z >= tuning.zThreshold * 4 ? 'high' : 'medium',
        at: event.at,
        explanation: {
          what: scraping
            ? 'Scraping: a client fetching many distinct objects'
            : 'Sudden volume change of a client',
          why: `${s.count} requests in the current ${tuning.bucketMs / 60_000}-min bucket against a learnt ${e.basis} expectation of ${round(e.mean, 1)} ± ${round(e.sd, 1)} (z = ${round(z, 1)}, threshold ${tuning.zThreshold}; ${round(s.count / Math.max(e.mean, 0.01), 1)}× the expectation, threshold ${tuning.minRatio}×)`,
          numbers: {
            requests: s.count,
            expectedMean: round(e.mean, 2),
            expectedSd: round(e.sd, 2),
            z: round(z, 2),
            basis: e.basis,
            distinctObjects: s.objects.size,
            bucketMinutes: tuning.bucketMs / 60_000,
          },
        },
        context: {
          ip: event.ip,
          clientId: event.clientId,
          ...(event.userId ? { userId: event.userId } : {}),
        },
      };
    },
  };
}
