/**
 * The detection feed's events and what detectors produce. Events carry ids, addresses and facts
 * only: never a username, e-mail, IBAN or payload. Accounts that may not exist are named by a
 * digest (`accountDigest`), IBANs by the payments module's blind index.
 */

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
export const maxSeverity = (a: Severity, b: Severity): Severity =>
  severityRank(a) >= severityRank(b) ? a : b;

/** A response of the request path (onResponse), for every face. */
export interface ResponseEvent {
  readonly kind: 'response';
  readonly at: number;
  readonly tenantId: string | null;
  readonly clientId?: string | undefined;
  readonly userId?: string | undefined;
  readonly ip: string;
  /** Route pattern (`/v1/claims/:claimId`), never the raw URL. */
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly durationMs: number;
  /** The object the route names (its last path parameter), when it has one. */
  readonly objectId?: string | undefined;
  /** Access token id (`jti`) and expiry (seconds), for token-use detection and revocation. */
  readonly tokenId?: string | undefined;
  readonly tokenExp?: number | undefined;
}

/** The outcome of one sign-in step of a person. */
export interface SignInEvent {
  readonly kind: 'signin';
  readonly at: number;
  readonly tenantId: string;
  readonly clientId?: string | undefined;
  readonly ip: string;
  /** `user:<id>` when known, else `acct:<digest of the normalised username>`. */
  readonly account: string;
  readonly userId?: string | undefined;
  readonly outcome: 'success' | 'failure' | 'locked';
}

/** A WAF verdict with at least one match (blocks and near-misses alike). */
export interface WafEvent {
  readonly kind: 'waf';
  readonly at: number;
  readonly tenantId: string | null;
  readonly ip: string;
  readonly route: string;
  readonly action: 'allow' | 'block' | 'monitor';
  readonly score: number;
  readonly threshold: number;
  readonly ruleIds: readonly string[];
}

/** A domain event from the outbox bus (`payment.*`, `claim.status_changed`, `policy.status_changed`). */
export interface BusinessEvent {
  readonly kind: 'business';
  readonly at: number;
  readonly tenantId: string;
  readonly topic: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export type FeedEvent = ResponseEvent | SignInEvent | WafEvent | BusinessEvent;

export const DETECTOR_IDS = [
  'credential_stuffing',
  'bola_enumeration',
  'client_volume',
  'token_network',
  'payout_iban',
  'claim_burst',
  'waf_near_miss',
] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];

export const SUBJECT_TYPES = [
  'ip',
  'account',
  'user',
  'client',
  'token',
  'iban',
  'partner',
  'tenant',
] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

export interface Subject {
  readonly type: SubjectType;
  readonly id: string;
}

/** What, why, and the numbers: shown to operators, kept in the audit record, exported to SIEMs. */
export interface Explanation {
  readonly what: string;
  readonly why: string;
  readonly numbers: Readonly<Record<string, number | string>>;
}

/** Who/what a response action can act on, taken from the evidence. */
export interface FindingContext {
  readonly ip?: string | undefined;
  readonly clientId?: string | undefined;
  readonly userId?: string | undefined;
  readonly tokenId?: string | undefined;
  readonly tokenExp?: number | undefined;
}

/** One detector's conclusion about one subject at one moment. */
export interface Finding {
  readonly detector: DetectorId;
  readonly tenantId: string | null;
  readonly subject: Subject;
  readonly severity: Severity;
  readonly at: number;
  readonly explanation: Explanation;
  readonly context: FindingContext;
}

export const subjectKey = (s: Subject): string => `${s.type}:${s.id}`;
