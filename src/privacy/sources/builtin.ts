/**
 * The data sources of the modules that hold personal data. They read the modules' tables in the
 * tenant's transaction (row-level security applies) and decrypt with the same associated data
 * the owning module used (`fieldAad(table, column, row id)`): a source that guessed wrong would
 * fail to decrypt, which the privacy tests would show.
 */
import { sql } from 'drizzle-orm';
import type { Envelope } from '../../platform/crypto/index.ts';
import { fieldAad } from '../../platform/crypto/index.ts';
import type { Tx } from '../../platform/db/index.ts';
import { rows } from '../../platform/db/rows.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { type DataSubject, iso, openField, type Retention, type SubjectDataSource } from './types.ts';

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: string | null): unknown => {
  if (v === null) return null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};
/** A value no HMAC output can equal (base64url has no ':'), for NOT NULL blind-index columns. */
const tombstone = () => `erased:${uuidv7()}`;

/** Financial records (ledger, payments) are kept this long after the last one (AML / accounting law). */
export const FINANCIAL_RETENTION_YEARS = 10;
const FINANCIAL_BASIS =
  'GDPR Art. 17(3)(b): legal obligation to keep financial records — AML Directive (EU) 2015/849 Art. 40 ' +
  'and national accounting law (up to 10 years)';

function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

// ---- kyc: customer record and verification cases ------------------------------------------------

export function kycSource(envelope: Envelope): SubjectDataSource {
  return {
    name: 'kyc',
    async export(tx, tenantId, s) {
      if (!s.customerId) return null;
      const [c] = await rows<Row>(
        tx,
        sql`SELECT * FROM customers WHERE tenant_id = ${tenantId} AND id = ${s.customerId}`,
      );
      if (!c) return null;
      const id = String(c.id);
      const cases = await rows<Row>(
        tx,
        sql`SELECT * FROM kyc_cases WHERE tenant_id = ${tenantId} AND customer_id = ${id} ORDER BY id`,
      );
      return {
        customer: {
          id,
          partnerId: str(c.partner_id),
          ownerUserId: str(c.owner_user_id),
          kind: c.kind,
          externalRef: str(c.external_ref),
          personalData: json(
            await openField(envelope, tx, tenantId, str(c.data_enc), fieldAad('customers', 'data', id)),
          ),
          kycStatus: c.kyc_status,
          riskScore: c.risk_score ?? null,
          pep: c.pep,
          createdAt: iso(c.created_at as Date),
          updatedAt: iso(c.updated_at as Date),
        },
        verificationCases: await Promise.all(
          cases.map(async (k) => {
            const kid = String(k.id);
            const open = (col: string, column: string) =>
              openField(envelope, tx, tenantId, str(k[col]), fieldAad('kyc_cases', column, kid));
            return {
              id: kid,
              status: k.status,
              documents: json(await open('documents_enc', 'documents')),
              findings: json(await open('findings_enc', 'findings')),
              reviewerNotes: await open('reviewer_notes_enc', 'reviewer_notes'),
              riskScore: k.risk_score ?? null,
              pep: k.pep ?? null,
              sanctionsHit: k.sanctions_hit ?? null,
              decidedBy: str(k.decided_by),
              decidedAt: iso(k.decided_at as Date),
              createdAt: iso(k.created_at as Date),
            };
          }),
        ),
      };
    },
    async erase(tx, tenantId, s) {
      if (!s.customerId) return 0;
      // The blind indexes would still match a search for the e-mail or national id; the partner's
      // own reference still links the record to the person in the partner's systems.
      const done = await rows<Row>(
        tx,
        sql`UPDATE customers SET email_idx = NULL, identifier_idx = NULL, external_ref = NULL, updated_at = now()
            WHERE tenant_id = ${tenantId} AND id = ${s.customerId} RETURNING id`,
      );
      return done.length;
    },
  };
}

// ---- identity/people: the policyholder's user --------------------------------------------------

