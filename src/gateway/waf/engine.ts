import pkg from '@datadog/native-appsec';
import { bodyKind, type FieldSink, readBody, readForm } from './body.ts';
import { checkHead, type HeadFacts } from './native.ts';
import { base64Text, variants } from './normalize.ts';
import { COMMAND_TRIGGER } from './rules/code.ts';
import { allRules } from './rules/index.ts';
import { NATIVE_RULES } from './rules/protocol.ts';
import { type Family, type Paranoia, SEVERITY_SCORE, type Target, type WafRule } from './rules/types.ts';

const { DDWAF } = pkg;

export type Placement = 'method' | 'path' | 'query' | 'header' | 'cookie' | 'body';

/** A field or rule the WAF must not judge on one route (free-text fields, legitimate URLs …). */
export interface WafExclusion {
  /** Fastify route URL pattern, e.g. `/v1/claims/:claimId/notes`. Absent: every route. */
  readonly route?: string;
  readonly placement?: 'body' | 'query' | 'header' | 'cookie';
  /** Parameter path: JSON `a.b.c` (array indices dropped), form/query name, header name (lower case). */
  readonly key?: string;
  readonly ruleIds?: readonly string[];
  readonly families?: readonly string[];
}

export interface WafOptions {
  readonly paranoia: Paranoia;
  readonly mode: 'block' | 'monitor';
  readonly exclusions?: readonly WafExclusion[];
  /** Anomaly score at which a request is blocked (default 5: one critical match). */
  readonly threshold?: number;
}

export interface WafMatch {
  readonly ruleId: string;
  readonly family: string;
  readonly placement: Placement;
  readonly key?: string;
}

export interface Decision {
  readonly action: 'allow' | 'block' | 'monitor';
  readonly score: number;
  readonly ruleIds: string[];
  readonly matches: WafMatch[];
}

/** One request's running verdict across the two phases (head, then body). */
export interface Inspection {
  score: number;
  readonly matches: WafMatch[];
  readonly route: string;
}

export interface BodyInput {
  readonly contentType: string | undefined;
  readonly text: string;
}

/** Addresses we feed libddwaf; the names are ours (no server.* semantics are needed). */
const A = {
  path: 'bw.path',
  query: 'bw.query',
  queryKeys: 'bw.query.keys',
  header: 'bw.header',
  cookie: 'bw.cookie',
  cookieKeys: 'bw.cookie.keys',
  body: 'bw.body',
  bodyKeys: 'bw.body.keys',
  files: 'bw.files',
  raw: 'bw.raw',
  route: 'bw.route',
} as const;

const PLACEMENT_OF: Readonly<Record<string, Placement>> = {
  [A.path]: 'path',
  [A.query]: 'query',
  [A.queryKeys]: 'query',
  [A.header]: 'header',
  [A.cookie]: 'cookie',
  [A.cookieKeys]: 'cookie',
  [A.body]: 'body',
  [A.bodyKeys]: 'body',
  [A.files]: 'body',
  [A.raw]: 'body',
};

const ADDRESSES_OF_PLACEMENT: Readonly<Record<NonNullable<WafExclusion['placement']>, readonly string[]>> = {
  body: [A.body, A.bodyKeys, A.files, A.raw],
  query: [A.query, A.queryKeys],
  header: [A.header],
  cookie: [A.cookie, A.cookieKeys],
};

type Input = { address: string; key_path?: string[] };

/** Addresses that have a twin carrying the plain values (see `WafRule.plain`). */
const HAS_PLAIN = new Set<string>([
  A.path,
  A.query,
  A.queryKeys,
  A.header,
  A.cookie,
  A.cookieKeys,
  A.body,
  A.bodyKeys,
]);
const PLAIN_SUFFIX = '.plain';

