import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { operatorActor } from '../gateway/admin-auth.ts';
import { AppError } from '../platform/errors/index.ts';
import { problems, Timestamp, Uuid } from '../platform/http/schemas.ts';
import { AuditError } from './errors.ts';
import type { AuditCaller, AuditService } from './service.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const ActorType = Type.Union([
  Type.Literal('user'),
  Type.Literal('client'),
  Type.Literal('operator'),
  Type.Literal('system'),
  Type.Literal('anonymous'),
]);
const Outcome = Type.Union([
  Type.Literal('success'),
  Type.Literal('failure'),
  Type.Literal('denied'),
  Type.Literal('blocked'),
]);
const Id = Type.String({ minLength: 1, maxLength: 200 });

const AuditRecord = Type.Object(
  {
    seq: Seq,
    occurredAt: Timestamp,
    tenantId: Nullable(Uuid),
    actorType: ActorType,
    actorId: Nullable(Type.String()),
    clientId: Nullable(Type.String()),
    action: Type.String(),
    objectType: Nullable(Type.String()),
    objectId: Nullable(Type.String()),
    outcome: Outcome,
    requestId: Nullable(Type.String()),
    details: Type.Record(Type.String(), Type.Unknown()),
    prevHash: Hex,
    hash: Hex,
  },
  { additionalProperties: false },
);

const Checkpoint = Type.Object(
  {
    seq: Seq,
    treeSize: Seq,
    rootHash: Hex,
    prevHash: Hex,
    time: Timestamp,
    hash: Hex,
    kid: Type.String(),
    alg: Type.String(),
    jws: Type.String({
      description: 'Compact JWS (typ bulwark-audit-checkpoint+jws) over the canonical body',
    }),
  },
  { additionalProperties: false },
);

const RecordProblem = Type.Object(
  { seq: Seq, reason: Type.String(), message: Type.String() },
  { additionalProperties: false },
);
const CheckpointProblem = Type.Object(
  {
    seq: Seq,
    reason: Type.String(),
    message: Type.String(),
    records: Type.Optional(Type.Object({ from: Seq, to: Seq }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const Count = Type.Integer({ minimum: 0 });
const VerifyReport = Type.Object(
  {
    ok: Type.Boolean(),
    fromSeq: Seq,
    lastGoodSeq: Count,
    records: Count,
    checkpoints: Count,
    checkpointRoots: Count,
    head: Type.Object({ seq: Count, hash: Nullable(Hex) }, { additionalProperties: false }),
    latestCheckpoint: Nullable(
      Type.Object({ seq: Seq, treeSize: Seq, time: Timestamp }, { additionalProperties: false }),
    ),
    unsigned: Count,
    firstBadRecord: Nullable(RecordProblem),
    firstBadCheckpoint: Nullable(CheckpointProblem),
    interrupted: Type.Boolean(),
    durationMs: Count,
  },
  { additionalProperties: false },
);

const Jwk = Type.Record(Type.String({ maxLength: 16 }), Type.Unknown(), { maxProperties: 16 });

const admin = { tags: ['admin: audit'], security: [{ bootstrapAdmin: [] }] };

/** The one place audit domain errors become HTTP. */
function http(err: unknown): never {
  if (err instanceof AuditError && err.public)
    throw new AppError(err.code, err.message === err.code ? undefined : err.message);
  throw err;
}

export interface AuditRoutesOptions {
  readonly service: AuditService;
  /** Who the caller is, for the audit record of a verification run. Default: the bootstrap operator. */
  readonly caller?: (req: FastifyRequest) => AuditCaller;
}

/**
 * Admin API of the audit trail (mounted under `/admin`): search, inclusion proofs, verification
 * and the public keys for offline checks. Read-only apart from the verification's own record.
 */
export const auditAdminRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, opts) => {
  const { service } = opts;
  const caller =
    opts.caller ?? ((req) => ({ type: 'operator' as const, id: operatorActor(req).id, requestId: req.id }));

  app.get(
    '/audit',
    {
      schema: {
        ...admin,
        summary: 'Search the audit trail (newest first)',
        querystring: Type.Object(
          {
            tenantId: Type.Optional(Uuid),
            actorType: Type.Optional(ActorType),
            actorId: Type.Optional(Id),
            action: Type.Optional(
              Type.String({
                pattern: '^[a-z][a-z0-9_.]{0,99}$',
                description: 'Action prefix: `auth.` matches auth.signin.failed, auth.token.issued…',
              }),
            ),
            objectType: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,63}$' })),
            objectId: Type.Optional(Id),
            outcome: Type.Optional(Outcome),
            from: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive' })),
            to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive' })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size' }),
            cursor: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: Number.MAX_SAFE_INTEGER,
                description: 'Cursor: `nextCursor` of the previous page',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { items: Type.Array(AuditRecord), nextCursor: Nullable(Seq) },
            { additionalProperties: false },
          ),
          ...problems(400, 401),
        },
      },
    },
    async (req) => {
      const q = req.query;
      return service
        .search({
          tenantId: q.tenantId?.toLowerCase(),
          actorType: q.actorType,
          actorId: q.actorId,
          actionPrefix: q.action,
          objectType: q.objectType,
          objectId: q.objectId,
          outcome: q.outcome,
          from: q.from === undefined ? undefined : new Date(q.from),
          to: q.to === undefined ? undefined : new Date(q.to),
          limit: q.limit,
          cursor: q.cursor,
        })
        .catch(http);
    },
  );

  app.get(
    '/audit/:seq/proof',
    {
      schema: {
        ...admin,
        summary: 'Inclusion proof (RFC 9162 §2.1.3) of one record against the latest signed checkpoint',
        params: Type.Object({ seq: Seq }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {
              record: AuditRecord,
              checkpoint: Checkpoint,
              leafIndex: Count,
              treeSize: Seq,
              path: Type.Array(Hex),
            },
            { additionalProperties: false },
          ),
          ...problems(400, 401, 404, 409),
        },
      },
    },
    async (req) => service.proof(req.params.seq).catch(http),
  );

  app.post(
    '/audit/verify',
    {
      schema: {
        ...admin,
        summary: 'Verify the audit trail (hash chain, checkpoints, signatures); reports the first bad record',
        body: Type.Object(
          { fromSeq: Type.Optional(Seq) },
          { additionalProperties: false, description: 'Send {} to verify everything' },
        ),
        response: { 200: VerifyReport, ...problems(400, 401, 409, 415) },
      },
    },
    async (req) => service.verify({ fromSeq: req.body.fromSeq, caller: caller(req) }).catch(http),
  );

  app.get(
    '/audit/keys',
    {
      schema: {
        ...admin,
        summary: 'Every audit signing key (JWKS, public halves): publish it for offline bundle verification',
        response: {
          200: Type.Object({ keys: Type.Array(Jwk) }, { additionalProperties: false }),
          ...problems(401),
        },
      },
    },
    async () => ({ keys: (await service.publicKeys()).keys.map((k) => ({ ...k })) }),
  );
};