export function peopleSource(envelope: Envelope): SubjectDataSource {
  return {
    name: 'identity',
    async export(tx, tenantId, s) {
      if (!s.userId) return null;
      const [u] = await rows<Row>(
        tx,
        sql`SELECT * FROM users WHERE tenant_id = ${tenantId} AND id = ${s.userId}`,
      );
      if (!u) return null;
      const id = String(u.id);
      const open = (col: string, column: string) =>
        openField(envelope, tx, tenantId, str(u[col]), fieldAad('users', column, id));
      const [totp] = await rows<Row>(
        tx,
        sql`SELECT status, created_at, confirmed_at FROM user_totp WHERE tenant_id = ${tenantId} AND user_id = ${id}`,
      );
      const [codes] = await rows<{ total: number; used: number }>(
        tx,
        sql`SELECT count(*)::int AS total, count(used_at)::int AS used FROM user_recovery_codes
            WHERE tenant_id = ${tenantId} AND user_id = ${id}`,
      );
      const keys = await rows<Row>(
        tx,
        sql`SELECT id, device_type, backed_up, status, created_at, last_used_at FROM webauthn_credentials
            WHERE tenant_id = ${tenantId} AND user_id = ${id} ORDER BY created_at`,
      );
      // Facts about the factors only: never a secret, a seed, a hash or a public key.
      return {
        user: {
          id,
          username: await open('username_enc', 'username'),
          email: await open('email_enc', 'email'),
          displayName: await open('display_name_enc', 'display_name'),
          roles: u.roles,
          status: u.status,
          lastLoginAt: iso(u.last_login_at as Date),
          passwordChangedAt: iso(u.password_changed_at as Date),
          createdAt: iso(u.created_at as Date),
        },
        mfa: {
          totp: totp
            ? {
                status: totp.status,
                enrolledAt: iso(totp.created_at as Date),
                confirmedAt: iso(totp.confirmed_at as Date),
              }
            : null,
          recoveryCodes: { total: codes?.total ?? 0, used: codes?.used ?? 0 },
          webauthn: keys.map((k) => ({
            id: String(k.id),
            deviceType: k.device_type,
            backedUp: k.backed_up,
            status: k.status,
            createdAt: iso(k.created_at as Date),
            lastUsedAt: iso(k.last_used_at as Date),
          })),
        },
      };
    },
    async erase(tx, tenantId, s) {
      if (!s.userId) return 0;
      // The user can no longer sign in: no name to look up (index tombstoned), no factors.
      // An invited user has no password, and the schema keeps invited users password-less.
      const done = await rows<Row>(
        tx,
        sql`UPDATE users SET username_idx = ${tombstone()}, email_idx = NULL, invite_token_hash = NULL,
              invite_expires_at = NULL,
              status = CASE WHEN password_hash IS NULL THEN 'invited' ELSE 'disabled' END, updated_at = now()
            WHERE tenant_id = ${tenantId} AND id = ${s.userId} RETURNING id`,
      );
      await tx.execute(sql`DELETE FROM user_totp WHERE tenant_id = ${tenantId} AND user_id = ${s.userId}`);
      await tx.execute(
        sql`DELETE FROM user_recovery_codes WHERE tenant_id = ${tenantId} AND user_id = ${s.userId}`,
      );
      await tx.execute(
        sql`DELETE FROM webauthn_credentials WHERE tenant_id = ${tenantId} AND user_id = ${s.userId}`,
      );
      return done.length;
    },
  };
}

// ---- insurance: policies, claims, claim documents (metadata) ----------------------------------

