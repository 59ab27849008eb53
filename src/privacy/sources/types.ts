import type { Envelope } from '../../platform/crypto/index.ts';
import { isKeyDestroyed } from '../../platform/crypto/index.ts';
import type { Tx } from '../../platform/db/index.ts';

/** Whom a request is about: a customer (party) and, when linked, their policyholder user. */
export interface DataSubject {
  readonly customerId?: string | undefined;
  readonly userId?: string | undefined;
  readonly partnerId?: string | undefined;
}

/** Why some of a subject's data is kept after an erasure request, and until when. */
export interface Retention {
  readonly legalBasis: string;
  /** Null: for as long as the hold lasts (no date known). */
  readonly until: Date | null;
}

export interface EraseContext {
  readonly now: Date;
}

/**
 * What a module contributes to data-subject requests. `export` returns machine-readable JSON of
 * everything the module holds about the subject (decrypted personal fields; `null` where the
 * subject's key was destroyed). `erase` removes what crypto-shredding alone leaves: blind indexes
 * (an HMAC of the e-mail still matches a search for that e-mail), plaintext labels, secrets.
 * `retention` names records the law requires to be kept (AML, accounting) and until when.
 * All run in the caller's tenant transaction.
 */
export interface SubjectDataSource {
  readonly name: string;
  export(tx: Tx, tenantId: string, subject: DataSubject): Promise<unknown>;
  erase?(tx: Tx, tenantId: string, subject: DataSubject, ctx: EraseContext): Promise<number>;
  retention?(tx: Tx, tenantId: string, subject: DataSubject): Promise<Retention | undefined>;
}

/** Decrypts a field, or null once the subject's key is destroyed (erased). */
export async function openField(
  envelope: Envelope,
  tx: Tx,
  tenantId: string,
  value: string | null | undefined,
  aad: string,
): Promise<string | null> {
  if (value === null || value === undefined) return null;
  try {
    return await envelope.decryptField(tenantId, value, { aad, tx });
  } catch (err) {
    if (isKeyDestroyed(err)) return null;
    throw err;
  }
}

export const iso = (d: Date | string | null | undefined): string | null =>
  d === null || d === undefined ? null : new Date(d).toISOString();
