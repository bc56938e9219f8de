/**
 * Target text for a training prompt in which one attribute's true value was replaced by another
 * ("sleeve length: Short Sleeves" → "Long Sleeves"): every mention of the true value in the title
 * and description — found by the lexicon's matcher, the one grounding and the evaluation use — is
 * rewritten to a surface form of the new value, so the decoder learns to follow its prompt instead
 * of never seeing those items. Browser-safe, no I/O.
 *
 * Which mentions change. A mention of the attribute that agrees with the true value (the families
 * meet) and disagrees with the new one; one that agrees with both is rewritten only when it names
 * the true value itself ("Sports Shoes" → "Casual Shoes", "navy blue" → "blue") and a form named
 * after the new value fits. Weak forms ("metal", "orange" in a perfume's notes) are ordinary words
 * and change only when they name the true value itself ("Orange T-shirt"). Advice sentences
 * ("Pair it with blue jeans") describe other items and are left alone, as the metric skips them.
 *
 * Which form replaces a mention: one whose term names the new value, or a synonym term (not
 * another catalog value) whose families lie within the new value's — in the same grammatical
 * variant: the same trailing *frame words* (words such as "sleeves", "sleeved", "neck", "collar"
 * that the forms of unrelated values share but that are no form alone) and the same number of the
 * last word. So "short-sleeved" → "long-sleeved", "half sleeves" → "long sleeves", "stripes" →
 * "checks"; "sleeveless" has no variant among the short-sleeve forms and "stripes" none among the
 * solid ones: such a replacement is refused. Forms kept only for matching ("fullsleeve") are never
 * written. The replacement takes the mention's separators where the two share frame words, else the
 * value's or term's spelling ("V-Neck"), and the mention's capitalisation: Title Case in Title Case
 * titles, lower case inside sentences, a capital where a sentence starts, all capitals kept.
 *
 * A rewrite is refused (null) when a mention cannot be rewritten in its variant, when the text
 * already names the new value as a secondary one ("blue and white" → "white and white"), or when
 * the evaluation's check (checkListing) finds the replaced attribute contradicted afterwards or
 * another prompted attribute contradicted that the original text did not contradict (one phrase can
 * name two attributes: H&M's colour and colour master). The caller then tries another value.
 */
import {
  adviceSpans,
  type AttributeLexicon,
  checkListing,
  familiesIntersect,
  findMentions,
  type Lexicon,
  type ListingText,
  type Mention,
  referenceFamilies,
  type Term,
} from '../model/lexicon.ts';
import type { Segment } from '../model/lexicon-schemas.ts';
import { formOf, singularOf } from '../model/phrases.ts';

/** The attribute whose prompted value differs from the item's, and the item's true value. */
export interface ReplacedValue {
  attribute: string;
  truth: string;
}

/** Plurals that suffix rules do not recognise. */
const IRREGULAR_PLURALS = new Set(['men', 'women', 'children', 'feet']);

function isPlural(word: string): boolean {
  return IRREGULAR_PLURALS.has(word) || singularOf(word) !== word;
}

/** A form's grammatical variant: its trailing frame words and whether its last word is plural. */
function variantOf(form: string, frameWords: ReadonlySet<string>): { frame: string; key: string } {
  const ws = form.split(' ');
  let start = ws.length;
  while (start > 0 && frameWords.has(ws[start - 1])) start--;
  const frame = ws.slice(start).join(' ');
  return { frame, key: `${frame}|${isPlural(ws[ws.length - 1]) ? 'plural' : 'singular'}` };
}

interface Candidate {
  form: string;
  /** Its term names the new value itself (not a synonym). */
  namesValue: boolean;
  /** Words shared with the new value's own form ("long sleeved" for Long Sleeves: 1). */
  sharedWords: number;
}

/** What one attribute's rewrites need, derived once from its lexicon. */
interface RewriteTables {
  frameWords: Set<string>;
  /** Normalised catalog values of the attribute. */
  values: Set<string>;
  /** Normalised form → a written spelling (catalog value or term phrase: "V-Neck", "3/4 sleeves"). */
  spellings: Map<string, string>;
  /** Forms never written as replacements (see unwritable). */
  unwritable: Set<string>;
  /** New value → variant → replacement forms, best first. */
  candidates: Map<string, Map<string, string[]>>;
}

const TABLES = new WeakMap<AttributeLexicon, RewriteTables>();

/** Words that forms of terms with disjoint families share and that are not forms by themselves. */
function sharedFrameWords(attr: AttributeLexicon): Set<string> {
  const familiesByWord = new Map<string, ReadonlySet<string>[]>();
  for (const [form, term] of attr.forms) {
    for (const w of form.split(' ')) familiesByWord.set(w, [...(familiesByWord.get(w) ?? []), term.families]);
  }
  const out = new Set<string>();
  for (const [w, sets] of familiesByWord) {
    if (attr.forms.has(w)) continue;
    if (sets.some((a, i) => sets.slice(i + 1).some((b) => !familiesIntersect(a, b)))) out.add(w);
  }
  return out;
}

