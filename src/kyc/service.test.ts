import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbBackends, migratedDatabase } from '../../test/support/backends.ts';
import { createCrypto, type Envelope } from '../platform/crypto/index.ts';
import type { Database } from '../platform/db/index.ts';
import { rows } from '../platform/db/rows.ts';
import { apps, partners, tenants } from '../platform/db/schema.ts';
import { uuidv7 } from '../platform/ids.ts';
import { KycError } from './errors.ts';
import { resolveListPath } from './index.ts';
import { builtInProviders } from './providers/index.ts';
import { loadListFile } from './screening/lists.ts';
import { NameScreener } from './screening/matcher.ts';
import { type AccessCheck, type CallContext, type CreateCustomerInput, KycService } from './service.ts';
import type { VerificationProvider } from './types.ts';

const DAY = 86_400_000;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof KycError) return err.code;
    return `unexpected: ${String(err)}`;
  }
}

const person = (family: string, extra: Partial<CreateCustomerInput> = {}): CreateCustomerInput => ({
  kind: 'person',
  name: { given: 'Anna', family },
  dateOfBirth: '1985-04-12',
  email: `${family.toLowerCase()}@example.test`,
  address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
  ...extra,
});
const passport = [
  { type: 'passport' as const, number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2031-01-01' },
];

describe.each(dbBackends)('kyc service on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  let envelope: Envelope;
  let now = Date.UTC(2026, 2, 1, 12);
  const clock = () => now;
  const tenantA = uuidv7();
  const tenantB = uuidv7();
  const partnerA = uuidv7();
  const partnerA2 = uuidv7();
  const partnerB = uuidv7();
  let service: KycService;
  let flaky: { failing: boolean };

  const ctx = (partnerId = partnerA, clientId = 'live-a', tenantId = tenantA): CallContext => ({
    tenantId,
    partnerId,
    clientId,
    actor: { type: 'client', id: clientId, clientId },
  });
  /** A partner sees only its own customers (what Cedar's partner.own-customers does over HTTP). */
  const ownPartner =
    (partnerId = partnerA): AccessCheck =>
    (o) => {
      if (o.partner !== partnerId) throw new KycError('CUSTOMER_NOT_FOUND');
    };
  const count = async (table: string, tenantId = tenantA) =>
    (
      await db.asSystem((tx) =>
        rows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM ${sql.raw(table)} WHERE tenant_id = ${tenantId}`,
        ),
      )
    )[0]!.n;
  const events = (topic: string) =>
    db.asSystem((tx) =>
      rows<{ payload: Record<string, unknown> }>(
        tx,
        sql`SELECT payload FROM outbox WHERE topic = ${topic} ORDER BY seq`,
      ),
    );

  beforeAll(async () => {
    ({ db, dispose } = await migratedDatabase(backend));
    envelope = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).envelope;
    await db.asSystem(async (tx) => {
      await tx.insert(tenants).values([
        { id: tenantA, slug: `a-${tenantA}`, name: 'Acme Mutual' },
        { id: tenantB, slug: `b-${tenantB}`, name: 'Bravo Life' },
      ]);
      await tx.insert(partners).values([
        { id: partnerA, tenantId: tenantA, name: 'Broker A' },
        { id: partnerA2, tenantId: tenantA, name: 'Broker A2' },
        { id: partnerB, tenantId: tenantB, name: 'Broker B' },
      ]);
      await tx.insert(apps).values([
        {
          id: uuidv7(),
          tenantId: tenantA,
          partnerId: partnerA,
          name: 'live',
          clientId: 'live-a',
          environment: 'live',
        },
        {
          id: uuidv7(),
          tenantId: tenantA,
          partnerId: partnerA,
          name: 'sbx',
          clientId: 'sbx-a',
          environment: 'sandbox',
        },
        {
          id: uuidv7(),
          tenantId: tenantA,
          partnerId: partnerA2,
          name: 'live',
          clientId: 'live-a2',
          environment: 'live',
        },
      ]);
    });
    const sanctions = new NameScreener(
      [
        'data/sanctions/eu-fsf-sample.xml',
        'data/sanctions/un-consolidated-sample.xml',
        'data/sanctions/ofac-sdn-sample.csv',
      ].flatMap((f) => loadListFile(resolveListPath(f))),
    );
    const pep = new NameScreener(loadListFile(resolveListPath('data/pep/pep-sample.csv'), { list: 'pep' }));
    flaky = { failing: false };
    const flakyProvider: VerificationProvider = {
      name: 'flaky',
      async verify() {
        if (flaky.failing) throw new Error('provider down');
        return [];
      },
    };
    service = new KycService({
      db,
      envelope,
      providers: builtInProviders({ sanctions, pep, extra: [flakyProvider] }),
      now: clock,
    });
  });
  afterAll(async () => dispose?.());

  async function verified(input: CreateCustomerInput, clientId = 'live-a') {
    const c = await service.createCustomer(ctx(partnerA, clientId), input, ownPartner());
    const k = await service.submitCase(
      ctx(partnerA, clientId),
      { customerId: c.id, documents: passport },
      ownPartner(),
    );
    expect(k.status).toBe('submitted');
    await service.runPendingChecks();
    return {
      customer: await service.getCustomer(tenantA, c.id, ownPartner()),
      kase: await service.getCase(tenantA, k.id, ownPartner()),
    };
  }

  it('stores personal data encrypted, finds it by blind index, and keeps one identity per partner', async () => {
    const created = await service.createCustomer(
      ctx(),
      person('Jansen', { nationalId: { country: 'NL', value: '111222333' }, iban: 'nl91 abna 0417 1643 00' }),
      ownPartner(),
    );
    expect(created).toMatchObject({
      kind: 'person',
      environment: 'live',
      kycStatus: 'unverified',
      iban: 'NL91ABNA0417164300',
    });
    const [raw] = await db.asSystem((tx) =>
      rows<{ data_enc: string; email_idx: string }>(
        tx,
        sql`SELECT data_enc, email_idx FROM customers WHERE id = ${created.id}`,
      ),
    );
    expect(raw!.data_enc).toMatch(/^v1\./);
    expect(raw!.data_enc).not.toContain('Jansen');
    expect(raw!.email_idx).not.toContain('jansen');
    const found = await service.findCustomers(
      tenantA,
      { email: ' JANSEN@example.test' },
      { partnerId: partnerA },
    );
    expect(found.map((c) => c.id)).toEqual([created.id]);
    const byId = await service.findCustomers(
      tenantA,
      { nationalId: { country: 'NL', value: '1112.22.333' } },
      {},
    );
    expect(byId.map((c) => c.id)).toEqual([created.id]);
    expect(
      await service.findCustomers(tenantA, { email: 'jansen@example.test' }, { partnerId: partnerA2 }),
    ).toEqual([]);

    const again = person('Jansen', { nationalId: { country: 'NL', value: '111 222 333' } });
    expect(await codeOf(service.createCustomer(ctx(), again, ownPartner()))).toBe('CUSTOMER_DUPLICATE');
    // Another partner may onboard the same person.
    const other = await service.createCustomer(ctx(partnerA2, 'live-a2'), again, ownPartner(partnerA2));
    expect(other.partnerId).toBe(partnerA2);
    // ...and neither partner can read the other's.
    expect(await codeOf(service.getCustomer(tenantA, other.id, ownPartner()))).toBe('CUSTOMER_NOT_FOUND');
    // Another tenant does not see it at all (even with no partner filter).
    expect(await codeOf(service.getCustomer(tenantB, created.id, () => {}))).toBe('CUSTOMER_NOT_FOUND');
  });

  it('refuses bad input with its own code and writes nothing', async () => {
    const before = [await count('customers'), await count('outbox'), await count('audit_queue')];
    const cases: [CreateCustomerInput, string][] = [
      [person('X', { nationalId: { country: 'NL', value: '123456789' } }), 'CUSTOMER_NATIONAL_ID_INVALID'],
      [person('X', { nationalId: { country: 'ES', value: '12345678A' } }), 'CUSTOMER_NATIONAL_ID_INVALID'],
      [person('X', { iban: 'GB82WEST12345698765431' }), 'CUSTOMER_IBAN_INVALID'],
      [person('X', { dateOfBirth: '2027-01-01' }), 'CUSTOMER_DATE_OF_BIRTH_INVALID'],
      [person('X', { legalName: 'X BV' }), 'CUSTOMER_KIND_FIELDS'],
      [{ kind: 'business', legalName: 'X BV' }, 'CUSTOMER_KIND_FIELDS'],
      [person('X', { address: { line1: 'A 1', city: 'B', country: 'QQ' } }), 'CUSTOMER_COUNTRY_INVALID'],
      [
        {
          kind: 'business',
          legalName: 'Holding BV',
          country: 'NL',
          beneficialOwners: [
            { name: { given: 'A', family: 'B' }, ownershipPercent: 60 },
            { name: { given: 'C', family: 'D' }, ownershipPercent: 40.01 },
          ],
        },
        'CUSTOMER_OWNERSHIP_INVALID',
      ],
      [person('X', { ownerUserId: uuidv7() }), 'CUSTOMER_OWNER_INVALID'],
    ];
    for (const [input, code] of cases)
      expect(await codeOf(service.createCustomer(ctx(), input, ownPartner()))).toBe(code);
    expect(
      await codeOf(service.createCustomer({ ...ctx(), partnerId: undefined }, person('X'), () => {})),
    ).toBe('CUSTOMER_PARTNER_REQUIRED');
    expect([await count('customers'), await count('outbox'), await count('audit_queue')]).toEqual(before);
  });

  it('runs the checks after submission and decides: approved, with event, audit and assertVerified', async () => {
    const c = await service.createCustomer(ctx(), person('Smit'), ownPartner());
    await db.withTenant(tenantA, async (tx) => {
      expect(await codeOf(service.assertVerified(tx, tenantA, c.id))).toBe('KYC_NOT_VERIFIED');
      expect(await codeOf(service.assertVerified(tx, tenantA, uuidv7()))).toBe('CUSTOMER_NOT_FOUND');
    });
    const k = await service.submitCase(ctx(), { customerId: c.id, documents: passport }, ownPartner());
    expect((await service.getCustomer(tenantA, c.id, ownPartner())).kycStatus).toBe('pending');
    expect(await codeOf(service.submitCase(ctx(), { customerId: c.id }, ownPartner()))).toBe('KYC_CASE_OPEN');

    expect(await service.runPendingChecks()).toBe(1);
    const decided = await service.getCase(tenantA, k.id, ownPartner());
    expect(decided).toMatchObject({ status: 'approved', riskScore: 0, pep: false, sanctionsHits: [] });
    expect(decided.decidedAt).not.toBeNull();
    const decidedEvents = (await events('kyc.case.decided')).filter((e) => e.payload.caseId === k.id);
    expect(decidedEvents.map((e) => e.payload)).toEqual([
      { caseId: k.id, customerId: c.id, partnerId: partnerA, status: 'approved', riskScore: 0 },
    ]);
    const audit = await db.asSystem((tx) =>
      rows<{ action: string; actor_type: string }>(
        tx,
        sql`SELECT action, actor_type FROM audit_log WHERE object_id = ${k.id} ORDER BY seq`,
      ),
    );
    expect(audit).toEqual([{ action: 'kyc.case.decided', actor_type: 'system' }]);
    await db.withTenant(tenantA, async (tx) => {
      expect(await service.assertVerified(tx, tenantA, c.id)).toEqual({ partnerId: partnerA });
    });
    // Nothing left to do.
    expect(await service.runPendingChecks()).toBe(0);

    // The approval lapses after its validity period.
    now += 366 * DAY;
    await db.withTenant(tenantA, async (tx) => {
      expect(await codeOf(service.assertVerified(tx, tenantA, c.id))).toBe('KYC_NOT_VERIFIED');
    });
    now -= 366 * DAY;
  });

  it('changing identity data resets the verification', async () => {
    const { customer } = await verified(person('Visser'));
    expect(customer.kycStatus).toBe('approved');
    const phone = await service.updateCustomer(ctx(), customer.id, { phone: '+31612345678' }, ownPartner());
    expect(phone.kycStatus).toBe('approved');
    const renamed = await service.updateCustomer(
      ctx(),
      customer.id,
      { name: { given: 'Anna', family: 'Vissers' } },
      ownPartner(),
    );
    expect(renamed.kycStatus).toBe('unverified');
    await db.withTenant(tenantA, async (tx) => {
      expect(await codeOf(service.assertVerified(tx, tenantA, customer.id))).toBe('KYC_NOT_VERIFIED');
    });
    expect((await events('customer.updated')).at(-1)!.payload).toMatchObject({
      fields: ['name'],
      verificationReset: true,
    });
    expect(
      await codeOf(service.updateCustomer(ctx(), customer.id, { iban: 'NL91ABNA0417164301' }, ownPartner())),
    ).toBe('CUSTOMER_IBAN_INVALID');
  });

  it('rejects a sanctioned name written in another script, with explained matches', async () => {
    const { kase, customer } = await verified(
      person('Санкционов', { name: { given: 'Иван', family: 'Санкционов' }, dateOfBirth: '1970-03-14' }),
    );
    expect(kase.status).toBe('rejected');
    expect(kase.riskScore).toBe(100);
    expect(kase.sanctionsHits[0]).toMatchObject({
      subject: 'customer',
      list: 'eu-fsf',
      reference: 'EU.9001.01',
    });
    expect(kase.sanctionsHits[0]!.explanation).toContain('birth date agrees');
    expect(kase.checks.map((c) => c.code)).toContain('sanctions.match');
    expect(customer.kycStatus).toBe('rejected');
  });

  it('screens beneficial owners of a business too', async () => {
    const { kase } = await verified({
      kind: 'business',
      legalName: 'Harbour Logistics BV',
      registrationNumber: '12345678',
      country: 'NL',
      address: { line1: 'Kade 5', postalCode: '3011 AA', city: 'Rotterdam', country: 'NL' },
      beneficialOwners: [
        { name: { given: 'Pyotr', family: 'Examplov' }, ownershipPercent: 51 },
        { name: { given: 'Els', family: 'Bakker' }, ownershipPercent: 49 },
      ],
    });
    expect(kase.status).toBe('rejected');
    expect(kase.sanctionsHits.map((h) => [h.subject, h.list])).toEqual([['owner:1', 'ofac-sdn']]);
  });

  it('flags a PEP for review; an underwriter decides, audited; a decided case cannot be decided again', async () => {
    const { kase, customer } = await verified(
      person('Examplestate', { name: { given: 'Wilhelmina', family: 'Examplestate' } }),
    );
    expect(kase).toMatchObject({ status: 'needs_review', pep: true });
    expect(customer.kycStatus).toBe('needs_review');
    expect(kase.decidedAt).toBeNull();
    const underwriter: CallContext = { ...ctx(), actor: { type: 'user', id: uuidv7(), clientId: 'live-a' } };
    const reviewed = await service.reviewCase(
      underwriter,
      kase.id,
      { decision: 'approved', reviewerNotes: 'Source of wealth documented.' },
      () => {},
    );
    expect(reviewed).toMatchObject({ status: 'approved', reviewerNotes: 'Source of wealth documented.' });
    expect((await service.getCustomer(tenantA, customer.id, ownPartner())).kycStatus).toBe('approved');
    const audit = await db.asSystem((tx) =>
      rows<{ action: string; actor_id: string }>(
        tx,
        sql`SELECT action, actor_id FROM audit_log WHERE object_id = ${kase.id} ORDER BY seq`,
      ),
    );
    expect(audit.map((a) => a.action)).toEqual(['kyc.case.decided', 'kyc.case.reviewed']);
    expect(audit[1]!.actor_id).toBe(underwriter.actor.id);
    expect(await codeOf(service.reviewCase(underwriter, kase.id, { decision: 'rejected' }, () => {}))).toBe(
      'KYC_CASE_NOT_REVIEWABLE',
    );
  });

  it('sends implausible data to review: a minor, an expired document, an incomplete address', async () => {
    const { kase } = await verified(
      person('Jong', {
        dateOfBirth: '2012-01-01',
        address: { line1: 'Damrak 1', city: 'Amsterdam', country: 'NL' },
      }),
    );
    expect(kase.status).toBe('needs_review');
    expect(kase.checks.map((c) => c.code).sort()).toEqual(['address.incomplete', 'age.minor']);
    const c = await service.createCustomer(ctx(), person('Oud'), ownPartner());
    const expired = [
      { type: 'passport' as const, number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2020-01-01' },
    ];
    expect(
      await codeOf(service.submitCase(ctx(), { customerId: c.id, documents: expired }, ownPartner())),
    ).toBe('KYC_DOCUMENT_INVALID');
  });

  it('sandbox customers meet only the sandbox adapter: deterministic test identities', async () => {
    const outcomes: Record<string, string> = {};
    for (const family of ['Approved', 'Review', 'Pep', 'Sanctioned']) {
      const { kase, customer } = await verified(person(family), 'sbx-a');
      expect(customer.environment).toBe('sandbox');
      outcomes[family] = kase.status;
    }
    expect(outcomes).toEqual({
      Approved: 'approved',
      Review: 'needs_review',
      Pep: 'needs_review',
      Sanctioned: 'rejected',
    });
    // A real list name in the sandbox is not screened against the lists.
    const { kase } = await verified(
      person('Sanktsionov', { name: { given: 'Ivan', family: 'Sanktsionov' } }),
      'sbx-a',
    );
    expect(kase.status).toBe('approved');
  });

  it('retries a case whose provider failed, and sends it to review after the last attempt', async () => {
    const c = await service.createCustomer(ctx(), person('Retry'), ownPartner());
    const k = await service.submitCase(ctx(), { customerId: c.id, documents: passport }, ownPartner());
    flaky.failing = true;
    expect(await service.runPendingChecks()).toBe(0);
    expect((await service.getCase(tenantA, k.id, ownPartner())).status).toBe('checks_running');
    // Still leased: nobody picks it up before the lease ends.
    expect(await service.runPendingChecks()).toBe(0);
    now += 61_000;
    expect(await service.runPendingChecks()).toBe(0);
    now += 61_000;
    expect(await service.runPendingChecks()).toBe(1);
    flaky.failing = false;
    const kase = await service.getCase(tenantA, k.id, ownPartner());
    expect(kase.status).toBe('needs_review');
    expect(kase.checks.map((x) => x.code)).toContain('provider.unavailable');
  });

  it('a refused access check writes nothing', async () => {
    const c = await service.createCustomer(ctx(), person('Hidden'), ownPartner());
    const before = await count('kyc_cases');
    expect(
      await codeOf(
        service.submitCase(
          ctx(partnerA2, 'live-a2'),
          { customerId: c.id, documents: passport },
          ownPartner(partnerA2),
        ),
      ),
    ).toBe('CUSTOMER_NOT_FOUND');
    expect(
      await codeOf(
        service.updateCustomer(
          ctx(partnerA2, 'live-a2'),
          c.id,
          { phone: '+31600000000' },
          ownPartner(partnerA2),
        ),
      ),
    ).toBe('CUSTOMER_NOT_FOUND');
    expect(await count('kyc_cases')).toBe(before);
    expect((await service.getCustomer(tenantA, c.id, ownPartner())).phone).toBeUndefined();
  });
});