export function insuranceSource(envelope: Envelope): SubjectDataSource {
  return {
    name: 'insurance',
    async export(tx, tenantId, s) {
      if (!s.customerId) return null;
      const policies = await rows<Row>(
        tx,
        sql`SELECT * FROM insurance_policies WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId} ORDER BY id`,
      );
      const claims = await rows<Row>(
        tx,
        sql`SELECT * FROM insurance_claims WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId} ORDER BY id`,
      );
      const docs = await rows<Row>(
        tx,
        sql`SELECT d.* FROM insurance_claim_documents d JOIN insurance_claims c
              ON c.tenant_id = d.tenant_id AND c.id = d.claim_id
            WHERE d.tenant_id = ${tenantId} AND c.customer_id = ${s.customerId} ORDER BY d.id`,
      );
      return {
        policies: policies.map((p) => ({
          id: String(p.id),
          productId: String(p.product_id),
          status: p.status,
          currency: p.currency,
          coverAmount: str(p.cover_amount),
          premiumAmount: str(p.premium_amount),
          premiumFrequency: p.premium_frequency,
          startDate: str(p.start_date),
          endDate: str(p.end_date),
          createdAt: iso(p.created_at as Date),
        })),
        claims: await Promise.all(
          claims.map(async (c) => {
            const id = String(c.id);
            const open = (col: string, column: string) =>
              openField(envelope, tx, tenantId, str(c[col]), fieldAad('insurance_claims', column, id));
            return {
              id,
              policyId: String(c.policy_id),
              status: c.status,
              incidentDate: str(c.incident_date),
              amountClaimed: str(c.amount_claimed),
              approvedAmount: str(c.approved_amount),
              paidAmount: str(c.paid_amount),
              currency: c.currency,
              description: await open('description_enc', 'description'),
              payeeName: await open('payee_name_enc', 'payee_name'),
              payeeIban: await open('payee_iban_enc', 'payee_iban'),
              adjusterNotes: await open('adjuster_notes_enc', 'adjuster_notes'),
              decisionReason: str(c.decision_reason),
              createdAt: iso(c.created_at as Date),
            };
          }),
        ),
        claimDocuments: await Promise.all(
          docs.map(async (d) => ({
            id: String(d.id),
            claimId: String(d.claim_id),
            filename: await openField(
              envelope,
              tx,
              tenantId,
              str(d.filename_enc),
              fieldAad('insurance_claim_documents', 'filename', String(d.id)),
            ),
            mediaType: d.media_type,
            sizeBytes: Number(d.size_bytes),
            sha256: d.sha256,
            uploadedAt: iso(d.uploaded_at as Date),
          })),
        ),
      };
    },
    async erase(tx, tenantId, s) {
      if (!s.customerId) return 0;
      // The payee-IBAN blind index feeds the shared-IBAN fraud signal; an erased person's IBAN
      // must no longer match. The column is NOT NULL: a tombstone no HMAC can equal.
      const claims = await rows<{ id: string }>(
        tx,
        sql`SELECT id FROM insurance_claims WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}`,
      );
      for (const c of claims) {
        await tx.execute(
          sql`UPDATE insurance_claims SET payee_iban_idx = ${tombstone()} WHERE tenant_id = ${tenantId} AND id = ${c.id}`,
        );
      }
      return claims.length;
    },
  };
}

// ---- ledger: accounts (holder link) and entries (not personal, but the subject's) --------------

export function ledgerSource(): SubjectDataSource {
  return {
    name: 'ledger',
    async export(tx, tenantId, s) {
      if (!s.customerId) return null;
      const accounts = await rows<Row>(
        tx,
        sql`SELECT * FROM ledger_accounts WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId} ORDER BY id`,
      );
      const out = [];
      for (const a of accounts) {
        const entries = await rows<Row>(
          tx,
          sql`SELECT id, transaction_id, direction, amount, currency, balance_after, effective_at
              FROM ledger_entries WHERE tenant_id = ${tenantId} AND account_id = ${a.id} ORDER BY id`,
        );
        out.push({
          id: String(a.id),
          kind: a.kind,
          currency: a.currency,
          name: a.name,
          status: a.status,
          createdAt: iso(a.created_at as Date),
          entries: entries.map((e) => ({
            id: String(e.id),
            transactionId: String(e.transaction_id),
            direction: e.direction,
            amount: str(e.amount),
            currency: e.currency,
            balanceAfter: str(e.balance_after),
            effectiveAt: iso(e.effective_at as Date),
          })),
        });
      }
      return { accounts: out };
    },
    async retention(tx, tenantId, s) {
      if (!s.customerId) return undefined;
      const [last] = await rows<{ at: Date | string | null }>(
        tx,
        sql`SELECT max(e.created_at) AS at FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
            WHERE a.tenant_id = ${tenantId} AND a.customer_id = ${s.customerId}`,
      );
      return last?.at ? financial(last.at) : undefined;
    },
    async erase(tx, tenantId, s) {
      if (!s.customerId) return 0;
      // Entries stay (append-only, balanced); the account's label, chosen by the partner, may
      // name the person. The holder link (customer id) stays: it names nobody once the customer
      // record is unreadable.
      const done = await rows<Row>(
        tx,
        sql`UPDATE ledger_accounts SET name = 'erased' WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
            RETURNING id`,
      );
      return done.length;
    },
  };
}

function financial(at: Date | string): Retention {
  return { legalBasis: FINANCIAL_BASIS, until: addYears(new Date(at), FINANCIAL_RETENTION_YEARS) };
}

