/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): see index.ts for the contract.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { canonicalJson } from '../../audit/canonical.ts';
import { fieldAad } from '../../platform/crypto/envelope.ts';
import { type Database, rows, type Tx } from '../../platform/db/index.ts';
import { AppError } from '../../platform/errors/index.ts';
import { IdempotencyErrors } from './errors.ts';

/** How long an answered key is kept and replayed: 24 hours from its first use. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a first request may hold its key before a retry may run afresh (it then cannot commit). */
export const IDEMPOTENCY_LEASE_MS = 60 * 1000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Money-moving route: requires an Idempotency-Key; its handler uses `idempotentTransaction`. */
    idempotency?: boolean;
  }
  interface FastifyRequest {
    idempotency?: IdempotencyClaim;
  }
}

/** What stored responses are sealed with: they can carry personal data (names, IBANs). */
export interface ResponseSealer {
  encryptField(tenantId: string, plaintext: string, options: { aad: string; tx?: Tx }): Promise<string>;
  decryptField(tenantId: string, value: string, options: { aad: string; tx?: Tx }): Promise<string>;
}

interface IdempotencyClaim {
  readonly db: Database;
  readonly sealer: ResponseSealer;
  readonly tenantId: string;
  readonly clientId: string;
  readonly subject: string;
  readonly key: string;
  readonly claim: string;
  readonly expiresAt: Date;
  /** Set once the response is stored (or the claim released). */
  done: boolean;
}

/** What the work of an idempotent request answers; stored with the change, replayed on retries. */
export interface IdempotentResult {
  readonly status: number;
  readonly body: unknown;
}

/**
 * For a route's `schema.headers` (documentation): optional in the schema so that a missing key is
 * answered with IDEMPOTENCY_KEY_MISSING rather than a generic validation error.
 */
export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'Required. Unique key of this request (draft-ietf-httpapi-idempotency-key-header), e.g. a UUID, ' +
        'scoped to the calling client. A retry with the same key and payload gets the stored response ' +
        '(Idempotent-Replayed: true) for 24 hours (Idempotency-Key-Expires).',
    }),
  ),
});

// RFC 8941 §3.3.3 sf-string (printable ASCII, \" and \\ escapes), or a bare token as most clients send.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;
const BARE = /^[A-Za-z0-9._:~+/=-]+$/;

