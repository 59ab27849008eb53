import { describe, expect, it } from 'vitest';
import { evaluate, table } from './testing/evaluate.ts';
import { generateTraffic } from './testing/traffic.ts';

/**
 * The detection evaluation (issue 6, "Must show"): a seeded, simulated-clock replay of labelled
 * normal traffic mixed with every attack scenario, through the detectors via the feed API.
 * Reproduce the table in docs/detection.md with:
 *   npx vitest run src/detection/evaluation.test.ts
 */
describe('detection evaluation on a labelled replay', () => {
  it('reaches precision >= 0.95 and recall >= 0.95 for every detector', async () => {
    const replay = generateTraffic({ seed: 20261125, attacksPerScenario: 10 });
    const started = performance.now();
    const result = await evaluate(replay);
    const ms = performance.now() - started;
    console.log(
      `\nDetection evaluation: ${result.events} events over ${(replay.end - replay.start) / 86_400_000} simulated days, ` +
        `${replay.attacks.length} attack instances, ${result.crossAlerts} cross-detector alerts on attack traffic, ` +
        `replayed in ${Math.round(ms)} ms\n\n${table(result)}\n`,
    );
    for (const a of result.missed) console.log('missed:', a.id, new Date(a.start).toISOString());
    for (const fp of result.falsePositives) console.log('false positive:', fp.detector, fp.explanation.why);
    for (const score of result.scores) {
      expect(score.attacks, score.detector).toBeGreaterThan(0);
      expect(score.recall, `${score.detector} recall`).toBeGreaterThanOrEqual(0.95);
      expect(score.precision, `${score.detector} precision`).toBeGreaterThanOrEqual(0.95);
    }
  }, 300_000);

  it('is deterministic: the same seed gives the same events and the same scores', async () => {
    const a = generateTraffic({ seed: 7, days: 1.5, tenants: 2, attacksPerScenario: 2 });
    const b = generateTraffic({ seed: 7, days: 1.5, tenants: 2, attacksPerScenario: 2 });
    expect(b.events.length).toBe(a.events.length);
    expect(JSON.stringify(b.events.slice(0, 500))).toBe(JSON.stringify(a.events.slice(0, 500)));
    expect((await evaluate(b)).scores).toEqual((await evaluate(a)).scores);
  }, 300_000);
});
