export { type Database, type DatabaseOptions, openDatabase } from './database.ts';
export { isForeignKeyViolation, isUniqueViolation, sqlState } from './errors.ts';
export { loadMigrations, type MigrationStatus } from './migrate.ts';
export { rows } from './rows.ts';
export * as schema from './schema.ts';
export type { Db, Queryable, Tx } from './types.ts';