function inputsFor(targets: readonly Target[], plain: boolean): Input[] {
  const out: Input[] = [];
  const add = (address: string, key?: string): void => {
    for (const a of plain && HAS_PLAIN.has(address) ? [address, address + PLAIN_SUFFIX] : [address]) {
      if (!out.some((i) => i.address === a && i.key_path === undefined)) {
        out.push(key === undefined ? { address: a } : { address: a, key_path: [key] });
      }
    }
  };
  for (const t of targets) {
    switch (t) {
      case 'values':
        for (const a of [A.path, A.query, A.header, A.cookie, A.body]) add(a);
        break;
      case 'args':
        for (const a of [A.query, A.cookie, A.body]) add(a);
        break;
      case 'keys':
        for (const a of [A.queryKeys, A.cookieKeys, A.bodyKeys]) add(a);
        break;
      case 'query':
        add(A.query);
        add(A.queryKeys);
        break;
      case 'cookie':
        add(A.cookie);
        add(A.cookieKeys);
        break;
      case 'path':
        add(A.path);
        break;
      case 'headers':
        add(A.header);
        break;
      case 'ua':
        add(A.header, 'user-agent');
        break;
      case 'referer':
        add(A.header, 'referer');
        break;
      case 'filenames':
        add(A.files);
        break;
      case 'raw':
        add(A.raw);
        break;
    }
  }
  // A keyed input is redundant next to the whole address.
  return out.filter(
    (i) => i.key_path === undefined || !out.some((o) => o.address === i.address && !o.key_path),
  );
}

function ddwafRule(rule: WafRule): object {
  const inputs = inputsFor(rule.targets, rule.plain === true);
  let condition: object;
  const m = rule.match;
  if ('libinjection' in m) {
    condition = { operator: m.libinjection === 'sqli' ? 'is_sqli' : 'is_xss', parameters: { inputs } };
  } else if ('phrases' in m) {
    condition = {
      operator: 'phrase_match',
      parameters: { inputs, list: m.phrases, options: { enforce_word_boundary: m.wordBoundary ?? true } },
    };
  } else {
    condition = {
      operator: 'match_regex',
      parameters: {
        inputs,
        regex: m.regex,
        options: { case_sensitive: m.caseSensitive ?? false, min_length: m.minLength ?? 1 },
      },
    };
  }
  return {
    id: rule.id,
    name: rule.title,
    // libddwaf reports at most one match per rule "type" per run: a unique type per rule gives
    // every rule its own say, which anomaly scoring needs.
    tags: { type: rule.id, category: 'attack_attempt', family: rule.family, pl: String(rule.pl) },
    conditions: [condition],
    transformers: [],
  };
}

function ddwafExclusion(ex: WafExclusion, index: number): object | undefined {
  const filter: Record<string, unknown> = { id: `exclusion-${index}` };
  const targets: object[] = [];
  for (const id of ex.ruleIds ?? []) targets.push({ rule_id: id });
  for (const f of ex.families ?? []) targets.push({ tags: { family: f } });
  if (targets.length) filter.rules_target = targets;
  if (ex.route !== undefined) {
    filter.conditions = [
      { operator: 'exact_match', parameters: { inputs: [{ address: A.route }], list: [ex.route] } },
    ];
  }
  if (ex.placement !== undefined || ex.key !== undefined) {
    const base = ex.placement ? ADDRESSES_OF_PLACEMENT[ex.placement] : Object.keys(PLACEMENT_OF);
    const addresses = base.flatMap((a) => (HAS_PLAIN.has(a) ? [a, a + PLAIN_SUFFIX] : [a]));
    filter.inputs = addresses.map((address) =>
      ex.key === undefined ? { address } : { address, key_path: [ex.key] },
    );
  }
  if (!filter.rules_target && !filter.conditions && !filter.inputs) return undefined;
  return filter;
}

/**
 * Header values that have their own strict grammar and are checked by the protocol rules or by a
 * later stage (credentials are verified cryptographically), so injection rules do not read them.
 */
const HEADERS_NOT_FOR_INJECTION = new Set([
  'cookie',
  'authorization',
  'proxy-authorization',
  'dpop',
  'signature',
  'signature-input',
  // RFC 9421 §5.1: a structured field too, parsed strictly by gateway/signatures.
  'accept-signature',
  'content-digest',
  'repr-digest',
  'want-content-digest',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'host',
  'accept',
  'accept-encoding',
  'accept-language',
  'if-none-match',
  'if-match',
  'if-modified-since',
  'if-unmodified-since',
  'upgrade-insecure-requests',
  'priority',
  'traceparent',
]);

/** A path of plain segments (no dots, escapes or metacharacters). */
const PLAIN_PATH = /^(?:\/[\w@:=,-]*)+$/;
const FILENAME_HEADER = /^x[-_.]?(?:file[-_.]?name|filename)$/i;
const MAX_FIELDS = 255;

