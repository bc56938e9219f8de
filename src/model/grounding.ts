/**
 * Grounded decoding: while a listing is decoded, ban every token that would complete a lexicon
 * mention contradicting a prompted attribute value (a prediction or a user-supplied fact), so the
 * finished text cannot contain one; after decoding, report every attribute mention and whether it
 * agrees. Browser-safe, no I/O.
 *
 * The forbidden phrases of a listing are all surface forms, in the segments where their kind is
 * checked, of terms whose families do not meet the prompted value's (weak forms excepted: the
 * metric never counts them as contradictions). The text decoded so far is read as the lexicon reads
 * it — lower-cased, every run of non-letters/digits one separator — by an Aho–Corasick automaton
 * over " " + phrase, so a match always starts at a word boundary; the segment starts after a
 * virtual separator.
 *
 * Word-boundary rule (conservative): a token is banned when, fed character by character from the
 * current state, it completes a forbidden phrase that is followed by a separator inside the token,
 * or that ends with the token's last character (the next token could be a space, so the end of a
 * token counts as a boundary). "blue" is therefore banned as a token even where "blueberry" would
 * follow, while a single token "blueberry" is allowed. A phrase split over several tokens ("short"
 * + " sle" + "eves") is banned at the token that completes it. The current state thus never ends
 * in a completed forbidden phrase, and no accepted text contains one: the guarantee is stronger
 * than the metric, which also skips advice sentences, part nouns and excused secondary colours.
 *
 * Special tokens are never banned and feed no text. Costs: one automaton over every form of the
 * lexicon is built once per (lexicon, vocabulary) and shared by all listings; a listing only marks
 * which of its phrases are forbidden (microseconds, no allocation beyond one byte per phrase). The
 * tokens that complete some phrase from a state are found in one pass over the vocabulary's
 * characters the first time any listing reaches that state, and kept; a listing's banned set is
 * then a filter of that short list, so most steps are a lookup.
 */
import {
  attributeMentions,
  familiesIntersect,
  type Lexicon,
  type ListingText,
  referenceFamilies,
} from './lexicon.ts';
import type { Segment } from './lexicon-schemas.ts';

/** Prompted attribute values, by attribute name; absent or null values are not grounded. */
export type PromptedValues = Readonly<Record<string, string | null | undefined>>;

const SEPARATOR = 0;
/** A letter or digit that occurs in no lexicon form: it only ever breaks a match. */
const OTHER_WORD_CHAR = 1;
const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * What grounding needs from a tokenizer, prepared once per (lexicon, vocabulary): each token's
 * text as a sequence of character classes over the lexicon's alphabet.
 */
export interface GroundingVocabulary {
  lexicon: Lexicon;
  /** Character → class; classes 0 (separator) and 1 (other word character) are fixed. */
  classOf: ReadonlyMap<string, number>;
  alphabetSize: number;
  /** Concatenated class sequences of all tokens; token t is classes[offsets[t] .. offsets[t+1]). */
  classes: Uint8Array;
  offsets: Uint32Array;
  special: ReadonlySet<number>;
  /** The automaton over every form of the lexicon, shared by all listings. */
  automaton: Automaton;
}

function charClass(classOf: ReadonlyMap<string, number>, ch: string): number {
  const lower = ch.toLowerCase();
  const known = classOf.get(lower);
  if (known !== undefined) return known;
  return WORD_CHAR.test(lower) ? OTHER_WORD_CHAR : SEPARATOR;
}

/**
 * Prepares a tokenizer's vocabulary: `tokenText[id]` is the token decoded to text (byte-level BPE
 * pieces decoded, a leading space kept; a partial UTF-8 sequence may be empty), `specialTokenIds`
 * the ids that are never banned (BOS, EOS, padding, separators).
 */
