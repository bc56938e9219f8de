/**
 * Listing-quality metrics: text overlap (ROUGE, BLEU), attribute classification (accuracy,
 * macro-F1) and price regression (MAE, RMSE, R², interval coverage). Pure TypeScript, no I/O,
 * browser-safe. Exact definitions, and the reference implementations each one reproduces, are in
 * docs/metrics.md.
 */

// ---------------------------------------------------------------------------------------------
// Text overlap
// ---------------------------------------------------------------------------------------------

/**
 * The rouge-score package's default tokenizer (no stemming): lower-case, every run of characters
 * outside [a-z0-9] becomes a space, split on spaces. Non-ASCII letters therefore act as separators,
 * exactly as in rouge-score.
 */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((t) => t.length > 0);
}

/** Precision, recall and their harmonic mean (0 when both are 0). */
export interface PRF {
  precision: number;
  recall: number;
  f: number;
}

function prf(overlap: number, predictedCount: number, referenceCount: number): PRF {
  // rouge-score divides by max(count, 1), so an empty side scores 0 rather than NaN.
  const precision = overlap / Math.max(predictedCount, 1);
  const recall = overlap / Math.max(referenceCount, 1);
  const f = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f };
}

/** Counts of the n-grams of `tokens`, keyed by the n tokens joined with a space. */
function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function sumValues(counts: Map<string, number>): number {
  let total = 0;
  for (const c of counts.values()) total += c;
  return total;
}

/** Σ over n-grams of min(count in a, count in b). */
function clippedOverlap(a: Map<string, number>, b: Map<string, number>): number {
  let overlap = 0;
  for (const [gram, count] of a) overlap += Math.min(count, b.get(gram) ?? 0);
  return overlap;
}

/** ROUGE-N of a prediction against one reference, on rouge-score tokens. */
export function rougeN(prediction: string, reference: string, n: number): PRF {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`rougeN: n must be a positive integer, got ${n}`);
  const pred = ngramCounts(rougeTokens(prediction), n);
  const ref = ngramCounts(rougeTokens(reference), n);
  return prf(clippedOverlap(ref, pred), sumValues(pred), sumValues(ref));
}

/** Length of the longest common subsequence of two token sequences (O(|a|·|b|) time, O(|b|) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Uint32Array(b.length + 1);
  let cur = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** ROUGE-L (sentence-level LCS, no summary-level splitting) of a prediction against one reference. */
export function rougeL(prediction: string, reference: string): PRF {
  const pred = rougeTokens(prediction);
  const ref = rougeTokens(reference);
  return prf(lcsLength(ref, pred), pred.length, ref.length);
}

/** NLTK's epsilon for SmoothingFunction().method1. */
const BLEU_EPSILON = 0.1;

/**
 * Sentence BLEU-4 with uniform weights and smoothing method 1 (Chen & Cherry 2014), as NLTK's
 * `sentence_bleu([ref.split()], hyp.split(), smoothing_function=SmoothingFunction().method1)`:
 * whitespace tokens, case kept; an n-gram order with no match gets precision 0.1/count; a
 * hypothesis with no unigram match scores 0; brevity penalty exp(1 − r/c) when c ≤ r.
 */
export function sentenceBleu(prediction: string, reference: string): number {
  const hyp = whitespaceTokens(prediction);
  const ref = whitespaceTokens(reference);
  if (hyp.length === 0) return 0;
  let logSum = 0;
  for (let n = 1; n <= 4; n++) {
    const hypGrams = ngramCounts(hyp, n);
    const numerator = clippedOverlap(hypGrams, ngramCounts(ref, n));
    if (n === 1 && numerator === 0) return 0;
    // NLTK keeps the unreduced fraction; its denominator is at least 1 for orders longer than the hypothesis.
    const denominator = Math.max(1, sumValues(hypGrams));
    logSum += 0.25 * Math.log((numerator === 0 ? BLEU_EPSILON : numerator) / denominator);
  }
  const brevity = hyp.length > ref.length ? 1 : Math.exp(1 - ref.length / hyp.length);
  return brevity * Math.exp(logSum);
}

function whitespaceTokens(text: string): string[] {
  return text.split(/\s+/).filter((t) => t.length > 0);
}

/** Corpus averages of the per-pair text metrics. */
export interface TextScores {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  bleu: number;
  /** Pairs averaged: those whose reference has at least one token. */
  n: number;
}

/**
 * Mean ROUGE-1/2/L F-measure and mean sentence BLEU over (prediction, reference) pairs. A pair
 * whose reference is missing or has no token is skipped (there is nothing to compare against); an
 * empty prediction against a real reference scores 0.
 */
