/**
 * WebAuthn (W3C Web Authentication Level 3) ceremonies over @simplewebauthn/server v14. Passkeys
 * are used here as the second, possession factor after a password (amr `hwk`).
 *
 * Choices:
 *  - discoverable credentials (`residentKey: 'required'`) and authentication options without
 *    `allowCredentials`: the options are the same for every user, so asking for them tells nobody
 *    whether an account exists or which credentials it has;
 *  - attestation `none`: we do not restrict authenticator models;
 *  - user presence always required, user verification preferred but not required (the password
 *    is the knowledge factor);
 *  - the signature counter is checked by us after the signature is verified (§6.1.1, §7.2 step
 *    22): a counter that does not grow means a possibly cloned authenticator, and the credential
 *    is suspended. Letting the library judge it first would let a forged response with a low
 *    counter suspend someone's passkey without ever being signed.
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };
export type PasskeyCreationOptions = PublicKeyCredentialCreationOptionsJSON;
export type PasskeyRequestOptions = PublicKeyCredentialRequestOptionsJSON;

export interface WebAuthnConfig {
  /** The relying party id: the registrable domain of the login pages (`new URL(baseUrl).hostname`). */
  readonly rpId: string;
  /** Shown by the authenticator ("Bulwark", or the tenant's name). */
  readonly rpName: string;
  /** Origins the ceremonies may come from (`baseUrl`'s origin). */
  readonly origins: readonly string[];
  /** Ceremony timeout in ms; default 5 minutes, the login session's idle timeout. */
  readonly timeoutMs?: number;
}

/** COSE algorithms offered: EdDSA, ES256, RS256 (the ones authenticators implement). */
const ALGORITHMS = [-8, -7, -257];
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

export interface StoredPasskey {
  readonly credentialId: string;
  /** base64url COSE key. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly string[];
}

export interface RegisteredPasskey extends StoredPasskey {
  readonly deviceType: 'singleDevice' | 'multiDevice';
  readonly backedUp: boolean;
  readonly aaguid: string;
}

export function registrationOptions(
  config: WebAuthnConfig,
  user: { id: string; name: string; displayName: string },
  existing: readonly StoredPasskey[],
): Promise<PasskeyCreationOptions> {
  return generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    // The user handle is the user's uuid (16 bytes): stable, and no personal data (§14.6.1).
    userID: new Uint8Array(Buffer.from(user.id.replaceAll('-', ''), 'hex')),
    userName: user.name,
    userDisplayName: user.displayName,
    timeout: config.timeoutMs ?? 300_000,
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: [...c.transports] })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

export async function verifyRegistration(
  config: WebAuthnConfig,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
): Promise<RegisteredPasskey | undefined> {
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...config.origins],
      expectedRPID: config.rpId,
      requireUserPresence: true,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    });
    if (!result.verified) return undefined;
    const info = result.registrationInfo;
    return {
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: (response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    };
  } catch {
    return undefined;
  }
}

export function authenticationOptions(config: WebAuthnConfig): Promise<PasskeyRequestOptions> {
  return generateAuthenticationOptions({
    rpID: config.rpId,
    timeout: config.timeoutMs ?? 300_000,
    userVerification: 'preferred',
  });
}

export type AssertionCheck =
  | { readonly ok: true; readonly newCounter: number }
  | { readonly ok: false; readonly counterRegression: boolean };

/**
 * Verifies an assertion (origin, RP id, challenge, user presence, signature) against a stored
 * credential, then its signature counter.
 */
export async function verifyAssertion(
  config: WebAuthnConfig,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  stored: StoredPasskey,
): Promise<AssertionCheck> {
  let newCounter: number;
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...config.origins],
      expectedRPID: config.rpId,
      // Counter 0 turns the library's own counter check off: ours runs after the signature.
      credential: {
        id: stored.credentialId,
        publicKey: new Uint8Array(Buffer.from(stored.publicKey, 'base64url')),
        counter: 0,
        transports: [...stored.transports],
      },
      requireUserVerification: false,
    });
    if (!result.verified) return { ok: false, counterRegression: false };
    newCounter = result.authenticationInfo.newCounter;
  } catch {
    return { ok: false, counterRegression: false };
  }
  // §6.1.1: authenticators without a counter always send 0; otherwise it must grow.
  if ((newCounter > 0 || stored.counter > 0) && newCounter <= stored.counter) {
    return { ok: false, counterRegression: true };
  }
  return { ok: true, newCounter };
}