export function prepareGroundingVocabulary(
  lexicon: Lexicon,
  tokenText: readonly string[],
  specialTokenIds: readonly number[] = [],
): GroundingVocabulary {
  const classOf = new Map<string, number>();
  let next = 2;
  for (const attr of lexicon.attributes.values()) {
    for (const form of attr.forms.keys()) {
      for (const ch of form) if (ch !== ' ' && !classOf.has(ch)) classOf.set(ch, next++);
    }
  }
  if (next > 255) throw new RangeError(`grounding: the lexicon's alphabet has ${next - 2} characters, more than 253`);
  const phrases = [...new Set([...lexicon.attributes.values()].flatMap((attr) => [...attr.forms.keys()]))].sort();
  const offsets = new Uint32Array(tokenText.length + 1);
  const seqs: number[][] = [];
  let total = 0;
  for (let t = 0; t < tokenText.length; t++) {
    const seq = [...tokenText[t]].map((ch) => charClass(classOf, ch));
    seqs.push(seq);
    offsets[t] = total;
    total += seq.length;
  }
  offsets[tokenText.length] = total;
  const classes = new Uint8Array(total);
  for (let t = 0; t < seqs.length; t++) classes.set(seqs[t], offsets[t]);
  for (const id of specialTokenIds) {
    if (!Number.isInteger(id) || id < 0 || id >= tokenText.length) {
      throw new RangeError(`grounding: special token id ${id} is outside the vocabulary of ${tokenText.length} tokens`);
    }
  }
  return { lexicon, classOf, alphabetSize: next, classes, offsets, special: new Set(specialTokenIds), automaton: buildAutomaton(classOf, next, phrases) };
}

/**
 * The Aho–Corasick automaton over " " + every form of the lexicon. A state's outputs are the
 * phrases that end there (itself or via its suffix links); which of them are forbidden is the
 * listing's business.
 */
interface Automaton {
  /** Dense transitions: goto[state * alphabetSize + class]. */
  goto: Int32Array;
  /** Phrase ids ending at state s: outputIds[outputStart[s] .. outputStart[s + 1]). */
  outputStart: Uint32Array;
  outputIds: Int32Array;
  /** Whether the state was entered by a separator (consecutive separators collapse into one). */
  afterSeparator: Uint8Array;
  start: number;
  /** Phrase (form, words joined by spaces) -> id. */
  phraseIds: ReadonlyMap<string, number>;
  /** Per state, the tokens that complete a phrase from it and the phrases each completes (first use fills it). */
  firing: Map<number, FiringTokens>;
}

/** Tokens that complete at least one phrase when fed from a given state. */
interface FiringTokens {
  tokens: Int32Array;
  /** Phrases completed by tokens[i]: phrases[start[i] .. start[i + 1]). */
  start: Uint32Array;
  phrases: Int32Array;
}

function buildAutomaton(classOf: ReadonlyMap<string, number>, A: number, phrases: readonly string[]): Automaton {
  const children: Map<number, number>[] = [new Map()];
  const terminal: number[] = [-1];
  const sepEntered: boolean[] = [false];
  phrases.forEach((phrase, id) => {
    let node = 0;
    for (const ch of ' ' + phrase) {
      const cls = ch === ' ' ? SEPARATOR : classOf.get(ch)!;
      let child = children[node].get(cls);
      if (child === undefined) {
        child = children.length;
        children.push(new Map());
        terminal.push(-1);
        sepEntered.push(cls === SEPARATOR);
        children[node].set(cls, child);
      }
      node = child;
    }
    terminal[node] = id;
  });
  const n = children.length;
  const goto = new Int32Array(n * A);
  const fail = new Int32Array(n);
  const outputs: number[][] = Array.from({ length: n }, () => []);
  // Breadth-first: a state's failure link and transitions are known before its children's.
  const queue: number[] = [];
  for (let c = 0; c < A; c++) {
    const child = children[0].get(c);
    goto[c] = child ?? 0;
    if (child !== undefined) queue.push(child);
  }
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head];
    outputs[node] = terminal[node] >= 0 ? [terminal[node], ...outputs[fail[node]]] : outputs[fail[node]];
    for (let c = 0; c < A; c++) {
      const child = children[node].get(c);
      if (child !== undefined) {
        fail[child] = goto[fail[node] * A + c];
        goto[node * A + c] = child;
        queue.push(child);
      } else {
        goto[node * A + c] = goto[fail[node] * A + c];
      }
    }
  }
  const outputStart = new Uint32Array(n + 1);
  for (let s = 0; s < n; s++) outputStart[s + 1] = outputStart[s] + outputs[s].length;
  const outputIds = new Int32Array(outputStart[n]);
  outputs.forEach((o, s) => outputIds.set(o, outputStart[s]));
  return {
    goto,
    outputStart,
    outputIds,
    afterSeparator: Uint8Array.from(sepEntered, Number),
    start: goto[SEPARATOR],
    phraseIds: new Map(phrases.map((p, i) => [p, i])),
    firing: new Map(),
  };
}

