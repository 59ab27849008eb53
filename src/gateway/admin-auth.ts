/**
 * Who may use the admin face. Two ways in:
 *  - the bootstrap credential (configured admin tokens), only while the one-time bootstrap is
 *    open — until the first operator has confirmed a second factor (src/identity/operators);
 *  - an operator's access token: a person of the platform tenant, signed in with two factors,
 *    holding a token for the admin resource (`<publicUrl>/admin`), sender-constrained like every
 *    token (DPoP or mTLS). Function-level authorization is Cedar's (20-function-level.cedar):
 *    admin roles and a multi-factor session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mfaLevelOf } from '../access/guard.ts';
import { AccessError, type Authorizer, decideAccess, ROLES, type Role } from '../access/index.ts';
import type { Action, AdminKind } from '../access/types.ts';
import { OperatorError } from '../identity/operators/errors.ts';
import { AppError, HttpErrors } from '../platform/errors/index.ts';
import type { AuthenticateHook } from './authenticate/index.ts';
import { bootstrapTokenMatcher } from './bootstrap-admin.ts';

/** The operator behind an admin request. */
export interface Operator {
  readonly kind: 'bootstrap' | 'user';
  /** `bootstrap-admin`, or the operator's user id. */
  readonly id: string;
  readonly clientId?: string | undefined;
  readonly tenantId?: string | undefined;
  readonly roles: readonly Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin authenticator on every admin route. */
    operator?: Operator;
  }
}

const BOOTSTRAP: Operator = Object.freeze({ kind: 'bootstrap', id: 'bootstrap-admin', roles: [] });

/** The audit actor of an admin request. */
export function operatorActor(req: FastifyRequest): {
  type: 'operator';
  id: string;
  clientId?: string | undefined;
} {
  const op = req.operator ?? BOOTSTRAP;
  return { type: 'operator', id: op.id, ...(op.clientId ? { clientId: op.clientId } : {}) };
}

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

function adminAction(method: string): Action {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'admin.read';
    case 'POST':
      return 'admin.create';
    case 'DELETE':
      return 'admin.delete';
    default:
      return 'admin.update';
  }
}

function adminKind(url: string): AdminKind {
  if (/\/users(\/|$)/.test(url)) return 'user';
  if (/\/apps(\/|$)/.test(url)) return 'app';
  if (/\/partners(\/|$)/.test(url)) return 'partner';
  if (/^\/admin\/tenants\/?(:tenantId)?$/.test(url)) return 'tenant';
  return 'config';
}

export interface AdminAuthOptions {
  readonly bootstrapTokens: readonly string[];
  readonly bootstrap: { state(): Promise<{ open: boolean; platformTenantId: string | undefined }> };
  /** The access-token hook of the admin resource (audience `<publicUrl>/admin`). */
  readonly authenticateToken: AuthenticateHook;
  readonly authz: Authorizer;
}

const JWT_LIKE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function adminAuthenticator(opts: AdminAuthOptions) {
  const isBootstrapToken = bootstrapTokenMatcher(opts.bootstrapTokens);
  return async function authenticateAdmin(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = req.headers.authorization;
    if (!header) throw new AppError(HttpErrors.AUTH_REQUIRED);
    // Operators' tokens come as `DPoP <jwt>` (or `Bearer <jwt>` when certificate-bound); nothing else.
    if (!/^(Bearer|DPoP) /i.test(header)) throw new AppError(HttpErrors.AUTH_INVALID_CREDENTIALS);
    const bearer = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header)?.[1];
    if (bearer !== undefined && !JWT_LIKE.test(bearer)) {
      if (!isBootstrapToken(bearer)) throw new AppError(HttpErrors.AUTH_INVALID_CREDENTIALS);
      if (!(await opts.bootstrap.state()).open) throw new OperatorError('BOOTSTRAP_CLOSED');
      req.operator = BOOTSTRAP;
      return;
    }
    await opts.authenticateToken(req, reply);
    const token = req.principal!;
    const { platformTenantId } = await opts.bootstrap.state();
    if (token.kind !== 'user' || !platformTenantId || token.tenantId !== platformTenantId) {
      throw new OperatorError('ADMIN_OPERATOR_REQUIRED');
    }
    const roles = token.roles.filter((r): r is Role => ROLE_SET.has(r));
    const url = req.routeOptions.url ?? req.url;
    const decided = decideAccess(opts.authz, {
      principal: { type: 'User', id: token.subject, tenant: token.tenantId, roles },
      action: adminAction(req.method),
      // Platform operators administer every tenant: the object is theirs to act on.
      resource: {
        type: 'AdminResource',
        id: `${req.method} ${url}`,
        tenant: token.tenantId,
        kind: adminKind(url),
      },
      context: { mfa: mfaLevelOf(token), channel: 'admin' },
    });
    if (decided.outcome === 'mfa_required') {
      throw new AccessError(
        'ACCESS_MFA_REQUIRED',
        'Sign in again with a second factor',
        { required_acr: decided.requiredAcr },
        decided.reasons,
      );
    }
    if (decided.outcome !== 'allow')
      throw new AccessError('ACCESS_DENIED', undefined, undefined, decided.reasons);
    req.operator = {
      kind: 'user',
      id: token.subject,
      clientId: token.clientId,
      tenantId: token.tenantId,
      roles,
    };
  };
}
