/**
 * The vocabulary of compliance evidence: a control of a framework, the facts collected for it from
 * this deployment, the checks those facts pass or fail, and the status that follows.
 *
 * Status rule (docs/compliance.md): every check passes -> `met`; a `must` check fails -> `not_met`;
 * only `should` checks fail -> `partly_met`. A collector that throws yields `not_met` with the
 * reason, so a broken source never reads as compliance.
 */

export const FRAMEWORKS = {
  iso27001: { name: 'ISO/IEC 27001:2022 Annex A', version: '2022' },
  'psd2-rts': {
    name: 'PSD2 RTS on strong customer authentication (Commission Delegated Regulation (EU) 2018/389)',
    version: '2018/389',
  },
  'owasp-api': { name: 'OWASP API Security Top 10', version: '2023' },
} as const;
export type FrameworkId = keyof typeof FRAMEWORKS;
export const FRAMEWORK_IDS = Object.keys(FRAMEWORKS) as FrameworkId[];

export const STATUSES = ['met', 'partly_met', 'not_met'] as const;
export type Status = (typeof STATUSES)[number];
export const STATUS_LABEL: Readonly<Record<Status, string>> = {
  met: 'met',
  partly_met: 'partly met',
  not_met: 'not met',
};

export type FactValue = string | number | boolean | null;

/** One observed fact: a stable key (for machines), a label (for people) and the value. */
export interface Fact {
  readonly key: string;
  readonly label: string;
  readonly value: FactValue;
}

/** A requirement judged on the facts. `must` failing makes the control not met; `should`, partly met. */
export interface Check {
  readonly ok: boolean;
  readonly level: 'must' | 'should';
  readonly text: string;
}

/** What a collector returns. */
export interface Collected {
  /** One line, the facts that matter most ("PII field encryption on, KEK …"). */
  readonly summary: string;
  readonly facts: readonly Fact[];
  readonly checks: readonly Check[];
}

/** A control's evidence as the report carries it. */
export interface Evidence extends Collected {
  readonly status: Status;
  /** The failed checks' texts, or (all passing) the passed ones: why the status is what it is. */
  readonly reasons: readonly string[];
}

export const fact = (key: string, label: string, value: FactValue | undefined): Fact => ({
  key,
  label,
  value: value === undefined ? null : value,
});
export const must = (ok: boolean, text: string): Check => ({ ok, level: 'must', text });
export const should = (ok: boolean, text: string): Check => ({ ok, level: 'should', text });

/** The status rule (see the file comment). */
export function judge(collected: Collected): Evidence {
  const failed = collected.checks.filter((c) => !c.ok);
  const status: Status = failed.some((c) => c.level === 'must')
    ? 'not_met'
    : failed.length
      ? 'partly_met'
      : 'met';
  const reasons = (failed.length ? failed : collected.checks).map(
    (c) => `${c.ok ? 'ok' : c.level === 'must' ? 'missing' : 'gap'}: ${c.text}`,
  );
  return { ...collected, status, reasons };
}
