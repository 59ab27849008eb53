/**
 * Names to a comparable Latin form: Cyrillic and Greek transliterated, diacritics folded, case
 * and punctuation dropped. Both the screened name and every list name go through the same
 * function, so "Владимир Путин", "VLADIMIR PUTIN" and "Vladímir Pútin" meet as "vladimir putin".
 *
 * Cyrillic follows BGN/PCGN romanisation (the one sanctions lists and the English press mostly
 * use: Yanukovych, Khodorkovsky), with Ukrainian letters; Greek follows ELOT 743 / ISO 843.
 */

// biome-ignore format: a transliteration table reads best in rows
const CYRILLIC: Readonly<Record<string, string>> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k',
  л: 'l', м: 'm', н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts',
  ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya',
  // Ukrainian, Belarusian, Serbian/Macedonian
  і: 'i', ї: 'yi', є: 'ye', ґ: 'g', ў: 'u', ђ: 'dj', ј: 'j', љ: 'lj', њ: 'nj', ћ: 'c', џ: 'dz',
  ѓ: 'gj', ќ: 'kj', ѕ: 'dz',
};

// biome-ignore format: a transliteration table reads best in rows
const GREEK: Readonly<Record<string, string>> = {
  α: 'a', β: 'v', γ: 'g', δ: 'd', ε: 'e', ζ: 'z', η: 'i', θ: 'th', ι: 'i', κ: 'k', λ: 'l', μ: 'm',
  ν: 'n', ξ: 'x', ο: 'o', π: 'p', ρ: 'r', σ: 's', ς: 's', τ: 't', υ: 'y', φ: 'f', χ: 'ch', ψ: 'ps',
  ω: 'o',
};

/** Latin letters that Unicode decomposition does not fold to ASCII. */
// biome-ignore format: a transliteration table reads best in rows
const LATIN: Readonly<Record<string, string>> = {
  ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i', ŀ: 'l', ħ: 'h',
  ŧ: 't', ĸ: 'k', ŋ: 'ng', ſ: 's',
};

const mapChar = (ch: string): string | undefined => CYRILLIC[ch] ?? GREEK[ch] ?? LATIN[ch];

/** Lower case ASCII letters, digits and single spaces. */
export function foldName(value: string): string {
  // NFKC folds compatibility forms (full-width letters, ligatures like ﬁ) and composes й, ё…
  let latin = '';
  for (const ch of value.normalize('NFKC').toLowerCase()) {
    const mapped = mapChar(ch);
    if (mapped !== undefined) {
      latin += mapped;
      continue;
    }
    // Otherwise decompose and drop the combining marks: é -> e, ά -> α -> a, ѐ -> е -> e.
    for (const part of ch.normalize('NFD')) {
      const code = part.codePointAt(0)!;
      if (code >= 0x300 && code <= 0x36f) continue;
      latin += mapChar(part) ?? part;
    }
  }
  return latin
    .replace(/['’ʼ`´]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Tokens of a folded name, in order. */
export function nameTokens(value: string): string[] {
  const folded = foldName(value);
  return folded ? folded.split(' ') : [];
}

/**
 * Legal-form words that say nothing about which company it is ("Acme Trading LLC" and "ACME
 * TRADING, L.L.C." are one name); dropped from business names before comparison.
 */
// biome-ignore format: a word list reads best in rows
export const LEGAL_FORMS: ReadonlySet<string> = new Set([
  'ltd', 'limited', 'llc', 'llp', 'lp', 'plc', 'inc', 'incorporated', 'corp', 'corporation', 'co',
  'company', 'gmbh', 'ag', 'kg', 'se', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'oy', 'ab',
  'as', 'aps', 'sp', 'zoo', 'ooo', 'oao', 'zao', 'pao', 'ao', 'jsc', 'pjsc', 'fze', 'fzco', 'fzc',
  'the', 'of', 'and',
]);
