/**
 * The attribute lexicon: surface forms of attribute values ("short sleeves", "short-sleeved",
 * "half sleeves" for Sleeve Length = Short Sleeves), a matcher that finds whole-phrase mentions of
 * them in text, and the contradiction check that the hallucination metrics (src/eval) and grounded
 * decoding (grounding.ts) share. Browser-safe, no I/O.
 *
 * Text is compared as a sequence of *words*: maximal runs of Unicode letters and digits,
 * lower-cased. Hyphens, spaces, slashes and apostrophes are all separators, so "short-sleeved",
 * "short sleeved" and "Short  Sleeved" are the same phrase; joined spellings ("tshirt", "vneck")
 * are added as forms of their own. A form is its words joined by single spaces.
 *
 * Compatibility is by *families*: every term (a value or a synonym) and every reference value has a
 * set of families ("Navy Blue" → {blue}, "teal" → {blue, green}); a mention agrees with a value
 * when the two sets intersect. Which attributes are checked, their families and every exclusion are
 * configured per attribute kind in lexicon-schemas.ts and documented in docs/metrics.md.
 */
import { type AttributeKind, type KindKnowledge, KIND_KNOWLEDGE, type LexiconSchema, schemaFor, type Segment } from './lexicon-schemas.ts';
import { isMissingValue } from '../data/schema.ts';
import { formOf, surfaceForms, words, type Word } from './phrases.ts';

// ---------------------------------------------------------------------------------------------
// The lexicon
// ---------------------------------------------------------------------------------------------

/** Something a phrase can mean for one attribute: a catalog value or a synonym term. */
export interface Term {
  attribute: string;
  /** The catalog value the phrase names, or the synonym's canonical name when it names none. */
  label: string;
  families: ReadonlySet<string>;
  /** A weak form (see KindKnowledge.weakForms): it may agree but never contradicts. */
  weak: boolean;
}

export interface AttributeLexicon {
  attribute: string;
  kind: AttributeKind;
  knowledge: KindKnowledge;
  /** Checked catalog values and their families. */
  valueFamilies: ReadonlyMap<string, ReadonlySet<string>>;
  /** Catalog values that are not checked, with the reason (documented in docs/metrics.md). */
  unchecked: ReadonlyMap<string, string>;
  /** Every surface form of the attribute and the term it names. */
  forms: ReadonlyMap<string, Term>;
}

interface TrieNode {
  next: Map<string, TrieNode>;
  /** Terms of the phrase ending at this node (one per attribute), when it is a form. */
  terms?: Term[];
}

export interface Lexicon {
  catalog: string;
  attributes: ReadonlyMap<string, AttributeLexicon>;
  /** Word-level trie over all forms of all attributes. */
  root: TrieNode;
}

/** Every surface form of a kind's terms and the families it names (union when two terms share a form). */
function termFormFamilies(knowledge: KindKnowledge): Map<string, Set<string>> {
  const keep = new Set(knowledge.noInflection);
  const out = new Map<string, Set<string>>();
  for (const t of knowledge.terms) {
    for (const phrase of [t.name, ...t.forms]) {
      for (const f of surfaceForms(phrase, knowledge.inflect, keep)) {
        const fams = out.get(f) ?? new Set<string>();
        for (const x of t.families) fams.add(x);
        out.set(f, fams);
      }
    }
  }
  return out;
}

const TERM_FORMS = new Map<KindKnowledge, Map<string, Set<string>>>();

function termForms(knowledge: KindKnowledge): Map<string, Set<string>> {
  let m = TERM_FORMS.get(knowledge);
  if (!m) TERM_FORMS.set(knowledge, (m = termFormFamilies(knowledge)));
  return m;
}

/**
 * Families of a value of an attribute of this kind, or the reason it cannot be checked. The value
 * is looked up whole (unchecked values, value aliases, term forms), then — for kinds whose values
 * compose words, like "Dark Blue" or "Greenish Khaki" — word by word, then by its head noun.
 */
export function familiesOfValue(knowledge: KindKnowledge, value: string): { families: Set<string> } | { reason: string } {
  const form = formOf(value);
  const excluded = knowledge.uncheckedValues[form];
  if (excluded) return { reason: excluded };
  const alias = knowledge.valueAliases?.[form];
  if (alias) return { families: new Set(alias) };
  const forms = termForms(knowledge);
  const whole = forms.get(form);
  if (whole) return { families: new Set(whole) };
  if (knowledge.composeByWords) {
    const fams = new Set<string>();
    for (const w of form.split(' ')) for (const f of forms.get(w) ?? []) fams.add(f);
    if (fams.size > 0) return { families: fams };
  }
  const classified = knowledge.classifyValue?.(value);
  if (classified) return 'reason' in classified ? classified : { families: new Set(classified.families) };
  return { reason: knowledge.unrecognised };
}

