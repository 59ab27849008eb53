/**
 * HTML built with one tagged template that escapes every interpolated value unless it is already
 * `SafeHtml` (markup this module produced). Escaping is the default, so a forgotten call cannot
 * open an injection (OWASP XSS Prevention Cheat Sheet, rule 1: encode before inserting untrusted
 * data into element content and quoted attribute values — every attribute here is quoted).
 */

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Renderable = SafeHtml | string | number | bigint | boolean | null | undefined | readonly Renderable[];

function render(value: Renderable): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/**
 * A URL for an `href` or form `action`: a same-origin path ("/oauth/…", not "//host") or an
 * absolute http(s) URL; `extraSchemes` admits others on purpose (`otpauth:`). Anything else —
 * `javascript:`, `data:` — is a programming error and throws rather than render.
 */
export function safeUrl(url: string, extraSchemes: readonly string[] = []): string {
  if (url.startsWith('/') && !url.startsWith('//') && !url.startsWith('/\\')) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('unsafe URL in page');
  }
  if (['https:', 'http:', ...extraSchemes].includes(parsed.protocol)) return url;
  throw new Error('unsafe URL in page');
}
