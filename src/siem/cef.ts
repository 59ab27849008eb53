/**
 * ArcSight Common Event Format (CEF) version 0, from the OCSF event of an audit record:
 *
 *   CEF:0|Bulwark|Bulwark|<version>|<signature id>|<name>|<severity>|<extensions>
 *
 * Escaping (CEF implementation standard, "Character encoding"): in the header, `\` and `|` are
 * escaped with a backslash; in extension values, `\` and `=` are, and line breaks become the two
 * characters `\n` / `\r`. A header field may not span lines, so CR/LF there become spaces. Extension
 * keys are fixed names of ours (alphanumeric), never data.
 */
import type { AuditRecord } from '../audit/index.ts';
import type { OcsfEvent } from './ocsf.ts';

/** Header field: `\` → `\\`, `|` → `\|`, line breaks → space. */
export function cefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

/** Extension value: `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n`. */
export function cefValue(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c}`));
}

/** OCSF severity_id → CEF severity 0-10 (Low 0-3, Medium 4-6, High 7-8, Very-High 9-10). */
export function cefSeverity(severityId: number): number {
  switch (severityId) {
    case 1:
      return 1;
    case 2:
      return 3;
    case 3:
      return 5;
    case 4:
      return 7;
    case 5:
      return 9;
    case 6:
      return 10;
    default:
      return 0;
  }
}

/** The CEF line of a record (no trailing newline). */
export function toCef(record: AuditRecord, event: OcsfEvent): string {
  const actor = (event.actor as { user?: { uid?: string } } | undefined)?.user?.uid;
  const target = (event.user as { uid?: string } | undefined)?.uid;
  const ext: [string, string | number | undefined | null][] = [
    ['rt', event.time],
    ['cat', event.class_name],
    ['act', record.action],
    ['outcome', record.outcome],
    ['externalId', record.seq],
    ['msg', event.message],
    ['suid', actor],
    ['duid', target !== actor ? target : undefined],
    ['src', (event.src_endpoint as { ip?: string } | undefined)?.ip],
    ['requestMethod', (event.http_request as { http_method?: string } | undefined)?.http_method],
    ['request', (event.http_request as { url?: { path?: string } } | undefined)?.url?.path],
    ['cs1Label', 'tenantId'],
    ['cs1', record.tenantId],
    ['cs2Label', 'requestId'],
    ['cs2', record.requestId],
    ['cs3Label', 'clientId'],
    ['cs3', record.clientId],
    ['cs4Label', 'object'],
    ['cs4', record.objectType ? `${record.objectType}:${record.objectId ?? ''}` : null],
    ['cs5Label', 'ocsfTypeUid'],
    ['cs5', event.type_uid],
    ['cs6Label', 'auditHash'],
    ['cs6', record.hash],
  ];
  const parts: string[] = [];
  for (let i = 0; i < ext.length; i++) {
    const [key, value] = ext[i]!;
    // A label is written only when its value is.
    if (key.endsWith('Label')) {
      const next = ext[i + 1]?.[1];
      if (next === undefined || next === null) {
        i++;
        continue;
      }
    }
    if (value === undefined || value === null) continue;
    parts.push(`${key}=${cefValue(String(value))}`);
  }
  const product = (event.metadata.product.version as string | undefined) ?? '0';
  return [
    'CEF:0',
    cefHeader('Bulwark'),
    cefHeader('Bulwark'),
    cefHeader(product),
    cefHeader(record.action),
    cefHeader(event.type_name),
    String(cefSeverity(event.severity_id)),
    parts.join(' '),
  ].join('|');
}

/**
 * Parses a CEF line back (header fields unescaped, extensions as a map): what a SIEM does, used
 * by the tests to check that what was written reads back the same.
 */
export function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let i = 0;
  let cur = '';
  while (header.length < 7) {
    const c = line[i++];
    if (c === undefined) throw new Error('truncated CEF header');
    if (c === '\\') cur += line[i++] ?? '';
    else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  // Keys are `word=` preceded by start or a space; values run to the next unescaped key.
  const keyRe = /(?:^| )([A-Za-z0-9_]+)=/g;
  const keys: { key: string; start: number; valueStart: number }[] = [];
  for (let m = keyRe.exec(rest); m; m = keyRe.exec(rest)) {
    // An escaped `\=` never matches: the backslash is not a key character.
    keys.push({ key: m[1]!, start: m.index, valueStart: m.index + m[0].length });
  }
  for (let k = 0; k < keys.length; k++) {
    const raw = rest.slice(keys[k]!.valueStart, k + 1 < keys.length ? keys[k + 1]!.start : rest.length);
    ext[keys[k]!.key] = raw.replace(/\\([\\=nr])/g, (_, c: string) =>
      c === 'n' ? '\n' : c === 'r' ? '\r' : c,
    );
  }
  return { header, ext };
}
