/**
 * What a probe gets: the target, lazily opened sessions of the credentials' actors, shared fixtures
 * (created once per scan, e.g. partner A's customer that others try to read), and a trace that
 * turns each request into evidence.
 */
import type { ScanCredentials } from './credentials.ts';
import {
  type ApiSession,
  type CallOptions,
  type HttpResponse,
  partnerSession,
  policyholderSession,
  type SendOptions,
  send,
  summarize,
} from './http.ts';
import type { Evidence, OwaspCategory, Severity } from './types.ts';

export type Actor = 'partnerA' | 'partnerA2' | 'partnerB' | 'policyholder';

export const ACTOR_LABEL: Record<Actor, string> = {
  partnerA: 'partner app A (tenant A)',
  partnerA2: 'partner app A2 (tenant A, another partner)',
  partnerB: 'partner app B (tenant B)',
  policyholder: 'policyholder of tenant A',
};

export interface ScanOptions {
  /** Requests sent by the rate-limit probe to find a 429. */
  readonly burst: number;
}

export class ScanContext {
  private readonly sessions = new Map<Actor, Promise<ApiSession | undefined>>();
  private readonly fixtures = new Map<string, Promise<unknown>>();
  constructor(
    /** Origin (and base path) of the deployment, without a trailing slash. */
    readonly target: string,
    readonly creds: ScanCredentials,
    readonly options: ScanOptions,
  ) {}

  url(path: string): string {
    return `${this.target}${path}`;
  }

  /** The actor's session, or undefined when the credentials do not name that actor. */
  session(actor: Actor): Promise<ApiSession | undefined> {
    let s = this.sessions.get(actor);
    if (!s) {
      const c = this.creds[actor];
      s = !c
        ? Promise.resolve(undefined)
        : actor === 'policyholder'
          ? policyholderSession(this.target, ACTOR_LABEL[actor], this.creds.policyholder!)
          : partnerSession(this.target, ACTOR_LABEL[actor], this.creds[actor]!);
      this.sessions.set(actor, s);
    }
    return s;
  }

  /** A value made once per scan (a customer partner A created, the discovery document…). */
  fixture<T>(name: string, make: () => Promise<T>): Promise<T> {
    let f = this.fixtures.get(name) as Promise<T> | undefined;
    if (!f) {
      f = make();
      this.fixtures.set(name, f);
    }
    return f;
  }
}

/** Thrown by `need` when a probe's precondition is missing: the probe is skipped with the reason. */
export class Skip extends Error {}

/** Collects one probe's evidence as it sends requests. */
export class Trace {
  readonly evidence: Evidence[] = [];
  constructor(private readonly ctx: ScanContext) {}

  record(request: string, response: string, note?: string): void {
    this.evidence.push({ request, response, ...(note ? { note } : {}) });
  }

  /** An unauthenticated (or hand-authenticated) request; `what` describes it without secrets. */
  async raw(
    path: string,
    options: SendOptions & { what?: string; note?: string } = {},
  ): Promise<HttpResponse> {
    const res = await send(this.ctx.url(path), options);
    this.record(options.what ?? `${options.method ?? 'GET'} ${path}`, summarize(res), options.note);
    return res;
  }

  /** A request as `session`; `what` overrides the description (e.g. "with alg=none token"). */
  async call(
    session: ApiSession,
    method: string,
    path: string,
    options: CallOptions & { what?: string; note?: string } = {},
  ): Promise<HttpResponse> {
    const res = await session.call(method, path, options);
    this.record(options.what ?? `${method} ${path} as ${session.label}`, summarize(res), options.note);
    return res;
  }

  /** The actor's session, or Skip naming what the credentials file lacks. */
  async need(actor: Actor): Promise<ApiSession> {
    const s = await this.ctx.session(actor);
    if (!s) throw new Skip(`the credentials file names no ${actor} (${ACTOR_LABEL[actor]})`);
    return s;
  }
}

/** What a probe concludes; evidence comes from its trace. */
export type Verdict =
  | { readonly status: 'pass' }
  | { readonly status: 'fail'; readonly detail: string; readonly severity?: Severity }
  | { readonly status: 'skip'; readonly detail: string };

export const pass: Verdict = { status: 'pass' };
export const fail = (detail: string, severity?: Severity): Verdict => ({
  status: 'fail',
  detail,
  ...(severity ? { severity } : {}),
});
export const skip = (detail: string): Verdict => ({ status: 'skip', detail });

/** Failures collected over several checks of one probe: pass when empty. */
export function verdictOf(problems: readonly string[], severity?: Severity): Verdict {
  return problems.length === 0 ? pass : fail(problems.join('; '), severity);
}

export interface Probe {
  readonly id: string;
  readonly category: OwaspCategory;
  readonly severity: Severity;
  readonly title: string;
  readonly fix: string;
  run(ctx: ScanContext, trace: Trace): Promise<Verdict>;
}
