/**
 * Replacing the bootstrap credential with operators (issue: identity). The configured admin token
 * may do one thing of lasting consequence: create the FIRST operator — a person of the platform
 * tenant with the admin roles — and, once that person has confirmed a second factor, the token
 * stops working for good. From then on the admin API takes only operators' access tokens, from a
 * two-factor sign-in (OAuth code flow, resource `<publicUrl>/admin`).
 */
import { eq } from 'drizzle-orm';
import { appendAudit } from '../../audit/index.ts';
import type { Database } from '../../platform/db/index.ts';
import type { TenantService } from '../../tenants/index.ts';
import type { PeopleService } from '../people/index.ts';
import { OperatorError } from './errors.ts';
import { operatorBootstrap } from './schema.ts';

export const PLATFORM_TENANT_SLUG = 'platform';
/** What the first operator may do: configure everything, and respond to incidents. */
export const FIRST_OPERATOR_ROLES = ['tenant_admin', 'security_operator'] as const;

export interface BootstrapState {
  readonly platformTenantId: string | undefined;
  readonly firstOperatorId: string | undefined;
  /** True until the first operator confirmed their second factor. */
  readonly open: boolean;
}

export class OperatorBootstrap {
  /** Cached once closed (it never reopens); looked up again while open. */
  private closed: BootstrapState | undefined;

  constructor(private readonly deps: { db: Database; people: PeopleService; tenants: TenantService }) {}

  async state(): Promise<BootstrapState> {
    if (this.closed) return this.closed;
    const [row] = await this.deps.db.asSystem((tx) =>
      tx.select().from(operatorBootstrap).where(eq(operatorBootstrap.id, 1)),
    );
    const state = {
      platformTenantId: row?.platformTenantId,
      firstOperatorId: row?.firstOperatorId,
      open: !row?.closedAt,
    };
    if (!state.open) this.closed = state;
    return state;
  }

  /**
   * Creates the platform tenant and its first operator with a password, and starts their TOTP
   * enrolment (the secret is returned once, to be put in an authenticator app).
   */
  async createFirstOperator(
    input: { username: string; password: string; email?: string },
    requestId: string,
  ): Promise<{ platformTenantId: string; userId: string; totp: { secret: string; uri: string } }> {
    const state = await this.state();
    if (!state.open || state.firstOperatorId) throw new OperatorError('BOOTSTRAP_ALREADY_STARTED');
    const actor = { actor: { type: 'operator' as const, id: 'bootstrap-admin' }, requestId };
    const tenant =
      (await this.deps.tenants.findTenantBySlug(PLATFORM_TENANT_SLUG)) ??
      (await this.deps.tenants.createTenant({ slug: PLATFORM_TENANT_SLUG, name: 'Bulwark platform' }, actor));
    const { user } = await this.deps.people.createUser(tenant.id, {
      username: input.username,
      password: input.password,
      ...(input.email ? { email: input.email } : {}),
      roles: [...FIRST_OPERATOR_ROLES],
    });
    const inserted = await this.deps.db.asSystem(async (tx) => {
      const rows = await tx
        .insert(operatorBootstrap)
        .values({ id: 1, platformTenantId: tenant.id, firstOperatorId: user.id })
        .onConflictDoNothing()
        .returning({ id: operatorBootstrap.id });
      if (rows.length) {
        await appendAudit(tx, {
          actor: actor.actor,
          action: 'admin.operator.bootstrapped',
          object: { type: 'user', id: user.id },
          tenantId: tenant.id,
          outcome: 'success',
          requestId,
        });
      }
      return rows.length > 0;
    });
    // Two bootstraps raced: the other won; this one's user keeps no role rather than admin rights.
    if (!inserted) {
      await this.deps.people.setRoles(tenant.id, user.id, []).catch(() => undefined);
      throw new OperatorError('BOOTSTRAP_ALREADY_STARTED');
    }
    const totp = await this.deps.people.beginTotpEnrolment(tenant.id, user.id);
    return { platformTenantId: tenant.id, userId: user.id, totp };
  }

  /** The first operator proves their authenticator works; the bootstrap path closes. */
  async confirmFirstOperator(code: string, requestId: string): Promise<void> {
    const state = await this.state();
    if (!state.open) throw new OperatorError('BOOTSTRAP_CLOSED');
    if (!state.platformTenantId || !state.firstOperatorId) throw new OperatorError('BOOTSTRAP_NOT_STARTED');
    await this.deps.people.confirmTotpEnrolment(state.platformTenantId, state.firstOperatorId, code);
    await this.deps.db.asSystem(async (tx) => {
      await tx.update(operatorBootstrap).set({ closedAt: new Date() }).where(eq(operatorBootstrap.id, 1));
      await appendAudit(tx, {
        actor: { type: 'operator', id: 'bootstrap-admin' },
        action: 'admin.bootstrap.closed',
        object: { type: 'user', id: state.firstOperatorId },
        tenantId: state.platformTenantId!,
        outcome: 'success',
        requestId,
      });
    });
  }
}
