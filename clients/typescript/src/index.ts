export {
  BulwarkClient,
  type BulwarkClientOptions,
  BulwarkProblem,
  type OperationKey,
  type Operations,
  SIGNED_OPERATIONS,
} from './client.ts';
export { IDEMPOTENT_OPERATIONS } from './schema.ts';
