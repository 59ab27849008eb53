/**
 * Body decoders: turn a raw body into (key, value) fields the rules can see, by its media type.
 * A WAF that only reads JSON is bypassed by sending the same payload as a form, a multipart part
 * or XML (the parser behind may accept more than the WAF thinks, CWE-436), so all of them are
 * read here even though Bulwark's own parser accepts only JSON.
 */

/** Where fields go. Keys are parameter paths: `a.b.c` for JSON (array indices dropped). */
export interface FieldSink {
  /** A parameter value. `plus` says whether `+` means a space in its encoding. */
  value(key: string, raw: string, plus: boolean): void;
  /** A parameter name (names are attack surface too: `__proto__`, `$where`, `a[$ne]`). */
  key(key: string, plus: boolean): void;
  /** A structural anomaly of the body itself, reported as a protocol rule match. */
  anomaly(ruleId: string, key?: string): void;
}

export type BodyKind = 'json' | 'form' | 'multipart' | 'xml' | 'text' | 'none';

/** Which decoder a Content-Type selects (RFC 9110 §8.3; media types are case-insensitive). */
export function bodyKind(contentType: string | undefined): BodyKind {
  if (!contentType) return 'text';
  const t = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (t === 'application/json' || /^application\/[\w.+-]*\+json$/.test(t) || t === 'application/csp-report')
    return 'json';
  if (t === 'application/x-www-form-urlencoded') return 'form';
  if (t.startsWith('multipart/')) return 'multipart';
  if (t === 'application/xml' || t === 'text/xml' || /\+xml$/.test(t)) return 'xml';
  return 'text';
}

/** Deeper JSON than this is an anomaly (stack-exhaustion and parser-differential attacks, CWE-674). */
const MAX_JSON_DEPTH = 32;
/** Longest stretch of a body inspected as one text value. */
const MAX_TEXT = 65_536;

export function readJson(text: string, sink: FieldSink): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON after all: what a lenient parser might still accept is inspected as text.
    sink.value('', text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text, false);
    return;
  }
  walkJson(parsed, '', 0, sink);
}

function walkJson(v: unknown, path: string, depth: number, sink: FieldSink): void {
  if (typeof v === 'string') {
    sink.value(path, v, false);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  if (depth >= MAX_JSON_DEPTH) {
    sink.anomaly('protocol-json-depth', path);
    return;
  }
  if (Array.isArray(v)) {
    for (const item of v) walkJson(item, path, depth + 1, sink);
    return;
  }
  for (const k of Object.keys(v)) {
    const p = path === '' ? k : `${path}.${k}`;
    sink.key(p, false);
    walkJson((v as Record<string, unknown>)[k], p, depth + 1, sink);
  }
}

/** application/x-www-form-urlencoded (WHATWG URL §5.1): also used for the query string. */
export function readForm(text: string, sink: FieldSink): void {
  if (text === '') return;
  let oddKey = false;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawVal = eq === -1 ? '' : pair.slice(eq + 1);
    const key = safeDecodeKey(rawKey);
    if (!oddKey && /[^\w.\-[\]$ ]/.test(key)) oddKey = true;
    sink.key(rawKey, true);
    if (rawVal !== '') sink.value(key, rawVal, true);
    else if (eq === -1) sink.value(key, rawKey, true);
  }
  // A name that is not a name (quotes, operators, spaces) means the payload straddles the `=` and
  // `&` separators, which a lenient parser may join back: the whole string is judged as well.
  if (oddKey) sink.value('', text, true);
}

