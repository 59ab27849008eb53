/**
 * A payments service over a real database, ledger, SCA service, envelope, Cedar policies and the
 * simulated rail, with an injected clock; the claim and customer ports (insurance's and KYC's,
 * not under test here) are small in-memory stand-ins that keep the same contract. For tests only.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type Caller, compileAuthorizer, type Role } from '../../access/index.ts';
import { ScaService } from '../../identity/sca/service.ts';
import { LedgerService } from '../../ledger/service.ts';
import { createCrypto } from '../../platform/crypto/index.ts';
import type { Database, Tx } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/rows.ts';
import { partners, tenants } from '../../platform/db/schema.ts';
import { uuidv7 } from '../../platform/ids.ts';
import type { ClaimForPayout, ClaimPayoutPort, CustomerForPayment, CustomerPort } from '../ports.ts';
import { SimulatedRail } from '../rail/simulated.ts';
import { PaymentsService, type PaymentsServiceOptions } from '../service.ts';
import type { LedgerRole } from '../state.ts';

export interface FakeClaim {
  claimId: string;
  policyId: string;
  customerId: string;
  partnerId: string;
  ownerUserId?: string;
  approvedAmount: bigint;
  paidAmount: bigint;
  currency: string;
  payeeName: string;
  payeeIban: string;
  settled: Set<string>;
  returned: Set<string>;
}

/** The claim port's contract, kept in memory: lock = nothing to lock; settled once per payment. */
export class FakeClaims implements ClaimPayoutPort {
  readonly claims = new Map<string, FakeClaim>();
  async claimForPayout(_tx: Tx, _tenantId: string, claimId: string): Promise<ClaimForPayout> {
    const c = this.claims.get(claimId);
    if (!c)
      throw Object.assign(new Error('CLAIM_NOT_FOUND'), { name: 'InsuranceError', code: 'CLAIM_NOT_FOUND' });
    return { ...c };
  }
  async payoutSettled(_tx: Tx, _t: string, claimId: string, paymentId: string, amount: bigint) {
    const c = this.claims.get(claimId)!;
    if (c.settled.has(paymentId)) return;
    c.settled.add(paymentId);
    c.paidAmount += amount;
    if (c.paidAmount > c.approvedAmount) throw new Error(`claim ${claimId} overpaid`);
  }
  async payoutReturned(_tx: Tx, _t: string, claimId: string, paymentId: string, _amount: bigint) {
    this.claims.get(claimId)!.returned.add(paymentId);
  }
}

export class FakeCustomers implements CustomerPort {
  readonly customers = new Map<string, CustomerForPayment & { verified: boolean }>();
  async customerForPayment(_tx: Tx, _tenantId: string, customerId: string) {
    return this.customers.get(customerId) ?? null;
  }
  async assertVerified(_tx: Tx, _tenantId: string, customerId: string) {
    if (!this.customers.get(customerId)?.verified) {
      throw Object.assign(new Error('KYC_NOT_VERIFIED'), { name: 'KycError', code: 'KYC_NOT_VERIFIED' });
    }
  }
}

export function partnerCaller(tenantId: string, partnerId: string, clientId = `app-${partnerId}`): Caller {
  return {
    kind: 'client',
    tenantId,
    partnerId,
    clientId,
    roles: ['partner_app'],
    mfa: 'none',
    actor: { type: 'client', id: clientId, clientId },
    requestId: 'req-test',
    token: {
      kind: 'client',
      subject: clientId,
      clientId,
      tenantId,
      partnerId,
      roles: ['partner_app'],
      scopes: new Set(['payments:read', 'payments:write']),
      tokenId: uuidv7(),
      binding: 'dpop',
      expiresAt: 0,
    },
  };
}

export function userCaller(
  tenantId: string,
  userId: string,
  roles: Role[],
  authorizationDetails: readonly object[] = [],
  mfa: 'single' | 'multi' = 'multi',
): Caller {
  const clientId = 'web-app';
  return {
    kind: 'user',
    tenantId,
    userId,
    clientId,
    roles,
    mfa,
    actor: { type: 'user', id: userId, clientId },
    requestId: 'req-test',
    token: {
      kind: 'user',
      subject: userId,
      clientId,
      tenantId,
      roles,
      scopes: new Set(['payments:read', 'payments:write']),
      acr: mfa === 'multi' ? 'urn:bulwark:acr:2fa' : 'urn:bulwark:acr:1fa',
      authorizationDetails: authorizationDetails as never,
      tokenId: uuidv7(),
      binding: 'dpop',
      expiresAt: 0,
    },
  };
}

