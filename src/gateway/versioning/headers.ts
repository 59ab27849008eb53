import { instant, type RouteLifecycle } from './lifecycle.ts';

/** The response header fields a deprecated route answers with, computed once per route at boot. */
export interface DeprecationFields {
  /** RFC 9745 §2.1: an RFC 9651 Date, `@` and integer seconds since the epoch. */
  readonly deprecation: string | undefined;
  /** RFC 8594 §3: an HTTP-date (RFC 9110 §5.6.7, IMF-fixdate). */
  readonly sunset: string | undefined;
  /** RFC 8288 links: `deprecation` (RFC 9745 §3), `sunset` (RFC 8594 §6), `successor-version` (RFC 5829). */
  readonly link: string | undefined;
  /** Milliseconds since the epoch after which the route answers 410, if it has a sunset. */
  readonly sunsetMs: number | undefined;
}

/** RFC 9651 §3.3.7 Date: `@` followed by an integer number of seconds since the epoch. */
export function structuredDate(ms: number): string {
  return `@${Math.floor(ms / 1000)}`;
}

/** RFC 9110 §5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function httpDate(ms: number): string {
  // Date#toUTCString is specified (ECMA-262 §21.4.4.43) to produce exactly this format.
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

/**
 * Links are absolute URIs on our public URL (RFC 8288 §3.1 allows references, but absolute ones
 * survive proxies and copies into tickets). `changelog` documents every deprecation.
 */
export function deprecationFields(
  lifecycle: RouteLifecycle,
  links: { readonly changelog: string; readonly base: string },
): DeprecationFields {
  const deprecatedMs = lifecycle.deprecatedAt ? instant(lifecycle.deprecatedAt) : undefined;
  const sunsetMs = lifecycle.sunsetAt ? instant(lifecycle.sunsetAt) : undefined;
  const parts: string[] = [];
  if (deprecatedMs !== undefined || lifecycle.status === 'retired')
    parts.push(`<${links.changelog}>; rel="deprecation"; type="text/markdown"`);
  if (sunsetMs !== undefined) parts.push(`<${links.changelog}>; rel="sunset"; type="text/markdown"`);
  if (lifecycle.successor) parts.push(`<${links.base}${lifecycle.successor}>; rel="successor-version"`);
  return {
    deprecation: deprecatedMs !== undefined ? structuredDate(deprecatedMs) : undefined,
    sunset: sunsetMs !== undefined ? httpDate(sunsetMs) : undefined,
    link: parts.length ? parts.join(', ') : undefined,
    sunsetMs,
  };
}
