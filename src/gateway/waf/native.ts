import { NATIVE_RULES, type NativeRuleKey } from './rules/protocol.ts';

/**
 * Structural protocol checks on the request head, in plain JavaScript: they look at the method,
 * version, header grammar and counts, which a value-matching engine cannot express. Everything
 * here is a constant-time lookup or one small regex per header actually present.
 */

export interface HeadFacts {
  readonly method: string;
  readonly httpVersion: string;
  /** The request target exactly as sent (`req.raw.url`). */
  readonly url: string;
  /** Raw header pairs, as Node's `rawHeaders` gives them (names in their original case). */
  readonly rawHeaders: readonly string[];
}

export interface NativeHit {
  readonly rule: NativeRuleKey;
  readonly placement: 'method' | 'path' | 'query' | 'header' | 'cookie' | 'body';
  readonly key?: string;
}

/** RFC 9110 §9: the methods a JSON API answers. WebDAV, TRACE and CONNECT are refused. */
const ALLOWED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Headers only method-tunnelling clients send; our API never honours them. */
const METHOD_OVERRIDE = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

/**
 * Request headers with no business in an API request: `Proxy` (httpoxy, CVE-2016-5385),
 * `Content-Encoding` (compressed bodies bypass size limits and inspection), `Content-Range`
 * and `Request-Range` (partial uploads / obsolete range), WebDAV `If` and `Lock-Token`, and
 * `x-middleware-subrequest` (Next.js auth bypass, CVE-2025-29927).
 */
const RESTRICTED = new Set([
  'proxy',
  'content-encoding',
  'content-range',
  'request-range',
  'if',
  'lock-token',
  'x-middleware-subrequest',
  'x-up-devcap-post-charset',
]);

/** Headers only scanners send. */
const SCANNER_HEADERS = new Set([
  'acunetix-product',
  'acunetix-scanning-agreement',
  'x-scanner',
  'x-wipp',
  'x-ratproxy-loop',
  'x-request-memo',
  'x-scan-memo',
]);

