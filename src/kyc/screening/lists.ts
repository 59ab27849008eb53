/**
 * Loaders for the sanctions and PEP lists as their publishers distribute them, detected from the
 * content:
 *  - EU Financial Sanctions Files (FSF) consolidated list, XML 1.1: `<export>` of `<sanctionEntity>`
 *    with `<subjectType code="person|enterprise">`, `<nameAlias wholeName=… firstName=… lastName=…>`,
 *    `<birthdate birthdate=… year=…>`, `<citizenship countryIso2Code=…>`;
 *  - UN Security Council consolidated list, XML: `<CONSOLIDATED_LIST>` with `<INDIVIDUALS>/<INDIVIDUAL>`
 *    (FIRST_NAME…FOURTH_NAME, INDIVIDUAL_ALIAS/ALIAS_NAME, INDIVIDUAL_DATE_OF_BIRTH/DATE|YEAR) and
 *    `<ENTITIES>/<ENTITY>` (FIRST_NAME, ENTITY_ALIAS/ALIAS_NAME);
 *  - OFAC SDN list, CSV (`sdn.csv`: no header; ent_num, SDN_Name, SDN_Type, Program, …; `-0-` for
 *    null), with aliases from the companion `alt.csv` (ent_num, alt_num, alt_type, alt_name, …)
 *    when it sits next to it;
 *  - the "simple" CSV with a header that aggregators such as OpenSanctions publish (id, schema,
 *    name, aliases, birth_date, countries, …; multiple values separated by `;`), used for PEP lists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ListEntry, SubjectKind } from './matcher.ts';
import { childrenNamed, childText, forEachElement, type XmlElement } from './xml.ts';

export type ListFormat = 'eu-fsf' | 'un-sc' | 'ofac-sdn' | 'simple-csv';

export class ListFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListFormatError';
  }
}

// ---- EU FSF --------------------------------------------------------------------------------

function euKind(code: string): SubjectKind | 'other' {
  const c = code.toLowerCase();
  if (c === 'person') return 'person';
  if (c === 'enterprise' || c === 'entity' || c === 'organisation') return 'organisation';
  return 'other';
}

export function parseEuFsf(xml: string, list = 'eu-fsf'): ListEntry[] {
  const entries: ListEntry[] = [];
  const root = forEachElement(xml, new Set(['sanctionEntity']), (el) => {
    const names = new Set<string>();
    for (const alias of childrenNamed(el, 'nameAlias')) {
      const a = alias.attrs;
      const whole = a.wholeName?.trim() || [a.firstName, a.middleName, a.lastName].filter(Boolean).join(' ');
      if (whole) names.add(whole);
    }
    if (!names.size) return;
    const subject = childrenNamed(el, 'subjectType')[0];
    const births = childrenNamed(el, 'birthdate')
      .map((b) => b.attrs.birthdate || b.attrs.year || '')
      .filter(Boolean);
    const countries = childrenNamed(el, 'citizenship')
      .map((c) => c.attrs.countryIso2Code ?? '')
      .filter((c) => /^[A-Z]{2}$/.test(c) && c !== '00');
    const programme = childrenNamed(el, 'regulation')[0]?.attrs.programme;
    entries.push({
      id: el.attrs.logicalId ?? el.attrs.euReferenceNumber ?? String(entries.length + 1),
      list,
      kind: euKind(subject?.attrs.code ?? ''),
      names: [...names],
      reference: el.attrs.euReferenceNumber || undefined,
      programme: programme || undefined,
      birthDates: births.length ? births : undefined,
      countries: countries.length ? [...new Set(countries)] : undefined,
    });
  });
  if (root !== 'export') throw new ListFormatError(`not an EU FSF export (root <${root}>)`);
  return entries;
}

// ---- UN Security Council -------------------------------------------------------------------

function unEntry(el: XmlElement, kind: SubjectKind, list: string): ListEntry | undefined {
  const names = new Set<string>();
  const main = ['FIRST_NAME', 'SECOND_NAME', 'THIRD_NAME', 'FOURTH_NAME']
    .map((n) => childText(el, n))
    .filter(Boolean)
    .join(' ');
  if (main) names.add(main);
  const original = childText(el, 'NAME_ORIGINAL_SCRIPT');
  if (original) names.add(original);
  for (const alias of childrenNamed(el, kind === 'person' ? 'INDIVIDUAL_ALIAS' : 'ENTITY_ALIAS')) {
    const name = childText(alias, 'ALIAS_NAME');
    if (name) names.add(name);
  }
  if (!names.size) return undefined;
  const births = childrenNamed(el, 'INDIVIDUAL_DATE_OF_BIRTH')
    .map((b) => childText(b, 'DATE') || childText(b, 'YEAR') || childText(b, 'FROM_YEAR'))
    .filter(Boolean);
  return {
    id: childText(el, 'DATAID') || childText(el, 'REFERENCE_NUMBER'),
    list,
    kind,
    names: [...names],
    reference: childText(el, 'REFERENCE_NUMBER') || undefined,
    programme: childText(el, 'UN_LIST_TYPE') || undefined,
    birthDates: births.length ? births : undefined,
  };
}

export function parseUnConsolidated(xml: string, list = 'un-sc'): ListEntry[] {
  const entries: ListEntry[] = [];
  const root = forEachElement(xml, new Set(['INDIVIDUAL', 'ENTITY']), (el) => {
    const entry = unEntry(el, el.name === 'INDIVIDUAL' ? 'person' : 'organisation', list);
    if (entry) entries.push(entry);
  });
  if (root !== 'CONSOLIDATED_LIST') {
    throw new ListFormatError(`not a UN consolidated list (root <${root}>)`);
  }
  return entries;
}

// ---- CSV -----------------------------------------------------------------------------------

/** RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF records. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else if (ch === '\x1a') {
      // OFAC's files end with a DOS end-of-file marker.
    } else field += ch;
  }
  if (quoted) throw new ListFormatError('unterminated quoted CSV field');
  if (field !== '' || row.length) {
    row.push(field);
    if (row.length > 1 || row[0] !== '') rows.push(row);
  }
  return rows;
}

/** OFAC's null marker is `-0-` (often followed by a space). */
const ofacValue = (v: string | undefined) => {
  const t = (v ?? '').trim();
  return t === '-0-' ? '' : t;
};