/** Only letters, digits, blanks and a few inert punctuation marks: cannot carry most payloads. */
const PLAIN = /^[\w ,.@:=-]*$/;

/**
 * Prefilter for plain values: the words and shapes without which no plain-capable rule can match
 * (SQL and shell keywords, script objects, class packages, sensitive names, "=" and ".."). A plain
 * value with none of them is not sent to libddwaf at all; one with any of them is judged in full.
 * Compiled once; one linear scan per value.
 */
const PLAIN_TRIGGER_RE = new RegExp(
  [
    // `(?<![a-z])`: try a letter run once, from its start — `[a-z]{3,}\s*:` alone backtracks from
    // every letter of a long run (quadratic: 40 KB of letters took over a second).
    '[=]|\\.\\.|@@|\\b0x[0-9a-f]|(?<![a-z])[a-z]{3,}\\s*:',
    '\\b(?:union|select|insert|update|delete|drop|create|alter|truncate|exec|execute|declare|waitfor|delay|sleep|benchmark|having|information_schema|sysobjects|syscolumns|sysusers|mysql|pg_\\w+|sqlite_\\w+|all_tables|user_tables|msys\\w*|msdb|schema_name|xp_\\w+|sp_\\w+|utl_\\w+|dbms_\\w+|msdasql|sqloledb|n?varchar2?|openrowset|tempdb|northwind|dbo|or|and|xor|not|like|rlike|regexp|between|case|when|order|group|procedure|load|into|outfile|dumpfile|null)\\b',
    '\\b(?:javascript|vbscript|livescript|document|window|location|cookie|innerhtml|outerhtml|fromcharcode|expression|binding|import|globalthis|self|top|parent|frames|eval|function)\\b',
    'passwd|shadow|boot\\.ini|win\\.ini|system\\.ini|htaccess|htpasswd|\\.env\\b|\\.git\\b|id_rsa|wp-config|web-inf|meta-inf|windows|winnt|system32|inetpub|bash_history|0x2e',
    '\\s-{1,2}[a-z]|\\b(?:invoke|new|start|get|set|remove|add|out|test|stop)-[a-z]|\\bif\\s+(?:not|exist|errorlevel|defined|cmdextversion)\\b|\\balias\\b|\\b(?:sh|bash|zsh|cmd|powershell|pwsh|iex|iwr|webclient|downloadstring|frombase64string)\\b',
    '\\b(?:java|javax|jdk|sun|com\\.sun|org\\.\\w+|ognl|bsh|groovy|freemarker|weblogic|runtime|processbuilder|getruntime|classloader|templatesimpl|lazymap|transformedmap|xstream|getclass|forname|newinstance|invoke|jndi|rmi|ldap)\\b|transformer|factory|closure|aced0005|ro0ab|kztaau|cs7qaf',
    'child_process|\\bprocess\\b|\\brequire\\b|constructor|\\bglobal\\b|\\bmodule\\b|proto|prototype|__define|__lookup',
    '169\\.254|100\\.100\\.100\\.200|metadata|kubernetes|cluster\\.local|\\.internal\\b|localhost',
    'sess|cfid|cftoken|cakephp|\\.sid\\b|login_token|shiny-token|_method|method-override|x-http-method',
    COMMAND_TRIGGER,
    'nikto|sqlmap|nmap|masscan|zgrab|nuclei|nessus|openvas|acunetix|netsparker|arachni|havij|w3af|dirbuster|gobuster|wfuzz|ffuf|wpscan|burp|zap|commix|hydra|metasploit|nessus|qualys|appscan|webinspect|xray|dalfox',
  ].join('|'),
);

/** Case-folding once and matching case-sensitively is several times faster in V8 than the `i` flag. */
export const PLAIN_TRIGGER = { test: (s: string): boolean => PLAIN_TRIGGER_RE.test(s.toLowerCase()) };

type Fields = Record<string, string[]>;

/** Collects the fields of one placement in the shape libddwaf takes: name -> decodings. */
class Bag implements FieldSink {
  readonly values: Fields = Object.create(null);
  readonly plainValues: Fields = Object.create(null);
  readonly keys: Fields = Object.create(null);
  readonly plainKeys: Fields = Object.create(null);
  readonly files: Fields = Object.create(null);
  count = 0;
  readonly anomalies: { ruleId: string; key?: string }[] = [];
  overflow = false;