export function textScores(pairs: readonly { prediction: string; reference: string | null | undefined }[]): TextScores {
  let r1 = 0, r2 = 0, rl = 0, bleu = 0, n = 0;
  for (const { prediction, reference } of pairs) {
    if (reference == null || rougeTokens(reference).length === 0) continue;
    r1 += rougeN(prediction, reference, 1).f;
    r2 += rougeN(prediction, reference, 2).f;
    rl += rougeL(prediction, reference).f;
    bleu += sentenceBleu(prediction, reference);
    n++;
  }
  const mean = (s: number) => (n > 0 ? s / n : Number.NaN);
  return { rouge1: mean(r1), rouge2: mean(r2), rougeL: mean(rl), bleu: mean(bleu), n };
}

/** Would a seller keep this text? Shares over the generated texts, lengths in rougeTokens words. */
export interface TextQuality {
  /** Texts in which some word occurs 3 or more times ("Men's Der Men's Bots Men's"). */
  repeated_word_3x: number;
  /** Non-empty texts that do not end a sentence (. ! ? or a closing quote/bracket after one). */
  ends_mid_sentence: number;
  /** Distinct unigrams / bigrams over all unigrams / bigrams of all texts (corpus distinct-n). */
  distinct_1: number;
  distinct_2: number;
  /** Empty texts. */
  empty: number;
  /** Mean words per text, and of the references (the catalog's own texts) where given. */
  mean_words: number;
  reference_mean_words: number;
  n: number;
}

const SENTENCE_END = /[.!?]["')\]]*$/;

/** Seller-facing quality of generated texts (docs/metrics.md): repetition, cut sentences, diversity, length. */
export function textQuality(texts: readonly string[], references: readonly (string | null | undefined)[] = []): TextQuality {
  let repeated = 0, cut = 0, empty = 0, words = 0;
  const unigrams = new Set<string>();
  const bigrams = new Set<string>();
  let uniTotal = 0, biTotal = 0;
  for (const text of texts) {
    const tokens = rougeTokens(text);
    if (tokens.length === 0) {
      empty++;
      continue;
    }
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    if ([...counts.values()].some((c) => c >= 3)) repeated++;
    if (!SENTENCE_END.test(text.trim())) cut++;
    words += tokens.length;
    tokens.forEach((t, i) => {
      unigrams.add(t);
      uniTotal++;
      if (i > 0) {
        bigrams.add(`${tokens[i - 1]} ${t}`);
        biTotal++;
      }
    });
  }
  const n = texts.length;
  const refs = references.filter((r): r is string => r != null && r.trim().length > 0);
  const share = (x: number) => (n > 0 ? x / n : Number.NaN);
  return {
    repeated_word_3x: share(repeated),
    ends_mid_sentence: n - empty > 0 ? cut / (n - empty) : Number.NaN,
    distinct_1: uniTotal ? unigrams.size / uniTotal : Number.NaN,
    distinct_2: biTotal ? bigrams.size / biTotal : Number.NaN,
    empty: share(empty),
    mean_words: n - empty > 0 ? words / (n - empty) : Number.NaN,
    reference_mean_words: refs.length ? refs.reduce((s, r) => s + rougeTokens(r).length, 0) / refs.length : Number.NaN,
    n,
  };
}

// ---------------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------------

/** A label that is absent: the truth is unknown (skipped) or the model abstained (always wrong). */
export type MaybeLabel = string | null | undefined;

export interface ClassificationScores {
  accuracy: number;
  macro_f1: number;
  /** Items scored: those whose true label is known. */
  n: number;
}

/**
 * Accuracy and macro-F1 of one attribute. Items with a missing true label are skipped (missing is
 * never a class). Macro-F1 is sklearn's `f1_score(average='macro')`: the unweighted mean of
 * per-class F1 over the union of classes in the scored truths and predictions, a class with no
 * predictions or no truths contributing F1 = 0. A missing prediction (an abstention) counts as a
 * miss for its true class and adds no class of its own.
 */
export function classificationScores(truth: readonly MaybeLabel[], predicted: readonly MaybeLabel[]): ClassificationScores {
  if (truth.length !== predicted.length) {
    throw new RangeError(`classificationScores: ${truth.length} true labels but ${predicted.length} predictions`);
  }
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let correct = 0, n = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t == null) continue;
    const p = predicted[i];
    n++;
    if (!tp.has(t)) tp.set(t, 0);
    if (p === t) {
      correct++;
      bump(tp, t);
      continue;
    }
    bump(fn, t);
    if (p != null) {
      if (!tp.has(p)) tp.set(p, 0);
      bump(fp, p);
    }
  }
  if (n === 0) return { accuracy: Number.NaN, macro_f1: Number.NaN, n };
  let f1Sum = 0;
  for (const [label, hits] of tp) {
    const denom = 2 * hits + (fp.get(label) ?? 0) + (fn.get(label) ?? 0);
    f1Sum += denom > 0 ? (2 * hits) / denom : 0;
  }
  return { accuracy: correct / n, macro_f1: f1Sum / tp.size, n };
}

// ---------------------------------------------------------------------------------------------
// Price
// ---------------------------------------------------------------------------------------------

