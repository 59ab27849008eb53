import { bolaEnumeration } from './bola.ts';
import { claimBurst, payoutIban } from './business.ts';
import { clientVolume } from './client-volume.ts';
import { credentialStuffing } from './credential-stuffing.ts';
import { tokenNetwork } from './token-network.ts';
import type { Detector } from './types.ts';
import { wafNearMiss } from './waf-near-miss.ts';

export { BOLA_DEFAULTS, bolaEnumeration } from './bola.ts';
export { CLAIM_BURST_DEFAULTS, claimBurst, PAYOUT_IBAN_DEFAULTS, payoutIban } from './business.ts';
export { CLIENT_VOLUME_DEFAULTS, clientVolume } from './client-volume.ts';
export { CREDENTIAL_STUFFING_DEFAULTS, credentialStuffing } from './credential-stuffing.ts';
export { TOKEN_NETWORK_DEFAULTS, tokenNetwork } from './token-network.ts';
export type { Detector, DetectorDeps } from './types.ts';
export { WAF_NEAR_MISS_DEFAULTS, wafNearMiss } from './waf-near-miss.ts';

/** Every detector with its default tuning, in the order the feed runs them. */
export function defaultDetectors(): Detector[] {
  return [
    credentialStuffing(),
    bolaEnumeration(),
    clientVolume(),
    tokenNetwork(),
    payoutIban(),
    claimBurst(),
    wafNearMiss(),
  ];
}
