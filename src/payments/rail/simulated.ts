/**
 * A simulated SEPA-like rail, shipped for development, tests and every sandbox app. It behaves
 * like the real thing in the ways that matter to code calling it: a submission is accepted now and
 * answered later (settled after `settleAfterMs`, rejected after `rejectAfterMs`, returned after
 * `returnAfterMs`), answers come through `drain` (the worker's tick), and returns carry ISO 20022
 * reason codes. Everything is decided at submission and kept in `rail_sim_transfers`, so every
 * instance drains the same book, each report exactly once (row lock + `reported_at`).
 *
 * What decides an outcome, first match wins:
 *  1. a sandbox control (`force`), for sandbox payments only;
 *  2. in the sandbox, the amount's last two digits of minor units (documented magic values):
 *       ..91 returned AC04 (closed account)   ..92 returned AM04 (insufficient funds)
 *       ..93 returned MD01 (no mandate)       ..94 rejected AC01 (incorrect account number)
 *       ..95 rejected AG01 (transaction forbidden)
 *  3. the simulator's account directory: an account marked closed returns AC04;
 *  4. otherwise it settles.
 */
import { and, eq, isNull, lte } from 'drizzle-orm';
import type { Database } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/types.ts';
import { uuidv7 } from '../../platform/ids.ts';
import { compareNames } from '../payee-check.ts';
import { railSimTransfers } from '../schema.ts';
import type { ApplyReport, PayeeVerification, RailAdapter, RailOutcome, RailSubmission } from './types.ts';

export interface SimulatedAccount {
  readonly holder: string;
  readonly status?: 'open' | 'closed';
}

/** Accounts the simulated banks know (valid IBANs, documented for sandbox users). */
export const SANDBOX_ACCOUNTS: Readonly<Record<string, SimulatedAccount>> = {
  DE89370400440532013000: { holder: 'Erika Mustermann' },
  FR1420041010050500013M02606: { holder: 'Jean Dupont' },
  NL91ABNA0417164300: { holder: 'Jan de Vries' },
  GB29NWBK60161331926819: { holder: 'Acme Insurance Ltd' },
  ES9121000418450200051332: { holder: 'Lucia Garcia Lopez' },
  IT60X0542811101000000123456: { holder: 'Mario Rossi', status: 'closed' },
};

export const SANDBOX_MAGIC_AMOUNTS: Readonly<Record<string, RailOutcome>> = {
  '91': { status: 'returned', reasonCode: 'AC04' },
  '92': { status: 'returned', reasonCode: 'AM04' },
  '93': { status: 'returned', reasonCode: 'MD01' },
  '94': { status: 'rejected', reasonCode: 'AC01' },
  '95': { status: 'rejected', reasonCode: 'AG01' },
};

export interface SimulatedRailOptions {
  readonly db: Database;
  readonly now?: () => number;
  readonly settleAfterMs?: number;
  readonly rejectAfterMs?: number;
  readonly returnAfterMs?: number;
  /** Accounts beyond (or overriding) SANDBOX_ACCOUNTS, by normalised IBAN. */
  readonly accounts?: Readonly<Record<string, SimulatedAccount>>;
  readonly currencies?: readonly string[];
}

export class SimulatedRail implements RailAdapter {
  readonly name = 'sim-sepa';
  readonly currencies: readonly string[];
  private readonly db: Database;
  private readonly now: () => number;
  private readonly settleAfterMs: number;
  private readonly rejectAfterMs: number;
  private readonly returnAfterMs: number;
  private readonly accounts: Map<string, SimulatedAccount>;

  constructor(options: SimulatedRailOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    this.settleAfterMs = options.settleAfterMs ?? 10_000;
    this.rejectAfterMs = options.rejectAfterMs ?? 1_000;
    this.returnAfterMs = options.returnAfterMs ?? 20_000;
    this.currencies = options.currencies ?? ['EUR'];
    this.accounts = new Map(Object.entries({ ...SANDBOX_ACCOUNTS, ...options.accounts }));
  }

  /** Adds or changes an account the simulated banks know (tests, demos). */
  setAccount(iban: string, account: SimulatedAccount): void {
    this.accounts.set(iban, account);
  }

