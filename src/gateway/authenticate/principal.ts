/** One entry of RFC 9396 `authorization_details`: a `type` and members that type defines. */
export interface AuthorizationDetail {
  readonly type: string;
  readonly [member: string]: unknown;
}

/**
 * Who is calling, as the verified access token says. Built once per token and shared by every
 * request that presents it (the verification cache), hence deeply read-only.
 */
export interface Principal {
  /**
   * `client` for a token obtained without a resource owner (client_credentials): RFC 9068 §2.2 has
   * its `sub` identify the client, so `sub === client_id`. `user` for a token issued for a person.
   */
  readonly kind: 'client' | 'user';
  /** `sub`: the user, or the client itself. */
  readonly subject: string;
  readonly clientId: string;
  readonly tenantId: string;
  /** Set for tokens of a partner's app. */
  readonly partnerId?: string | undefined;
  readonly roles: readonly string[];
  /** The granted scopes (`scope`, space-separated in the token; RFC 9068 §2.2.3). */
  readonly scopes: ReadonlySet<string>;
  /** Authentication context class and methods of the user's sign-in (RFC 9068 §2.2.1, RFC 8176). */
  readonly acr?: string | undefined;
  readonly amr?: readonly string[] | undefined;
  readonly authorizationDetails?: readonly AuthorizationDetail[] | undefined;
  /** `jti`: what revocation and audit records name. */
  readonly tokenId: string;
  /** How the token is sender-constrained: DPoP key (RFC 9449) or client certificate (RFC 8705). */
  readonly binding: 'dpop' | 'mtls';
  /** `exp`, in seconds since the epoch (JWT NumericDate). */
  readonly expiresAt: number;
}