/** The state after feeding one character class; runs of separators collapse into one. */
function step(a: Automaton, A: number, state: number, cls: number): number {
  if (cls === SEPARATOR && a.afterSeparator[state]) return state;
  return a.goto[state * A + cls];
}

/**
 * The phrases token `token` completes when fed from `state`: those ending where a separator inside
 * the token follows, and those ending at its last character (the next token may start with one).
 */
function completedBy(vocab: GroundingVocabulary, state: number, token: number, out: number[]): void {
  const a = vocab.automaton;
  let s = state;
  for (let i = vocab.offsets[token], end = vocab.offsets[token + 1]; i < end; i++) {
    const cls = vocab.classes[i];
    if (cls === SEPARATOR) for (let o = a.outputStart[s]; o < a.outputStart[s + 1]; o++) out.push(a.outputIds[o]);
    s = step(a, vocab.alphabetSize, s, cls);
  }
  for (let o = a.outputStart[s]; o < a.outputStart[s + 1]; o++) out.push(a.outputIds[o]);
}

/** The tokens that complete some phrase from `state`, computed once per state for all listings. */
function firingTokens(vocab: GroundingVocabulary, state: number): FiringTokens {
  const a = vocab.automaton;
  let f = a.firing.get(state);
  if (!f) {
    const tokens: number[] = [];
    const start: number[] = [0];
    const phrases: number[] = [];
    for (let t = 0; t + 1 < vocab.offsets.length; t++) {
      if (vocab.special.has(t)) continue;
      const before = phrases.length;
      completedBy(vocab, state, t, phrases);
      if (phrases.length > before) {
        tokens.push(t);
        start.push(phrases.length);
      }
    }
    f = { tokens: Int32Array.from(tokens), start: Uint32Array.from(start), phrases: Int32Array.from(phrases) };
    a.firing.set(state, f);
  }
  return f;
}

/** A decoding position: the segment being written and the automaton state after its text so far. */
export interface GroundingState {
  segment: Segment;
  state: number;
}

/** The decoding-time constraint of one listing. */
export interface Grounding {
  /** The forbidden phrases per segment (forms, words joined by spaces), for reports and tests. */
  forbidden: Readonly<Record<Segment, readonly string[]>>;
  /** The state at the start of a segment. */
  start(segment: Segment): GroundingState;
  /** Token ids that must not come next, sorted ascending. Do not modify the returned array. */
  banned(state: GroundingState): Int32Array;
  /** The state after appending a token (special tokens leave it unchanged). */
  advance(state: GroundingState, tokenId: number): GroundingState;
  /** The state after a segment's text decoded so far (equivalent to advancing token by token). */
  stateAfter(segment: Segment, text: string): GroundingState;
}

/** The forbidden phrases of one segment: forms of terms that disagree with a prompted value (strict: or that name an unprompted attribute). */
function forbiddenPhrases(lexicon: Lexicon, prompted: PromptedValues, segment: Segment, mode: GroundingMode): string[] {
  const out: string[] = [];
  for (const attr of lexicon.attributes.values()) {
    if (!attr.knowledge.segments.includes(segment)) continue;
    const families = referenceFamilies(lexicon, attr.attribute, prompted[attr.attribute]);
    if (!families && mode !== 'strict') continue;
    for (const [form, term] of attr.forms) if (!term.weak && (!families || !familiesIntersect(term.families, families))) out.push(form);
  }
  return [...new Set(out)].sort();
}