function addForm(forms: Map<string, Term>, form: string, term: Term): void {
  if (form.length === 0) return;
  const existing = forms.get(form);
  // One phrase with two meanings within an attribute keeps the first label (catalog values come
  // first) and agrees with the union of families: the lenient reading, so human text is not flagged.
  forms.set(form, existing ? { ...existing, families: new Set([...existing.families, ...term.families]) } : term);
}

/** The forms of one attribute: its checked values', its kind's terms' and the extra forms. */
function attributeForms(attribute: string, knowledge: KindKnowledge, valueFamilies: ReadonlyMap<string, ReadonlySet<string>>): Map<string, Term> {
  const keep = new Set(knowledge.noInflection);
  const weak = new Set(knowledge.weakForms.map(formOf));
  const forms = new Map<string, Term>();
  const add = (phrase: string, label: string, families: Iterable<string>) => {
    for (const f of surfaceForms(phrase, knowledge.inflect, keep)) {
      addForm(forms, f, { attribute, label, families: new Set(families), weak: weak.has(f) });
    }
  };
  // Catalog values first, so a phrase that names a value is reported under that value's name.
  for (const [value, families] of valueFamilies) add(value, value, families);
  for (const t of knowledge.terms) for (const phrase of [t.name, ...t.forms]) add(phrase, t.name, t.families);
  for (const x of knowledge.extraForms?.([...valueFamilies.keys()]) ?? []) add(x.phrase, x.value, x.families);
  return forms;
}

/** Attribute name → the values it takes: what a catalog's lexicon is built from. */
export type AttributeVocabulary = Readonly<Record<string, readonly string[]>>;

/**
 * Builds the lexicon of a catalog from its schema (which attributes are checked and as what kind)
 * and its vocabulary (attribute → the values seen in the catalog).
 */
export function buildLexicon(schema: LexiconSchema, vocabulary: AttributeVocabulary): Lexicon {
  const attributes = new Map<string, AttributeLexicon>();
  const root: TrieNode = { next: new Map() };
  for (const { attribute, kind } of schema.attributes) {
    const values = vocabulary[attribute];
    if (!values) continue;
    const knowledge = KIND_KNOWLEDGE[kind];
    const valueFamilies = new Map<string, Set<string>>();
    const unchecked = new Map<string, string>();
    for (const value of values) {
      const r = familiesOfValue(knowledge, value);
      if ('reason' in r) unchecked.set(value, r.reason);
      else valueFamilies.set(value, r.families);
    }
    const forms = attributeForms(attribute, knowledge, valueFamilies);
    attributes.set(attribute, { attribute, kind, knowledge, valueFamilies, unchecked, forms });
    for (const [form, term] of forms) {
      let node = root;
      for (const w of form.split(' ')) {
        let child = node.next.get(w);
        if (!child) node.next.set(w, (child = { next: new Map() }));
        node = child;
      }
      (node.terms ??= []).push(term);
    }
  }
  return { catalog: schema.catalog, attributes, root };
}

/**
 * The lexicon of a catalog from its value vocabulary, attributes checked by name (`schemaFor`).
 * The one builder of both the evaluation's lexicon and grounded decoding's, so that every value
 * the metric can read in a text is also one grounding can ban.
 */
export function catalogLexicon(catalog: string, vocabulary: AttributeVocabulary): Lexicon {
  return buildLexicon(schemaFor(catalog, Object.keys(vocabulary)), vocabulary);
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Attribute → values from (attribute, values) pairs: missing-value markers ("Unknown", "NA") are
 * never values, attributes left without a value are dropped, and attributes and values are sorted
 * by code units, so equal value sets give equal vocabularies — and equal lexicons — whatever the
 * order or frequency they were seen in.
 */
function canonicalVocabulary(entries: Iterable<readonly [string, Iterable<string>]>): Record<string, string[]> {
  const values = new Map<string, Set<string>>();
  for (const [attribute, list] of entries) {
    let set = values.get(attribute);
    if (!set) values.set(attribute, (set = new Set()));
    for (const value of list) if (!isMissingValue(value)) set.add(value);
  }
  return Object.fromEntries(
    [...values]
      .filter(([, set]) => set.size > 0)
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([attribute, set]) => [attribute, [...set].sort(byCodeUnits)]),
  );
}

/**
 * The value vocabulary of catalog items: every attribute and every value it takes, rare or not.
 * The trainer stores it with the weights (over the training split) and the evaluator computes it
 * the same way, so grounding and the metric read the same lexicon.
 */