/**
 * Forms the matcher knows but a writer would not use: joined spellings ("fullsleeve", kept so that
 * text written that way is matched) and generated singulars of one or two letters ("ty" from
 * "ties"), unless a catalog value or term spells them so ("Tshirts"); and the words of a value
 * that lists alternatives ("Jumpsuit/Playsuit" read as "jumpsuit playsuit"; its heads stay).
 */
function unwritable(attr: AttributeLexicon, spellings: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const form of attr.forms.keys()) {
    if (form.includes(' ')) out.add(form.replace(/ /g, ''));
    if (form.split(' ').pop()!.length <= 2) out.add(form);
  }
  for (const spelled of spellings.keys()) out.delete(spelled);
  for (const [form, term] of attr.forms) if (form.includes(' ') && /\p{L}\/\p{L}/u.test(term.label)) out.add(form);
  return out;
}

function tablesOf(attr: AttributeLexicon): RewriteTables {
  let t = TABLES.get(attr);
  if (t) return t;
  const catalogValues = [...attr.valueFamilies.keys(), ...attr.unchecked.keys()];
  const spellings = new Map<string, string>();
  for (const phrase of [...catalogValues, ...attr.knowledge.terms.flatMap((term) => [term.name, ...term.forms])]) {
    if (!spellings.has(formOf(phrase))) spellings.set(formOf(phrase), phrase);
  }
  t = { frameWords: sharedFrameWords(attr), values: new Set(catalogValues.map(formOf)), spellings, unwritable: unwritable(attr, spellings), candidates: new Map() };
  TABLES.set(attr, t);
  return t;
}

/** Replacement forms of `value` grouped by variant, best first (see the module comment). */
function candidatesOf(attr: AttributeLexicon, tables: RewriteTables, value: string, families: ReadonlySet<string>): Map<string, string[]> {
  const known = tables.candidates.get(value);
  if (known) return known;
  const valueForm = formOf(value);
  const valueWords = new Set(valueForm.split(' '));
  const found: Candidate[] = [];
  for (const [form, term] of attr.forms) {
    const label = formOf(term.label);
    // A weak form is ambiguous to read ("lavender" notes) but right to write for its own value.
    const namesValue = label === valueForm;
    const synonym = !term.weak && !tables.values.has(label) && [...term.families].every((f) => families.has(f));
    if (tables.unwritable.has(form) || !(namesValue || synonym)) continue;
    found.push({ form, namesValue, sharedWords: form.split(' ').filter((w) => valueWords.has(w)).length });
  }
  found.sort(
    (a, b) =>
      Number(b.namesValue) - Number(a.namesValue) ||
      b.sharedWords - a.sharedWords ||
      a.form.split(' ').length - b.form.split(' ').length ||
      (a.form < b.form ? -1 : a.form > b.form ? 1 : 0),
  );
  const byVariant = new Map<string, string[]>();
  for (const c of found) {
    const variant = variantOf(c.form, tables.frameWords).key;
    const list = byVariant.get(variant) ?? [];
    byVariant.set(variant, list);
    list.push(c.form);
  }
  tables.candidates.set(value, byVariant);
  return byVariant;
}

/** The words of a written phrase with their original case, and the separators between them. */
function writtenWords(text: string): { words: string[]; separators: string[] } {
  const matches = [...text.matchAll(/[\p{L}\p{N}]+/gu)];
  return {
    words: matches.map((m) => m[0]),
    separators: matches.slice(1).map((m, i) => text.slice(matches[i].index + matches[i][0].length, m.index)),
  };
}

type CaseStyle = 'upper' | 'title' | 'sentence' | 'lower';

const isCapitalised = (w: string) => w[0] !== w[0].toLowerCase();

/** Words of two letters or more: the "T" of "T-shirt" is a letter shape, not a capital. */
const realWords = (text: string) => writtenWords(text).words.filter((w) => w.length >= 2);

/**
 * How the mention is capitalised, read so that a replacement can copy it: all capitals; Title Case
 * where the mention is (a one-word mention: where its title is); a capital on the first word
 * where the mention has one and starts a title or sentence, or the writer capitalised it.
 */
function caseStyle(segmentText: string, mention: Mention, segment: Segment): CaseStyle {
  const letters = mention.text.replace(/[^\p{L}]/gu, '');
  if (letters.length >= 2 && letters === letters.toUpperCase() && letters !== letters.toLowerCase()) return 'upper';
  if (letters === '' || !isCapitalised(letters)) return 'lower';
  const own = realWords(mention.text);
  const allCapitalised = own.length > 0 && own.every(isCapitalised);
  if (allCapitalised && own.length >= 2) return 'title';
  if (segment === 'title') {
    const all = realWords(segmentText);
    return allCapitalised && all.filter(isCapitalised).length * 2 >= all.length ? 'title' : 'sentence';
  }
  const startsSentence = /(^|[.!?:;\n])\s*$/.test(segmentText.slice(0, mention.start));
  return startsSentence || allCapitalised ? 'sentence' : 'lower';
}

