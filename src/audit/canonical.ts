/**
 * The canonical bytes of audit records and checkpoints: what their SHA-256 hashes and signatures
 * cover. Pure functions, no database: the offline bundle verifier uses them as they are.
 *
 * Canonical form = the JSON Canonicalization Scheme (JCS, RFC 8785) of a flat object: members
 * sorted by their UTF-16 code units (§3.2.3), no whitespace, strings escaped and numbers written
 * as ECMAScript's JSON.stringify does (§3.2.2). Absent values are `null`, never omitted, so every
 * record has the same members. A third party can recompute a hash with any JCS library.
 */
import { hash } from 'node:crypto';
import type { AuditActorType, AuditJson, AuditOutcome } from './schema.ts';

/** Format version of the hashed record and checkpoint bodies; enters the hash. */
export const AUDIT_FORMAT_VERSION = 1;
/** `prev_hash` of record 1 and of checkpoint 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** A record as it is hashed (and as an exported bundle carries it, plus `hash`). */
export interface AuditRecordBody {
  readonly seq: number;
  /** RFC 3339 UTC with milliseconds (`Date.prototype.toISOString`). */
  readonly occurredAt: string;
  readonly tenantId: string | null;
  readonly actorType: AuditActorType;
  readonly actorId: string | null;
  readonly clientId: string | null;
  readonly action: string;
  readonly objectType: string | null;
  readonly objectId: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId: string | null;
  readonly details: { readonly [key: string]: AuditJson };
  readonly prevHash: string;
}

export interface AuditRecord extends AuditRecordBody {
  readonly hash: string;
}

/** The signed body of a checkpoint: a tree head (RFC 9162 §4.10, in our own encoding) chained to the previous one. */
export interface CheckpointBody {
  /** Checkpoint number, from 1. */
  readonly seq: number;
  /** Number of records (leaves) covered: records 1..treeSize. */
  readonly treeSize: number;
  /** Hex Merkle Tree Hash of those leaves (RFC 9162 §2.1.1). */
  readonly rootHash: string;
  /** `hash` of the previous checkpoint, or 64 zeros. */
  readonly prevHash: string;
  /** RFC 3339 UTC with milliseconds. */
  readonly time: string;
}

/** JCS (RFC 8785) of a JSON value. Throws on values JSON cannot carry (undefined, NaN, functions…). */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('non-finite number in canonical JSON');
      // RFC 8785 §3.2.2.3: ECMAScript Number serialisation (JSON.stringify turns -0 into 0).
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null)
        throw new TypeError('non-plain object in canonical JSON');
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
      const keys = Object.keys(obj).sort();
      const parts: string[] = [];
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) throw new TypeError(`undefined member ${k} in canonical JSON`);
        parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`${typeof value} in canonical JSON`);
  }
}

const str = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));

/**
 * The canonical bytes of a record: JCS of its body plus `v`. Written out member by member (in
 * JCS order: action, actorId, actorType, clientId, details, objectId, objectType, occurredAt,
 * outcome, prevHash, requestId, seq, tenantId, v) because verification runs it for every record.
 * `canonicalJson({...body, v: 1})` gives the same string (a test holds them together).
 */
export function recordCanonical(r: AuditRecordBody): string {
  return (
    `{"action":${JSON.stringify(r.action)},"actorId":${str(r.actorId)},"actorType":${JSON.stringify(r.actorType)}` +
    `,"clientId":${str(r.clientId)},"details":${canonicalJson(r.details)},"objectId":${str(r.objectId)}` +
    `,"objectType":${str(r.objectType)},"occurredAt":${JSON.stringify(r.occurredAt)}` +
    `,"outcome":${JSON.stringify(r.outcome)},"prevHash":${JSON.stringify(r.prevHash)}` +
    `,"requestId":${str(r.requestId)},"seq":${r.seq},"tenantId":${str(r.tenantId)},"v":${AUDIT_FORMAT_VERSION}}`
  );
}

export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** Hex SHA-256 of the record's canonical bytes (UTF-8). */
export function recordHash(r: AuditRecordBody): string {
  return sha256Hex(recordCanonical(r));
}

export function checkpointCanonical(c: CheckpointBody): string {
  return canonicalJson({
    prevHash: c.prevHash,
    rootHash: c.rootHash,
    seq: c.seq,
    time: c.time,
    treeSize: c.treeSize,
    v: AUDIT_FORMAT_VERSION,
  });
}

export function checkpointHash(c: CheckpointBody): string {
  return sha256Hex(checkpointCanonical(c));
}

export const HEX256_RE = /^[0-9a-f]{64}$/;