/**
 * What grounded decoding forbids: 'prompted' bans the mentions that contradict a prompted value;
 * 'strict' also bans every mention of a checked attribute that was not prompted (the model was not
 * confident enough to state it), so the text asserts only the prompted values.
 */
export type GroundingMode = 'prompted' | 'strict';

/** Builds the constraint for one listing from its prompted attribute values. */
export function createGrounding(vocab: GroundingVocabulary, prompted: PromptedValues, mode: GroundingMode = 'prompted'): Grounding {
  const a = vocab.automaton;
  const A = vocab.alphabetSize;
  const forbidden = {
    title: forbiddenPhrases(vocab.lexicon, prompted, 'title', mode),
    description: forbiddenPhrases(vocab.lexicon, prompted, 'description', mode),
  };
  const flagsOf = (phrases: readonly string[]) => {
    const flags = new Uint8Array(a.phraseIds.size);
    for (const p of phrases) flags[a.phraseIds.get(p)!] = 1;
    return flags;
  };
  const flags = { title: flagsOf(forbidden.title), description: flagsOf(forbidden.description) };
  const bannedCache = { title: new Map<number, Int32Array>(), description: new Map<number, Int32Array>() };

  return {
    forbidden,
    start: (segment) => ({ segment, state: a.start }),
    banned({ segment, state }) {
      let ids = bannedCache[segment].get(state);
      if (!ids) {
        const f = firingTokens(vocab, state);
        const isForbidden = flags[segment];
        const list: number[] = [];
        for (let i = 0; i < f.tokens.length; i++) {
          for (let j = f.start[i]; j < f.start[i + 1]; j++) {
            if (isForbidden[f.phrases[j]]) {
              list.push(f.tokens[i]);
              break;
            }
          }
        }
        ids = Int32Array.from(list);
        bannedCache[segment].set(state, ids);
      }
      return ids;
    },
    advance({ segment, state }, tokenId) {
      if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId + 1 >= vocab.offsets.length) {
        throw new RangeError(`grounding: token id ${tokenId} is outside the vocabulary of ${vocab.offsets.length - 1} tokens`);
      }
      if (vocab.special.has(tokenId)) return { segment, state };
      let s = state;
      for (let i = vocab.offsets[tokenId], end = vocab.offsets[tokenId + 1]; i < end; i++) s = step(a, A, s, vocab.classes[i]);
      return { segment, state: s };
    },
    stateAfter(segment, text) {
      let s = a.start;
      for (const ch of text) s = step(a, A, s, charClass(vocab.classOf, ch));
      return { segment, state: s };
    },
  };
}

/** One attribute mention of a decoded listing and whether it agrees with the prompted value. */
export interface GroundingMention {
  attribute: string;
  /** What the text names: a catalog value, or the synonym's canonical name. */
  mentioned: string;
  prompted: string;
  agrees: boolean;
  text: string;
  segment: Segment;
  start: number;
  end: number;
}

/**
 * Every attribute mention of a decoded listing, in the segments its attribute is grounded in, for
 * attributes with a prompted value, and whether it agrees with that value. A disagreeing weak form
 * ("metal fastener" on a black item) is an ordinary word, not a mention, and is left out.
 */
export function groundingReport(lexicon: Lexicon, text: ListingText, prompted: PromptedValues): GroundingMention[] {
  const out: GroundingMention[] = [];
  for (const { attribute, segment, mention, term } of attributeMentions(lexicon, text)) {
    const value = prompted[attribute];
    const families = referenceFamilies(lexicon, attribute, value);
    if (!families || value == null) continue;
    const agrees = familiesIntersect(term.families, families);
    if (!agrees && term.weak) continue;
    out.push({
      attribute,
      mentioned: term.label,
      prompted: value,
      agrees,
      text: mention.text,
      segment,
      start: mention.start,
      end: mention.end,
    });
  }
  return out;
}
