/**
 * Decoders and normalisation. Attack payloads reach an application through the same decoding
 * layers an attacker can stack (percent-encoding twice, HTML entities, JS/IIS unicode escapes,
 * fullwidth forms, base64), so every value is inspected as each layer would see it. Each decoder
 * has a cheap "nothing to do" test first: a plain value costs one regex test and yields itself.
 *
 * The variants of one value are deduplicated and handed to libddwaf as one array, so every rule
 * sees every decoding without running libddwaf's own transformers once per rule.
 */

/** Characters that cannot start any encoding or obfuscation we undo. */
const PLAIN = /^[\w ,.@:=-]*$/;
/** Upper bound on decoding layers: CWE-174 (double decoding) needs two; three leaves margin. */
const MAX_URL_LAYERS = 3;
/** Values longer than this are inspected as-is (plus one URL decoding): decoding is for payloads. */
const MAX_DECODE_LENGTH = 16_384;

const HEX = /^[0-9a-fA-F]{2}$/;

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Lenient UTF-8 decoding of bytes that came from percent-decoding. Unlike TextDecoder it keeps
 * the meaning of overlong forms (`%c0%ae` is '.', `%e0%80%af` is '/'): IIS and old Java decoders
 * accepted them, which is how they bypassed path checks (CVE-2000-0884, CWE-176). An invalid
 * byte becomes the Latin-1 character of the same value rather than U+FFFD, so it stays visible.
 */
function utf8Lenient(bytes: number[]): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    if (b0 >= 0xc0 && b0 < 0xe0) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 < 0xf0) {
      need = 2;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 < 0xf8) {
      need = 3;
      cp = b0 & 0x07;
    }
    let ok = need > 0 && i + need < bytes.length;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const b = bytes[i + k];
        if (b === undefined || (b & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (b & 0x3f);
      }
    }
    if (ok && cp <= 0x10ffff) {
      out += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      out += String.fromCharCode(b0);
      i++;
    }
  }
  return out;
}

/**
 * One layer of percent-decoding (RFC 3986 §2.1), plus the non-standard `%uXXXX` form that IIS
 * decodes (CWE-172). `+` is a space only in form and query encoding (WHATWG URL, application/
 * x-www-form-urlencoded). Malformed escapes are kept verbatim, as a server would.
 */
export function urlDecode(s: string, plusAsSpace: boolean): string {
  if (s.indexOf('%') === -1) return plusAsSpace && s.indexOf('+') !== -1 ? s.replace(/\+/g, ' ') : s;
  let out = '';
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length) {
      out += utf8Lenient(bytes);
      bytes = [];
    }
  };
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 < n) {
        const h = hexVal(s.charCodeAt(i + 1));
        const l = hexVal(s.charCodeAt(i + 2));
        if (h >= 0 && l >= 0) {
          bytes.push(h * 16 + l);
          i += 2;
          continue;
        }
      }
      if (i + 5 < n && (s.charCodeAt(i + 1) | 0x20) === 117 /* u */) {
        const hex = s.slice(i + 2, i + 6);
        if (/^[0-9a-fA-F]{4}$/.test(hex)) {
          flush();
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 5;
          continue;
        }
      }
      flush();
      out += '%';
      continue;
    }
    if (c === 43 /* + */ && plusAsSpace) {
      flush();
      out += ' ';
      continue;
    }
    flush();
    out += s[i];
  }
  flush();
  return out;
}

/** Named references worth knowing (HTML Living Standard, §13.5): the ones that spell syntax. */
const ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  lpar: '(',
  rpar: ')',
  lbrace: '{',
  rbrace: '}',
  lcub: '{',
  rcub: '}',
  lsqb: '[',
  rsqb: ']',
  lbrack: '[',
  rbrack: ']',
  colon: ':',
  semi: ';',
  sol: '/',
  bsol: '\\',
  comma: ',',
  period: '.',
  excl: '!',
  num: '#',
  dollar: '$',
  percnt: '%',
  ast: '*',
  plus: '+',
  equals: '=',
  quest: '?',
  commat: '@',
  grave: '`',
  verbar: '|',
  vert: '|',
  lowbar: '_',
  hyphen: '-',
  dash: '-',
  tab: '\t',
  newline: '\n',
  lsquo: "'",
  rsquo: "'",
  ldquo: '"',
  rdquo: '"',
  Hat: '^',
  tilde: '~',
};

/**
 * HTML character references, as a browser decodes them in attribute values and text
 * (numeric references with any number of leading zeros, the `;` optional, hex or decimal).
 */
export function htmlDecode(s: string): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(/&(?:#[xX]([0-9a-fA-F]{1,8})|#(\d{1,12})|([A-Za-z]{2,8}));?/g, (m, hex, dec, name) => {
    if (hex !== undefined) return safeCodePoint(Number.parseInt(hex, 16)) ?? m;
    if (dec !== undefined) return safeCodePoint(Number.parseInt(dec, 10)) ?? m;
    const v = ENTITIES[name as string] ?? ENTITIES[(name as string).toLowerCase()];
    return v ?? m;
  });
}

function safeCodePoint(cp: number): string | undefined {
  if (!Number.isFinite(cp) || cp > 0x10ffff) return undefined;
  return String.fromCodePoint(cp);
}

/**
 * JavaScript / JSON / CSS-style escapes: `\uXXXX`, `\u{X…}`, `\xHH`, and octal `\NNN`. These reach
 * a sink through `eval`, template engines and JSON re-parsing (CWE-116).
 */