export interface PricePrediction {
  /** True price; null/undefined when unknown (the item is skipped). */
  truth: number | null | undefined;
  predicted: number;
  /** Prediction interval; omitted by models that give none. */
  low?: number;
  high?: number;
}

export interface PriceScores {
  mae: number;
  rmse: number;
  r2: number;
  /** R² of ln(predicted) against ln(true). */
  r2_log: number;
  /** Share of true prices inside [low, high] (inclusive); NaN when no item has an interval. */
  interval_coverage: number;
  n: number;
}

/**
 * sklearn's r2_score: 1 − SS_res/SS_tot; with constant truths (SS_tot = 0) it is 1 for a perfect
 * fit and 0 otherwise (sklearn's force_finite).
 */
export function rSquared(truth: readonly number[], predicted: readonly number[]): number {
  if (truth.length !== predicted.length) throw new RangeError(`rSquared: ${truth.length} truths but ${predicted.length} predictions`);
  if (truth.length === 0) return Number.NaN;
  const mean = truth.reduce((s, v) => s + v, 0) / truth.length;
  let ssRes = 0, ssTot = 0;
  for (let i = 0; i < truth.length; i++) {
    ssRes += (truth[i] - predicted[i]) ** 2;
    ssTot += (truth[i] - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

/** Price errors in the catalog's price unit over the items whose true price is known. */
export function priceScores(items: readonly PricePrediction[]): PriceScores {
  const truth: number[] = [];
  const predicted: number[] = [];
  let covered = 0, withInterval = 0;
  for (const item of items) {
    if (item.truth == null) continue;
    if (!(item.truth > 0) || !(item.predicted > 0)) {
      throw new RangeError(`priceScores: prices must be positive for the log-price R² (true ${item.truth}, predicted ${item.predicted})`);
    }
    truth.push(item.truth);
    predicted.push(item.predicted);
    if (item.low != null && item.high != null) {
      withInterval++;
      if (item.truth >= item.low && item.truth <= item.high) covered++;
    }
  }
  const n = truth.length;
  if (n === 0) return { mae: Number.NaN, rmse: Number.NaN, r2: Number.NaN, r2_log: Number.NaN, interval_coverage: Number.NaN, n };
  let absSum = 0, sqSum = 0;
  for (let i = 0; i < n; i++) {
    absSum += Math.abs(truth[i] - predicted[i]);
    sqSum += (truth[i] - predicted[i]) ** 2;
  }
  return {
    mae: absSum / n,
    rmse: Math.sqrt(sqSum / n),
    r2: rSquared(truth, predicted),
    r2_log: rSquared(truth.map(Math.log), predicted.map(Math.log)),
    interval_coverage: withInterval > 0 ? covered / withInterval : Number.NaN,
    n,
  };
}

// ---------------------------------------------------------------------------------------------
// The paper's "hallucination" score
// ---------------------------------------------------------------------------------------------

/**
 * Python's `\b\w+(?:-\w+)*\b` (Unicode `\w` = letters, digits, underscore). JavaScript's `\b` is
 * ASCII-only even with the u flag, so the word boundaries are written as lookarounds.
 */
const PAPER_WORD = /(?<![\p{L}\p{N}_])[\p{L}\p{N}_]+(?:-[\p{L}\p{N}_]+)*(?![\p{L}\p{N}_])/gu;

export interface PaperHallucinationItem {
  /** The generated text as the paper scored it (its decoder wrote `title: … | description: …`). */
  text: string;
  /** Predicted attribute values, by attribute; missing ones are skipped. */
  predicted: Readonly<Record<string, MaybeLabel>>;
}

export interface PaperHallucinationScore {
  /** Σ hallucinations / Σ mentions (0 when nothing was mentioned), as the paper reports it. */
  score: number;
  mentions: number;
  hallucinations: number;
}

/**
 * arXiv 2510.21835's "hallucination rate" (src/evaluation/evaluate_hallucinations.py of its code):
 * per item, V = the predicted values lower-cased, 'unknown' and 'nan' left out; W = the distinct
 * words of the lower-cased text; mentions += |W ∩ V|; hallucinations += the words of W that are
 * neither in V nor a substring of a value in V. Ordinary words count as hallucinations and
 * multi-word values can never be mentioned — reproduced as is so our numbers sit beside theirs.
 */
export function paperHallucinationScore(items: readonly PaperHallucinationItem[]): PaperHallucinationScore {
  let mentions = 0, hallucinations = 0;
  for (const { text, predicted } of items) {
    const values = new Set<string>();
    for (const v of Object.values(predicted)) {
      if (v == null) continue;
      const lower = v.toLowerCase();
      if (lower !== 'unknown' && lower !== 'nan') values.add(lower);
    }
    const words = new Set(text.toLowerCase().match(PAPER_WORD) ?? []);
    for (const w of words) {
      if (values.has(w)) mentions++;
      else if (![...values].some((v) => v.includes(w))) hallucinations++;
    }
  }
  return { score: mentions > 0 ? hallucinations / mentions : 0, mentions, hallucinations };
}
