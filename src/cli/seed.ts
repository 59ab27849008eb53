import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { Services } from '../platform/services.ts';
import { TenantService } from '../tenants/index.ts';

export const DEMO = {
  tenantSlug: 'demo-insurer',
  tenantName: 'Demo Insurer',
  partner: 'Demo Insurtech',
  app: 'Demo App',
};

export interface DemoSeed {
  readonly created: boolean;
  readonly tenantId: string;
  readonly partnerId: string;
  readonly clientId?: string;
  /**
   * Present only when the app was created by this call: the demo app's private signing key
   * (ES256 JWK) for private_key_jwt and DPoP. Only its public half is stored.
   */
  readonly privateJwk?: JsonWebKey;
}

/** A demo insurer with one partner and one sandbox app. Running it again changes nothing. */
export async function seedDemo(services: Services): Promise<DemoSeed> {
  const tenants = new TenantService(services.db);
  const existing = await tenants.findTenantBySlug(DEMO.tenantSlug);
  const tenant = existing ?? (await tenants.createTenant({ slug: DEMO.tenantSlug, name: DEMO.tenantName }));
  const partner =
    (await tenants.findPartnerByName(tenant.id, DEMO.partner)) ??
    (await tenants.createPartner(tenant.id, { name: DEMO.partner }));
  const apps = await tenants.listApps(tenant.id, partner.id, 200);
  const app = apps.items.find((a) => a.name === DEMO.app);
  if (app) return { created: false, tenantId: tenant.id, partnerId: partner.id, clientId: app.clientId };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = 'demo-1';
  const made = await tenants.createApp(tenant.id, partner.id, {
    name: DEMO.app,
    environment: 'sandbox',
    authMethod: 'private_key_jwt',
    jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] },
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scope: '',
  });
  return {
    created: true,
    tenantId: tenant.id,
    partnerId: partner.id,
    clientId: made.clientId,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' },
  };
}
