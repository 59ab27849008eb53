import { createMemoryKv } from '../../platform/kv/index.ts';
import { defaultDetectors } from '../detectors/index.ts';
import { DetectionFeed } from '../feed.ts';
import { DETECTOR_IDS, type DetectorId, type Finding, subjectKey } from '../types.ts';
import type { AttackInstance, Labelled, Replay } from './traffic.ts';

/**
 * Findings for one subject this close together are one alert (its count grows), as an alert stays
 * open until an operator resolves it: at least an hour, or the detector's window.
 */
const EPISODE_MS: Readonly<Record<DetectorId, number>> = {
  credential_stuffing: 60 * 60_000,
  bola_enumeration: 60 * 60_000,
  client_volume: 60 * 60_000,
  token_network: 60 * 60_000,
  payout_iban: 30 * 86_400_000,
  claim_burst: 24 * 3_600_000,
  waf_near_miss: 60 * 60_000,
};

export interface DetectorScore {
  readonly detector: DetectorId;
  /** Distinct alerts (detector + tenant + subject, per attack instance or normal traffic). */
  readonly alerts: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly attacks: number;
  readonly detected: number;
  readonly precision: number;
  readonly recall: number;
  /** Seconds from attack start to the first alert of its detector: median and worst. */
  readonly medianSecondsToAlert: number | null;
  readonly maxSecondsToAlert: number | null;
}

export interface Evaluation {
  readonly scores: readonly DetectorScore[];
  readonly events: number;
  /** Attacks that a detector other than their own also alerted on (not false positives). */
  readonly crossAlerts: number;
  /** The alerts raised on normal traffic, for reading. */
  readonly falsePositives: readonly Finding[];
  /** Attack instances their own detector did not alert on. */
  readonly missed: readonly AttackInstance[];
}

/**
 * Replays `replay` through a fresh feed with the default detectors (memory KV on the simulated
 * clock), and scores every detector: an alert counts as a true positive when the event that raised
 * it belongs to an attack; recall counts attack instances whose own detector alerted.
 */
export async function evaluate(replay: Replay): Promise<Evaluation> {
  let now = replay.start;
  const kv = createMemoryKv({ prefix: 'eval:', now: () => now });
  const feed = new DetectionFeed({ kv, detectors: defaultDetectors() });
  const alerts: { finding: Finding; label: string | undefined; lastAt: number }[] = [];
  // An alert raised by a normal event can still be about an attack: the attack's events pushed the
  // subject's numbers over the line and a normal request of the same subject crossed it. So an
  // alert about a subject under attack at that time (up to an hour after) is the attack's.
  const attackOn = (f: Finding): string | undefined =>
    replay.attacks.find(
      (a) =>
        a.tenantId === f.tenantId &&
        a.subject === subjectKey(f.subject) &&
        f.at >= a.start &&
        f.at <= a.end + 60 * 60_000,
    )?.id;
  const active = new Map<string, { finding: Finding; label: string | undefined; lastAt: number }>();
  try {
    for (const event of replay.events as Labelled[]) {
      now = event.at;
      const findings = await feed.process(event);
      for (const finding of findings) {
        // As the service de-duplicates: one alert per detector + tenant + subject while it stays
        // active; a finding within an hour of the subject's last one updates that alert.
        const subject = `${finding.detector}|${finding.tenantId}|${subjectKey(finding.subject)}`;
        const open = active.get(subject);
        if (open && finding.at - open.lastAt <= EPISODE_MS[finding.detector]) {
          open.lastAt = finding.at;
          continue;
        }
        const episode = { finding, label: event.label ?? attackOn(finding), lastAt: finding.at };
        active.set(subject, episode);
        alerts.push(episode);
      }
    }
  } finally {
    await kv.close();
  }
  const byId = new Map(replay.attacks.map((a) => [a.id, a]));
  let crossAlerts = 0;
  const missed: AttackInstance[] = [];
  const scores = DETECTOR_IDS.map((detector): DetectorScore => {
    const mine = alerts.filter((a) => a.finding.detector === detector);
    const tp = mine.filter((a) => a.label !== undefined).length;
    const attacks = replay.attacks.filter((a) => a.detector === detector);
    const delays: number[] = [];
    for (const attack of attacks) {
      const hits = mine.filter((a) => a.label === attack.id).map((a) => a.finding.at);
      if (hits.length) delays.push((Math.min(...hits) - attack.start) / 1000);
      else missed.push(attack);
    }
    crossAlerts += mine.filter(
      (a) => a.label !== undefined && byId.get(a.label)?.detector !== detector,
    ).length;
    delays.sort((a, b) => a - b);
    return {
      detector,
      alerts: mine.length,
      truePositives: tp,
      falsePositives: mine.length - tp,
      attacks: attacks.length,
      detected: delays.length,
      precision: mine.length === 0 ? 1 : tp / mine.length,
      recall: attacks.length === 0 ? 1 : delays.length / attacks.length,
      medianSecondsToAlert: delays.length ? delays[Math.floor((delays.length - 1) / 2)]! : null,
      maxSecondsToAlert: delays.length ? delays.at(-1)! : null,
    };
  });
  const falsePositives = alerts.filter((a) => a.label === undefined).map((a) => a.finding);
  return { scores, events: replay.events.length, crossAlerts, falsePositives, missed };
}

/** The evaluation as a Markdown table (docs/detection.md carries a copy). */
export function table(evaluation: Evaluation): string {
  const f = (x: number) => x.toFixed(3);
  const s = (x: number | null) => (x === null ? '—' : `${Math.round(x)}`);
  const lines = [
    '| detector | attacks | detected | alerts | false positives | precision | recall | median s to alert | max s to alert |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...evaluation.scores.map(
      (r) =>
        `| ${r.detector} | ${r.attacks} | ${r.detected} | ${r.alerts} | ${r.falsePositives} | ${f(r.precision)} | ${f(r.recall)} | ${s(r.medianSecondsToAlert)} | ${s(r.maxSecondsToAlert)} |`,
    ),
  ];
  return lines.join('\n');
}
