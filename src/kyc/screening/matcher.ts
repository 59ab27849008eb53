/**
 * Fuzzy name screening: a name against every name and alias of a list, scored with Jaro-Winkler
 * over transliterated, folded names, in three ways — the names as written, their words sorted
 * (so "Putin Vladimir" meets "Vladimir Putin"), and word by word (so a missing patronymic or
 * middle name does not hide a match) — keeping the best. Every match says why it matched.
 */
import { jaroWinkler } from './jaro-winkler.ts';
import { LEGAL_FORMS, nameTokens } from './transliterate.ts';

export type SubjectKind = 'person' | 'organisation';

/** One listed party: its names and aliases as the list gives them, with what helps tell people apart. */
export interface ListEntry {
  /** Stable id within its list (EU logicalId, UN DATAID, OFAC ent_num…). */
  readonly id: string;
  /** Which list: `eu-fsf`, `un-sc`, `ofac-sdn`, `pep`… */
  readonly list: string;
  readonly kind: SubjectKind | 'other';
  readonly names: readonly string[];
  /** The list's own reference (EU.27.28, QDi.001…) and programme, for the explanation. */
  readonly reference?: string | undefined;
  readonly programme?: string | undefined;
  /** YYYY, YYYY-MM or YYYY-MM-DD as listed. */
  readonly birthDates?: readonly string[] | undefined;
  readonly countries?: readonly string[] | undefined;
}

export type MatchMethod = 'exact' | 'reordered' | 'fuzzy';

export interface NameComparison {
  readonly score: number;
  readonly method: MatchMethod;
  /** Token pairs that carried a fuzzy match, e.g. `putin~poutine 0.93`. */
  readonly pairs: readonly string[];
}

export interface NameMatch {
  readonly list: string;
  readonly entryId: string;
  readonly reference?: string | undefined;
  readonly programme?: string | undefined;
  /** The listed name or alias that matched best, as the list spells it. */
  readonly listedName: string;
  /** 0..1, after the birth-date adjustment. */
  readonly score: number;
  readonly method: MatchMethod;
  /** Human-readable reasons, for the reviewer. */
  readonly explanation: string;
}

interface IndexedName {
  readonly raw: string;
  readonly tokens: readonly string[];
  readonly joined: string;
  readonly sorted: string;
}

function prepare(raw: string, kind: SubjectKind | 'other'): IndexedName | undefined {
  let tokens = nameTokens(raw);
  if (kind !== 'person') {
    const kept = tokens.filter((t) => !LEGAL_FORMS.has(t));
    if (kept.length) tokens = kept;
  }
  if (!tokens.length) return undefined;
  return { raw, tokens, joined: tokens.join(' '), sorted: [...tokens].sort().join(' ') };
}

/**
 * Word-by-word score: the best one-to-one pairing of words (greedy on the best pairs), summed and
 * divided by the words that must match — the shorter name's, but at least two when either name has
 * two or more, so a lone common first name never matches a full name.
 */
function tokenScore(q: readonly string[], c: readonly string[]): { score: number; pairs: string[] } {
  const scored: { i: number; j: number; s: number }[] = [];
  for (let i = 0; i < q.length; i++) {
    for (let j = 0; j < c.length; j++) scored.push({ i, j, s: jaroWinkler(q[i]!, c[j]!) });
  }
  scored.sort((x, y) => y.s - x.s);
  const usedQ = new Set<number>();
  const usedC = new Set<number>();
  let sum = 0;
  const pairs: string[] = [];
  for (const { i, j, s } of scored) {
    if (usedQ.has(i) || usedC.has(j)) continue;
    usedQ.add(i);
    usedC.add(j);
    sum += s;
    if (s < 1) pairs.push(`${q[i]}~${c[j]} ${s.toFixed(2)}`);
  }
  const shorter = Math.min(q.length, c.length);
  const needed = shorter >= 2 ? shorter : Math.max(q.length, c.length) >= 2 ? 2 : 1;
  return { score: sum / needed, pairs };
}

function compareIndexed(q: IndexedName, c: IndexedName): NameComparison {
  if (q.joined === c.joined) return { score: 1, method: 'exact', pairs: [] };
  if (q.sorted === c.sorted) return { score: 1, method: 'reordered', pairs: [] };
  const byToken = tokenScore(q.tokens, c.tokens);
  // Names of several words are compared word by word: a whole-string Jaro-Winkler would credit a
  // shared first name as a long common prefix ("Vladimir Petrov" would score 0.90 against
  // "Vladimir Putin"). Whole strings are compared only for one-word names, and as words run
  // together ("Abdul Rahman" / "Abdulrahman") at similar lengths.
  let whole = 0;
  const a = q.tokens.join('');
  const b = c.tokens.join('');
  if (q.tokens.length === 1 && c.tokens.length === 1) whole = jaroWinkler(a, b);
  else if (
    q.tokens.length !== c.tokens.length &&
    Math.min(a.length, b.length) / Math.max(a.length, b.length) >= 0.85
  ) {
    whole = jaroWinkler(a, b);
  }
  if (byToken.score >= whole) {
    // All words found, in some order, some missing from the longer name.
    const allExact = byToken.pairs.length === 0 && byToken.score === 1;
    return { score: byToken.score, method: allExact ? 'reordered' : 'fuzzy', pairs: byToken.pairs };
  }
  return { score: whole, method: 'fuzzy', pairs: [] };
}

