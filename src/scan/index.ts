/**
 * The built-in security self-assessment (`bulwark scan`, docs/scan.md): OWASP API Security Top 10
 * (2023) probes run black-box against a deployment with the credentials they are given.
 *
 *   const creds = await setupFixtures(url, adminToken);          // on a fresh deployment
 *   const report = await runScan({ target: url, credentials: creds });
 *   renderReport(report, 'table' | 'json' | 'html');
 */
export { runScanCli, SCAN_HELP } from './cli.ts';
export type { Probe } from './context.ts';
export {
  CredentialsError,
  type PartnerCredential,
  type PolicyholderCredential,
  parseCredentials,
  type ScanCredentials,
  setupFixtures,
} from './credentials.ts';
export { escapeHtml, type ReportFormat, renderReport } from './report.ts';
export { findingsAtOrAbove, PROBES, runScan, type ScanRequest } from './runner.ts';
export * from './types.ts';
