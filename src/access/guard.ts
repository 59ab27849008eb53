/**
 * The one bridge between a verified request and the authorizer, used by every domain route:
 * who is calling (as Cedar and the audit trail name them), and the object-level check of one
 * business object. Domain modules never build principals or contexts themselves.
 */
import type { FastifyRequest } from 'fastify';
import type { Principal as TokenPrincipal } from '../gateway/authenticate/principal.ts';
import type { Authorizer } from './authorizer.ts';
import { AccessError } from './errors.ts';
import { assertCanAccess } from './object-access.ts';
import {
  ACR_FOR_MFA,
  type Action,
  type ApprovalLimit,
  type BusinessResource,
  type MfaLevel,
  type MinorUnits,
  type Principal,
  ROLES,
  type Role,
} from './types.ts';

/** The authenticated caller of a `/v1` request, in every shape the domain modules need. */
export interface Caller {
  readonly kind: 'client' | 'user';
  readonly tenantId: string;
  /** The partner whose app made the call (client tokens, and users signed in through a partner app). */
  readonly partnerId?: string | undefined;
  /** The person, for user tokens. */
  readonly userId?: string | undefined;
  readonly clientId: string;
  readonly roles: readonly Role[];
  /** Strength of the sign-in behind the token: `none` for an app acting for itself. */
  readonly mfa: MfaLevel;
  /** For `appendAudit` / `appendAuditAsync`. */
  readonly actor: { readonly type: 'user' | 'client'; readonly id: string; readonly clientId: string };
  readonly requestId: string;
  /** The verified token, for what the above does not carry (scopes, authorization_details, jti). */
  readonly token: TokenPrincipal;
}

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

/** `acr` (or, failing that, `amr` with two or more methods) to the session's authentication level. */
export function mfaLevelOf(token: TokenPrincipal): MfaLevel {
  if (token.kind === 'client') return 'none';
  if (token.acr === ACR_FOR_MFA.multi) return 'multi';
  if (token.acr === ACR_FOR_MFA.single) return 'single';
  return (token.amr?.length ?? 0) >= 2 ? 'multi' : 'single';
}

/** The caller of a request that passed the access-token hook; a route without one is a bug (500). */
export function callerOf(req: FastifyRequest): Caller {
  const token = req.principal;
  if (!token) throw new Error(`callerOf: ${req.method} ${req.url} has no authenticated principal`);
  const roles = token.roles.filter((r): r is Role => ROLE_SET.has(r));
  if (token.kind === 'client' && !roles.includes('partner_app')) roles.push('partner_app');
  return {
    kind: token.kind,
    tenantId: token.tenantId,
    partnerId: token.partnerId,
    userId: token.kind === 'user' ? token.subject : undefined,
    clientId: token.clientId,
    roles,
    mfa: mfaLevelOf(token),
    actor: { type: token.kind, id: token.subject, clientId: token.clientId },
    requestId: req.id,
    token,
  };
}

/** The caller as a Cedar principal. Adjusters' approval limits come from the module that keeps them. */
export function accessPrincipal(
  caller: Caller,
  approvalLimits?: Readonly<Record<string, ApprovalLimit>>,
): Principal {
  if (caller.kind === 'client') {
    if (!caller.partnerId) {
      // Only partner apps hold client_credentials tokens for /v1 (tenants/service.ts).
      throw new AccessError('ACCESS_DENIED', 'This client is not a partner app');
    }
    return {
      type: 'App',
      id: caller.clientId,
      tenant: caller.tenantId,
      partner: caller.partnerId,
      roles: caller.roles,
    };
  }
  return {
    type: 'User',
    id: caller.userId!,
    tenant: caller.tenantId,
    roles: caller.roles,
    ...(caller.partnerId ? { partner: caller.partnerId } : {}),
    mfaLevel: caller.mfa === 'multi' ? 'multi' : 'single',
    ...(approvalLimits ? { approvalLimits } : {}),
  };
}

export interface AuthorizeOptions {
  /** The module's own not-found error for this object type (what a missing object answers). */
  readonly notFound: () => Error;
  /** Money-moving actions: integer minor units and ISO 4217 code (Cedar context). */
  readonly amount?: MinorUnits | undefined;
  readonly currency?: string | undefined;
  readonly approvalLimits?: Readonly<Record<string, ApprovalLimit>> | undefined;
}

/**
 * Object-level check of one business object (or, for `create`, the object about to be created;
 * for `list`, id `*` with the partner/owner filter the store applies). Returns on allow; throws
 * the module's not-found error for objects the caller may not know of (another tenant's, another
 * partner's customer, another policyholder's claim), ACCESS_MFA_REQUIRED, or ACCESS_DENIED.
 */
export function authorize(
  authz: Authorizer,
  caller: Caller,
  action: Action,
  resource: BusinessResource,
  options: AuthorizeOptions,
): void {
  // A foreign tenant's object is hidden before Cedar is asked (RLS would not have loaded it anyway).
  if (resource.tenant !== caller.tenantId) throw options.notFound();
  assertCanAccess(
    authz,
    {
      principal: accessPrincipal(caller, options.approvalLimits),
      action,
      resource,
      context: {
        mfa: caller.mfa,
        channel: 'api',
        ...(options.amount !== undefined ? { amount: options.amount } : {}),
        ...(options.currency !== undefined ? { currency: options.currency } : {}),
      },
    },
    { notFound: options.notFound },
  );
}
