export { type AuditEntry, type AuditInput, appendAudit, appendAuditAsync, auditEntry } from './append.ts';
export {
  type AuditBundle,
  BUNDLE_FORMAT,
  type BundleReport,
  type ExportAuditOptions,
  exportAudit,
  verifyBundle,
} from './bundle.ts';
export {
  AUDIT_FORMAT_VERSION,
  type AuditRecord,
  type AuditRecordBody,
  canonicalJson,
  recordCanonical,
  recordHash,
} from './canonical.ts';
export {
  type AuditCheckpointer,
  type AuditLogger,
  type Checkpoint,
  type CheckpointerOptions,
  createCheckpoint,
  startAuditCheckpointer,
} from './checkpoint.ts';
export { checkDetails, DETAILS_LIMITS, isForbiddenKey, redactDetails } from './details.ts';
export { AuditError, type AuditErrorCode, AuditErrors } from './errors.ts';
export {
  EMPTY_ROOT,
  leafHash,
  MerkleFrontier,
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
export { auditAdminRoutes } from './routes.ts';
export {
  AUDIT_ACTOR_TYPES,
  AUDIT_OUTCOMES,
  type AuditActorType,
  type AuditJson,
  type AuditOutcome,
} from './schema.ts';
export { type AuditProof, AuditService, type AuditServiceOptions } from './service.ts';
export { type AuditKey, type AuditKeyLookup, databaseKeys, trustedKeys } from './signature.ts';
export {
  type AuditVerifyProgress,
  type AuditVerifyReport,
  type CheckpointProblem,
  type RecordProblem,
  type VerifyAuditOptions,
  verifyAudit,
} from './verify.ts';
export { type AuditWriter, type AuditWriterOptions, startAuditWriter } from './writer.ts';