/** Two names compared as screening compares them (both transliterated and folded). */
export function compareNames(query: string, candidate: string, kind: SubjectKind = 'person'): NameComparison {
  const q = prepare(query, kind);
  const c = prepare(candidate, kind);
  if (!q || !c) return { score: 0, method: 'fuzzy', pairs: [] };
  return compareIndexed(q, c);
}

export interface ScreenOptions {
  readonly kind: SubjectKind;
  /** YYYY-MM-DD: a listed birth year more than a year away lowers the score. */
  readonly birthDate?: string | undefined;
  /** Override the screener's threshold. */
  readonly threshold?: number | undefined;
}

/** Lowers the score of a name match whose listed birth years are all far from the subject's. */
const BIRTH_MISMATCH_FACTOR = 0.9;

export const DEFAULT_THRESHOLD = 0.9;

/** A list indexed once (at boot) and screened many times. */
export class NameScreener {
  readonly threshold: number;
  private readonly entries: { entry: ListEntry; names: IndexedName[] }[];

  constructor(entries: readonly ListEntry[], options: { threshold?: number } = {}) {
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    if (!(this.threshold > 0 && this.threshold <= 1)) throw new Error('threshold must be in (0, 1]');
    this.entries = entries.map((entry) => ({
      entry,
      names: entry.names.map((n) => prepare(n, entry.kind)).filter((n): n is IndexedName => !!n),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** Every listed party whose best name scores at or above the threshold, best first. */
  screen(name: string, options: ScreenOptions): NameMatch[] {
    const q = prepare(name, options.kind);
    if (!q) return [];
    const threshold = options.threshold ?? this.threshold;
    const matches: NameMatch[] = [];
    for (const { entry, names } of this.entries) {
      // A person is not screened against vessels or companies, nor a company against people.
      if (entry.kind !== 'other' && entry.kind !== options.kind) continue;
      let best: { c: IndexedName; r: NameComparison } | undefined;
      for (const c of names) {
        const r = compareIndexed(q, c);
        if (!best || r.score > best.r.score) best = { c, r };
        if (r.score === 1) break;
      }
      // Cheap exit before the birth-date logic: nothing close enough.
      if (!best || best.r.score < threshold) continue;
      const reasons = [describe(best.r, best.c.raw)];
      let score = best.r.score;
      const birth = birthAgreement(options.birthDate, entry.birthDates);
      if (birth === 'mismatch') {
        score *= BIRTH_MISMATCH_FACTOR;
        reasons.push(`listed birth dates (${entry.birthDates!.join(', ')}) are more than a year away`);
      } else if (birth === 'match') {
        reasons.push('a listed birth date agrees');
      }
      if (score < threshold) continue;
      matches.push({
        list: entry.list,
        entryId: entry.id,
        reference: entry.reference,
        programme: entry.programme,
        listedName: best.c.raw,
        score: Math.round(score * 1000) / 1000,
        method: best.r.method,
        explanation: reasons.join('; '),
      });
    }
    return matches.sort((a, b) => b.score - a.score);
  }
}

function describe(r: NameComparison, listed: string): string {
  const s = r.score.toFixed(3);
  if (r.method === 'exact') return `same name as "${listed}" after transliteration and case folding`;
  if (r.method === 'reordered') return `same words as "${listed}" in another order or with words omitted`;
  const detail = r.pairs.length ? ` (${r.pairs.slice(0, 4).join(', ')})` : '';
  return `similar to "${listed}": Jaro-Winkler ${s}${detail}`;
}

function birthAgreement(
  subject: string | undefined,
  listed: readonly string[] | undefined,
): 'match' | 'mismatch' | 'unknown' {
  if (!subject || !listed?.length) return 'unknown';
  const year = Number(subject.slice(0, 4));
  let close = false;
  for (const d of listed) {
    if (d === subject) return 'match';
    const y = Number(d.slice(0, 4));
    if (Number.isFinite(y) && Math.abs(y - year) <= 1) close = true;
  }
  return close ? 'match' : 'mismatch';
}
