/**
 * The scan report in three forms: a terminal table, JSON (the `ScanReport` document, schema
 * `bulwark-scan/1`, docs/scan.md) and a self-contained HTML page (inline CSS, no scripts, every
 * value escaped).
 */
import type { ProbeResult, ScanReport } from './types.ts';

export type ReportFormat = 'table' | 'json' | 'html';

export function renderReport(report: ScanReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'html') return renderHtml(report);
  return renderTable(report);
}

const STATUS_LABEL: Record<ProbeResult['status'], string> = {
  pass: 'PASS',
  fail: 'FAIL',
  skip: 'SKIP',
  error: 'ERROR',
};

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}

export function renderTable(report: ScanReport): string {
  const lines: string[] = [];
  lines.push(`Bulwark security self-assessment of ${report.target}`);
  lines.push(`${report.startedAt} – ${report.finishedAt}`);
  lines.push('');
  const cols = [8, 6, 9, 30, 70] as const;
  const row = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, cols[i]!))
      .join('  ')
      .trimEnd();
  lines.push(row(['STATUS', 'OWASP', 'SEVERITY', 'PROBE', 'TITLE']));
  lines.push(row(cols.map((n) => '-'.repeat(n))));
  for (const p of report.probes)
    lines.push(row([STATUS_LABEL[p.status], p.category, p.severity, p.id, p.title]));
  lines.push('');
  const s = report.summary;
  lines.push(
    `${s.probes} probes: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errored} errored`,
  );
  const sev = Object.entries(s.findingsBySeverity)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  lines.push(report.findings.length ? `Findings: ${sev}` : 'No findings.');
  for (const f of report.findings) {
    lines.push('');
    lines.push(`[${f.severity.toUpperCase()}] ${f.id} (${f.categoryName})`);
    lines.push(`  ${f.title}`);
    lines.push(`  Problem: ${f.detail}`);
    for (const e of f.evidence.slice(0, 8))
      lines.push(`  - ${e.request} -> ${e.response}${e.note ? ` (${e.note})` : ''}`);
    if (f.evidence.length > 8) lines.push(`  - … ${f.evidence.length - 8} more requests in the JSON report`);
    lines.push(`  Fix: ${f.fix}`);
  }
  const others = report.probes.filter((p) => p.status === 'skip' || p.status === 'error');
  if (others.length) {
    lines.push('');
    for (const p of others) lines.push(`${STATUS_LABEL[p.status]} ${p.id}: ${p.detail ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export function renderHtml(report: ScanReport): string {
  const e = escapeHtml;
  const s = report.summary;
  const evidence = (p: ProbeResult) =>
    p.evidence.length
      ? `<table class="ev"><tr><th>request</th><th>response</th></tr>${p.evidence
          .map(
            (x) =>
              `<tr><td>${e(x.request)}</td><td>${e(x.response)}${x.note ? ` — ${e(x.note)}` : ''}</td></tr>`,
          )
          .join('')}</table>`
      : '';
  const rows = report.probes
    .map(
      (p) =>
        `<tr class="${e(p.status)}"><td>${e(STATUS_LABEL[p.status])}</td><td>${e(p.category)}</td><td class="sev-${e(
          p.severity,
        )}">${e(p.severity)}</td><td><code>${e(p.id)}</code></td><td>${e(p.title)}${
          p.detail ? `<div class="detail">${e(p.detail)}</div>` : ''
        }</td></tr>`,
    )
    .join('\n');
  const findings = report.findings
    .map(
      (f) =>
        `<section class="finding"><h3><span class="sev-${e(f.severity)}">${e(f.severity.toUpperCase())}</span> ${e(
          f.title,
        )}</h3><p><code>${e(f.id)}</code> · ${e(f.categoryName)}</p><p><strong>Problem:</strong> ${e(
          f.detail,
        )}</p><p><strong>Fix:</strong> ${e(f.fix)}</p>${evidence({ ...f, status: 'fail', durationMs: 0 })}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Bulwark scan of ${e(report.target)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2433;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
tr.fail td:first-child{color:#b42318;font-weight:600}tr.pass td:first-child{color:#067647}tr.skip td:first-child,tr.error td:first-child{color:#8a6d00}
.sev-critical{color:#fff;background:#7a1010;padding:0 .3rem;border-radius:3px}.sev-high{color:#b42318;font-weight:600}.sev-medium{color:#b54708}.sev-low{color:#475467}
.finding{border:1px solid #e3e6ec;border-left:4px solid #b42318;padding:.5rem 1rem;margin:1rem 0;border-radius:4px}
.detail{color:#555;font-size:12px}.ev td{font-family:ui-monospace,monospace;font-size:12px}code{font-size:12px}
</style></head><body>
<h1>Bulwark security self-assessment</h1>
<p>Target <code>${e(report.target)}</code> · ${e(report.startedAt)} – ${e(report.finishedAt)}</p>
<p>${s.probes} probes: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errored} errored.</p>
<h2>Findings (${report.findings.length})</h2>
${findings || '<p>No findings.</p>'}
<h2>All probes (OWASP API Security Top 10, 2023)</h2>
<table><tr><th>status</th><th>OWASP</th><th>severity</th><th>probe</th><th>title</th></tr>
${rows}
</table>
</body></html>
`;
}