/** "PUTIN, Vladimir Vladimirovich" -> "Vladimir Vladimirovich PUTIN" (individuals are listed surname first). */
function ofacPersonName(name: string): string {
  const comma = name.indexOf(',');
  if (comma < 0) return name;
  return `${name.slice(comma + 1).trim()} ${name.slice(0, comma).trim()}`.trim();
}

export function parseOfacSdn(sdnCsv: string, altCsv?: string, list = 'ofac-sdn'): ListEntry[] {
  const rows = parseCsv(sdnCsv);
  const byId = new Map<string, { kind: SubjectKind | 'other'; names: Set<string>; programme: string }>();
  for (const r of rows) {
    if (r.length < 4) throw new ListFormatError('an OFAC SDN row has fewer than 4 fields');
    const id = r[0]!.trim();
    if (!/^\d+$/.test(id)) throw new ListFormatError(`OFAC ent_num "${id.slice(0, 20)}" is not a number`);
    const type = ofacValue(r[2]).toLowerCase();
    const kind = type === 'individual' ? 'person' : type === '' ? 'organisation' : 'other';
    const raw = ofacValue(r[1]);
    if (!raw) continue;
    byId.set(id, {
      kind,
      names: new Set([kind === 'person' ? ofacPersonName(raw) : raw]),
      programme: ofacValue(r[3]),
    });
  }
  if (altCsv) {
    for (const r of parseCsv(altCsv)) {
      const entry = byId.get((r[0] ?? '').trim());
      const alt = ofacValue(r[3]);
      if (!entry || !alt) continue;
      entry.names.add(entry.kind === 'person' ? ofacPersonName(alt) : alt);
    }
  }
  return [...byId].map(([id, e]) => ({
    id,
    list,
    kind: e.kind,
    names: [...e.names],
    reference: `SDN ${id}`,
    programme: e.programme || undefined,
  }));
}