export function parseIdempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined) throw new AppError(IdempotencyErrors.IDEMPOTENCY_KEY_MISSING);
  if (Array.isArray(header)) throw new AppError(IdempotencyErrors.IDEMPOTENCY_KEY_INVALID);
  const value = header.trim();
  const quoted = SF_STRING.exec(value);
  const key = quoted ? quoted[1]!.replace(/\\(["\\])/g, '$1') : BARE.test(value) ? value : null;
  if (key === null || key.length < 1 || key.length > 255)
    throw new AppError(IdempotencyErrors.IDEMPOTENCY_KEY_INVALID);
  return key;
}

/** SHA-256 of method, path with query, and the canonical JSON body (key order does not matter). */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  let canonical: string;
  try {
    canonical = canonicalJson(body ?? null);
  } catch {
    canonical = JSON.stringify(body ?? null);
  }
  return createHash('sha256').update(`${method}\n${url}\n${canonical}`).digest('hex');
}

interface KeyRow {
  fingerprint: string;
  status: string;
  claim: string;
  response_status: number | null;
  response_type: string | null;
  response_body: string | null;
  expires_at: unknown;
}

export interface IdempotencyHooks {
  /** preHandler of the face: claims the key, or answers 400/409/422, or replays. */
  readonly preHandler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
  /** onSend of the face: stores 4xx answers, releases the key after a 5xx. */
  readonly onSend: (req: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>;
  /** onRoute: a route opting in must be a POST, PUT, PATCH or DELETE. */
  readonly checkRoute: (route: RouteOptions) => void;
}

/** The associated data binding a stored response to its key (a sealed body cannot be moved to another). */
const responseAad = (c: { tenantId: string; clientId: string; subject: string; key: string }) =>
  fieldAad('idempotency_keys', 'response_body', JSON.stringify([c.tenantId, c.clientId, c.subject, c.key]));

export function idempotencyHooks(
  db: Database,
  opts: { sealer: ResponseSealer; now?: () => number },
): IdempotencyHooks {
  const now = opts.now ?? Date.now;
  const { sealer } = opts;
  return {
    checkRoute(route) {
      if (!route.config?.idempotency) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.some((m) => !['POST', 'PUT', 'PATCH', 'DELETE'].includes(m)))
        throw new Error(`idempotency on ${route.url}: only for POST, PUT, PATCH and DELETE`);
    },

    async preHandler(req, reply) {
      if (!req.routeOptions.config.idempotency) return undefined;
      const p = req.principal;
      if (!p) throw new Error(`idempotency on ${req.url} needs an authenticated principal`);
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const fingerprint = requestFingerprint(req.method, req.url, req.body);
      const at = now();
      const claim = randomUUID();
      const expiresAt = new Date(at + IDEMPOTENCY_TTL_MS);
      const nowIso = new Date(at).toISOString();
      const existing = await db.withTenant(p.tenantId, async (tx) => {
        // Take the key if it is new, expired, or held by a first request that died (lease over, same payload).
        const taken = await rows<{ claim: string }>(
          tx,
          sql`INSERT INTO idempotency_keys AS k (tenant_id, client_id, subject, key, fingerprint, status, claim,
                                                locked_until, created_at, expires_at)
              VALUES (${p.tenantId}, ${p.clientId}, ${p.subject}, ${key}, ${fingerprint}, 'in_flight', ${claim},
                      ${new Date(at + IDEMPOTENCY_LEASE_MS).toISOString()}, ${nowIso}, ${expiresAt.toISOString()})
              ON CONFLICT (tenant_id, client_id, subject, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, status = 'in_flight', claim = EXCLUDED.claim,
                    locked_until = EXCLUDED.locked_until, created_at = EXCLUDED.created_at,
                    expires_at = EXCLUDED.expires_at, response_status = NULL, response_type = NULL,
                    response_body = NULL
                WHERE k.expires_at <= ${nowIso}
                   OR (k.status = 'in_flight' AND k.locked_until <= ${nowIso} AND k.fingerprint = EXCLUDED.fingerprint)
              RETURNING claim`,
        );
        if (taken[0]?.claim === claim) return null;
        const [row] = await rows<KeyRow>(
          tx,
          sql`SELECT fingerprint, status, claim, response_status, response_type, response_body, expires_at
              FROM idempotency_keys
              WHERE tenant_id = ${p.tenantId} AND client_id = ${p.clientId} AND subject = ${p.subject} AND key = ${key}`,
        );
        if (!row) throw new Error('idempotency key vanished');
        return row;
      });
      if (existing === null) {
        req.idempotency = {
          db,
          sealer,
          tenantId: p.tenantId,
          clientId: p.clientId,
          subject: p.subject,
          key,
          claim,
          expiresAt,
          done: false,
        };
        reply.header('idempotency-key-expires', expiresAt.toUTCString());
        return undefined;
      }
      if (existing.fingerprint !== fingerprint) throw new AppError(IdempotencyErrors.IDEMPOTENCY_KEY_REUSED);
      if (existing.status !== 'completed') throw new AppError(IdempotencyErrors.IDEMPOTENCY_KEY_IN_FLIGHT);
      const expires =
        existing.expires_at instanceof Date ? existing.expires_at : new Date(String(existing.expires_at));
      const body =
        existing.response_body === null
          ? ''
          : await sealer.decryptField(p.tenantId, existing.response_body, {
              aad: responseAad({ tenantId: p.tenantId, clientId: p.clientId, subject: p.subject, key }),
            });
      return reply
        .code(existing.response_status ?? 200)
        .header('content-type', existing.response_type ?? 'application/json; charset=utf-8')
        .header('idempotent-replayed', 'true')
        .header('idempotency-key-expires', expires.toUTCString())
        .send(body);
    },

    async onSend(req, reply, payload) {
      const c = req.idempotency;
      if (!c || c.done) return payload;
      c.done = true;
      try {
        await c.db.withTenant(c.tenantId, async (tx) => {
          if (reply.statusCode >= 500 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) {
            // Nothing was committed with this key: let the client retry it.
            await tx.execute(
              sql`DELETE FROM idempotency_keys
                  WHERE tenant_id = ${c.tenantId} AND client_id = ${c.clientId} AND subject = ${c.subject}
                    AND key = ${c.key} AND claim = ${c.claim} AND status = 'in_flight'`,
            );
            return;
          }
          // A refusal (4xx) is an answer too: the same key gets it again (the draft's intent).
          await storeResponse(tx, c, {
            status: reply.statusCode,
            type: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
            body: Buffer.isBuffer(payload) ? payload.toString('utf8') : (payload as string),
          });
        });
      } catch (err) {
        // The lease expires on its own; the client sees its answer regardless.
        req.log.warn({ err }, 'idempotency key not stored');
      }
      return payload;
    },
  };
}

async function storeResponse(
  tx: Tx,
  c: IdempotencyClaim,
  r: { status: number; type: string; body: string },
): Promise<boolean> {
  const sealed = await c.sealer.encryptField(c.tenantId, r.body, { aad: responseAad(c), tx });
  const updated = await rows<{ key: string }>(
    tx,
    sql`UPDATE idempotency_keys SET status = 'completed', response_status = ${r.status},
               response_type = ${r.type}, response_body = ${sealed}
        WHERE tenant_id = ${c.tenantId} AND client_id = ${c.clientId} AND subject = ${c.subject}
          AND key = ${c.key} AND claim = ${c.claim} AND status = 'in_flight'
        RETURNING key`,
  );
  return updated.length > 0;
}

/**
 * Runs the work of an idempotent route and stores its response in ONE tenant transaction, then
 * sends it. If another request took the key over meanwhile (our lease ran out), the work is rolled
 * back: a key's change is committed at most once, always together with its response.
 * Domain errors thrown by `work` roll it back and become the (stored) problem answer.
 */
export async function idempotentTransaction(
  req: FastifyRequest,
  reply: FastifyReply,
  work: (tx: Tx) => Promise<IdempotentResult>,
): Promise<FastifyReply> {
  const c = req.idempotency;
  if (!c) throw new Error(`${req.method} ${req.url}: idempotentTransaction needs config.idempotency`);
  const type = 'application/json; charset=utf-8';
  let payload = '';
  const result = await c.db.withTenant(c.tenantId, async (tx) => {
    const r = await work(tx);
    reply.code(r.status);
    // The route's response schema is the allow-list: store exactly what is sent.
    const serialized = reply.serialize(r.body);
    payload =
      typeof serialized === 'string' ? serialized : Buffer.from(serialized as ArrayBuffer).toString('utf8');
    if (!(await storeResponse(tx, c, { status: r.status, type, body: payload })))
      throw new Error('idempotency key taken over while the request ran');
    return r;
  });
  c.done = true;
  return reply.code(result.status).type(type).send(payload);
}

/** Deletes expired keys (system job, across tenants). Returns how many went. */
export async function pruneIdempotencyKeys(db: Database, now = Date.now()): Promise<number> {
  const [r] = await db.asSystem((tx) =>
    rows<{ n: number }>(
      tx,
      sql`WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at <= ${new Date(now).toISOString()} RETURNING 1)
          SELECT count(*)::int AS n FROM gone`,
    ),
  );
  return r?.n ?? 0;
}
