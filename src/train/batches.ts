/**
 * Training batches on the host: the data order of an epoch, the decoder's prompt + target
 * sequences, and the arrays one step uploads (images, attribute labels, price targets, tokens).
 *
 * Everything random here is a pure function of (seed, epoch, item id), never of a running
 * generator, so a resumed run that knows its epoch and batch position rebuilds exactly the batches
 * the interrupted run would have seen.
 */
import { MISSING, OTHER } from '../data/labels.ts';
import { augmentImage, DEFAULT_AUGMENT, normaliseBatch, type PreprocessConfig } from '../data/preprocess.ts';
import { hashString, seededRandom } from '../data/random.ts';
import type { CatalogItem } from '../data/schema.ts';
import type { BpeTokenizer } from '../data/tokenizer.ts';
import type { CatalogSchema } from '../model/bundle.ts';
import { catalogLexicon, type Lexicon, type ListingText, referenceFamilies } from '../model/lexicon.ts';
import { encodePrompt, encodeTarget, type PromptFact } from '../model/prompt.ts';
import { rewriteForReplacedValue } from './rewrite-mentions.ts';

/** One step's batch: which catalog, and the positions of its items in that catalog's training list. */
export interface BatchRef {
  catalog: number;
  items: number[];
}

/** Fisher-Yates with a seeded generator. */
function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * The batches of one epoch: each catalog's items shuffled and cut into full batches (a partial
 * last batch is dropped), then all batches shuffled together, so catalogs alternate in proportion
 * to their size and each step's batch comes from one catalog (one head, one loss).
 */
export function epochBatches(catalogSizes: readonly number[], batchSize: number, seed: number, epoch: number): BatchRef[] {
  const random = seededRandom(hashString(`epoch:${epoch}`, seed));
  const batches: BatchRef[] = [];
  catalogSizes.forEach((size, catalog) => {
    const order = shuffle(Array.from({ length: size }, (_, i) => i), random);
    for (let start = 0; start + batchSize <= size; start += batchSize) batches.push({ catalog, items: order.slice(start, start + batchSize) });
  });
  return shuffle(batches, random);
}

export interface PromptOptions {
  /** Probability of leaving out each ground-truth attribute. */
  dropAttribute: number;
  /**
   * Probability of replacing one attribute's value by another class of the same attribute, the
   * target text rewritten to agree with it (rewrite-mentions.ts), so the decoder learns to follow
   * its prompt. Only attributes whose values the lexicon checks are replaced: for the others a
   * text that contradicts the new value could not be recognised.
   */
  replaceAttribute: number;
  /** Probability of adding the brand as a fact, when the item has one. */
  addBrand: number;
  /** false: the decoder sees an empty prompt (the no-hierarchy ablation). */
  hierarchy: boolean;
}

export const TRAIN_PROMPTS: PromptOptions = { dropAttribute: 0.3, replaceAttribute: 0.1, addBrand: 0.5, hierarchy: true };
/** Validation: every known attribute and the brand, nothing dropped or replaced. */
export const VALIDATION_PROMPTS: PromptOptions = { dropAttribute: 0, replaceAttribute: 0, addBrand: 1, hierarchy: true };

/**
 * The facts of an item's prompt, in head order then the brand (the order inference uses), and the
 * text the decoder learns to write after them: the item's own, or — when a value was replaced by
 * another — that text with the mentions of the true value rewritten to the new one. The classes
 * are tried in a random order until one can be written safely; when none can, nothing is
 * replaced. Attributes whose value falls in the OTHER bucket are left out: inference never states
 * "other" as a fact.
 */
export function itemFacts(item: CatalogItem, schema: CatalogSchema, lexicon: Lexicon, options: PromptOptions, random: () => number): { facts: PromptFact[]; text: ListingText } {
  let text: ListingText = { title: item.title, description: item.description ?? '' };
  if (!options.hierarchy) return { facts: [], text };
  const facts: PromptFact[] = [];
  const labels = schema.labels.encode(item);
  schema.labels.attributes.forEach((a, i) => {
    const value = item.attributes[a.name];
    const keep = random() >= options.dropAttribute;
    if (labels[i] === MISSING || a.classes[labels[i]] === OTHER || !keep) return;
    facts.push({ name: a.name, value });
  });
  const checked = (name: string, value: string) => referenceFamilies(lexicon, name, value) !== undefined;
  const replaceable = facts.filter((f) => checked(f.name, f.value));
  if (replaceable.length > 0 && random() < options.replaceAttribute) {
    const f = replaceable[Math.floor(random() * replaceable.length)];
    const truth = f.value;
    const classes = schema.labels.attributes.find((a) => a.name === f.name)!.classes.filter((c) => c !== OTHER && c !== truth && checked(f.name, c));
    const prompted = Object.fromEntries(facts.map((x) => [x.name, x.value]));
    const ignore = item.brand ? [item.brand] : [];
    for (const value of shuffle(classes, random)) {
      const rewritten = rewriteForReplacedValue(lexicon, text, { ...prompted, [f.name]: value }, { attribute: f.name, truth }, ignore);
      if (rewritten) {
        f.value = value;
        text = rewritten;
        break;
      }
    }
  }
  if (item.brand && random() < options.addBrand) facts.push({ name: 'brand', value: item.brand });
  return { facts, text };
}

