import type { Kv } from '../../platform/kv/index.ts';
import type { DetectorId, FeedEvent, Finding } from '../types.ts';
import type { Windows } from '../windows.ts';

export interface DetectorDeps {
  readonly windows: Windows;
  readonly kv: Kv;
}

/**
 * A detector looks at the events of the kinds it names, one at a time, and may conclude a
 * finding. It keeps shared state in `windows`/`kv` and may keep per-instance baselines itself.
 */
export interface Detector {
  readonly id: DetectorId;
  readonly kinds: readonly FeedEvent['kind'][];
  observe(event: FeedEvent, deps: DetectorDeps): Promise<Finding | undefined>;
}

/** `12.5%` style, for explanations. */
export const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
