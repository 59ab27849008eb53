/** The shape of one WAF rule, shared by the rule files and the compiler. */

export type Paranoia = 1 | 2 | 3 | 4;

export type Family =
  | 'sqli'
  | 'nosqli'
  | 'xss'
  | 'lfi'
  | 'rfi'
  | 'rce'
  | 'ssrf'
  | 'ssti'
  | 'xxe'
  | 'prototype-pollution'
  | 'php'
  | 'java'
  | 'nodejs'
  | 'ldap'
  | 'session-fixation'
  | 'protocol'
  | 'scanner';

/** Anomaly points per severity, as in the OWASP CRS scoring model (critical 5 … notice 2). */
export type Severity = 'critical' | 'error' | 'warning' | 'notice';
export const SEVERITY_SCORE: Readonly<Record<Severity, number>> = {
  critical: 5,
  error: 4,
  warning: 3,
  notice: 2,
};

/**
 * What a rule looks at:
 * - `values`: parameter values of every placement (path, query, headers, cookies, body);
 * - `args`: query, cookie and body values only (not headers or path);
 * - `keys`: parameter names (query, cookie, body);
 * - `query`, `cookie`: values and names of that placement only;
 * - `path`: the decoded path;
 * - `headers`: header values; `ua`: the User-Agent only; `referer`: the Referer only;
 * - `filenames`: multipart filenames and filename-bearing headers;
 * - `raw`: the raw body text of non-JSON bodies (XML prologues, smuggled requests).
 */
export type Target =
  | 'values'
  | 'args'
  | 'keys'
  | 'query'
  | 'cookie'
  | 'path'
  | 'headers'
  | 'ua'
  | 'referer'
  | 'filenames'
  | 'raw';

export type Matcher =
  | { readonly regex: string; readonly caseSensitive?: boolean; readonly minLength?: number }
  | { readonly libinjection: 'sqli' | 'xss' }
  | { readonly phrases: readonly string[]; readonly wordBoundary?: boolean };

export interface WafRule {
  /** Stable id, named in the 403 answer and the audit stream. Never reused. */
  readonly id: string;
  readonly family: Family;
  /** Lowest paranoia level that runs this rule. */
  readonly pl: Paranoia;
  readonly severity: Severity;
  /** What it detects, and why (spec or CWE). */
  readonly title: string;
  readonly match: Matcher;
  readonly targets: readonly Target[];
  /**
   * Whether the rule can match a "plain" value (letters, digits, spaces and `_ , . @ : = -` only).
   * Plain values — most of benign traffic — are only shown to such rules: the cost of a request
   * is then proportional to its suspicious content, not to its size.
   */
  readonly plain?: boolean;
}

/** A rule evaluated in JavaScript on the request's structure (methods, header grammar, sizes). */
export interface NativeRule {
  readonly id: string;
  readonly family: Family;
  readonly pl: Paranoia;
  readonly severity: Severity;
  readonly title: string;
}
