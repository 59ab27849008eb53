/**
 * The vocabulary of the self-assessment (`bulwark scan`): probes, their outcomes and the report.
 * Categories are the OWASP API Security Top 10, 2023 edition (https://owasp.org/API-Security/).
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const OWASP_CATEGORIES = {
  API1: 'API1:2023 Broken Object Level Authorization',
  API2: 'API2:2023 Broken Authentication',
  API3: 'API3:2023 Broken Object Property Level Authorization',
  API4: 'API4:2023 Unrestricted Resource Consumption',
  API5: 'API5:2023 Broken Function Level Authorization',
  API6: 'API6:2023 Unrestricted Access to Sensitive Business Flows',
  API7: 'API7:2023 Server Side Request Forgery',
  API8: 'API8:2023 Security Misconfiguration',
  API9: 'API9:2023 Improper Inventory Management',
  API10: 'API10:2023 Unsafe Consumption of APIs',
} as const;
export type OwaspCategory = keyof typeof OWASP_CATEGORIES;

/** One request the probe sent and what came back: a summary, never a token, key or password. */
export interface Evidence {
  /** e.g. `GET /v1/customers/{id} as partner app of tenant B`. */
  readonly request: string;
  /** e.g. `404 application/problem+json code=CUSTOMER_NOT_FOUND`. */
  readonly response: string;
  readonly note?: string;
}

export type ProbeStatus = 'pass' | 'fail' | 'skip' | 'error';

export interface ProbeResult {
  readonly id: string;
  readonly category: OwaspCategory;
  readonly severity: Severity;
  readonly title: string;
  readonly status: ProbeStatus;
  /** Why it failed, was skipped or errored; absent on pass. */
  readonly detail?: string;
  readonly evidence: readonly Evidence[];
  readonly fix: string;
  readonly durationMs: number;
}

/** A failed probe, as the report lists it. */
export interface Finding {
  readonly id: string;
  readonly category: OwaspCategory;
  readonly categoryName: string;
  readonly severity: Severity;
  readonly title: string;
  readonly detail: string;
  readonly evidence: readonly Evidence[];
  readonly fix: string;
}

export interface ScanReport {
  /** Schema of this document; bumped on incompatible change (docs/scan.md). */
  readonly schema: 'bulwark-scan/1';
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly summary: {
    readonly probes: number;
    readonly passed: number;
    readonly failed: number;
    readonly skipped: number;
    readonly errored: number;
    readonly findingsBySeverity: Readonly<Record<Severity, number>>;
  };
  readonly findings: readonly Finding[];
  readonly probes: readonly ProbeResult[];
}

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
