/**
 * The two static files of the sign-in pages — one stylesheet, one small passkey script — read and
 * hashed once at boot. Pages link them with a content hash in the URL (cacheable forever) and
 * Subresource Integrity (W3C SRI) attributes, and the page CSP allows `'self'` for style and script
 * only: no inline style or script anywhere (CSP Level 3).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

export interface Asset {
  /** Path the route serves, and pages link (with `?v=` + `version`). */
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
  /** `sha384-…` for the `integrity` attribute. */
  readonly integrity: string;
  readonly version: string;
}

/** Where the assets are served; mount `peopleAssetRoutes` at the root (no prefix) or change `prefix`. */
export const ASSET_PREFIX = '/assets/people';

function load(file: string, contentType: string): Asset {
  const body = readFileSync(new URL(`./assets/${file}`, import.meta.url), 'utf8');
  const digest = createHash('sha384').update(body).digest();
  return {
    path: `${ASSET_PREFIX}/${file}`,
    contentType,
    body,
    integrity: `sha384-${digest.toString('base64')}`,
    version: digest.subarray(0, 9).toString('base64url'),
  };
}

export const stylesheet: Asset = load('people.css', 'text/css; charset=utf-8');
export const passkeyScript: Asset = load('passkey.js', 'text/javascript; charset=utf-8');

export const assetUrl = (a: Asset) => `${a.path}?v=${a.version}`;

/**
 * Content-Security-Policy for the pages. `form-action` must also allow where the authorization
 * server redirects after a form post (the client's redirect URI origins), because browsers apply
 * it to redirects that follow a form submission.
 */
export function pageCsp(formActionOrigins: readonly string[] = []): string {
  const formAction = ["'self'", ...formActionOrigins.map((o) => new URL(o).origin)].join(' ');
  return [
    "default-src 'none'",
    "style-src 'self'",
    "script-src 'self'",
    "img-src 'self'",
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers for a rendered page: HTML, its CSP, never cached, never framed, no referrer. */
export function pageHeaders(formActionOrigins: readonly string[] = []): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': pageCsp(formActionOrigins),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}

/**
 * `GET /assets/people/people.css` and `GET /assets/people/passkey.js`: public, immutable (the URL
 * changes with the content). Declares its own `access: 'public'`.
 */
export const peopleAssetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const asset of [stylesheet, passkeyScript]) {
    app.get(
      asset.path,
      {
        config: { access: 'public' },
        schema: {
          hide: true,
          querystring: Type.Object(
            { v: Type.Optional(Type.String({ maxLength: 32 })) },
            { additionalProperties: false },
          ),
          response: { 200: Type.String() },
        },
      },
      async (_req, reply) =>
        reply
          .header('content-type', asset.contentType)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('x-content-type-options', 'nosniff')
          .send(asset.body),
    );
  }
};
