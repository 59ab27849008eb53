import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * How a route is reached. Every route must say so when it is registered, or start-up fails: no
 * route silently inherits or skips authentication (DESIGN invariant 1).
 *  - `public`: deliberately open (health, discovery, API description);
 *  - anything else names the authenticator the route's context installed.
 */
export type RouteAccess = 'public' | 'bootstrap-admin' | 'access-token';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

/** Give every route registered in `app`'s context (and below) this access, unless it says its own. */
export function setContextAccess(app: FastifyInstance, access: RouteAccess): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    route.config = { ...route.config, access: route.config?.access ?? access };
  });
}

/**
 * Refuse to boot with a route that declares no access. Contexts set access in their own onRoute
 * hooks, which run after this root one, so the check waits for onReady, when all are done.
 * Returns the route table for the invariant test.
 */
export function guardRoutes(app: FastifyInstance): () => RegisteredRoute[] {
  // A route registered at `/` inside a prefixed plugin is served at `/prefix` and `/prefix/`, but
  // onRoute fires once and Fastify later rewrites the options' url: keep the url seen at the time.
  const seen: { route: RouteOptions; url: string }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    seen.push({ route, url: route.url });
  });
  const table = () => {
    const out = new Map<string, RegisteredRoute>();
    for (const { route, url } of seen) {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const u of new Set([url, route.url])) {
        for (const method of methods) {
          out.set(`${method} ${u}`, { method, url: u, access: route.config?.access as RouteAccess });
        }
      }
    }
    return [...out.values()];
  };
  app.addHook('onReady', async () => {
    const open = table().filter((r) => !r.access);
    if (open.length) {
      throw new Error(
        `routes declare no access (public or an authenticator): ${open.map((r) => `${r.method} ${r.url}`).join(', ')}`,
      );
    }
  });
  return table;
}