const SAFE_CHARSETS = /^(?:utf-8|utf8|us-ascii|iso-8859-1)$/;
const CT_GRAMMAR =
  /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(?:\s*;\s*[a-z0-9!#$&^_.+-]+\s*=\s*(?:[a-z0-9!#$&'*^_.+:()/,=?-]+|"[^"\\]*"))*\s*;?$/i;
const FILE_EXT =
  /\.(?:bak|backup|bk|old|orig|save|sav|swp|swo|tmp|temp|sql|db|dbf|mdb|sqlite\d?|rdb|dump|log|ini|conf|cfg|cnf|pem|key|crt|p12|pfx|jks|keystore|env|git|svn|hg|htaccess|htpasswd|dist|inc|asa|cdx|idq|printer|config|yml|yaml|toml|lock|ds_store|vb|vbs|cs|csproj|sln|mdf|ldf|passwd)$|~$/i;
const IP_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d+)?$/i;
const ENCODINGS = /^(?:gzip|deflate|br|compress|identity|zstd|x-gzip|x-compress|sdch|dcb|dcz|\*)$/i;

/** Evaluate every structural rule at or below `paranoia`; returns the hits. */
export function checkHead(facts: HeadFacts, paranoia: number): NativeHit[] {
  const hits: NativeHit[] = [];
  const hit = (rule: NativeRuleKey, placement: NativeHit['placement'], key?: string): void => {
    if (NATIVE_RULES[rule].pl <= paranoia)
      hits.push(key === undefined ? { rule, placement } : { rule, placement, key });
  };

  if (!ALLOWED_METHODS.has(facts.method)) hit('methodNotAllowed', 'method');
  if (facts.httpVersion !== '1.1' && facts.httpVersion !== '2.0' && facts.httpVersion !== '1.0') {
    hit('httpVersion', 'method');
  }
  if (!facts.url.startsWith('/')) hit('absoluteForm', 'path');

  // Collect header facts in one pass over rawHeaders (names are case-insensitive, RFC 9110 §5.1).
  let host: string | undefined;
  let hostCount = 0;
  let ua: string | undefined;
  let accept: string | undefined;
  let contentType: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  const raw = facts.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    switch (name) {
      case 'host':
        host = value;
        hostCount++;
        break;
      case 'user-agent':
        ua = value;
        break;
      case 'accept':
        accept = value;
        if (/charset\s*=/i.test(value)) {
          for (const m of value.matchAll(/charset\s*=\s*"?([^",;\s]+)/gi)) {
            if (!SAFE_CHARSETS.test(m[1]!.toLowerCase())) {
              hit('acceptCharset', 'header', name);
              break;
            }
          }
        }
        break;
      case 'content-type':
        contentType = value;
        break;
      case 'content-length':
        contentLength = value;
        break;
      case 'transfer-encoding':
        transferEncoding = value;
        break;
      case 'connection': {
        const opts = value
          .toLowerCase()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (new Set(opts).size !== opts.length || (opts.includes('close') && opts.includes('keep-alive'))) {
          hit('connectionHeader', 'header', name);
        }
        break;
      }
      case 'range':
        checkRange(value, hit);
        break;
      case 'accept-charset':
        hit('acceptCharsetHeader', 'header', name);
        break;
      case 'accept-encoding': {
        const codings = value
          .split(',')
          .map((s) => s.split(';', 1)[0]!.trim())
          .filter(Boolean);
        if (value.length > 100 || /[^\w\s,;.=*-]/.test(value) || codings.some((c) => !ENCODINGS.test(c))) {
          hit('acceptEncoding', 'header', name);
        }
        break;
      }
      case 'cache-control':
        if (
          !/^\s*(?:(?:no-cache|no-store|no-transform|only-if-cached|max-age=\d+|max-stale(?:=\d+)?|min-fresh=\d+|stale-if-error=\d+|stale-while-revalidate=\d+)\s*(?:,\s*|$))+$/i.test(
            value,
          )
        ) {
          hit('cacheControl', 'header', name);
        }
        break;
      case 'cookie':
        if (/(?:^|;)\s*\$(?:version|path|domain)\b/i.test(value)) hit('cookieLegacy', 'cookie', name);
        break;
      default:
        if (RESTRICTED.has(name)) hit('restrictedHeader', 'header', name);
        else if (METHOD_OVERRIDE.has(name)) hit('methodOverrideHeader', 'header', name);
        else if (SCANNER_HEADERS.has(name)) hit('scannerHeader', 'header', name);
        else if (name.startsWith('sec-fetch-') || name.startsWith('sec-ch-ua')) {
          if (!/^(?:\?[01]|[\w -]+|"[^"]*"(?:\s*[,;]\s*[\w"=. -]*)*)$/.test(value))
            hit('fetchMetadata', 'header', name);
          else if ((name === 'sec-fetch-user' || name === 'sec-ch-ua-mobile') && !/^\?[01]$/.test(value)) {
            hit('fetchMetadata', 'header', name);
          }
        }
    }
  }

  if (host === undefined || host.trim() === '' || hostCount > 1) hit('hostMissing', 'header', 'host');
  else if (IP_HOST.test(host.trim())) hit('hostIsIp', 'header', 'host');
  if (ua === undefined) hit('missingUserAgent', 'header', 'user-agent');
  else if (ua.trim() === '') hit('emptyHeader', 'header', 'user-agent');
  if (accept === undefined) hit('missingAccept', 'header', 'accept');
  else if (accept.trim() === '') hit('emptyHeader', 'header', 'accept');

  const hasBody =
    transferEncoding !== undefined || (contentLength !== undefined && contentLength.trim() !== '0');
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined || transferEncoding.trim().toLowerCase() !== 'chunked')
      hit('smuggling', 'header', 'transfer-encoding');
  }
  if ((facts.method === 'GET' || facts.method === 'HEAD') && hasBody) hit('bodyOnSafeMethod', 'body');
  if (hasBody && contentType === undefined) hit('bodyWithoutType', 'header', 'content-type');
  if (contentType !== undefined) checkContentType(contentType, hit);

  checkTarget(facts.url, hit);
  return hits;
}

function checkRange(
  value: string,
  hit: (r: NativeRuleKey, p: NativeHit['placement'], k?: string) => void,
): void {
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(value);
  if (!m) {
    hit('rangeAbuse', 'header', 'range');
    return;
  }
  const specs = m[1]!.split(',').map((s) => s.trim());
  if (specs.length > 5) hit('rangeMany', 'header', 'range');
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) {
      hit('rangeAbuse', 'header', 'range');
      return;
    }
    if (r[1] !== '' && r[2] !== '' && Number(r[2]) < Number(r[1])) {
      hit('rangeAbuse', 'header', 'range');
      return;
    }
  }
}

/**
 * Content-Type (RFC 9110 §8.3): a media type we read, the grammar `type/subtype *(; name=value)`,
 * only `charset` and (for multipart) `boundary` parameters, one charset, and a UTF-8-family one.
 */