  value(key: string, raw: string, plus: boolean): void {
    if (this.count >= MAX_FIELDS) {
      this.overflow = true;
      return;
    }
    this.count++;
    if (key.endsWith('#filename')) push(this.files, key.slice(0, -9), variants(raw, plus));
    const spaced = plus && raw.indexOf('+') !== -1 && raw.indexOf('%') === -1 ? raw.replace(/\+/g, ' ') : raw;
    if (PLAIN.test(spaced)) {
      if (PLAIN_TRIGGER.test(spaced)) push(this.plainValues, key, [spaced]);
      // A plain token may still be base64 of a payload.
      const decoded = spaced.length >= 8 ? base64Text(spaced) : undefined;
      if (decoded !== undefined) push(this.values, key, variants(decoded, false));
    } else push(this.values, key, variants(raw, plus));
  }

  key(key: string, plus: boolean): void {
    if (key === '' || this.keys[key] !== undefined || this.plainKeys[key] !== undefined) return;
    if (PLAIN.test(key)) {
      if (PLAIN_TRIGGER.test(key)) this.plainKeys[key] = [key];
      const decoded = key.length >= 8 ? base64Text(key) : undefined;
      if (decoded !== undefined) this.keys[key] = variants(decoded, false);
    } else this.keys[key] = variants(key, plus);
  }

  anomaly(ruleId: string, key?: string): void {
    this.anomalies.push(key === undefined ? { ruleId } : { ruleId, key });
  }
}

function push(into: Fields, key: string, v: string[]): void {
  const list = into[key];
  if (list) list.push(...v);
  else into[key] = v;
}

function isEmpty(f: Fields): boolean {
  for (const _ in f) return false;
  return true;
}

/** Add a field set under its address (and its plain twin), skipping empty ones: less to convert. */
function put(data: Record<string, unknown>, address: string, full: Fields, plain?: Fields): void {
  if (!isEmpty(full)) data[address] = full;
  if (plain && !isEmpty(plain)) data[address + PLAIN_SUFFIX] = plain;
}

/** Header values seen clean recently, per route: clients repeat them on every request. */
const HEADER_CACHE_MAX = 4096;

/** The compiled WAF: one libddwaf handle, the native rule table and the scoring policy. */
export class Waf {
  readonly options: Required<Pick<WafOptions, 'paranoia' | 'mode' | 'threshold'>>;
  readonly rules: readonly WafRule[];
  readonly #ddwaf: InstanceType<typeof DDWAF>;
  readonly #families = new Map<string, Family>();
  readonly #severity = new Map<string, number>();
  readonly #exclusions: readonly WafExclusion[];
  readonly #nativeIds: ReadonlyMap<string, (typeof NATIVE_RULES)[keyof typeof NATIVE_RULES]>;
  readonly #cleanHeaders = new Set<string>();

  constructor(options: WafOptions) {
    const paranoia = options.paranoia;
    if (![1, 2, 3, 4].includes(paranoia)) throw new Error(`WAF paranoia must be 1-4, got ${paranoia}`);
    this.options = { paranoia, mode: options.mode, threshold: options.threshold ?? 5 };
    this.#exclusions = options.exclusions ?? [];
    this.rules = allRules.filter((r) => r.pl <= paranoia);
    const ids = new Set<string>();
    for (const r of allRules) {
      if (ids.has(r.id)) throw new Error(`WAF rule id ${r.id} declared twice`);
      ids.add(r.id);
      this.#families.set(r.id, r.family);
      this.#severity.set(r.id, SEVERITY_SCORE[r.severity]);
    }
    const natives = new Map<string, (typeof NATIVE_RULES)[keyof typeof NATIVE_RULES]>();
    for (const n of Object.values(NATIVE_RULES)) {
      if (ids.has(n.id)) throw new Error(`WAF rule id ${n.id} declared twice`);
      ids.add(n.id);
      natives.set(n.id, n);
      this.#families.set(n.id, n.family);
      this.#severity.set(n.id, SEVERITY_SCORE[n.severity]);
    }
    this.#nativeIds = natives;
    const exclusions = this.#exclusions
      .map((ex, i) => ddwafExclusion(ex, i))
      .filter((x): x is object => x !== undefined);
    const ruleset = {
      version: '2.2',
      metadata: { rules_version: '1.0.0' },
      rules: this.rules.map(ddwafRule),
      ...(exclusions.length ? { exclusions } : {}),
    };
    this.#ddwaf = new DDWAF(ruleset, 'bulwark-waf');
    const diag = this.#ddwaf.diagnostics;
    const failed = diag.rules && 'failed' in diag.rules ? diag.rules.failed : [];
    const excl = diag.exclusions && 'failed' in diag.exclusions ? diag.exclusions.failed : [];
    if (failed.length || excl.length || (diag.rules && 'error' in diag.rules)) {
      this.#ddwaf.dispose();
      throw new Error(`WAF ruleset failed to compile: ${JSON.stringify(diag.rules ?? diag)}`);
    }
  }

