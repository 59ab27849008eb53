import type { Kv } from '../platform/kv/index.ts';
import type { Detector } from './detectors/index.ts';
import type { FeedEvent, Finding } from './types.ts';
import { kvWindows, type Windows } from './windows.ts';

export interface FeedLogger {
  warn(obj: object, msg: string): void;
}

export interface DetectionFeedOptions {
  readonly kv: Kv;
  readonly detectors: readonly Detector[];
  /** Where findings go (the detection service: dedup, suppression, alerts, actions). */
  readonly onFinding?: ((finding: Finding) => Promise<void>) | undefined;
  readonly logger?: FeedLogger | undefined;
  /** Events waiting beyond this are dropped (oldest first) and counted: detection never slows requests. */
  readonly maxQueue?: number | undefined;
  readonly windows?: Windows | undefined;
}

export interface FeedStats {
  readonly processed: number;
  readonly dropped: number;
  readonly findings: number;
  readonly queued: number;
}

/**
 * The detection feed: a small typed stream of events from the request path (responses, sign-ins,
 * gateway decisions) and the outbox bus (business events). `emit` never waits and never throws —
 * the request that produced the event is already answered or must not be slowed — and events are
 * judged one at a time in arrival order by every detector that reads their kind. `process` judges
 * one event and returns the findings (replays, tests).
 */
export class DetectionFeed {
  private readonly queue: FeedEvent[] = [];
  private draining: Promise<void> | undefined;
  private counters = { processed: 0, dropped: 0, findings: 0 };
  private readonly byKind = new Map<FeedEvent['kind'], Detector[]>();
  private readonly windows: Windows;
  private closed = false;

  constructor(private readonly options: DetectionFeedOptions) {
    this.windows = options.windows ?? kvWindows(options.kv);
    for (const d of options.detectors) {
      for (const kind of d.kinds) this.byKind.set(kind, [...(this.byKind.get(kind) ?? []), d]);
    }
  }

  emit(event: FeedEvent): void {
    if (this.closed) return;
    const max = this.options.maxQueue ?? 10_000;
    if (this.queue.length >= max) {
      this.queue.shift();
      this.counters.dropped++;
    }
    this.queue.push(event);
    this.draining ??= this.drain();
  }

  /** Judges one event now; findings are also handed to `onFinding`. */
  async process(event: FeedEvent): Promise<Finding[]> {
    const found: Finding[] = [];
    for (const detector of this.byKind.get(event.kind) ?? []) {
      let finding: Finding | undefined;
      try {
        finding = await detector.observe(event, { windows: this.windows, kv: this.options.kv });
      } catch (err) {
        this.options.logger?.warn({ err, detector: detector.id }, 'detector failed on an event');
        continue;
      }
      if (!finding) continue;
      found.push(finding);
      this.counters.findings++;
      if (this.options.onFinding) {
        await this.options
          .onFinding(finding)
          .catch((err) =>
            this.options.logger?.warn({ err, detector: finding.detector }, 'raising an alert failed'),
          );
      }
    }
    this.counters.processed++;
    return found;
  }

  /** Resolves once every event emitted so far has been judged. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  stats(): FeedStats {
    return { ...this.counters, queued: this.queue.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async drain(): Promise<void> {
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) await this.process(event);
    } finally {
      this.draining = undefined;
    }
  }
}
