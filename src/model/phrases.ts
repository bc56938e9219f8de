/**
 * Words and phrase forms shared by the lexicon, its schemas and grounded decoding. A text is read
 * as a sequence of words: maximal runs of Unicode letters and digits, lower-cased; everything else
 * separates words. Browser-safe.
 */

/** One word of a text: lower-cased letters/digits with its character span in the original text. */
export interface Word {
  text: string;
  start: number;
  end: number;
}

const WORD_RUN = /[\p{L}\p{N}]+/gu;

/** The words of `text` (see the module comment). */
export function words(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(WORD_RUN)) {
    out.push({ text: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/** The normalised form of a phrase: its words joined by single spaces ("V-Neck" → "v neck"). */
export function formOf(phrase: string): string {
  return words(phrase)
    .map((w) => w.text)
    .join(' ');
}

/** The singular of an English noun by suffix rules ("dresses" → "dress"), or the word itself. */
export function singularOf(word: string): string {
  if (/[^aeiou]ies$/.test(word)) return word.slice(0, -3) + 'y';
  if (/(ss|x|z|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

function pluralOf(word: string): string {
  if (/(s|x|z|ch|sh)$/.test(word)) return word + 'es';
  if (/[^aeiou]y$/.test(word)) return word.slice(0, -1) + 'ies';
  return word + 's';
}

/** The word and its singular or plural; `keep` lists words left alone ("shorts" is not "short"s). */
export function numberVariants(word: string, keep: ReadonlySet<string>): string[] {
  if (keep.has(word) || word.length < 3 || /\d/.test(word)) return [word];
  const single = singularOf(word);
  return [word, single !== word ? single : pluralOf(word)];
}

/**
 * Surface forms of one phrase: its form, singular/plural of its last word (when `inflect`), and
 * for two-word phrases the joined spelling ("t shirt" → "tshirt", "off white" → "offwhite").
 */
export function surfaceForms(phrase: string, inflect: boolean, keep: ReadonlySet<string>): string[] {
  const ws = formOf(phrase).split(' ').filter((w) => w.length > 0);
  if (ws.length === 0) return [];
  const lasts = inflect ? numberVariants(ws[ws.length - 1], keep) : [ws[ws.length - 1]];
  const out = new Set<string>();
  for (const last of lasts) {
    const variant = [...ws.slice(0, -1), last];
    out.add(variant.join(' '));
    if (variant.length === 2) out.add(variant.join(''));
  }
  return [...out];
}

