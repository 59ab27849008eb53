/**
 * Idempotency-Key for money-moving POSTs (draft-ietf-httpapi-idempotency-key-header; DESIGN
 * invariant 3). Shared by every module; keys live in the `idempotency_keys` table, so all instances
 * (PGlite or PostgreSQL) see the same keys.
 *
 * A route opts in with `config: { idempotency: true }` and does its work through
 * `idempotentTransaction`:
 *
 *   app.post('/transfers', { config: { scopes: ['accounts:write'], idempotency: true }, schema }, (req, reply) =>
 *     idempotentTransaction(req, reply, async (tx) => {
 *       const t = await ledger.post(tx, tenantId, …);
 *       return { status: 201, body: toJson(t) };       // the response, stored in the SAME transaction
 *     }));
 *
 * What the caller sees (the preHandler step, installed once on the /v1 face):
 *   - no `Idempotency-Key` header              -> 400 IDEMPOTENCY_KEY_MISSING
 *   - malformed key (RFC 8941 sf-string, or a bare token; 1..255 printable ASCII) -> 400 IDEMPOTENCY_KEY_INVALID
 *   - key seen with another payload            -> 422 IDEMPOTENCY_KEY_REUSED (fingerprint = SHA-256 of
 *                                                  method, path + query, canonical JSON body)
 *   - key's first request still running         -> 409 IDEMPOTENCY_KEY_IN_FLIGHT (retry later)
 *   - key already answered                      -> the stored status and body again, with
 *                                                  `Idempotent-Replayed: true`
 * Keys are scoped per (tenant, client id, subject): two apps, or two users of one app, never share keys.
 * Every answered key expires IDEMPOTENCY_TTL_MS (24 h) after its first use; each response carries
 * `Idempotency-Key-Expires` (HTTP-date) and the API description states it. Expired keys are deleted
 * by `pruneIdempotencyKeys` (a system job started by the app).
 *
 * The invariant: a committed domain change always has its stored response. `idempotentTransaction`
 * runs the work and stores its response in ONE `db.withTenant` transaction, so a crash between commit
 * and reply replays on retry instead of executing twice. A first request that died mid-flight (the
 * process crashed before commit) leaves a claim whose lease (IDEMPOTENCY_LEASE_MS, 60 s) expires;
 * after it, a retry runs the request afresh (nothing was committed).
 *
 * Errors: a 4xx answer (a domain refusal such as LEDGER_INSUFFICIENT_FUNDS) is stored and replayed
 * like a success, as the draft intends — the same key always gets the same answer; send a new key
 * to try again. A 5xx (or a crash) stores nothing: the claim is released and the same key may be
 * retried.
 */
export { IdempotencyErrors } from './errors.ts';
export {
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_TTL_MS,
  type IdempotencyHooks,
  IdempotencyKeyHeaders,
  type IdempotentResult,
  idempotencyHooks,
  idempotentTransaction,
  parseIdempotencyKey,
  pruneIdempotencyKeys,
  requestFingerprint,
} from './idempotency.ts';
