import { type TSchema, Type } from 'typebox';
import { UUID_PATTERN } from '../ids.ts';

/** Shared schema pieces. Objects are closed (`additionalProperties: false`) everywhere. */
export const Uuid = Type.String({ pattern: UUID_PATTERN, description: 'UUID' });
export const Timestamp = Type.String({ format: 'date-time' });

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size' }),
    after: Type.Optional(
      Type.String({ pattern: UUID_PATTERN, description: 'Cursor: the last id of the previous page' }),
    ),
  },
  { additionalProperties: false },
);

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object(
    { items: Type.Array(item), nextCursor: Type.Union([Uuid, Type.Null()]) },
    { additionalProperties: false },
  );
}

/** RFC 9457 problem document, as every error is answered. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(
      Type.Array(
        Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }),
      ),
    ),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details (application/problem+json)' },
);

/** Response entries for the errors a route can answer, for the API description. */
export function problems<const S extends number>(...statuses: S[]): { [K in S]: typeof ProblemSchema } {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema])) as { [K in S]: typeof ProblemSchema };
}