export function escapeDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  return s.replace(
    /\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([0-7]{3}))/g,
    (m, braced, u4, x2, oct) => {
      const cp = Number.parseInt((braced ?? u4 ?? x2 ?? oct) as string, oct !== undefined ? 8 : 16);
      return safeCodePoint(cp) ?? m;
    },
  );
}

/**
 * Fold look-alikes to ASCII: NFKC maps fullwidth and compatibility forms (`＜` to `<`, `ｓ` to `s`),
 * and the quote/space look-alikes NFKC keeps are mapped by hand (Unicode TR36 §3, CWE-1007).
 */
export function foldUnicode(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: we look for anything non-ASCII
  if (!/[^\x00-\x7f]/.test(s)) return s;
  return s
    .normalize('NFKC')
    .replace(/[\u2018\u2019\u201a\u201b\u2032\u02bc\u02b9\u0060\u00b4]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f\u2033\u02ba]/g, '"')
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]/g, ' ')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\u3002\uff61\u2024]/g, '.');
}

const BASE64ISH = /^[A-Za-z0-9+/_-]{8,}={0,2}$/;

/**
 * Decode a value that looks like base64 (RFC 4648 §4/§5, padding optional) when what comes out is
 * mostly printable text: payloads smuggled in tokens, cookies and "data" fields. A base64 fragment
 * cut from a longer blob is misaligned, so the 3 other alignments are tried too (one or two
 * filler characters in front); leading filler bytes are dropped. Binary results are discarded.
 */
export function base64Text(s: string): string | undefined {
  if (s.length < 8 || s.length > 8192 || !BASE64ISH.test(s)) return undefined;
  // Words of one case and no digits are words, not base64.
  if (!/[A-Z]/.test(s) || !/[a-z0-9]/.test(s)) return undefined;
  const url = /[-_]/.test(s);
  for (const pad of ['', 'A', 'AA']) {
    const buf = Buffer.from(pad + s, url ? 'base64url' : 'base64');
    let start = 0;
    while (start < buf.length && start < 3 && (buf[start]! < 32 || buf[start]! > 126)) start++;
    const body = buf.subarray(start);
    if (body.length < 4) continue;
    // Early exit: binary output shows itself within the first few bytes.
    const allowed = Math.floor(body.length * 0.05);
    let bad = 0;
    for (const b of body) {
      if ((b < 32 || b > 126) && b !== 9 && b !== 10 && b !== 13 && ++bad > allowed) break;
    }
    if (bad <= allowed) return body.toString('latin1');
  }
  return undefined;
}

/**
 * Comment and whitespace folding (SQL `/* … *\/`, MySQL `/*!50000 … *\/` whose content is
 * executed, and runs of whitespace/control characters) — the classic keyword-splitting evasion.
 */
export function foldComments(s: string): string {
  let t = s;
  // A MySQL executable comment keeps its content; any other comment is a token separator.
  if (t.indexOf('/*') !== -1)
    t = t.replace(/\/\*(!\d*)?([\s\S]*?)(?:\*\/|$)/g, (_m, bang: string | undefined, inner: string) =>
      bang === undefined ? ' ' : ` ${inner} `,
    );
  if (t.indexOf('--') !== -1 || t.indexOf('#') !== -1) t = t.replace(/(?:--|#)[^\n]*\n/g, ' ');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters separate tokens too
  t = t.replace(/[\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+/g, ' ');
  return t;
}

/**
 * Shell unquoting: a POSIX shell joins `c'a't`, `c""at`, `c\at` and `$@`-separated fragments
 * into `cat`, and `${IFS}` is a space (CWE-78 evasions). We undo those for the injection rules.
 */
export function foldShell(s: string): string {
  if (!/[\\'"$^]/.test(s)) return s;
  return s
    .replace(/\$\{IFS[^}]*\}|\$IFS\b/g, ' ')
    .replace(/\$\{?[@*#?!-]\}?|\$\d/g, '')
    .replace(/\\(?=[^\s\\])/g, '')
    .replace(/''|""/g, '')
    .replace(/(?<=\w)['"](?=\w)/g, '')
    .replace(/\^(?=\w)/g, '');
}

/**
 * All decodings of one value that differ from each other, the raw value first. `plusAsSpace`
 * follows the placement (query and form yes, JSON and headers no).
 */
export function variants(raw: string, plusAsSpace: boolean): string[] {
  if (PLAIN.test(raw)) return [raw];
  const out = new Set<string>([raw]);
  if (raw.length > MAX_DECODE_LENGTH) {
    out.add(urlDecode(raw, plusAsSpace));
    return [...out];
  }
  let cur = raw;
  for (let layer = 0; layer < MAX_URL_LAYERS; layer++) {
    const next = urlDecode(cur, layer === 0 ? plusAsSpace : false);
    if (next === cur) break;
    out.add(next);
    cur = next;
  }
  // Each further decoder applies to the most decoded form, then to its own output.
  let deep = cur;
  for (let round = 0; round < 2; round++) {
    const before = deep;
    deep = htmlDecode(deep);
    deep = escapeDecode(deep);
    deep = foldUnicode(deep);
    if (deep.indexOf('%') !== -1) deep = urlDecode(deep, false);
    if (deep === before) break;
    out.add(deep);
  }
  const b64 = base64Text(raw) ?? (deep !== raw ? base64Text(deep) : undefined);
  if (b64 !== undefined) out.add(foldUnicode(b64));
  const folded = foldComments(deep);
  if (folded !== deep) out.add(folded);
  const shell = foldShell(folded);
  if (shell !== folded) out.add(shell);
  return [...out];
}

/** Is this character sequence a percent escape (for the protocol checks on raw input)? */
export function isHexPair(s: string): boolean {
  return HEX.test(s);
}