  /** Phase 1: method, target, headers and cookies (Fastify `onRequest`). */
  inspectHead(facts: HeadFacts, route: string): Inspection {
    const state: Inspection = { score: 0, matches: [], route };
    for (const h of checkHead(facts, this.options.paranoia)) {
      this.#addNative(state, NATIVE_RULES[h.rule].id, h.placement, h.key);
    }
    const q = facts.url.indexOf('?');
    const rawPath = q === -1 ? facts.url : facts.url.slice(0, q);
    const query = new Bag();
    if (q !== -1) readForm(facts.url.slice(q + 1), query);
    const headers = new Bag();
    const cookies = new Bag();
    const pending: string[] = [];
    const raw = facts.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const rawValue = raw[i + 1]!;
      // Node reads header bytes as Latin-1; UTF-8 payloads (smart quotes, fullwidth forms) are re-read.
      const value = /[\u0080-\u00ff]/.test(rawValue)
        ? Buffer.from(rawValue, 'latin1').toString('utf8')
        : rawValue;
      if (name === 'cookie') {
        readCookies(value, cookies);
        continue;
      }
      if (HEADERS_NOT_FOR_INJECTION.has(name)) continue;
      const cacheKey = `${route}\u0000${name}\u0000${value}`;
      if (this.#cleanHeaders.has(cacheKey)) continue;
      pending.push(cacheKey);
      headers.value(name, value, false);
      if (FILENAME_HEADER.test(name)) headers.files[name] = variants(value, false);
    }
    if (query.overflow) this.#addNative(state, NATIVE_RULES.argCount.id, 'query');
    const data: Record<string, unknown> = { [A.route]: route };
    if (!PLAIN_PATH.test(rawPath)) data[A.path] = variants(rawPath, true);
    else if (PLAIN_TRIGGER.test(rawPath)) data[A.path + PLAIN_SUFFIX] = [rawPath];
    put(data, A.query, query.values, query.plainValues);
    put(data, A.queryKeys, query.keys, query.plainKeys);
    put(data, A.header, headers.values, headers.plainValues);
    put(data, A.cookie, cookies.values, cookies.plainValues);
    put(data, A.cookieKeys, cookies.keys, cookies.plainKeys);
    put(data, A.files, headers.files);
    const before = state.matches.length;
    this.#run(data, state);
    // Remember the header values no rule matched, so the next request from this client skips them.
    const hit = new Set(
      state.matches
        .slice(before)
        .filter((m) => m.placement === 'header')
        .map((m) => m.key),
    );
    for (const k of pending) {
      if (hit.has(k.slice(k.indexOf('\u0000') + 1, k.lastIndexOf('\u0000')))) continue;
      if (this.#cleanHeaders.size >= HEADER_CACHE_MAX) this.#cleanHeaders.clear();
      this.#cleanHeaders.add(k);
    }
    return state;
  }

  /** Phase 2: the body, read according to its media type (Fastify `preParsing`). */
  inspectBody(state: Inspection, body: BodyInput): void {
    const kind = bodyKind(body.contentType);
    const bag = new Bag();
    readBody(kind, body.text, body.contentType ?? '', bag);
    for (const a of bag.anomalies) this.#addNative(state, a.ruleId, 'body', a.key);
    if (bag.overflow) this.#addNative(state, NATIVE_RULES.argCount.id, 'body');
    const data: Record<string, unknown> = { [A.route]: state.route };
    put(data, A.body, bag.values, bag.plainValues);
    put(data, A.bodyKeys, bag.keys, bag.plainKeys);
    put(data, A.files, bag.files);
    if (kind !== 'json' && body.text !== '')
      data[A.raw] = body.text.length > 4096 ? body.text.slice(0, 4096) : body.text;
    this.#run(data, state);
  }

  /** The verdict so far: block, monitor (would block) or allow. */
  decide(state: Inspection): Decision {
    const ruleIds = [...new Set(state.matches.map((m) => m.ruleId))];
    const over = state.score >= this.options.threshold;
    const action = over ? (this.options.mode === 'block' ? 'block' : 'monitor') : 'allow';
    return { action, score: state.score, ruleIds, matches: state.matches };
  }

  /** Inspect a whole request at once (tests, tools). */
  evaluate(facts: HeadFacts, body?: BodyInput, route = ''): Decision {
    const state = this.inspectHead(facts, route);
    if (body) this.inspectBody(state, body);
    return this.decide(state);
  }

  dispose(): void {
    if (!this.#ddwaf.disposed) this.#ddwaf.dispose();
  }

  #run(data: Record<string, unknown>, state: Inspection): void {
    // Nothing suspicious to look at (only the route is set): skip the engine call altogether.
    let fields = 0;
    for (const _ in data) fields++;
    if (fields <= 1) return;
    const ctx = this.#ddwaf.createContext();
    try {
      // 50 ms budget; a timeout fails closed (an engine starved by one request must not wave it through).
      const result = ctx.run({ ephemeral: data }, 50_000);
      if (result.timeout) {
        state.score += this.options.threshold;
        state.matches.push({ ruleId: 'engine-timeout', family: 'protocol', placement: 'body' });
      }
      for (const ev of (result.events ?? []) as DdwafEvent[]) {
        const id = ev.rule.id;
        const p = ev.rule_matches[0]?.parameters[0];
        const address = p?.address.endsWith(PLAIN_SUFFIX)
          ? p.address.slice(0, -PLAIN_SUFFIX.length)
          : p?.address;
        const placement: Placement = (address ? PLACEMENT_OF[address] : undefined) ?? 'body';
        const key = p && p.key_path.length > 0 && address !== A.path ? String(p.key_path[0]) : undefined;
        if (state.matches.some((m) => m.ruleId === id)) continue;
        state.score += this.#severity.get(id) ?? 0;
        state.matches.push({
          ruleId: id,
          family: this.#families.get(id) ?? 'unknown',
          placement,
          ...(key === undefined ? {} : { key }),
        });
      }
    } finally {
      ctx.dispose();
    }
  }

  #addNative(state: Inspection, ruleId: string, placement: Placement, key?: string): void {
    const rule = this.#nativeIds.get(ruleId);
    if (!rule || rule.pl > this.options.paranoia) return;
    if (state.matches.some((m) => m.ruleId === ruleId)) return;
    if (this.#excluded(state.route, ruleId, rule.family, placement, key)) return;
    state.score += SEVERITY_SCORE[rule.severity];
    state.matches.push({ ruleId, family: rule.family, placement, ...(key === undefined ? {} : { key }) });
  }

  #excluded(route: string, ruleId: string, family: string, placement: Placement, key?: string): boolean {
    return this.#exclusions.some(
      (ex) =>
        (ex.route === undefined || ex.route === route) &&
        (ex.placement === undefined || ex.placement === placement) &&
        (ex.key === undefined || ex.key === key) &&
        (ex.ruleIds === undefined || ex.ruleIds.includes(ruleId)) &&
        (ex.families === undefined || ex.families.includes(family)),
    );
  }
}

interface DdwafEvent {
  rule: { id: string };
  rule_matches: { parameters: { address: string; key_path: (string | number)[] }[] }[];
}

/** Cookie header (RFC 6265 §5.4): `name=value` pairs separated by `;`. */
function readCookies(header: string, bag: Bag): void {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim();
    const value = eq === -1 ? '' : part.slice(eq + 1).trim();
    if (name === '' && value === '') continue;
    bag.key(name, false);
    bag.value(name, value === '' ? name : value, false);
  }
}

export function compileWaf(options: WafOptions): Waf {
  return new Waf(options);
}