export interface TokenBatch {
  /** Decoder input ids and positions, u32 [B, L]. */
  ids: Uint32Array;
  positions: Uint32Array;
  /** Next-token labels i32 [B * L]: target tokens only; prompt and padding are -1. */
  labels: Int32Array;
  rows: number;
  length: number;
  /** Labels that count. */
  targetTokens: number;
}

/**
 * Teacher-forcing arrays: each sequence is prompt + target cut to `maxLength` (the end of the
 * description goes first), the input is the sequence without its last token and the label at
 * position t is token t + 1 where that token belongs to the target.
 */
export function tokenBatch(sequences: readonly { prompt: number[]; target: number[] }[], maxLength: number, padId: number): TokenBatch {
  const full = sequences.map((s) => [...s.prompt, ...s.target].slice(0, maxLength));
  const length = Math.max(1, Math.max(...full.map((f) => f.length)) - 1);
  const B = sequences.length;
  const ids = new Uint32Array(B * length).fill(padId);
  const positions = new Uint32Array(B * length);
  const labels = new Int32Array(B * length).fill(MISSING);
  let targetTokens = 0;
  full.forEach((seq, b) => {
    const promptLength = sequences[b].prompt.length;
    for (let t = 0; t < length; t++) {
      positions[b * length + t] = t;
      if (t < seq.length) ids[b * length + t] = seq[t];
      if (t + 1 < seq.length && t + 1 >= promptLength) {
        labels[b * length + t] = seq[t + 1];
        targetTokens++;
      }
    }
  });
  return { ids, positions, labels, rows: B, length, targetTokens };
}

export interface HostBatch {
  count: number;
  /** Normalised NHWC images [B, H, W, 3]. */
  images: Float32Array;
  /** Attribute labels [attributes][B], -1 = missing. */
  attributeLabels: Int32Array[];
  /** Normalised log prices [B] (0 where missing) and the mask [B] (1 = has a price). */
  price: Float32Array;
  hasPrice: Float32Array;
  /** Tokens of the first `textItems` items (null without the decoder). */
  tokens: TokenBatch | null;
}

export interface BatchContext {
  schema: CatalogSchema;
  items: readonly CatalogItem[];
  /** Reads the preprocessed uint8 images of ids, end to end. */
  readImages: (ids: string[]) => Uint8Array;
  preprocess: PreprocessConfig;
  tokenizer: BpeTokenizer;
  /** Training sequences (prompt + target) are cut to this many tokens. */
  maxLength: number;
  /** The decoder reads the first this many items of a batch (its cost per item is far above the heads'). */
  textItems: number;
}

const LEXICONS = new WeakMap<CatalogSchema, Lexicon>();

/**
 * A catalog's lexicon, built once per schema from its value vocabulary (rare values included) as
 * grounded decoding and the evaluation build theirs, so a rewritten text is read as they read it.
 */
function lexiconOf(schema: CatalogSchema): Lexicon {
  let lexicon = LEXICONS.get(schema);
  if (!lexicon) LEXICONS.set(schema, (lexicon = catalogLexicon(schema.name, schema.vocabulary)));
  return lexicon;
}

/**
 * The host arrays of one batch. `augment` (training) jitters each image with a seed from
 * (seed, epoch, id); `prompts` null skips the decoder's tokens (single-task runs); `images` false
 * leaves the images empty.
 */
export function hostBatch(c: BatchContext, positions: readonly number[], o: { seed: number; epoch: number; augment: boolean; prompts: PromptOptions | null; images?: boolean }): HostBatch {
  const items = positions.map((p) => c.items[p]);
  // images: false (a step on cached image tokens) reads and prepares no pixels.
  const raw = o.images === false ? new Uint8Array(0) : c.readImages(items.map((item) => item.id));
  if (o.augment && raw.length > 0) {
    const size = raw.length / items.length;
    const out = new Uint8Array(raw.length);
    items.forEach((item, i) => augmentImage(raw.subarray(i * size, (i + 1) * size), c.preprocess, DEFAULT_AUGMENT, hashString(`augment:${o.epoch}:${item.id}`, o.seed), out.subarray(i * size, (i + 1) * size)));
    raw.set(out);
  }
  const images = raw.length > 0 ? normaliseBatch(raw, items.length, c.preprocess) : new Float32Array(0);
  const encoded = items.map((item) => c.schema.labels.encode(item));
  const attributeLabels = c.schema.labels.attributes.map((_, a) => Int32Array.from(encoded, (e) => e[a]));
  const price = new Float32Array(items.length);
  const hasPrice = new Float32Array(items.length);
  items.forEach((item, i) => {
    const t = c.schema.price.target(item.price);
    if (Number.isFinite(t)) {
      price[i] = t;
      hasPrice[i] = 1;
    }
  });
  let tokens: TokenBatch | null = null;
  if (o.prompts) {
    const prompts = o.prompts;
    const lexicon = lexiconOf(c.schema);
    const sequences = items.slice(0, c.textItems).map((item) => {
      const random = seededRandom(hashString(`prompt:${o.epoch}:${item.id}`, o.seed));
      const { facts, text } = itemFacts(item, c.schema, lexicon, prompts, random);
      return { prompt: encodePrompt(c.tokenizer, facts), target: encodeTarget(c.tokenizer, text.title, text.description) };
    });
    tokens = tokenBatch(sequences, c.maxLength, c.tokenizer.padId);
  }
  return { count: items.length, images, attributeLabels, price, hasPrice, tokens };
}
