/**
 * The compliance report: every registered control judged on evidence collected now from this
 * deployment, the record of processing activities, and the risk register's summary. One JSON
 * document (schema below, `bulwark compliance schema` prints it) rendered as Markdown or HTML.
 */
import { type Static, Type } from 'typebox';
import { PRODUCT_VERSION } from '../siem/index.ts';
import { CONTROLS, type ControlDef } from './controls.ts';
import { DeploymentFacts, type EvidenceSources } from './facts.ts';
import { buildRopa, type Ropa } from './ropa.ts';
import { type Evidence, FRAMEWORK_IDS, FRAMEWORKS, type FrameworkId, judge, type Status } from './types.ts';

export const REPORT_FORMAT = 'bulwark.compliance-report/v1';

const StatusSchema = Type.Union([Type.Literal('met'), Type.Literal('partly_met'), Type.Literal('not_met')]);
const FactSchema = Type.Object(
  {
    key: Type.String({ description: 'Stable machine name of the fact' }),
    label: Type.String(),
    value: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
  },
  { additionalProperties: false },
);
const CheckSchema = Type.Object(
  {
    ok: Type.Boolean(),
    level: Type.Union([Type.Literal('must'), Type.Literal('should')]),
    text: Type.String(),
  },
  { additionalProperties: false },
);
const ControlSchema = Type.Object(
  {
    ref: Type.String({ description: '`<framework>:<id>`, used by the risk register' }),
    id: Type.String(),
    title: Type.String(),
    status: StatusSchema,
    summary: Type.String(),
    reasons: Type.Array(Type.String()),
    facts: Type.Array(FactSchema),
    checks: Type.Array(CheckSchema),
  },
  { additionalProperties: false },
);
const Counts = Type.Object(
  {
    total: Type.Integer(),
    met: Type.Integer(),
    partly_met: Type.Integer(),
    not_met: Type.Integer(),
  },
  { additionalProperties: false },
);
const FrameworkSchema = Type.Object(
  {
    id: Type.Union([Type.Literal('iso27001'), Type.Literal('psd2-rts'), Type.Literal('owasp-api')]),
    name: Type.String(),
    version: Type.String(),
    counts: Counts,
    controls: Type.Array(ControlSchema),
  },
  { additionalProperties: false },
);
const ActivitySchema = Type.Object(
  {
    id: Type.String(),
    module: Type.String(),
    purpose: Type.String(),
    lawfulBasis: Type.String(),
    dataSubjects: Type.Array(Type.String()),
    personalData: Type.Array(Type.String()),
    specialCategories: Type.Array(Type.String()),
    recipients: Type.Array(Type.String()),
    transfers: Type.String(),
    retention: Type.String(),
    securityMeasures: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export const RopaSchema = Type.Object(
  {
    format: Type.Literal('bulwark.ropa/v1'),
    generatedAt: Type.String({ format: 'date-time' }),
    controller: Type.Object({ name: Type.String(), note: Type.String() }, { additionalProperties: false }),
    processor: Type.Object(
      { name: Type.String(), deployment: Type.String() },
      { additionalProperties: false },
    ),
    activities: Type.Array(ActivitySchema),
  },
  { additionalProperties: false, description: 'GDPR Art. 30 record of processing activities' },
);

/** The JSON report's schema (JSON Schema draft 2020-12 compatible; stable within `format` v1). */
export const ReportSchema = Type.Object(
  {
    format: Type.Literal(REPORT_FORMAT),
    generatedAt: Type.String({ format: 'date-time' }),
    deployment: Type.Object(
      {
        env: Type.String(),
        publicUrl: Type.String(),
        version: Type.String(),
        database: Type.String(),
        source: Type.Union([Type.Literal('server'), Type.Literal('cli')]),
      },
      { additionalProperties: false },
    ),
    counts: Counts,
    frameworks: Type.Array(FrameworkSchema),
    risks: Type.Object(
      { total: Type.Integer(), open: Type.Integer(), overdue: Type.Integer(), high: Type.Integer() },
      { additionalProperties: false, description: 'Risk register summary (all tenants); high = score ≥ 15' },
    ),
    ropa: RopaSchema,
  },
  {
    $id: 'https://bulwark.dev/schemas/compliance-report-v1.json',
    title: 'Bulwark compliance report',
    additionalProperties: false,
  },
);
export type ComplianceReport = Static<typeof ReportSchema>;
export type ControlReport = Static<typeof ControlSchema>;

/** Runs one collector; a failure is evidence too (not met, with the reason), never a crash. */
async function evaluate(control: ControlDef, facts: DeploymentFacts): Promise<Evidence> {
  try {
    return judge(await control.collect(facts));
  } catch (err) {
    return {
      status: 'not_met',
      summary: 'evidence could not be collected',
      facts: [],
      checks: [{ ok: false, level: 'must', text: `evidence collection failed: ${(err as Error).message}` }],
      reasons: [`missing: evidence collection failed: ${(err as Error).message}`],
    };
  }
}

function count(statuses: readonly Status[]) {
  return {
    total: statuses.length,
    met: statuses.filter((s) => s === 'met').length,
    partly_met: statuses.filter((s) => s === 'partly_met').length,
    not_met: statuses.filter((s) => s === 'not_met').length,
  };
}

export interface ReportOptions {
  readonly source?: 'server' | 'cli';
  /** Only these frameworks (default all). */
  readonly frameworks?: readonly FrameworkId[];
}

export async function buildReport(
  sources: EvidenceSources,
  options: ReportOptions = {},
): Promise<ComplianceReport> {
  const facts = new DeploymentFacts(sources);
  const wanted = options.frameworks ?? FRAMEWORK_IDS;
  // Collectors run one after another: they share memoised queries, and a report is not hot.
  const evaluated: { def: ControlDef; evidence: Evidence }[] = [];
  for (const def of CONTROLS) {
    if (wanted.includes(def.framework)) evaluated.push({ def, evidence: await evaluate(def, facts) });
  }
  const frameworks = wanted.map((id) => {
    const controls = evaluated
      .filter((e) => e.def.framework === id)
      .map(({ def, evidence }) => ({
        ref: def.ref,
        id: def.id,
        title: def.title,
        status: evidence.status,
        summary: evidence.summary,
        reasons: [...evidence.reasons],
        facts: evidence.facts.map((f) => ({ ...f })),
        checks: evidence.checks.map((c) => ({ ...c })),
      }));
    return { id, ...FRAMEWORKS[id], counts: count(controls.map((c) => c.status)), controls };
  });
  const ropa: Ropa = buildRopa(sources.config, facts.now);
  return {
    format: REPORT_FORMAT,
    generatedAt: facts.now.toISOString(),
    deployment: {
      env: sources.config.env,
      publicUrl: sources.config.publicUrl,
      version: PRODUCT_VERSION,
      database: facts.databaseKind,
      source: options.source ?? 'server',
    },
    counts: count(evaluated.map((e) => e.evidence.status)),
    frameworks,
    risks: await facts.risks(),
    ropa: ropaJson(ropa),
  };
}

/** The record of processing as its JSON schema types it. */
export function ropaJson(ropa: Ropa): Static<typeof RopaSchema> {
  return {
    ...ropa,
    controller: { ...ropa.controller },
    processor: { ...ropa.processor },
    activities: ropa.activities.map((a) => ({
      ...a,
      dataSubjects: [...a.dataSubjects],
      personalData: [...a.personalData],
      specialCategories: [...a.specialCategories],
      recipients: [...a.recipients],
      securityMeasures: [...a.securityMeasures],
    })),
  };
}