const capitalise = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

/** Words Title Case leaves in lower case ("Foundation and Primer"). */
const MINOR_WORDS = new Set(['a', 'an', 'and', 'or', 'of', 'the', 'with', 'in', 'for']);

/**
 * A replacement form written in the mention's style. Separators: the mention's own where the two
 * share frame words ("short-sleeved" → "long-sleeved"), else the value's or term's spelling
 * ("V-Neck"), else spaces — a hyphen inside a word ("T-shirt") says nothing about the new one.
 */
function written(form: string, mention: Mention, style: CaseStyle, spellings: ReadonlyMap<string, string>, framed: boolean): string {
  const ws = form.split(' ');
  const own = writtenWords(mention.text).separators;
  const spelled = spellings.get(form);
  const separators =
    framed && own.length === ws.length - 1 && own.some((s) => s !== ' ')
      ? own
      : spelled !== undefined
        ? writtenWords(spelled).separators
        : ws.slice(1).map(() => ' ');
  const cased = ws.map((w, i) => {
    // One-letter words name letter shapes: V-neck, T-shirt, U-neck.
    if ((w.length === 1 && w !== 'a') || style === 'upper') return w.toUpperCase();
    return (style === 'title' && (i === 0 || !MINOR_WORDS.has(w))) || (style === 'sentence' && i === 0) ? capitalise(w) : w;
  });
  return cased.map((w, i) => (i === 0 ? w : separators[i - 1] + w)).join('');
}

/** Whether a term names `value` itself rather than only agreeing with it. */
const names = (term: Term, value: string) => formOf(term.label) === formOf(value);

/**
 * The listing text rewritten to agree with `prompted`, in which `replaced.attribute` holds a new
 * value instead of the item's true value; null when that cannot be done safely (see the module
 * comment). `ignore` lists phrases that are not mentions (the brand: "Red Tape").
 */
export function rewriteForReplacedValue(
  lexicon: Lexicon,
  text: ListingText,
  prompted: Readonly<Record<string, string>>,
  replaced: ReplacedValue,
  ignore: readonly string[] = [],
): ListingText | null {
  const { attribute, truth } = replaced;
  const value = prompted[attribute];
  const attr = lexicon.attributes.get(attribute);
  const oldFamilies = referenceFamilies(lexicon, attribute, truth);
  const newFamilies = referenceFamilies(lexicon, attribute, value);
  if (!attr || !oldFamilies || !newFamilies) return null;
  const tables = tablesOf(attr);
  const candidates = candidatesOf(attr, tables, value, newFamilies);
  const out: ListingText = { ...text };
  for (const segment of ['title', 'description'] as const) {
    const segmentText = text[segment];
    const advice = segment === 'description' ? adviceSpans(segmentText) : [];
    const edits: { start: number; end: number; text: string }[] = [];
    for (const mention of findMentions(lexicon, segmentText, ignore)) {
      const term = mention.terms.find((t) => t.attribute === attribute);
      if (!term || advice.some(([s, e]) => mention.start >= s && mention.end <= e)) continue;
      const agreesOld = familiesIntersect(term.families, oldFamilies);
      const agreesNew = familiesIntersect(term.families, newFamilies);
      if (!agreesOld) {
        // The text already names the new value as another one ("blue and white" → white).
        if (agreesNew && (!term.weak || names(term, value))) return null;
        continue;
      }
      const namesTruth = names(term, truth);
      if ((term.weak || agreesNew) && !namesTruth) continue;
      const variant = variantOf(mention.form, tables.frameWords);
      const options = (candidates.get(variant.key) ?? []).filter((f) => !agreesNew || names(attr.forms.get(f)!, value));
      if (options.length === 0) {
        if (agreesNew) continue;
        return null;
      }
      const replacement = written(options[0], mention, caseStyle(segmentText, mention, segment), tables.spellings, variant.frame !== '');
      // "Men's" → "Boys'", not "Boys's".
      const possessive = /^['’]s\b/.exec(segmentText.slice(mention.end));
      const pluralPossessive = possessive !== null && /s$/i.test(replacement) && isPlural(options[0].split(' ').pop()!);
      edits.push({
        start: mention.start,
        end: pluralPossessive ? mention.end + possessive[0].length : mention.end,
        text: pluralPossessive ? replacement + possessive[0].charAt(0) : replacement,
      });
    }
    let rewritten = segmentText;
    for (const e of edits.reverse()) rewritten = rewritten.slice(0, e.start) + e.text + rewritten.slice(e.end);
    out[segment] = rewritten;
  }
  const before = checkListing(lexicon, text, { ...prompted, [attribute]: truth }, ignore).contradicted;
  const after = checkListing(lexicon, out, prompted, ignore).contradicted;
  return after.some((a) => a === attribute || !before.includes(a)) ? null : out;
}
