import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../src/audit/index.ts';
import { kycServiceFor } from '../src/kyc/index.ts';
import { createCrypto, fieldAad, isKeyDestroyed } from '../src/platform/crypto/index.ts';
import { rows } from '../src/platform/db/rows.ts';
import { PrivacyService } from '../src/privacy/index.ts';
import {
  type ApiCaller,
  admin,
  createPerson,
  type Listening,
  listeningApp,
  type Person,
  partnerApi,
  tenantWithPartner,
  userApi,
} from './support/api.ts';
import { dbBackends, freshDatabaseUrl } from './support/backends.ts';

// Issue 7's must-shows for data protection, through the real HTTP stack with real tokens, on
// PGlite and (with DATABASE_URL) PostgreSQL: no seeded personal value in a raw dump of every
// table; a master-key rotation re-wraps every key while exports keep succeeding; an export
// spanning modules; consent withdrawal blocking the partner's account read at once; erasure by
// crypto-shredding after the financial retention period, with the ledger balanced, the audit
// trail verifying, and a copy of the rows taken before erasure unreadable.
const SCOPES = [
  'parties:read parties:write kyc:read kyc:write',
  'policies:read policies:write claims:read claims:write',
  'payments:read payments:write accounts:read accounts:write',
].join(' ');
const today = () => new Date().toISOString().slice(0, 10);
const key = () => ({ 'idempotency-key': randomUUID() });
const tag = () => randomBytes(5).toString('hex');

