/**
 * Runs the probes one after another against a target and assembles the report. Order matters a
 * little: the WAF and the rate-limit burst go last, since a deployment may (rightly) block or
 * throttle the scanner's address after them.
 */
import { type Probe, ScanContext, Skip, Trace, type Verdict } from './context.ts';
import type { ScanCredentials } from './credentials.ts';
import { limitProbes } from './probes/limits.ts';
import { objectProbes } from './probes/objects.ts';
import { surfaceProbes } from './probes/surface.ts';
import { tokenProbes } from './probes/tokens.ts';
import {
  type Finding,
  OWASP_CATEGORIES,
  type ProbeResult,
  type ScanReport,
  SEVERITIES,
  type Severity,
  severityRank,
} from './types.ts';

const LAST = ['api8-waf', 'api4-rate-limit'];

/** Every probe, in the order a scan runs them. */
export const PROBES: readonly Probe[] = (() => {
  const all = [...objectProbes, ...tokenProbes, ...limitProbes, ...surfaceProbes];
  return [...all.filter((p) => !LAST.includes(p.id)), ...LAST.map((id) => all.find((p) => p.id === id)!)];
})();

export interface ScanRequest {
  /** Base URL of the deployment (its public URL: DPoP proofs name it). */
  readonly target: string;
  readonly credentials: ScanCredentials;
  /** Only these probe ids (default: all). */
  readonly only?: readonly string[];
  readonly burst?: number;
  /** Called as each probe finishes (progress). */
  readonly onProbe?: (result: ProbeResult) => void;
}

/** Secrets never reach the report: any JWT-looking or long base64url run is masked. */
const redact = (s: string) =>
  s.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '<jwt>').replace(/[A-Za-z0-9_-]{64,}/g, '<redacted>');

export async function runScan(request: ScanRequest): Promise<ScanReport> {
  const target = request.target.replace(/\/+$/, '');
  const ctx = new ScanContext(target, request.credentials, { burst: request.burst ?? 400 });
  const startedAt = new Date().toISOString();
  const results: ProbeResult[] = [];
  for (const probe of PROBES) {
    if (request.only && !request.only.includes(probe.id)) continue;
    const trace = new Trace(ctx);
    const t0 = performance.now();
    let verdict: Verdict | { status: 'error'; detail: string };
    try {
      verdict = await probe.run(ctx, trace);
    } catch (e) {
      verdict =
        e instanceof Skip
          ? { status: 'skip', detail: e.message }
          : { status: 'error', detail: `probe failed to run: ${(e as Error).message}` };
    }
    const result: ProbeResult = {
      id: probe.id,
      category: probe.category,
      severity: verdict.status === 'fail' && verdict.severity ? verdict.severity : probe.severity,
      title: probe.title,
      status: verdict.status,
      ...('detail' in verdict ? { detail: redact(verdict.detail) } : {}),
      evidence: trace.evidence.map((e) => ({
        request: redact(e.request),
        response: redact(e.response),
        ...(e.note ? { note: redact(e.note) } : {}),
      })),
      fix: probe.fix,
      durationMs: Math.round(performance.now() - t0),
    };
    results.push(result);
    request.onProbe?.(result);
  }
  const findings: Finding[] = results
    .filter((r) => r.status === 'fail')
    .map((r) => ({
      id: r.id,
      category: r.category,
      categoryName: OWASP_CATEGORIES[r.category],
      severity: r.severity,
      title: r.title,
      detail: r.detail ?? '',
      evidence: r.evidence,
      fix: r.fix,
    }))
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity] += 1;
  const count = (s: ProbeResult['status']) => results.filter((r) => r.status === s).length;
  return {
    schema: 'bulwark-scan/1',
    target,
    startedAt,
    finishedAt: new Date().toISOString(),
    summary: {
      probes: results.length,
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skip'),
      errored: count('error'),
      findingsBySeverity: bySeverity,
    },
    findings,
    probes: results,
  };
}

/** Findings at or above `threshold`. */
export const findingsAtOrAbove = (report: ScanReport, threshold: Severity) =>
  report.findings.filter((f) => severityRank(f.severity) >= severityRank(threshold));
