/**
 * What the route table is turned into: the inventory (JSON for machines, Markdown for people),
 * the OpenAPI document of one version, and the generated part of the changelog.
 */
import type { GovernedRoute } from './governance.ts';

/** The API versions served side by side. */
export const API_VERSIONS = ['v1', 'v2'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export interface InventoryFilter {
  readonly version?: string | undefined;
  readonly status?: string | undefined;
  readonly owner?: string | undefined;
}

export function filterInventory(routes: readonly GovernedRoute[], f: InventoryFilter): GovernedRoute[] {
  return routes.filter(
    (r) =>
      (f.version === undefined || (r.version ?? 'unversioned') === f.version) &&
      (f.status === undefined || r.status === f.status) &&
      (f.owner === undefined || r.owner === f.owner),
  );
}

function authText(r: GovernedRoute): string {
  if (r.auth.kind !== 'access-token') return r.auth.kind;
  return r.auth.scopes.length ? `access token: ${r.auth.scopes.join(' ')}` : 'access token (any scope)';
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The inventory as a Markdown table (one row per method and path). */
export function inventoryMarkdown(routes: readonly GovernedRoute[]): string {
  const head = [
    '| method | path | version | status | owner | data | auth | idempotency key | rate limit | sunset |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const body = routes.map((r) =>
    [
      r.method,
      `\`${r.path}\``,
      r.version ?? '—',
      r.status,
      r.owner,
      r.dataClassification,
      authText(r),
      r.idempotencyKey ? 'required' : '—',
      [r.rateLimit.class, ...r.rateLimit.extraLimits].join(' + '),
      r.sunsetAt ? `${r.sunsetAt}${r.successor ? ` → \`${r.successor}\`` : ''}` : '—',
    ]
      .map((c) => cell(String(c)))
      .join(' | '),
  );
  return `${[...head, ...body.map((b) => `| ${b} |`)].join('\n')}\n`;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `/v1/claims/{claimId}` (OpenAPI) → `/v1/claims/:claimId` (Fastify). */
const fastifyPath = (openapiPath: string) => openapiPath.replace(/\{([^}]+)\}/g, ':$1');

type OpenApiDoc = {
  info: Record<string, unknown>;
  paths?: Record<string, Record<string, unknown>>;
  tags?: Array<{ name: string }>;
  [k: string]: unknown;
};

/**
 * The OpenAPI document of one version: the full description's paths under `/<version>/`, each
 * operation marked with its lifecycle (`deprecated: true` per OpenAPI 3.1 §4.8.10, and
 * `x-bulwark-lifecycle` with status, owner, classification and dates).
 */
export function versionDocument(full: OpenApiDoc, version: string, routes: readonly GovernedRoute[]): object {
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, item] of Object.entries(full.paths ?? {})) {
    if (!path.startsWith(`/${version}/`)) continue;
    const out: Record<string, unknown> = {};
    for (const [key, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(key)) {
        out[key] = op;
        continue;
      }
      const r = byKey.get(`${key.toUpperCase()} ${fastifyPath(path)}`);
      out[key] = r ? withLifecycle(op as Record<string, unknown>, r) : op;
    }
    paths[path] = out;
  }
  const used = new Set(
    Object.values(paths).flatMap((item) =>
      Object.values(item).flatMap((op) => ((op as { tags?: string[] })?.tags ?? []) as string[]),
    ),
  );
  return {
    ...full,
    info: { ...full.info, title: `${String(full.info.title)} ${version}`, 'x-api-version': version },
    ...(full.tags ? { tags: full.tags.filter((t) => used.has(t.name)) } : {}),
    paths,
  };
}

function withLifecycle(op: Record<string, unknown>, r: GovernedRoute): Record<string, unknown> {
  return {
    ...op,
    ...(r.status === 'deprecated' || r.status === 'retired' ? { deprecated: true } : {}),
    'x-bulwark-lifecycle': {
      status: r.status,
      owner: r.owner,
      dataClassification: r.dataClassification,
      since: r.since,
      ...(r.deprecatedAt ? { deprecatedAt: r.deprecatedAt } : {}),
      ...(r.sunsetAt ? { sunsetAt: r.sunsetAt } : {}),
      ...(r.successor ? { successor: r.successor } : {}),
    },
  };
}

/**
 * The generated part of the changelog: every deprecated or retired route, from the declarations,
 * so the schedule published is always the one enforced.
 */
export function deprecationSchedule(routes: readonly GovernedRoute[]): string {
  const rows = routes.filter(
    (r) => (r.status === 'deprecated' || r.status === 'retired') && r.method !== 'HEAD',
  );
  const lines = [
    '## Deprecation schedule (generated from the route declarations)',
    '',
    'Calls to these routes carry `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) headers; after the',
    'sunset they answer `410` with code `API_ROUTE_RETIRED`.',
    '',
  ];
  if (rows.length === 0) return `${[...lines, 'No route is deprecated.'].join('\n')}\n`;
  lines.push('| route | status | deprecated | sunset | successor | owner |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    lines.push(
      `| \`${r.method} ${r.path}\` | ${r.status} | ${r.deprecatedAt ?? '—'} | ${r.sunsetAt ?? '—'} | ${
        r.successor ? `\`${r.successor}\`` : '—'
      } | ${r.owner} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