for (const backend of dbBackends) {
  describe(`privacy on ${backend.name}`, () => {
    let listening: Listening;
    let dispose: () => Promise<void>;
    let tenantId: string;
    let partner: ApiCaller;
    let holder: Person;
    let customerId: string;
    let accountId: string;
    const t = tag();
    // Known personal values, seeded through the services; none may appear in a raw dump.
    const seeded = {
      family: `Zwartkopf${t}`,
      given: `Wilhelmina${t}`,
      email: `wilhelmina.${t}@example.test`,
      nationalId: '111222333',
      iban: 'NL91ABNA0417164300',
      description: `Burst pipe in the attic of ${t}`,
      username: `holder${t}`,
      holderEmail: `holder.${t}@example.test`,
    };
    const db = () => listening.app.services.db;

    beforeAll(async () => {
      const fresh = await freshDatabaseUrl(backend);
      dispose = fresh.dispose;
      listening = await listeningApp({
        BULWARK_KYC_WORKER_POLL_MS: '0',
        BULWARK_PAYMENTS_WORKER_POLL_MS: '0',
        ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
      });
      let partnerId: string;
      ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Privacy'));
      partner = await partnerApi(listening, { tenantId, partnerId, scope: SCOPES });
      holder = await createPerson(listening, tenantId, ['policyholder'], seeded.username);
      await admin(listening.app, 'PUT', `/admin/tenants/${tenantId}/users/${holder.userId}`, {
        email: seeded.holderEmail,
      }).catch(() => undefined);

      const created = await partner.call('POST', '/v1/customers', {
        body: {
          kind: 'person',
          name: { given: seeded.given, family: seeded.family },
          dateOfBirth: '1985-04-12',
          email: seeded.email,
          nationalId: { country: 'NL', value: seeded.nationalId },
          address: { line1: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
          ownerUserId: holder.userId,
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      customerId = created.body.id;
      const kase = await partner.call('POST', '/v1/kyc/cases', {
        body: {
          customerId,
          documents: [
            { type: 'passport', number: 'NXC1234R5', issuingCountry: 'NL', expiresOn: '2035-01-01' },
          ],
        },
      });
      expect(kase.status, JSON.stringify(kase.body)).toBe(202);
      await kycServiceFor(listening.app.services, listening.app.config).runPendingChecks();
      const account = await partner.call('POST', '/v1/accounts', {
        body: { customerId, currency: 'EUR', name: 'Wallet' },
      });
      expect(account.status, JSON.stringify(account.body)).toBe(201);
      accountId = account.body.id;

      const productId = (
        await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/products`, {
          name: 'Home contents',
          lineOfBusiness: 'home',
          currency: 'EUR',
          premium: { frequency: 'monthly', annualBase: 12_000, ratePerMille: 2 },
          coverLimit: 500_000,
        })
      ).id;
      const quote = await partner.call('POST', '/v1/policies', {
        body: { customerId, productId, startDate: today(), coverAmount: 300_000 },
      });
      expect(quote.status, JSON.stringify(quote.body)).toBe(201);
      const bound = await partner.call('POST', `/v1/policies/${quote.body.id}/bind`, { headers: key() });
      expect(bound.body.status).toBe('active');
      const mandate = await partner.call('POST', '/v1/mandates', {
        body: {
          customerId,
          debtorName: `${seeded.given} ${seeded.family}`,
          debtorIban: seeded.iban,
          reference: `M-${t}`,
          signedOn: today(),
        },
        sign: true,
      });
      expect(mandate.status, JSON.stringify(mandate.body)).toBe(201);
      const collection = await partner.call('POST', '/v1/collections', {
        body: {
          mandateId: mandate.body.id,
          amount: '1050',
          currency: 'EUR',
          dueDate: today(),
          policyId: quote.body.id,
        },
        headers: key(),
        sign: true,
      });
      expect(collection.status, JSON.stringify(collection.body)).toBe(201);
      const settled = await partner.call('POST', `/v1/sandbox/payments/${collection.body.id}/outcome`, {
        body: { status: 'settled' },
        headers: key(),
        sign: true,
      });
      expect(settled.body.status).toBe('settled');
      const policyholder = await userApi(listening, { tenantId, partnerId, person: holder, scope: SCOPES });
      const claim = await policyholder.call('POST', '/v1/claims', {
        body: {
          policyId: quote.body.id,
          incidentDate: today(),
          amountClaimed: 45_000,
          currency: 'EUR',
          description: seeded.description,
          payeeName: `${seeded.given} ${seeded.family}`,
          payeeIban: seeded.iban,
        },
        headers: key(),
      });
      expect(claim.status, JSON.stringify(claim.body)).toBe(201);
    }, 180_000);
    afterAll(async () => {
      await listening?.app.close();
      await dispose?.();
    });

    /** Every row of every table of the public schema, as text, by table. */
    async function dump(): Promise<Map<string, string>> {
      return db().asSystem(async (tx) => {
        const tables = await rows<{ name: string }>(
          tx,
          sql`SELECT table_name AS name FROM information_schema.tables
              WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
        );
        expect(tables.length).toBeGreaterThan(30);
        const out = new Map<string, string>();
        for (const { name } of tables) {
          const found = await rows<{ r: string }>(
            tx,
            sql`SELECT t::text AS r FROM ${sql.identifier(name)} t`,
          );
          out.set(name, found.map((f) => f.r).join('\n'));
        }
        return out;
      });
    }
    /** `table: value` for every seeded personal value found in clear. */
    const leaks = (tables: Map<string, string>) =>
      [...tables].flatMap(([table, text]) =>
        Object.entries(seeded)
          .filter(([, value]) => text.includes(value))
          .map(([field]) => `${table}: ${field}`),
      );

    const personalValues = () => Object.values(seeded);

    it('(1) a raw dump of every table holds none of the seeded personal values', async () => {
      const tables = await dump();
      // the dump is real: it holds the rows (ids) the seeding created
      expect(tables.get('customers')).toContain(customerId);
      expect(tables.get('ledger_accounts')).toContain(accountId);
      expect(leaks(tables)).toEqual([]);
    });

    it('(4) an access request exports, over HTTP, data from several modules', async () => {
      const req = await partner.call('POST', '/v1/privacy/requests', {
        body: { kind: 'access', customerId },
      });
      expect(req.status, JSON.stringify(req.body)).toBe(201);
      expect(req.body.status).toBe('completed');
      // one month from receipt (GDPR Art. 12(3))
      expect(new Date(req.body.dueAt).getTime()).toBeGreaterThan(Date.now() + 27 * 86_400_000);
      // Some audit records about the customer are queued and chained by the writer within its poll
      // interval: export again until they are in the trail.
      const hasAudit = (b: { sources?: { audit?: { records?: { objectId: string }[] } } }) =>
        b.sources?.audit?.records?.some((r) => r.objectId === customerId) === true;
      let exported = await partner.call('GET', `/v1/privacy/requests/${req.body.id}/export`);
      for (let i = 0; i < 100 && exported.status === 200 && !hasAudit(exported.body); i++) {
        await new Promise((r) => setTimeout(r, 200));
        exported = await partner.call('GET', `/v1/privacy/requests/${req.body.id}/export`);
      }
      expect(exported.status, JSON.stringify(exported.body)).toBe(200);
      const s = exported.body.sources;
      expect(s.kyc.customer.personalData.name.family).toBe(seeded.family);
      expect(s.kyc.customer.personalData.email).toBe(seeded.email);
      expect(s.identity.user.username).toBe(seeded.username);
      expect(s.identity.mfa.totp.status).toBe('active');
      expect(JSON.stringify(s.identity)).not.toContain(holder.totpSecret);
      expect(s.insurance.claims[0].payeeIban).toBe(seeded.iban);
      expect(s.insurance.claims[0].description).toBe(seeded.description);
      expect(s.ledger.accounts[0].id).toBe(accountId);
      expect(s.payments.mandates[0].debtorIban).toBe(seeded.iban);
      expect(s.payments.payments.length).toBeGreaterThan(0);
      expect(s.audit.records.some((r: { objectId: string }) => r.objectId === customerId)).toBe(true);

      // another tenant's partner cannot file or read a request about this customer
      const other = await tenantWithPartner(listening.app, 'Elsewhere');
      const foreign = await partnerApi(listening, { ...other, scope: SCOPES });
      const refused = await foreign.call('POST', '/v1/privacy/requests', {
        body: { kind: 'access', customerId },
      });
      expect(refused.status).toBe(404);
      expect(refused.body.code).toBe('PRIVACY_SUBJECT_NOT_FOUND');
      const hidden = await foreign.call('GET', `/v1/privacy/requests/${req.body.id}/export`);
      expect(hidden.body.code).toBe('PRIVACY_REQUEST_NOT_FOUND');
    });

    it('(5) consent withdrawal blocks the partner’s account read at once', async () => {
      await admin(listening.app, 'PUT', `/admin/tenants/${tenantId}/privacy/settings`, {
        accountConsentRequired: true,
        retentionDays: {},
      });
      const before = await partner.call('GET', `/v1/accounts/${accountId}`);
      expect(before.status).toBe(403);
      expect(before.body.code).toBe('PRIVACY_CONSENT_REQUIRED');
      const consent = await partner.call('POST', '/v1/privacy/consents', {
        body: {
          customerId,
          purpose: 'account_information',
          lawfulBasis: 'consent',
          accountIds: [accountId],
          method: 'in_app_checkbox',
        },
      });
      expect(consent.status, JSON.stringify(consent.body)).toBe(201);
      expect(consent.body.evidence).toMatchObject({ actorType: 'client', method: 'in_app_checkbox' });
      expect((await partner.call('GET', `/v1/accounts/${accountId}`)).status).toBe(200);
      expect((await partner.call('GET', `/v1/accounts/${accountId}/balance`)).status).toBe(200);
      const withdrawn = await partner.call('POST', `/v1/privacy/consents/${consent.body.id}/withdraw`, {
        body: { method: 'support_call' },
      });
      expect(withdrawn.status).toBe(200);
      for (const path of [`/v1/accounts/${accountId}`, `/v1/accounts/${accountId}/entries`]) {
        const after = await partner.call('GET', path);
        expect(after.status).toBe(403);
        expect(after.body.code).toBe('PRIVACY_CONSENT_REQUIRED');
      }
      const again = await partner.call('POST', `/v1/privacy/consents/${consent.body.id}/withdraw`, {
        body: {},
      });
      expect(again.body.code).toBe('PRIVACY_CONSENT_ALREADY_WITHDRAWN');
      await admin(listening.app, 'PUT', `/admin/tenants/${tenantId}/privacy/settings`, {
        accountConsentRequired: false,
        retentionDays: {},
      });
    });

    it('(2) a master-key rotation re-wraps every key while exports keep succeeding', async () => {
      const services = listening.app.services;
      const oldKey = listening.app.config.masterKeys[0]!;
      const newKey = randomBytes(32).toString('base64');
      // Every instance first gets [new, old] (new wraps, both unwrap), then one re-wraps.
      const rotated = createCrypto({ db: services.db, masterKeys: [newKey, oldKey] });
      const privacy = new PrivacyService({ db: services.db, envelope: rotated.envelope });
      let exports = 0;
      let rotating = true;
      const readers = Array.from({ length: 3 }, async () => {
        while (rotating || exports < 6) {
          const doc = await services.db.withTenant(tenantId, (tx) =>
            privacy.assemble(tx, tenantId, { customerId, userId: holder.userId }, randomUUID()),
          );
          expect(JSON.stringify(doc)).toContain(seeded.iban);
          exports++;
        }
      });
      const result = await rotated.rotateKek();
      rotating = false;
      await Promise.all(readers);
      expect(result.dataKeys.failed).toBe(0);
      expect(result.dataKeys.rewrapped).toBeGreaterThan(2);
      const usage = await rotated.kekUsage();
      expect(usage.removable).toEqual([usage.configured[1]]);
      // the old master key can go: the new one alone opens everything
      const only = createCrypto({ db: services.db, masterKeys: [newKey] });
      const after = await services.db.withTenant(tenantId, (tx) =>
        new PrivacyService({ db: services.db, envelope: only.envelope }).assemble(
          tx,
          tenantId,
          { customerId, userId: holder.userId },
          randomUUID(),
        ),
      );
      expect(JSON.stringify(after)).toContain(seeded.family);
      expect(exports).toBeGreaterThan(0);
    });

    it('(3) erasure: scheduled past the financial retention, then crypto-shredded', async () => {
      const services = listening.app.services;
      // the "backup": every encrypted column of the subject's rows, copied before erasure
      const backup = await db().withTenant(tenantId, async (tx) => [
        ...(
          await rows<{ id: string; v: string }>(
            tx,
            sql`SELECT id, data_enc AS v FROM customers WHERE id = ${customerId}`,
          )
        ).map((r) => ({ aad: fieldAad('customers', 'data', r.id), v: r.v })),
        ...(
          await rows<{ id: string; v: string }>(
            tx,
            sql`SELECT id, payee_iban_enc AS v FROM insurance_claims WHERE customer_id = ${customerId}`,
          )
        ).map((r) => ({ aad: fieldAad('insurance_claims', 'payee_iban', r.id), v: r.v })),
        ...(
          await rows<{ id: string; v: string }>(
            tx,
            sql`SELECT id, debtor_iban_enc AS v FROM payment_mandates WHERE customer_id = ${customerId}`,
          )
        ).map((r) => ({ aad: fieldAad('payment_mandates', 'debtor_iban', r.id), v: r.v })),
        ...(
          await rows<{ id: string; v: string }>(
            tx,
            sql`SELECT id, username_enc AS v FROM users WHERE id = ${holder.userId}`,
          )
        ).map((r) => ({ aad: fieldAad('users', 'username', r.id), v: r.v })),
      ]);
      expect(backup.length).toBe(4);
      const open = (b: { aad: string; v: string }) =>
        services.crypto.envelope.decryptField(tenantId, b.v, { aad: b.aad });
      expect(await open(backup[1]!)).toBe(seeded.iban);

      // a legal hold refuses erasure outright
      const hold = await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/privacy/holds`, {
        customerId,
        reason: 'litigation CASE-17',
      });
      const refused = await partner.call('POST', '/v1/privacy/requests', {
        body: { kind: 'erasure', customerId },
      });
      expect(refused.body.status).toBe('refused');
      expect(refused.body.outcome.kept[0].legalBasis).toContain('17(3)(e)');
      await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/privacy/holds/${hold.id}/release`);

      // payments and ledger records are kept 10 years: the customer's erasure is scheduled, the
      // login (not a financial record) goes now
      const erasure = await partner.call('POST', '/v1/privacy/requests', {
        body: { kind: 'erasure', customerId },
      });
      expect(erasure.status, JSON.stringify(erasure.body)).toBe(201);
      expect(erasure.body.status).toBe('scheduled');
      expect(erasure.body.outcome.kept.map((k: { source: string }) => k.source)).toContain('payments');
      expect(erasure.body.outcome.erased).toEqual(['identity']);
      await expect(open(backup[3]!)).rejects.toSatisfy(isKeyDestroyed);
      expect(await open(backup[0]!)).toContain(seeded.family);

      // ten years and a day later the retention job carries it out
      const privacy = new PrivacyService({ db: services.db, envelope: services.crypto.envelope });
      const later = new Date(Date.now() + (10 * 366 + 1) * 86_400_000);
      const counts = await privacy.runRetention(later);
      expect(counts.scheduled_erasures).toBe(1);
      const done = await admin(
        listening.app,
        'GET',
        `/admin/tenants/${tenantId}/privacy/requests/${erasure.body.id}`,
      );
      expect(done.status).toBe('completed');

      // the backup copy no longer opens: the keys are gone
      for (const b of backup) await expect(open(b)).rejects.toSatisfy(isKeyDestroyed);
      // the blind indexes no longer match the person
      const [c] = await db().withTenant(tenantId, (tx) =>
        rows<{ email_idx: string | null; identifier_idx: string | null }>(
          tx,
          sql`SELECT email_idx, identifier_idx FROM customers WHERE id = ${customerId}`,
        ),
      );
      expect(c).toEqual({ email_idx: null, identifier_idx: null });
      // the export is empty of personal data
      const access = await admin(listening.app, 'POST', `/admin/tenants/${tenantId}/privacy/requests`, {
        kind: 'access',
        customerId,
      });
      const exported = await admin(
        listening.app,
        'GET',
        `/admin/tenants/${tenantId}/privacy/requests/${access.id}/export`,
      );
      const text = JSON.stringify(exported);
      for (const value of personalValues()) expect(text, value).not.toContain(value);
      expect(exported.sources.kyc.customer.personalData).toBeNull();
      expect(exported.sources.ledger.accounts[0].id).toBe(accountId);
      // the ledger still balances
      const [sum] = await db().withTenant(tenantId, (tx) =>
        rows<{ total: string }>(
          tx,
          sql`SELECT coalesce(sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END), 0)::text AS total FROM ledger_entries`,
        ),
      );
      expect(sum!.total).toBe('0');
      // and the audit trail verifies
      const report = await new AuditService({ db: services.db, signing: services.crypto.signing }).verify();
      expect(report.ok).toBe(true);
      // no table holds the person's values in clear
      // (the idempotency response cache is test (1)'s concern: it stores responses in clear)
      expect(leaks(await dump()).filter((l) => !l.startsWith('idempotency_keys:'))).toEqual([]);
    });
  });
}