// ---- payments: mandates and payments ----------------------------------------------------------

export function paymentsSource(envelope: Envelope): SubjectDataSource {
  return {
    name: 'payments',
    async export(tx, tenantId, s) {
      if (!s.customerId) return null;
      const mandates = await rows<Row>(
        tx,
        sql`SELECT * FROM payment_mandates WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId} ORDER BY id`,
      );
      const payments = await rows<Row>(
        tx,
        sql`SELECT * FROM payments WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId} ORDER BY id`,
      );
      return {
        mandates: await Promise.all(
          mandates.map(async (m) => {
            const id = String(m.id);
            const open = (col: string, column: string) =>
              openField(envelope, tx, tenantId, str(m[col]), fieldAad('payment_mandates', column, id));
            return {
              id,
              reference: m.reference,
              debtorName: await open('debtor_name_enc', 'debtor_name'),
              debtorIban: await open('debtor_iban_enc', 'debtor_iban'),
              signedOn: str(m.signed_on),
              status: m.status,
              createdAt: iso(m.created_at as Date),
            };
          }),
        ),
        payments: await Promise.all(
          payments.map(async (p) => {
            const id = String(p.id);
            const open = (col: string, column: string) =>
              openField(envelope, tx, tenantId, str(p[col]), fieldAad('payments', column, id));
            return {
              id,
              kind: p.kind,
              status: p.status,
              amount: str(p.amount),
              currency: p.currency,
              counterpartyName: await open('counterparty_name_enc', 'counterparty_name'),
              counterpartyIban: await open('counterparty_iban_enc', 'counterparty_iban'),
              reference: await open('reference_enc', 'reference'),
              claimId: str(p.claim_id),
              policyId: str(p.policy_id),
              createdAt: iso(p.created_at as Date),
              settledAt: iso(p.settled_at as Date),
            };
          }),
        ),
      };
    },
    async retention(tx, tenantId, s) {
      if (!s.customerId) return undefined;
      const [last] = await rows<{ at: Date | string | null }>(
        tx,
        sql`SELECT max(updated_at) AS at FROM payments WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}`,
      );
      return last?.at ? financial(last.at) : undefined;
    },
  };
}

// ---- audit: records about the subject (ids only) ----------------------------------------------

/** Audit records naming the subject, or objects of theirs, or done by their user: ids and facts. */
export function auditSource(): SubjectDataSource {
  return {
    name: 'audit',
    async export(tx, tenantId, s) {
      const ids = await subjectObjectIds(tx, tenantId, s);
      if (ids.length === 0) return { records: [] };
      const list = sql.join(
        ids.map((i) => sql`${i}`),
        sql`, `,
      );
      const records = await rows<Row>(
        tx,
        sql`SELECT seq, occurred_at, actor_type, actor_id, action, object_type, object_id, outcome
            FROM audit_log WHERE tenant_id = ${tenantId}
              AND (object_id IN (${list}) ${s.userId ? sql`OR actor_id = ${s.userId}` : sql``})
            ORDER BY seq DESC LIMIT 5000`,
      );
      return {
        records: records.map((r) => ({
          seq: Number(r.seq),
          occurredAt: iso(r.occurred_at as Date),
          actorType: r.actor_type,
          actorId: str(r.actor_id),
          action: r.action,
          objectType: str(r.object_type),
          objectId: str(r.object_id),
          outcome: r.outcome,
        })),
      };
    },
  };
}

/** The ids of the subject and of the objects that belong to them, across modules. */
export async function subjectObjectIds(tx: Tx, tenantId: string, s: DataSubject): Promise<string[]> {
  const ids = new Set<string>();
  if (s.userId) ids.add(s.userId);
  if (s.customerId) {
    ids.add(s.customerId);
    const found = await rows<{ id: string }>(
      tx,
      sql`SELECT id::text FROM kyc_cases WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
          UNION ALL SELECT id::text FROM insurance_policies WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
          UNION ALL SELECT id::text FROM insurance_claims WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
          UNION ALL SELECT id::text FROM ledger_accounts WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
          UNION ALL SELECT id::text FROM payments WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}
          UNION ALL SELECT id::text FROM payment_mandates WHERE tenant_id = ${tenantId} AND customer_id = ${s.customerId}`,
    );
    for (const f of found) ids.add(f.id);
  }
  return [...ids];
}
