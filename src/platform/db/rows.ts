import type { SQL } from 'drizzle-orm';
import type { Queryable } from './types.ts';

/** Run raw (still parameterised) SQL and return its rows; both drivers answer `{ rows }`. */
export async function rows<T>(db: Queryable, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