function checkContentType(
  value: string,
  hit: (r: NativeRuleKey, p: NativeHit['placement'], k?: string) => void,
): void {
  const v = value.trim();
  const type = v.split(';', 1)[0]!.trim().toLowerCase();
  const allowed =
    type === 'application/json' ||
    // Compact JWE / JWS (RFC 7516 §9.2.1, RFC 7515 §9.2.1): encrypted bodies, src/gateway/jwe.
    type === 'application/jose' ||
    /^application\/[\w.+-]+\+json$/.test(type) ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'multipart/form-data' ||
    type === 'application/xml' ||
    type === 'text/xml' ||
    /^application\/[\w.+-]+\+xml$/.test(type);
  if (!allowed) hit('contentTypeNotAllowed', 'header', 'content-type');
  if (!CT_GRAMMAR.test(v)) {
    hit('contentTypeMalformed', 'header', 'content-type');
    return;
  }
  let charsets = 0;
  for (const m of v.matchAll(/;\s*([a-z0-9!#$&^_.+-]+)\s*=\s*("[^"]*"|[^;]*)/gi)) {
    const name = m[1]!.toLowerCase();
    const val = m[2]!.replace(/^"|"$/g, '').trim().toLowerCase();
    if (name === 'charset') {
      charsets++;
      if (!SAFE_CHARSETS.test(val)) hit('charsetNotAllowed', 'header', 'content-type');
    } else if (name === 'boundary') {
      if (!type.startsWith('multipart/') || /boundary\s*=\s/i.test(v) || /[/;]|charset/.test(val)) {
        hit('contentTypeMalformed', 'header', 'content-type');
      }
    } else {
      hit('contentTypeMalformed', 'header', 'content-type');
    }
  }
  if (charsets > 1) hit('charsetNotAllowed', 'header', 'content-type');
}

/** Path extension policy and query-string shape (encoding, sizes, duplicates). */
function checkTarget(
  url: string,
  hit: (r: NativeRuleKey, p: NativeHit['placement'], k?: string) => void,
): void {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  let decodedPath = path;
  try {
    decodedPath = decodeURIComponent(path);
  } catch {
    // decodeURIComponent refuses invalid and overlong UTF-8 as well as broken escapes.
    if (!/%(?![0-9a-f]{2})/i.test(path)) hit('invalidUtf8', 'path');
  }
  const last = decodedPath.slice(decodedPath.lastIndexOf('/') + 1);
  if (FILE_EXT.test(last) || /[^/]~(?:\/|$)/.test(decodedPath)) hit('fileExtension', 'path');
  // Hidden files and directories (VCS metadata, editor and agent settings); RFC 8615 `.well-known` is public.
  if (/\/\.(?!well-known(?:\/|$)|\.?(?:\/|$))[^/]/.test(decodedPath)) hit('hiddenFile', 'path');
  if (/%(?![0-9a-f]{2})/i.test(path)) hit('urlEncoding', 'path');
  if (/%[89a-f][0-9a-f]/i.test(path)) hit('nonAscii', 'path');
  if (query === '') return;
  if (/%(?![0-9a-f]{2}|u[0-9a-f]{4})/i.test(query)) hit('urlEncoding', 'query');
  if (/%25[0-9a-f]{2}/i.test(query)) hit('doubleEncoding', 'query');
  if (/%[89a-f][0-9a-f]/i.test(query)) {
    try {
      decodeURIComponent(query.replace(/%(?![0-9a-f]{2})/gi, '%25'));
    } catch {
      hit('invalidUtf8', 'query');
    }
  }
  if (/%[89a-f][0-9a-f]/i.test(query)) hit('nonAscii', 'query');
  if (/\\[a-z]/i.test(query) || /%5c[a-z]/i.test(query)) hit('abnormalEscape', 'query');
  const seen = new Set<string>();
  let count = 0;
  let total = 0;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    count++;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    total += pair.length;
    if (name.length > 100) hit('argNameLength', 'query', name.slice(0, 100));
    // A signed token (JWT, opaque base64url) may be long; anything else this long is padding.
    if (value.length > 400 && !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)) hit('argValueLength', 'query', name);
    if (seen.has(name)) hit('duplicateParam', 'query', name);
    seen.add(name);
  }
  if (count > 255) hit('argCount', 'query');
  if (total > 64_000) hit('argTotal', 'query');
}