  async verifyPayee(iban: string, name: string): Promise<PayeeVerification> {
    const account = this.accounts.get(iban);
    if (!account) return { result: 'unavailable' };
    const result = compareNames(name, account.holder);
    return result === 'close_match' ? { result, holderName: account.holder } : { result };
  }

  /** The outcome the rail will report for a submission (without a forced one). */
  decide(submission: RailSubmission): RailOutcome {
    if (submission.sandbox) {
      const magic = SANDBOX_MAGIC_AMOUNTS[(submission.amount % 100n).toString().padStart(2, '0')];
      if (magic) return magic;
    }
    if (this.accounts.get(submission.iban)?.status === 'closed')
      return { status: 'returned', reasonCode: 'AC04' };
    return { status: 'settled' };
  }

  private delay(outcome: RailOutcome): number {
    if (outcome.status === 'settled') return this.settleAfterMs;
    return outcome.status === 'rejected' ? this.rejectAfterMs : this.returnAfterMs;
  }

  async submit(tx: Tx, submission: RailSubmission): Promise<{ railRef: string }> {
    const now = this.now();
    const railRef = uuidv7(now);
    const outcome = this.decide(submission);
    await tx.insert(railSimTransfers).values({
      id: railRef,
      tenantId: submission.tenantId,
      paymentId: submission.paymentId,
      outcome: outcome.status,
      reasonCode: outcome.status === 'settled' ? null : outcome.reasonCode,
      dueAt: new Date(now + this.delay(outcome)),
      createdAt: new Date(now),
    });
    return { railRef };
  }

  /**
   * Sandbox control: makes the pending submission `railRef` report `outcome` now, applying it in
   * `tx` (the caller's tenant transaction). Returns false when there is nothing pending.
   */
  async force(tx: Tx, tenantId: string, railRef: string, outcome: RailOutcome, apply: ApplyReport) {
    const [row] = await tx
      .select()
      .from(railSimTransfers)
      .where(
        and(
          eq(railSimTransfers.tenantId, tenantId),
          eq(railSimTransfers.id, railRef),
          isNull(railSimTransfers.reportedAt),
        ),
      )
      .for('update');
    if (!row) return false;
    await tx
      .update(railSimTransfers)
      .set({
        outcome: outcome.status,
        reasonCode: outcome.status === 'settled' ? null : outcome.reasonCode,
        reportedAt: new Date(this.now()),
      })
      .where(eq(railSimTransfers.id, row.id));
    await apply(tx, { tenantId, paymentId: row.paymentId, railRef, outcome });
    return true;
  }

  async drain(now: Date, apply: ApplyReport, limit = 500): Promise<number> {
    // Which reports are due, across tenants; each is then taken and applied in its tenant's own
    // transaction, skipping one another instance holds.
    const due = await this.db.asSystem((tx) =>
      tx
        .select({ id: railSimTransfers.id, tenantId: railSimTransfers.tenantId })
        .from(railSimTransfers)
        .where(and(isNull(railSimTransfers.reportedAt), lte(railSimTransfers.dueAt, now)))
        .orderBy(railSimTransfers.dueAt, railSimTransfers.id)
        .limit(limit),
    );
    let applied = 0;
    for (const { id, tenantId } of due) {
      const done = await this.db.withTenant(tenantId, async (tx) => {
        const [row] = await tx
          .select()
          .from(railSimTransfers)
          .where(and(eq(railSimTransfers.id, id), isNull(railSimTransfers.reportedAt)))
          .for('update', { skipLocked: true });
        if (!row) return false;
        await tx
          .update(railSimTransfers)
          .set({ reportedAt: new Date(this.now()) })
          .where(eq(railSimTransfers.id, id));
        const outcome: RailOutcome =
          row.outcome === 'settled'
            ? { status: 'settled' }
            : { status: row.outcome, reasonCode: row.reasonCode ?? 'MS03' };
        await apply(tx, { tenantId, paymentId: row.paymentId, railRef: row.id, outcome });
        return true;
      });
      if (done) applied++;
    }
    return applied;
  }
}
