import { networkOf, sourceOf } from '../network.ts';
import type { Finding, Severity } from '../types.ts';
import type { Detector } from './types.ts';

export interface CredentialStuffingTuning {
  /** Window over which one source's failures are counted. */
  readonly sourceWindowMs: number;
  /** Distinct accounts failing from one source before it is called stuffing/spraying. */
  readonly sourceAccounts: number;
  /** Share of that source's sign-ins that failed. */
  readonly sourceFailureRatio: number;
  /** Window over which one account's failures are counted. */
  readonly accountWindowMs: number;
  /** Distinct networks (/24, /48) an account failed from. */
  readonly accountNetworks: number;
}

export const CREDENTIAL_STUFFING_DEFAULTS: CredentialStuffingTuning = {
  sourceWindowMs: 15 * 60_000,
  sourceAccounts: 5,
  sourceFailureRatio: 0.6,
  accountWindowMs: 60 * 60_000,
  accountNetworks: 4,
};

/**
 * Credential stuffing and password spraying: many accounts failing from one source (one address,
 * an IPv6 /64), or one account failing from many networks (a distributed guess at one account).
 * Normal users mistype a password once or twice, from one network; a shared office address shows
 * a few accounts at most, mostly succeeding.
 */
export function credentialStuffing(
  tuning: CredentialStuffingTuning = CREDENTIAL_STUFFING_DEFAULTS,
): Detector {
  return {
    id: 'credential_stuffing',
    kinds: ['signin'],
    async observe(event, { windows }): Promise<Finding | undefined> {
      if (event.kind !== 'signin') return undefined;
      const failed = event.outcome === 'success' ? 0 : 1;
      const source = sourceOf(event.ip);
      const bySource = await windows.add({
        key: `cs:s:${event.tenantId}:${source}`,
        at: event.at,
        windowMs: tuning.sourceWindowMs,
        member: event.account,
        weight: failed,
      });
      const byAccount = await windows.add({
        key: `cs:a:${event.tenantId}:${event.account}`,
        at: event.at,
        windowMs: tuning.accountWindowMs,
        member: networkOf(event.ip),
        weight: failed,
      });
      if (!failed) return undefined;
      const ratio = bySource.weight / bySource.count;
      if (bySource.distinctWeighted >= tuning.sourceAccounts && ratio >= tuning.sourceFailureRatio) {
        const accounts = bySource.distinctWeighted;
        const severity: Severity = accounts >= tuning.sourceAccounts * 5 ? 'critical' : 'high';
        return {
          detector: 'credential_stuffing',
          tenantId: event.tenantId,
          subject: { type: 'ip', id: source },
          severity,
          at: event.at,
          explanation: {
            what: `Sign-ins failing for many accounts from one source (${source})`,
            why: `${accounts} distinct accounts failed from this source within ${tuning.sourceWindowMs / 60_000} min (threshold ${tuning.sourceAccounts}); ${Math.round(ratio * 100)}% of its ${bySource.count} sign-in steps failed — the pattern of credential stuffing or password spraying`,
            numbers: {
              distinctAccounts: accounts,
              failures: bySource.weight,
              attempts: bySource.count,
              failureRatio: Math.round(ratio * 100) / 100,
              windowMinutes: tuning.sourceWindowMs / 60_000,
            },
          },
          context: { ip: event.ip, ...(event.clientId ? { clientId: event.clientId } : {}) },
        };
      }
      if (byAccount.distinctWeighted >= tuning.accountNetworks) {
        const networks = byAccount.distinctWeighted;
        return {
          detector: 'credential_stuffing',
          tenantId: event.tenantId,
          subject: event.userId ? { type: 'user', id: event.userId } : { type: 'account', id: event.account },
          severity: networks >= tuning.accountNetworks * 3 ? 'critical' : 'high',
          at: event.at,
          explanation: {
            what: 'One account failing to sign in from many networks',
            why: `The account failed from ${networks} distinct networks (/24 or /48) within ${tuning.accountWindowMs / 60_000} min (threshold ${tuning.accountNetworks}): a distributed guess at one account`,
            numbers: {
              distinctNetworks: networks,
              failures: byAccount.weight,
              attempts: byAccount.count,
              windowMinutes: tuning.accountWindowMs / 60_000,
            },
          },
          context: {
            ip: event.ip,
            ...(event.userId ? { userId: event.userId } : {}),
            ...(event.clientId ? { clientId: event.clientId } : {}),
          },
        };
      }
      return undefined;
    },
  };
}
