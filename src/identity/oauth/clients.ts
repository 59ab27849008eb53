import { and, eq } from 'drizzle-orm';
import type { AdapterPayload } from 'oidc-provider';
import type { Database } from '../../platform/db/index.ts';
import { apps, tenants } from '../../platform/db/schema.ts';
import { PAYMENT_INITIATION } from '../sca/details.ts';

export interface ClientRecord {
  readonly clientId: string;
  readonly name: string;
  readonly tenantId: string;
  readonly partnerId: string;
  readonly environment: 'sandbox' | 'live';
  readonly authMethod: 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth';
  readonly jwks: { keys: Record<string, unknown>[] } | null;
  readonly tlsSubjectDn: string | null;
  readonly redirectUris: string[];
  readonly grantTypes: string[];
  readonly scope: string;
}

export type ClientLookup = (clientId: string) => Promise<ClientRecord | undefined>;

/** Extra client metadata the authorization server carries for us (into tokens and policy). */
export const EXTRA_CLIENT_METADATA = ['tenant_id', 'partner_id', 'environment'];

/**
 * Partner apps are the OAuth clients. Only active apps of active tenants exist for the
 * authorization server; a suspended one is an unknown client (invalid_client).
 */
export function clientLookup(db: Database): ClientLookup {
  return async (clientId) => {
    const [row] = await db.asSystem((tx) =>
      tx
        .select({
          clientId: apps.clientId,
          name: apps.name,
          tenantId: apps.tenantId,
          partnerId: apps.partnerId,
          environment: apps.environment,
          authMethod: apps.authMethod,
          jwks: apps.jwks,
          tlsSubjectDn: apps.tlsSubjectDn,
          redirectUris: apps.redirectUris,
          grantTypes: apps.grantTypes,
          scope: apps.scope,
        })
        .from(apps)
        .innerJoin(tenants, eq(tenants.id, apps.tenantId))
        .where(and(eq(apps.clientId, clientId), eq(apps.status, 'active'), eq(tenants.status, 'active'))),
    );
    return row;
  };
}

/** RFC 7591 metadata for oidc-provider. Tokens are always sender-constrained (FAPI 2.0 §5.3.2.1). */
export function clientMetadata(record: ClientRecord | undefined): AdapterPayload | undefined {
  if (!record) return undefined;
  const mtls = record.authMethod !== 'private_key_jwt';
  return {
    client_id: record.clientId,
    client_name: record.name,
    token_endpoint_auth_method: record.authMethod,
    ...(record.jwks ? { jwks: record.jwks } : {}),
    ...(record.tlsSubjectDn ? { tls_client_auth_subject_dn: record.tlsSubjectDn } : {}),
    grant_types: record.grantTypes,
    redirect_uris: record.redirectUris,
    response_types: record.grantTypes.includes('authorization_code') ? ['code'] : [],
    // People approve payments (RFC 9396) only in the code flow; an app for itself never carries one.
    authorization_details_types: record.grantTypes.includes('authorization_code') ? [PAYMENT_INITIATION] : [],
    ...(record.scope ? { scope: record.scope } : {}),
    dpop_bound_access_tokens: !mtls,
    tls_client_certificate_bound_access_tokens: mtls,
    tenant_id: record.tenantId,
    partner_id: record.partnerId,
    environment: record.environment,
  };
}