export interface PaymentsFixture {
  readonly service: PaymentsService;
  readonly rail: SimulatedRail;
  readonly ledger: LedgerService;
  readonly claims: FakeClaims;
  readonly customers: FakeCustomers;
  readonly clock: { now: number };
  /** Posted balance (credits − debits) of a system account. */
  balance(tenantId: string, role: LedgerRole, currency?: string): Promise<bigint>;
  /** Sum of every ledger balance of the tenant (zero when the books balance). */
  sumOfBalances(tenantId: string): Promise<bigint>;
  newTenant(): Promise<{ tenantId: string; partnerId: string }>;
  newCustomer(
    tenantId: string,
    partnerId: string,
    opts?: { verified?: boolean; ownerUserId?: string },
  ): string;
  newClaim(
    c: Partial<FakeClaim> & { customerId: string; partnerId: string; approvedAmount: bigint },
  ): FakeClaim;
  count(table: string, tenantId: string): Promise<number>;
  topics(tenantId: string): Promise<string[]>;
}

export function paymentsFixture(db: Database, extra: Partial<PaymentsServiceOptions> = {}): PaymentsFixture {
  const clock = { now: Date.UTC(2030, 0, 7, 9, 0, 0) };
  const now = () => clock.now;
  const envelope = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).envelope;
  const ledger = new LedgerService({ db, now });
  const rail = new SimulatedRail({ db, now });
  const claims = new FakeClaims();
  const customers = new FakeCustomers();
  const service = new PaymentsService({
    db,
    envelope,
    authz: compileAuthorizer(),
    rail,
    ledger,
    sca: new ScaService(db),
    customers,
    claims,
    now,
    retry: { maxAttempts: 2, spacingMs: 3_600_000 },
    ...extra,
  });
  return {
    service,
    rail,
    ledger,
    claims,
    customers,
    clock,
    balance: (tenantId, role, currency = 'EUR') =>
      db.withTenant(tenantId, async (tx) => {
        const account = await ledger.systemAccount(tx, tenantId, role, currency);
        return (await ledger.balance(tx, tenantId, account.id)).posted;
      }),
    sumOfBalances: (tenantId) =>
      db.withTenant(tenantId, async (tx) => {
        const [row] = await rows<{ total: string }>(
          tx,
          sql`SELECT (coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0))::text AS total
              FROM ledger_entries WHERE tenant_id = ${tenantId}`,
        );
        return BigInt(row!.total);
      }),
    async newTenant() {
      const tenantId = uuidv7();
      const partnerId = uuidv7();
      await db.asSystem(async (tx) => {
        await tx.insert(tenants).values({ id: tenantId, slug: `t-${tenantId}`, name: 'Payments test' });
        await tx.insert(partners).values({ id: partnerId, tenantId, name: 'Broker' });
      });
      return { tenantId, partnerId };
    },
    newCustomer(_tenantId, partnerId, opts = {}) {
      const customerId = uuidv7();
      customers.customers.set(customerId, {
        customerId,
        partnerId,
        ownerUserId: opts.ownerUserId,
        verified: opts.verified ?? true,
      });
      return customerId;
    },
    newClaim(c) {
      const claim: FakeClaim = {
        claimId: uuidv7(),
        policyId: uuidv7(),
        paidAmount: 0n,
        currency: 'EUR',
        payeeName: 'Erika Mustermann',
        payeeIban: 'DE89 3704 0044 0532 0130 00',
        settled: new Set(),
        returned: new Set(),
        ...c,
      };
      claims.claims.set(claim.claimId, claim);
      return claim;
    },
    count: (table, tenantId) =>
      db.withTenant(tenantId, async (tx) => {
        const [row] = await rows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE tenant_id = ${tenantId}`,
        );
        return row!.n;
      }),
    topics: (tenantId) =>
      db.withTenant(tenantId, async (tx) =>
        (
          await rows<{ topic: string }>(
            tx,
            sql`SELECT topic FROM outbox WHERE tenant_id = ${tenantId} AND topic LIKE 'payment.%' ORDER BY seq`,
          )
        ).map((r) => r.topic),
      ),
  };
}
