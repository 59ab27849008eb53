/**
 * Online baselines: exponentially weighted mean and variance (West 1979 / Finch 2009 incremental
 * form), one overall and one per hour-of-day slot (the seasonal part), learnt from the stream
 * itself — no thresholds set by hand for "normal volume". Per instance: each instance learns the
 * share of traffic it sees, and a z-score is the same whether an instance sees all of a client's
 * traffic or a steady fraction of it.
 */
export class Ewma {
  mean = 0;
  variance = 0;
  n = 0;

  constructor(readonly alpha: number) {}

  update(x: number): void {
    if (this.n === 0) {
      this.mean = x;
      this.variance = 0;
    } else {
      const diff = x - this.mean;
      const incr = this.alpha * diff;
      this.mean += incr;
      this.variance = (1 - this.alpha) * (this.variance + diff * incr);
    }
    this.n++;
  }
}

export interface Expectation {
  readonly mean: number;
  readonly sd: number;
  /** `seasonal` when the hour-of-day slot has learnt enough, `overall` otherwise. */
  readonly basis: 'seasonal' | 'overall';
}

/** A count per fixed bucket (e.g. 5 minutes), with a seasonal (hour-of-day, UTC) and an overall baseline. */
export class SeasonalBaseline {
  readonly overall: Ewma;
  readonly slots: Ewma[];

  constructor(
    readonly bucketMs: number,
    options: { overallAlpha?: number; slotAlpha?: number } = {},
  ) {
    this.overall = new Ewma(options.overallAlpha ?? 0.02);
    this.slots = Array.from({ length: 24 }, () => new Ewma(options.slotAlpha ?? 0.1));
  }

  static slotOf(at: number): number {
    return new Date(at).getUTCHours();
  }

  learn(bucketStart: number, count: number): void {
    this.overall.update(count);
    this.slots[SeasonalBaseline.slotOf(bucketStart)]!.update(count);
  }

  /** Buckets learnt overall. */
  get observed(): number {
    return this.overall.n;
  }

  expect(at: number, minSlotObservations: number): Expectation {
    const slot = this.slots[SeasonalBaseline.slotOf(at)]!;
    const use = slot.n >= minSlotObservations ? slot : this.overall;
    // Counts are at least Poisson-noisy: never trust a variance below the mean (or below 1).
    const sd = Math.sqrt(Math.max(use.variance, use.mean, 1));
    return { mean: use.mean, sd, basis: use === slot ? 'seasonal' : 'overall' };
  }
}