/** The key as the application will see it (one decoding), used as the parameter path. */
export function safeDecodeKey(raw: string): string {
  if (raw.indexOf('%') === -1 && raw.indexOf('+') === -1) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** Charsets a part or body may declare: anything else is a decoding-differential risk (UTF-7 XSS). */
const SAFE_CHARSETS = /^(?:utf-8|utf8|us-ascii|iso-8859-1|iso-8859-15|windows-1252)$/;

/**
 * multipart/form-data (RFC 7578). Field names and filenames are read from Content-Disposition;
 * per-part Content-Transfer-Encoding is deprecated (§4.7) and a part charset other than UTF-8
 * family lets a payload hide from a UTF-8 reader (UTF-7 `+ADw-script+AD4-`).
 */
export function readMultipart(text: string, contentType: string, sink: FieldSink): void {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;,\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary || /^\s/.test(contentType.slice(contentType.toLowerCase().indexOf('boundary=') + 9))) {
    sink.anomaly('protocol-multipart-boundary');
    if (text) sink.value('', text.slice(0, MAX_TEXT), false);
    return;
  }
  const delim = `--${boundary}`;
  const chunks = text.split(delim);
  if (chunks.length < 2) {
    sink.anomaly('protocol-multipart-boundary');
    sink.value('', text.slice(0, MAX_TEXT), false);
    return;
  }
  let closed = false;
  for (let i = 1; i < chunks.length; i++) {
    let part = chunks[i]!;
    if (part.startsWith('--')) {
      closed = true;
      break;
    }
    part = part.replace(/^\r?\n/, '');
    const sep = /\r?\n\r?\n/.exec(part);
    const head = sep ? part.slice(0, sep.index) : part;
    const body = sep ? part.slice(sep.index + sep[0].length).replace(/\r?\n$/, '') : '';
    let name = '';
    let filename: string | undefined;
    for (const line of head.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const hname = line.slice(0, colon).trim().toLowerCase();
      const hval = line.slice(colon + 1).trim();
      if (hname === 'content-disposition') {
        const nm = /;\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i.exec(hval);
        const fm = /;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i.exec(hval);
        name = nm?.[1] ?? nm?.[2] ?? '';
        filename = fm ? (fm[1] ?? fm[2] ?? '') : undefined;
        // Quotes, semicolons, escapes or entity fragments in a name are parser-differential bait.
        if (/[;"'\\=&]/.test(name) || (filename !== undefined && /[;"'\\=&]|^\s|\s$/.test(filename))) {
          sink.anomaly('protocol-multipart-header', name);
        }
      } else if (hname === 'content-type') {
        const cs = /charset\s*=\s*"?([^";\s]+)/i.exec(hval);
        if (cs && !SAFE_CHARSETS.test(cs[1]!.toLowerCase())) sink.anomaly('protocol-multipart-charset', name);
      } else if (hname === 'content-transfer-encoding') {
        sink.anomaly('protocol-multipart-cte', name);
      }
      sink.value(`${name}#${hname}`, hval, false);
    }
    if (name === '_charset_' && !SAFE_CHARSETS.test(body.trim().toLowerCase())) {
      sink.anomaly('protocol-multipart-charset', name);
    }
    sink.key(name, false);
    if (filename !== undefined) sink.value(`${name}#filename`, filename, false);
    if (body !== '') sink.value(name, body.length > MAX_TEXT ? body.slice(0, MAX_TEXT) : body, false);
  }
  if (!closed) sink.anomaly('protocol-multipart-boundary');
}

/**
 * XML: element text and attribute values become fields keyed by element (`@attr` for attributes),
 * so the same rules apply as for JSON. Document type declarations are left to the XXE rules,
 * which see the raw body (CWE-611).
 */
export function readXml(text: string, sink: FieldSink): void {
  const src = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  sink.value('#xml', src.slice(0, 4096), false);
  const tag =
    /<([A-Za-z_][\w:.-]*)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>|<!\[CDATA\[([\s\S]*?)\]\]>|([^<]+)/g;
  const attr = /([^\s=>/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let current = '';
  for (let m = tag.exec(src); m !== null; m = tag.exec(src)) {
    if (m[1] !== undefined) {
      current = m[1];
      sink.key(current, false);
      if (m[2]) {
        for (let a = attr.exec(m[2]); a !== null; a = attr.exec(m[2])) {
          sink.key(`${current}@${a[1]}`, false);
          sink.value(`${current}@${a[1]}`, a[2] ?? a[3] ?? '', false);
        }
        attr.lastIndex = 0;
      }
    } else if (m[3] !== undefined) {
      sink.value(current, m[3], false);
    } else if (m[4] !== undefined && m[4].trim() !== '') {
      sink.value(current, m[4], false);
    }
  }
}

/** Any other media type: the body is one text value. */
export function readText(text: string, sink: FieldSink): void {
  if (text === '') return;
  sink.value('', text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text, false);
  // A text body shaped like a form or JSON is also read as one: what a lenient parser would do.
  const t = text.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) readJsonQuiet(t, sink);
  else if (/^[^\s=&]+=[^\s]*/.test(t) && t.length < MAX_TEXT) readForm(t, sink);
}

function readJsonQuiet(text: string, sink: FieldSink): void {
  try {
    walkJson(JSON.parse(text), '', 0, sink);
  } catch {
    /* already inspected as text */
  }
}

export function readBody(kind: BodyKind, text: string, contentType: string, sink: FieldSink): void {
  switch (kind) {
    case 'json':
      readJson(text, sink);
      return;
    case 'form':
      readForm(text, sink);
      return;
    case 'multipart':
      readMultipart(text, contentType, sink);
      return;
    case 'xml':
      readXml(text, sink);
      return;
    case 'text':
      readText(text, sink);
      return;
    case 'none':
      return;
  }
}
