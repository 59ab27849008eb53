import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../platform/errors/index.ts';
import { type IpRulesEngine, IpRulesUnavailableError } from './engine.ts';
import { IpRulesErrors } from './errors.ts';
import type { IpDecision } from './types.ts';

export type IpRulesHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Who is calling, once authenticated: the access token's tenant and client (`req.principal` fits). */
export type GetIpPrincipal = (
  req: FastifyRequest,
) => { readonly tenantId: string; readonly clientId: string } | undefined;

const kSynced = Symbol('bulwark.ipRules.synced');
type Marked = FastifyRequest & { [kSynced]?: true };

/** Brings the engine's block view up to date once per request, whichever hook comes first. */
async function syncOnce(engine: IpRulesEngine, req: FastifyRequest): Promise<void> {
  if ((req as Marked)[kSynced]) return;
  (req as Marked)[kSynced] = true;
  if (engine.needsSync()) await engine.sync();
}

function refuse(engine: IpRulesEngine, req: FastifyRequest, decision: IpDecision): never {
  req.log.warn(
    {
      ipRules: {
        ip: decision.ip,
        scope: decision.scope,
        rule: decision.rule,
        ruleId: decision.ruleId,
      },
    },
    'ip blocked',
  );
  try {
    engine.report(decision, req);
  } catch (err) {
    // A failing audit/detection consumer must not turn a refusal into an admission, or into a 500.
    req.log.error({ err }, 'ip rules: onDecision failed');
  }
  throw new AppError(IpRulesErrors.IP_BLOCKED);
}

/**
 * For `onRequest`, right after the method check: platform rules and platform blocks, before any
 * other work is spent on the request. 403 `IP_BLOCKED`.
 */
export function ipRulesHook(engine: IpRulesEngine): IpRulesHook {
  return async function ipRules(req) {
    await syncOnce(engine, req);
    const decision = engine.checkPlatform(req.ip);
    if (decision) refuse(engine, req, decision);
  };
}

/**
 * For `preValidation`, right after authentication: the rules and blocks of the principal's tenant
 * and app. Requests without a principal (public routes) were judged by the platform rules alone.
 * 403 `IP_BLOCKED`; 503 `IP_RULES_UNAVAILABLE` when the tenant's rules cannot be loaded.
 */
export function principalIpRulesHook(engine: IpRulesEngine, getPrincipal: GetIpPrincipal): IpRulesHook {
  return async function principalIpRules(req) {
    const principal = getPrincipal(req);
    if (!principal) return;
    await syncOnce(engine, req);
    let decision = engine.checkPrincipal(req.ip, principal.tenantId, principal.clientId);
    if (decision instanceof Promise) {
      try {
        decision = await decision;
      } catch (err) {
        if (err instanceof IpRulesUnavailableError) throw new AppError(IpRulesErrors.IP_RULES_UNAVAILABLE);
        throw err;
      }
    }
    if (decision) refuse(engine, req, decision);
  };
}
