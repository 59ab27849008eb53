/**
 * API lifecycle governance (docs/api-lifecycle.md): versions side by side, lifecycle metadata on
 * every route, deprecation and sunset, the route inventory, per-version OpenAPI, the changelog.
 *
 * Wiring (src/app.ts):
 *   const governance = installGovernance(app, { publicUrl, now, usage })  // before any route
 *   public face:  apiLifecyclePublicRoutes  (/openapi/v1.json, /openapi/v2.json, /docs/api-changelog)
 *   /v2 face:     v2Routes (same pipeline as /v1)
 *   admin face:   apiLifecycleAdminRoutes under /api  (/admin/api/inventory, /admin/api/deprecated-usage)
 *
 * A route declares `config: { lifecycle: { status, owner, dataClassification, since, deprecatedAt,
 * sunsetAt, successor } }`, any member of which may be left to the defaults of its URL prefix
 * (LIFECYCLE_DEFAULTS). Boot fails naming a route with no summary, no response schema, or a
 * lifecycle that cannot be resolved or is unsound.
 */
export { VersioningErrors } from './errors.ts';
export {
  CHANGELOG_PATH,
  type Governance,
  type GovernanceOptions,
  type GovernedRoute,
  installGovernance,
  UNDOCUMENTED_BY_DESIGN,
} from './governance.ts';
export { deprecationFields, httpDate, structuredDate } from './headers.ts';
export {
  API_VERSIONS,
  deprecationSchedule,
  filterInventory,
  inventoryMarkdown,
  versionDocument,
} from './inventory.ts';
export {
  DATA_CLASSIFICATIONS,
  LIFECYCLE_DEFAULTS,
  LIFECYCLE_OVERRIDES,
  LIFECYCLE_STATUSES,
  type LifecycleDeclaration,
  type LifecycleStatus,
  type RouteLifecycle,
  resolveLifecycle,
} from './lifecycle.ts';
export { apiLifecycleAdminRoutes, apiLifecyclePublicRoutes } from './routes.ts';
export { DeprecatedUsage, type UsageRow } from './usage.ts';
export { v2Routes } from './v2-routes.ts';
