import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * The vocabulary of authorization, mirrored from schema.cedarschema. The schema is the authority
 * (policies are validated against it); these lists exist so TypeScript callers cannot name a role,
 * action or resource type the schema does not have. A test checks the two agree.
 */
export const ROLES = [
  'tenant_admin',
  'security_operator',
  'underwriter',
  'claims_adjuster',
  'partner_app',
  'policyholder',
  'auditor',
] as const;
export type Role = (typeof ROLES)[number];

export const BUSINESS_RESOURCE_TYPES = [
  'Customer',
  'Account',
  'Payment',
  'Policy',
  'Claim',
  'KycCase',
] as const;
export type BusinessResourceType = (typeof BUSINESS_RESOURCE_TYPES)[number];
export type ResourceType = BusinessResourceType | 'AdminResource';

export const ACTIONS = [
  'read',
  'list',
  'create',
  'update',
  'delete',
  'approve',
  'pay',
  'admin.read',
  'admin.list',
  'admin.create',
  'admin.update',
  'admin.delete',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Which resource types each action applies to (the schema's `appliesTo`). */
export const ACTION_RESOURCES: Readonly<Record<Action, readonly ResourceType[]>> = Object.freeze({
  read: BUSINESS_RESOURCE_TYPES,
  list: BUSINESS_RESOURCE_TYPES,
  create: BUSINESS_RESOURCE_TYPES,
  update: BUSINESS_RESOURCE_TYPES,
  delete: BUSINESS_RESOURCE_TYPES,
  approve: ['Claim', 'Payment', 'Policy', 'KycCase'],
  pay: ['Claim', 'Payment'],
  'admin.read': ['AdminResource'],
  'admin.list': ['AdminResource'],
  'admin.create': ['AdminResource'],
  'admin.update': ['AdminResource'],
  'admin.delete': ['AdminResource'],
});

/** Authentication strength of the session behind the request (from the token's acr/amr). */
export const MFA_LEVELS = ['none', 'single', 'multi'] as const;
export type MfaLevel = (typeof MFA_LEVELS)[number];

export const CHANNELS = ['api', 'admin', 'console', 'cli'] as const;
export type Channel = (typeof CHANNELS)[number];

export const ADMIN_KINDS = ['tenant', 'partner', 'app', 'config', 'user'] as const;
export type AdminKind = (typeof ADMIN_KINDS)[number];

/**
 * `acr` values (OIDC Core §2) the identity server issues per level; ACCESS_MFA_REQUIRED names the
 * one to ask for in a step-up (the same idea as RFC 9470's `acr_values` challenge).
 */
export const ACR_FOR_MFA: Readonly<Record<MfaLevel, string>> = Object.freeze({
  none: 'urn:bulwark:acr:none',
  single: 'urn:bulwark:acr:1fa',
  multi: 'urn:bulwark:acr:2fa',
});

/** Amounts are integer minor units (DESIGN invariant 3); numbers must be safe integers. */
export type MinorUnits = bigint | number;

/** An adjuster's authority in one currency: ceiling in a single-factor session, and after step-up. */
export interface ApprovalLimit {
  readonly single: MinorUnits;
  readonly multi: MinorUnits;
}

/** A person (staff, partner staff or policyholder), as the access token describes them. */
export interface UserPrincipal {
  readonly type: 'User';
  readonly id: string;
  readonly tenant: string;
  readonly roles: readonly Role[];
  readonly partner?: string;
  /** The strongest authentication the user has enrolled; defaults to "single". */
  readonly mfaLevel?: MfaLevel;
  /** Approval authority by ISO 4217 currency code (claims adjusters). */
  readonly approvalLimits?: Readonly<Record<string, ApprovalLimit>>;
}

/** A partner's OAuth client acting for itself (client_credentials). */
export interface AppPrincipal {
  readonly type: 'App';
  readonly id: string;
  readonly tenant: string;
  readonly partner: string;
  /** Defaults to `['partner_app']`. */
  readonly roles?: readonly Role[];
}

export type Principal = UserPrincipal | AppPrincipal;

/**
 * A business object as the store loaded it. For `create`, the object as it would be created; for
 * `list`, the slice asked for (id `*`, with the `partner`/`owner` filter the store will apply).
 * `partner` and `owner` are what the object-level policies compare.
 */
export interface BusinessResource {
  readonly type: BusinessResourceType;
  readonly id: string;
  readonly tenant: string;
  readonly partner?: string;
  /** The policyholder's user id, when the object belongs to one. */
  readonly owner?: string;
}

export interface AdminResource {
  readonly type: 'AdminResource';
  readonly id: string;
  readonly tenant: string;
  readonly kind: AdminKind;
}

export type Resource = BusinessResource | AdminResource;

export interface AccessContext {
  readonly mfa: MfaLevel;
  readonly channel: Channel;
  /** Defaults to the authorizer's clock. */
  readonly time?: Date;
  readonly ip?: string;
  readonly amount?: MinorUnits;
  readonly currency?: string;
}

export interface AccessRequest {
  readonly principal: Principal;
  readonly action: Action;
  readonly resource: Resource;
  readonly context: AccessContext;
  /**
   * Further entities policies may traverse (Cedar entities JSON, validated against the schema).
   * They cannot redefine the principal or resource: a conflicting duplicate fails the request.
   */
  readonly entities?: readonly EntityJson[];
}

export interface Decision {
  readonly decision: 'allow' | 'deny';
  /** Ids of the policies that decided: the permits for an allow, the forbids that fired for a deny. */
  readonly reasons: readonly string[];
  /** Evaluation errors. Any error makes the decision a deny (fail closed). */
  readonly errors: readonly string[];
}
