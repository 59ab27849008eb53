/**
 * Parties and identity verification (KYC/KYB): customers (people and businesses with their
 * beneficial owners), verification cases with a workflow, pluggable providers, offline checks
 * (field and document validation, sanctions and PEP screening), a risk score, and the sandbox
 * adapter. Ledger and payments call `KycService.assertVerified` before opening accounts and paying out.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/index.ts';
import type { Logger } from '../platform/log.ts';
import type { Services } from '../platform/services.ts';
import { builtInProviders } from './providers/index.ts';
import { loadListFile } from './screening/lists.ts';
import { type ListEntry, NameScreener } from './screening/matcher.ts';
import { KycService } from './service.ts';
import type { VerificationProvider } from './types.ts';

export { KycError, type KycErrorCode, KycErrors } from './errors.ts';
export {
  builtInProviders,
  fieldValidationProvider,
  pepProvider,
  SANDBOX_IDENTITIES,
  sanctionsProvider,
  sandboxProvider,
} from './providers/index.ts';
export { assess } from './risk.ts';
export { kycRoutes } from './routes.ts';
export { detectFormat, ListFormatError, loadListFile, parseList } from './screening/lists.ts';
export { compareNames, type ListEntry, type NameMatch, NameScreener } from './screening/matcher.ts';
export { foldName } from './screening/transliterate.ts';
export {
  type AccessCheck,
  type CallContext,
  type KycCaseView,
  KycService,
  type KycServiceOptions,
} from './service.ts';
export type * from './types.ts';
export { isValidIban, normalizeIban } from './validators/iban.ts';
export { isValidNationalId } from './validators/national-id.ts';
export { type KycWorker, startKycWorker } from './worker.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A relative path is taken from the working directory, else from the package (the shipped samples). */
export function resolveListPath(path: string): string {
  if (isAbsolute(path)) return path;
  const fromCwd = resolve(path);
  return existsSync(fromCwd) ? fromCwd : resolve(PACKAGE_ROOT, path);
}

function loadLists(paths: readonly string[], logger?: Logger): ListEntry[] {
  const entries: ListEntry[] = [];
  for (const p of paths) {
    const file = resolveListPath(p);
    // A list that cannot be read stops the start: screening against nothing would pass everyone.
    const loaded = loadListFile(file);
    logger?.info({ file, entries: loaded.length }, 'kyc: screening list loaded');
    if (/[\\/]data[\\/](?:sanctions|pep)[\\/].*sample/.test(file)) {
      logger?.warn({ file }, 'kyc: screening against a FICTIONAL sample list; configure the published lists');
    }
    entries.push(...loaded);
  }
  return entries;
}

/** The service as the app runs it: lists loaded from the configured files, built-in providers. */
export function kycServiceFor(
  services: Pick<Services, 'db' | 'crypto'>,
  config: Pick<Config, 'kycSanctionsLists' | 'kycPepLists' | 'kycMatchThreshold'>,
  options: { logger?: Logger; extraProviders?: readonly VerificationProvider[]; now?: () => number } = {},
): KycService {
  const threshold = config.kycMatchThreshold / 100;
  const sanctions = new NameScreener(loadLists(config.kycSanctionsLists, options.logger), { threshold });
  const pep = new NameScreener(loadLists(config.kycPepLists, options.logger), { threshold });
  return new KycService({
    db: services.db,
    envelope: services.crypto.envelope,
    providers: builtInProviders({
      sanctions,
      pep,
      ...(options.extraProviders ? { extra: options.extraProviders } : {}),
    }),
    ...(options.now ? { now: options.now } : {}),
  });
}
