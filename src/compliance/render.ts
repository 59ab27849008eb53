/**
 * The report and the record of processing as Markdown and as one self-contained HTML page: no
 * script, no external resource, every value escaped, headings and tables for screen readers, a
 * status always spelled out in words (colour only repeats it), and a print style sheet.
 */
import { createHash } from 'node:crypto';
import type { ComplianceReport, ControlReport } from './report.ts';
import type { Ropa } from './ropa.ts';
import { STATUS_LABEL, type Status } from './types.ts';

export const REPORT_FORMATS = ['json', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

// ---- Markdown ---------------------------------------------------------------------------------

/** Text in a Markdown table cell or line: no pipes, no line breaks, no HTML. */
function mdText(s: unknown): string {
  return String(s ?? '–')
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}

const MD_BADGE: Readonly<Record<Status, string>> = {
  met: '✅ met',
  partly_met: '🟡 partly met',
  not_met: '❌ not met',
};

function mdControl(c: ControlReport): string {
  const lines = [
    `#### ${mdText(c.id)} ${mdText(c.title)} — ${MD_BADGE[c.status]}`,
    '',
    mdText(c.summary),
    '',
    ...c.reasons.map((r) => `- ${mdText(r)}`),
    '',
  ];
  if (c.facts.length) {
    lines.push('| evidence | value |', '|---|---|');
    for (const f of c.facts) lines.push(`| ${mdText(f.label)} | ${mdText(f.value)} |`);
    lines.push('');
  }
  return lines.join('\n');
}

function mdRopa(r: Ropa, level: string): string {
  const out = [
    `${level} Record of processing activities (GDPR Art. 30)`,
    '',
    `Controller: ${mdText(r.controller.name)}. ${mdText(r.controller.note)}`,
    '',
    `Processor: ${mdText(r.processor.name)}, ${mdText(r.processor.deployment)}. Generated ${mdText(r.generatedAt)}.`,
    '',
  ];
  for (const a of r.activities) {
    out.push(
      `${level}# ${mdText(a.purpose)} (${mdText(a.module)})`,
      '',
      '| | |',
      '|---|---|',
      `| Lawful basis | ${mdText(a.lawfulBasis)} |`,
      `| Data subjects | ${mdText(a.dataSubjects.join(', '))} |`,
      `| Personal data | ${mdText(a.personalData.join(', '))} |`,
      `| Special categories | ${mdText(a.specialCategories.join(', ') || 'none')} |`,
      `| Recipients | ${mdText(a.recipients.join(', '))} |`,
      `| Transfers to third countries | ${mdText(a.transfers)} |`,
      `| Retention | ${mdText(a.retention)} |`,
      `| Security measures (controls) | ${mdText(a.securityMeasures.join(', '))} |`,
      '',
    );
  }
  return out.join('\n');
}

export function reportMarkdown(r: ComplianceReport): string {
  const out = [
    '# Bulwark compliance report',
    '',
    `Generated ${mdText(r.generatedAt)} from the ${mdText(r.deployment.env)} deployment at ${mdText(r.deployment.publicUrl)} (version ${mdText(r.deployment.version)}, ${mdText(r.deployment.database)}, by the ${r.deployment.source}).`,
    '',
    `**${r.counts.met} met, ${r.counts.partly_met} partly met, ${r.counts.not_met} not met** of ${r.counts.total} controls. Every status is computed from this deployment’s configuration and data at the time above.`,
    '',
    '| framework | met | partly met | not met |',
    '|---|---|---|---|',
    ...r.frameworks.map(
      (f) => `| ${mdText(f.name)} | ${f.counts.met} | ${f.counts.partly_met} | ${f.counts.not_met} |`,
    ),
    '',
    `Risk register: ${r.risks.total} risks, ${r.risks.open} open, ${r.risks.high} high (score ≥ 15), ${r.risks.overdue} reviews overdue.`,
    '',
  ];
  for (const f of r.frameworks) {
    out.push(`## ${mdText(f.name)}`, '', '| control | status | evidence |', '|---|---|---|');
    for (const c of f.controls)
      out.push(`| ${mdText(c.id)} ${mdText(c.title)} | ${MD_BADGE[c.status]} | ${mdText(c.summary)} |`);
    out.push('', `### Details`, '');
    for (const c of f.controls) out.push(mdControl(c));
  }
  out.push(mdRopa(r.ropa, '##'));
  return `${out.join('\n').trimEnd()}\n`;
}

export function ropaMarkdown(r: Ropa): string {
  return `${mdRopa(r, '#').trimEnd()}\n`;
}

// ---- HTML -------------------------------------------------------------------------------------

export function escapeHtml(s: unknown): string {
  return String(s ?? '–').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.45;color:#1a1a1a}
body{max-width:70rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.7rem}h2{margin-top:2.5rem;border-bottom:2px solid #444}h3{margin-top:1.8rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}
caption{text-align:left;font-weight:600;padding:.3rem 0}
.status{font-weight:700;white-space:nowrap;padding:0 .3rem;border-radius:.2rem}
.met{background:#d4f0d4;color:#0b5a0b}.partly_met{background:#fff0c0;color:#6b4a00}.not_met{background:#ffd6d6;color:#8a0000}
details{margin:.4rem 0 1rem}summary{cursor:pointer}
.muted{color:#555}
a{color:#0645ad}
@media print{body{margin:0;max-width:none}details{display:block}details>summary{display:none}h2{break-before:page}tr,section{break-inside:avoid}a{color:inherit;text-decoration:none}}
`.trim();

/** CSP source for the inline style: the page loads nothing else and runs no script. */
export const HTML_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const badge = (s: Status) => `<span class="status ${s}">${escapeHtml(STATUS_LABEL[s])}</span>`;
const anchor = (ref: string) => `c-${ref.replace(/[^a-z0-9]+/gi, '-')}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function htmlRopa(r: Ropa, level: number): string {
  const h = (n: number) => `h${Math.min(6, n)}`;
  const parts = [
    `<section aria-labelledby="ropa"><${h(level)} id="ropa">Record of processing activities (GDPR Art. 30)</${h(level)}>`,
    `<p>Controller: ${escapeHtml(r.controller.name)}. ${escapeHtml(r.controller.note)}</p>`,
    `<p>Processor: ${escapeHtml(r.processor.name)}, ${escapeHtml(r.processor.deployment)}. Generated <time datetime="${escapeHtml(r.generatedAt)}">${escapeHtml(r.generatedAt)}</time>.</p>`,
  ];
  for (const a of r.activities) {
    const row = (k: string, v: string) =>
      `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
    parts.push(
      `<section><${h(level + 1)}>${escapeHtml(a.purpose)} <span class="muted">(${escapeHtml(a.module)})</span></${h(level + 1)}>`,
      `<table><caption>Processing activity “${escapeHtml(a.id)}”</caption><tbody>`,
      row('Lawful basis', a.lawfulBasis),
      row('Data subjects', a.dataSubjects.join(', ')),
      row('Personal data', a.personalData.join(', ')),
      row('Special categories', a.specialCategories.join(', ') || 'none'),
      row('Recipients', a.recipients.join(', ')),
      row('Transfers to third countries', a.transfers),
      row('Retention', a.retention),
      row('Security measures (controls)', a.securityMeasures.join(', ')),
      '</tbody></table></section>',
    );
  }
  parts.push('</section>');
  return parts.join('\n');
}

function htmlControl(c: ControlReport): string {
  const facts = c.facts.length
    ? `<table><caption>Evidence for ${escapeHtml(c.id)}</caption><thead><tr><th scope="col">Evidence</th><th scope="col">Value</th></tr></thead><tbody>${c.facts
        .map((f) => `<tr><td>${escapeHtml(f.label)}</td><td>${escapeHtml(f.value)}</td></tr>`)
        .join('')}</tbody></table>`
    : '';
  return `<section id="${anchor(c.ref)}" aria-labelledby="${anchor(c.ref)}-h">
<h4 id="${anchor(c.ref)}-h">${escapeHtml(c.id)} ${escapeHtml(c.title)} — ${badge(c.status)}</h4>
<p>${escapeHtml(c.summary)}</p>
<ul>${c.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>
<details><summary>Evidence (${c.facts.length} facts)</summary>${facts}</details>
</section>`;
}

export function reportHtml(r: ComplianceReport): string {
  const parts = [
    '<h1>Bulwark compliance report</h1>',
    `<p>Generated <time datetime="${escapeHtml(r.generatedAt)}">${escapeHtml(r.generatedAt)}</time> from the ${escapeHtml(r.deployment.env)} deployment at ${escapeHtml(r.deployment.publicUrl)} (version ${escapeHtml(r.deployment.version)}, ${escapeHtml(r.deployment.database)}, by the ${escapeHtml(r.deployment.source)}). Every status is computed from this deployment’s configuration and data at that time.</p>`,
    `<p><strong>${r.counts.met} met, ${r.counts.partly_met} partly met, ${r.counts.not_met} not met</strong> of ${r.counts.total} controls.</p>`,
    '<table><caption>Summary by framework</caption><thead><tr><th scope="col">Framework</th><th scope="col">Met</th><th scope="col">Partly met</th><th scope="col">Not met</th></tr></thead><tbody>',
    ...r.frameworks.map(
      (f) =>
        `<tr><th scope="row">${escapeHtml(f.name)}</th><td>${f.counts.met}</td><td>${f.counts.partly_met}</td><td>${f.counts.not_met}</td></tr>`,
    ),
    '</tbody></table>',
    `<p>Risk register: ${r.risks.total} risks, ${r.risks.open} open, ${r.risks.high} high (score ≥ 15), ${r.risks.overdue} reviews overdue.</p>`,
  ];
  for (const f of r.frameworks) {
    parts.push(
      `<section aria-labelledby="fw-${f.id}"><h2 id="fw-${f.id}">${escapeHtml(f.name)}</h2>`,
      `<table><caption>${escapeHtml(f.name)}: status per control</caption><thead><tr><th scope="col">Control</th><th scope="col">Status</th><th scope="col">Evidence</th></tr></thead><tbody>`,
      ...f.controls.map(
        (c) =>
          `<tr><th scope="row"><a href="#${anchor(c.ref)}">${escapeHtml(c.id)} ${escapeHtml(c.title)}</a></th><td>${badge(c.status)}</td><td>${escapeHtml(c.summary)}</td></tr>`,
      ),
      '</tbody></table>',
      `<h3>Details</h3>`,
      ...f.controls.map(htmlControl),
      '</section>',
    );
  }
  parts.push(htmlRopa(r.ropa, 2));
  return page('Bulwark compliance report', parts.join('\n'));
}

export function ropaHtml(r: Ropa): string {
  return page('Record of processing activities', htmlRopa(r, 1));
}

export function renderReport(r: ComplianceReport, format: ReportFormat): string {
  if (format === 'md') return reportMarkdown(r);
  if (format === 'html') return reportHtml(r);
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function renderRopa(r: Ropa, format: ReportFormat): string {
  if (format === 'md') return ropaMarkdown(r);
  if (format === 'html') return ropaHtml(r);
  return `${JSON.stringify(r, null, 2)}\n`;
}