export function attributeVocabulary(items: Iterable<{ attributes: Readonly<Record<string, string>> }>): Record<string, string[]> {
  const entries: [string, string[]][] = [];
  for (const item of items) for (const [attribute, value] of Object.entries(item.attributes)) entries.push([attribute, [value]]);
  return canonicalVocabulary(entries);
}

/** The union of vocabularies, in the same canonical form as attributeVocabulary. */
export function mergeVocabularies(...vocabularies: AttributeVocabulary[]): Record<string, string[]> {
  return canonicalVocabulary(vocabularies.flatMap((v) => Object.entries(v)));
}

/** The lexicon of a catalog built from its items' attribute values. */
export function lexiconFromItems(catalog: string, items: Iterable<{ attributes: Readonly<Record<string, string>> }>): Lexicon {
  return catalogLexicon(catalog, attributeVocabulary(items));
}

/** The families a reference value of `attribute` has, or undefined when it is not checked. */
export function referenceFamilies(lexicon: Lexicon, attribute: string, value: string | null | undefined): ReadonlySet<string> | undefined {
  if (value == null) return undefined;
  const attr = lexicon.attributes.get(attribute);
  if (!attr) return undefined;
  const known = attr.valueFamilies.get(value);
  if (known) return known;
  if (attr.unchecked.has(value)) return undefined;
  // A value outside the catalog vocabulary (a user-supplied fact): derive its families the same way.
  const r = familiesOfValue(attr.knowledge, value);
  return 'families' in r ? r.families : undefined;
}

export function familiesIntersect(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const f of a) if (b.has(f)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/** One phrase found in a text and what it names for each attribute it belongs to. */
export interface Mention {
  /** The matched phrase as written. */
  text: string;
  form: string;
  start: number;
  end: number;
  /** Index of the first word of the match among the text's words. */
  wordIndex: number;
  /** The word right after the match, if any. */
  nextWord?: string;
  terms: readonly Term[];
}

/**
 * Whole-phrase mentions of lexicon forms, leftmost-longest: from each word the longest form that
 * starts there is taken and the scan resumes after it, so "t shirts" is one mention (never
 * "shirts"), "navy blue" one (never "blue"), "shirt collar" one neck mention (never "shirt").
 * Text inside `ignore` phrases (a brand name such as "Red Tape") is skipped.
 */
export function findMentions(lexicon: Lexicon, text: string, ignore: readonly string[] = []): Mention[] {
  const ws = words(text);
  const skip = ignoredWords(ws, ignore);
  const out: Mention[] = [];
  let i = 0;
  while (i < ws.length) {
    let node: TrieNode | undefined = lexicon.root;
    let bestEnd = -1;
    let bestTerms: Term[] | undefined;
    for (let j = i; j < ws.length && !skip[j]; j++) {
      node = node.next.get(ws[j].text);
      if (!node) break;
      if (node.terms) {
        bestEnd = j;
        bestTerms = node.terms;
      }
    }
    if (bestTerms && !skip[i]) {
      out.push({
        text: text.slice(ws[i].start, ws[bestEnd].end),
        form: ws.slice(i, bestEnd + 1).map((w) => w.text).join(' '),
        start: ws[i].start,
        end: ws[bestEnd].end,
        wordIndex: i,
        nextWord: ws[bestEnd + 1]?.text,
        terms: bestTerms,
      });
      i = bestEnd + 1;
    } else {
      i++;
    }
  }
  return out;
}

/** Marks the words covered by any occurrence of any ignored phrase. */
function ignoredWords(ws: readonly Word[], ignore: readonly string[]): boolean[] {
  const skip = new Array<boolean>(ws.length).fill(false);
  for (const phrase of ignore) {
    const target = formOf(phrase).split(' ').filter((w) => w.length > 0);
    if (target.length === 0) continue;
    for (let i = 0; i + target.length <= ws.length; i++) {
      if (target.every((w, k) => ws[i + k].text === w)) for (let k = 0; k < target.length; k++) skip[i + k] = true;
    }
  }
  return skip;
}

// ---------------------------------------------------------------------------------------------
// Contradictions
// ---------------------------------------------------------------------------------------------

/** A listing's text, in its two parts. */
export interface ListingText {
  title: string;
  description: string;
}

export type Verdict = 'agrees' | 'contradicts' | 'excused';

/** One attribute mention in a listing, judged against a reference value. */
export interface CheckedMention {
  attribute: string;
  /** What the text names: a catalog value, or the synonym's canonical name. */
  mentioned: string;
  /** The reference (true or predicted) value. */
  reference: string;
  text: string;
  segment: Segment;
  start: number;
  end: number;
  /**
   * agrees/contradicts by families; 'excused' for a disagreeing weak form ("metal fastener") or
   * one that names a part of the item ("white dial" on a blue watch), and
   * for a disagreeing mention of an attribute whose mentions may name several values (colour,
   * gender, neck) when another mention agrees — "blue and white" on a blue item.
   */
  verdict: Verdict;
}

export interface ListingCheck {
  /** Mentions in the checked scope of attributes whose reference value is checked. */
  mentions: CheckedMention[];
  /** Attributes with at least one contradicting mention. */
  contradicted: string[];
}

/**
 * Sentences that recommend other items ("Pair it with blue jeans", "Team this with long-sleeved
 * tees") describe those items, not this one: their mentions are not checked.
 */
const ADVICE = /\b(pair(s|ed|ing)?|team(s|ed|ing)?|match(es|ed|ing)?|club(s|bed)?|combine[ds]?|complete (the|your|a|this) look|(wear|style|try) (it|this|them|these|with)|go(es)? (well )?with)\b/i;

/** Character spans of the advice sentences of a text (sentences end at . ! ? ; or a line break). */
export function adviceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  for (const m of text.matchAll(/[^.!?;\n]+[.!?;\n]*/g)) {
    if (ADVICE.test(m[0])) spans.push([m.index, m.index + m[0].length]);
  }
  return spans;
}

