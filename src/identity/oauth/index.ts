import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { pruneExpired } from './adapter.ts';
import { createProvider, type OAuthServerDeps } from './provider.ts';

export { ACCESS_TOKEN_TTL_SEC, API_SCOPES, adminAudience, apiAudience, SIGNING_ALGS } from './provider.ts';
export { oauthRoutes } from './routes.ts';

const PRUNE_EVERY_MS = 5 * 60_000;

export interface OAuthServer {
  readonly provider: () => Provider;
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Rebuild with the key ring's current keys (after a rotation anywhere in the cluster). */
  reload(): Promise<void>;
  close(): void;
}

/**
 * The authorization server. oidc-provider takes its signing keys at construction, so a key
 * rotation (announced on the bus by whichever instance did it) swaps in a new provider; requests
 * in flight finish on the old one. Expired codes, sessions and tokens are pruned periodically.
 */
export async function startOAuthServer(deps: OAuthServerDeps): Promise<OAuthServer> {
  let provider = await createProvider(deps);
  let callback = provider.callback();
  const prune = setInterval(() => {
    pruneExpired(deps.services.db).catch((err) => deps.logger.warn({ err }, 'oauth prune failed'));
  }, PRUNE_EVERY_MS);
  prune.unref();
  const server: OAuthServer = {
    provider: () => provider,
    handle: (req, res) => callback(req, res) as Promise<void>,
    async reload() {
      deps.services.crypto.signing.refresh('oauth');
      provider = await createProvider(deps);
      callback = provider.callback();
    },
    close: () => clearInterval(prune),
  };
  await deps.services.bus.subscribe('crypto.signing_key.*', async (e) => {
    if (e.payload.purpose === 'oauth') await server.reload();
  });
  return server;
}