/** Header CSV: id, schema (Person | Organization | Company | LegalEntity…), name, aliases, birth_date, countries. */
export function parseSimpleCsv(text: string, list: string): ListEntry[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  const col = (name: string) => header.findIndex((h) => h.trim().toLowerCase() === name);
  const [id, schema, name, aliases, birth, countries, sanctions] = [
    col('id'),
    col('schema'),
    col('name'),
    col('aliases'),
    col('birth_date'),
    col('countries'),
    col('sanctions'),
  ];
  if (id < 0 || name < 0) throw new ListFormatError('the CSV header must name at least "id" and "name"');
  const split = (v: string | undefined) =>
    (v ?? '')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
  return rows
    .filter((r) => r[name]?.trim())
    .map((r) => {
      const type = (schema >= 0 ? r[schema] : '')?.trim().toLowerCase() ?? '';
      const births = split(birth >= 0 ? r[birth] : '');
      const ctry = split(countries >= 0 ? r[countries] : '').map((c) => c.toUpperCase());
      return {
        id: r[id]!.trim(),
        list,
        kind: type === 'person' ? 'person' : type === '' ? 'other' : 'organisation',
        names: [...new Set([r[name]!.trim(), ...split(aliases >= 0 ? r[aliases] : '')])],
        programme: split(sanctions >= 0 ? r[sanctions] : '')[0],
        birthDates: births.length ? births : undefined,
        countries: ctry.length ? ctry : undefined,
      } satisfies ListEntry;
    });
}

// ---- detection -----------------------------------------------------------------------------

/** Which format a file's content is in. */
export function detectFormat(text: string): ListFormat {
  const head = text.slice(0, 4096).replace(/^\ufeff/, '');
  if (/^\s*</.test(head)) {
    // Skip the declaration and comments to the first element name.
    const m = /<(?![?!])(?:[A-Za-z_][-\w.]*:)?([A-Za-z_][-\w.]*)/.exec(head);
    if (m?.[1] === 'export') return 'eu-fsf';
    if (m?.[1] === 'CONSOLIDATED_LIST') return 'un-sc';
    throw new ListFormatError(`unknown XML list format (root <${m?.[1] ?? '?'}>)`);
  }
  const firstLine = head.split(/\r?\n/, 1)[0]!.toLowerCase();
  if (/^"?id"?,/.test(firstLine) && firstLine.includes('name')) return 'simple-csv';
  if (/^\d+,/.test(firstLine)) return 'ofac-sdn';
  throw new ListFormatError(
    'unknown list format (expected EU FSF XML, UN XML, OFAC SDN CSV or a CSV with a header)',
  );
}

/** Parses list content; `list` names the list in findings (default: the format's name). */
export function parseList(text: string, options: { list?: string; altCsv?: string } = {}): ListEntry[] {
  const format = detectFormat(text);
  switch (format) {
    case 'eu-fsf':
      return parseEuFsf(text, options.list ?? format);
    case 'un-sc':
      return parseUnConsolidated(text, options.list ?? format);
    case 'ofac-sdn':
      return parseOfacSdn(text, options.altCsv, options.list ?? format);
    case 'simple-csv':
      return parseSimpleCsv(text, options.list ?? format);
  }
}

/**
 * Loads a list file. An OFAC `…sdn….csv` picks up its aliases from the `…alt….csv` beside it.
 * `list` defaults to the format's name.
 */
export function loadListFile(path: string, options: { list?: string } = {}): ListEntry[] {
  const text = readFileSync(path, 'utf8');
  const file = basename(path);
  let altCsv: string | undefined;
  if (/sdn/i.test(file) && file.toLowerCase().endsWith('.csv')) {
    const alt = join(
      dirname(path),
      file.replace(/sdn/i, (m) => (m === 'SDN' ? 'ALT' : 'alt')),
    );
    if (alt !== path && existsSync(alt)) altCsv = readFileSync(alt, 'utf8');
  }
  return parseList(text, { ...options, ...(altCsv ? { altCsv } : {}) });
}