/** One attribute's reading of one mention. */
export interface AttributeMention {
  attribute: string;
  segment: Segment;
  mention: Mention;
  term: Term;
}

/**
 * The attribute mentions of a listing in the segments where each attribute's kind is checked, in
 * text order per attribute. With `checkedOnly`, the metric's scope rules apply on top: advice
 * sentences of the description are skipped and a head-only kind keeps the last mention of a segment.
 */
export function attributeMentions(
  lexicon: Lexicon,
  text: ListingText,
  options: { ignore?: readonly string[]; checkedOnly?: boolean } = {},
): AttributeMention[] {
  const { ignore = [], checkedOnly = false } = options;
  const found: Record<Segment, Mention[]> = { title: [], description: [] };
  for (const segment of ['title', 'description'] as const) {
    // Titles name the item ("Team India Jersey"); only descriptions give styling advice.
    const spans = checkedOnly && segment === 'description' ? adviceSpans(text[segment]) : [];
    found[segment] = findMentions(lexicon, text[segment], ignore).filter((m) => !spans.some(([s, e]) => m.start >= s && m.end <= e));
  }
  const out: AttributeMention[] = [];
  for (const attr of lexicon.attributes.values()) {
    for (const segment of attr.knowledge.segments) {
      const own: AttributeMention[] = [];
      for (const mention of found[segment]) {
        const term = mention.terms.find((t) => t.attribute === attr.attribute);
        if (term) own.push({ attribute: attr.attribute, segment, mention, term });
      }
      out.push(...(checkedOnly && attr.knowledge.headOnly ? own.slice(-1) : own));
    }
  }
  return out;
}

/** Whether a mention is followed by a word naming a part of the item ("white dial", "black sole"). */
function namesPart(knowledge: KindKnowledge, m: Mention): boolean {
  return m.nextWord !== undefined && knowledge.partNouns.includes(m.nextWord);
}

/**
 * Judges every checked attribute mention of a listing against reference values (the truth, or the
 * model's predictions). `ignore` lists phrases to skip, such as the item's brand.
 */
export function checkListing(
  lexicon: Lexicon,
  text: ListingText,
  reference: Readonly<Record<string, string | null | undefined>>,
  ignore: readonly string[] = [],
): ListingCheck {
  const byAttribute = new Map<string, CheckedMention[]>();
  for (const { attribute, segment, mention, term } of attributeMentions(lexicon, text, { ignore, checkedOnly: true })) {
    const refValue = reference[attribute];
    const refFamilies = referenceFamilies(lexicon, attribute, refValue);
    if (!refFamilies || refValue == null) continue;
    const knowledge = lexicon.attributes.get(attribute)!.knowledge;
    const agrees = familiesIntersect(term.families, refFamilies);
    const list = byAttribute.get(attribute) ?? [];
    byAttribute.set(attribute, list);
    list.push({
      attribute,
      mentioned: term.label,
      reference: refValue,
      text: mention.text,
      segment,
      start: mention.start,
      end: mention.end,
      verdict: agrees ? 'agrees' : term.weak || namesPart(knowledge, mention) ? 'excused' : 'contradicts',
    });
  }
  const mentions: CheckedMention[] = [];
  const contradicted: string[] = [];
  for (const [attribute, own] of byAttribute) {
    if (lexicon.attributes.get(attribute)!.knowledge.manyValuesPerItem && own.some((c) => c.verdict === 'agrees')) {
      for (const c of own) if (c.verdict === 'contradicts') c.verdict = 'excused';
    }
    if (own.some((c) => c.verdict === 'contradicts')) contradicted.push(attribute);
    mentions.push(...own);
  }
  return { mentions, contradicted };
}
