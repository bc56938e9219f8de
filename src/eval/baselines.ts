/**
 * Reference rows: what trivial methods reach on the same split, scored by the same code as the
 * model (report.ts). Pure TypeScript over preprocessed uint8 RGB images (the tensor store's),
 * browser-safe.
 *
 *  - majority: every attribute's most frequent training class, the mean training price with the
 *    training prices' 10th–90th percentile as interval, and the most frequent training title and
 *    description as text.
 *  - image k-NN: features = an 8×12 colour thumbnail (block means) and a colour histogram of the
 *    non-white pixels (12 hues × dark/bright for saturated pixels, 6 grey levels for the rest,
 *    square-rooted); each block centred on the training mean and scaled to unit length (the histogram
 *    then weighted 0.25: tried on 600 Myntra / 400 H&M validation items, weights 0–2, 0.25 was best
 *    on the two catalogs together), so the dot product of two features is the weighted sum of the
 *    blocks' cosine similarities. The k most similar
 *    training items vote for each attribute (neighbours without a value abstain; ties: the
 *    better-ranked neighbour's class; confidence = the winner's votes / k, so an attribute most
 *    neighbours lack is not confident); the price is the neighbours' median with their 10th–90th
 *    percentile as interval. Text: the nearest training item's title and description.
 *  - k-NN + attribute retrieval: the same attributes and price; the text of the training item that
 *    agrees best with the k-NN-predicted classes (each shared class weighted by its confidence),
 *    ties broken by image similarity.
 */
import { MISSING, type LabelSpace } from '../data/labels.ts';
import type { EvalPrediction, EvalTruth } from './report.ts';
import { quantile } from './report.ts';

export interface ImageLayout {
  width: number;
  height: number;
}

const GRID_COLS = 8;
const GRID_ROWS = 12;
const THUMB_DIM = GRID_COLS * GRID_ROWS * 3;
const HUES = 12;
const GREYS = 6;
const HIST_DIM = HUES * 2 + GREYS;
export const FEATURE_DIM = THUMB_DIM + HIST_DIM;
/** Default weight of the histogram block against the thumbnail block in the similarity. */
export const HIST_WEIGHT = 0.25;

/** Pixels this light on every channel are background (the white padding, studio backdrops). */
const BACKGROUND_MIN = 236;

/** Raw features (count × FEATURE_DIM) of `count` RGB images laid end to end. */
export function rawImageFeatures(pixels: Uint8Array, count: number, layout: ImageLayout): Float32Array {
  const { width: W, height: H } = layout;
  const size = W * H * 3;
  if (pixels.length < count * size) throw new RangeError(`rawImageFeatures: ${pixels.length} bytes hold fewer than ${count} images of ${W}x${H}`);
  if (W < GRID_COLS || H < GRID_ROWS) throw new RangeError(`rawImageFeatures: images of ${W}x${H} are smaller than the ${GRID_COLS}x${GRID_ROWS} grid`);
  const out = new Float32Array(count * FEATURE_DIM);
  const cellOfX = Int32Array.from({ length: W }, (_, x) => Math.floor((x * GRID_COLS) / W));
  const cellOfY = Int32Array.from({ length: H }, (_, y) => Math.floor((y * GRID_ROWS) / H));
  const cellPixels = new Float32Array(GRID_COLS * GRID_ROWS);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) cellPixels[cellOfY[y] * GRID_COLS + cellOfX[x]]++;
  for (let i = 0; i < count; i++) {
    const f = out.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM);
    const img = pixels.subarray(i * size, (i + 1) * size);
    let foreground = 0;
    for (let y = 0; y < H; y++) {
      const rowCell = cellOfY[y] * GRID_COLS;
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        const r = img[o], g = img[o + 1], b = img[o + 2];
        const c = (rowCell + cellOfX[x]) * 3;
        f[c] += r;
        f[c + 1] += g;
        f[c + 2] += b;
        const max = Math.max(r, g, b);
        const min = Math.min(r, g, b);
        if (min >= BACKGROUND_MIN) continue;
        foreground++;
        const saturation = max === 0 ? 0 : (max - min) / max;
        if (saturation > 0.25 && max > 50) {
          let hue: number;
          const d = max - min;
          if (max === r) hue = ((g - b) / d + 6) % 6;
          else if (max === g) hue = (b - r) / d + 2;
          else hue = (r - g) / d + 4;
          const bin = Math.min(HUES - 1, Math.floor((hue / 6) * HUES));
          f[THUMB_DIM + bin * 2 + (max > 150 ? 1 : 0)]++;
        } else {
          f[THUMB_DIM + HUES * 2 + Math.min(GREYS - 1, Math.floor((max / 256) * GREYS))]++;
        }
      }
    }
    for (let c = 0; c < GRID_COLS * GRID_ROWS; c++) for (let k = 0; k < 3; k++) f[c * 3 + k] /= 255 * cellPixels[c];
    for (let k = THUMB_DIM; k < FEATURE_DIM; k++) f[k] = foreground > 0 ? Math.sqrt(f[k] / foreground) : 0;
  }
  return out;
}

/** Per-dimension mean of raw features: the centre every feature is measured from. */
export function featureMean(raw: Float32Array): Float32Array {
  const count = raw.length / FEATURE_DIM;
  const mean = new Float64Array(FEATURE_DIM);
  for (let i = 0; i < count; i++) for (let k = 0; k < FEATURE_DIM; k++) mean[k] += raw[i * FEATURE_DIM + k];
  return Float32Array.from(mean, (s) => s / Math.max(count, 1));
}

/** Centres raw features in place and scales each block to unit length (times its weight). */
export function normaliseFeatures(raw: Float32Array, mean: Float32Array, histWeight = HIST_WEIGHT): Float32Array {
  const count = raw.length / FEATURE_DIM;
  const blocks: [number, number, number][] = [[0, THUMB_DIM, 1], [THUMB_DIM, FEATURE_DIM, histWeight]];
  for (let i = 0; i < count; i++) {
    const f = raw.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM);
    for (const [from, to, weight] of blocks) {
      let norm = 0;
      for (let k = from; k < to; k++) {
        f[k] -= mean[k];
        norm += f[k] * f[k];
      }
      const scale = norm > 0 ? weight / Math.sqrt(norm) : 0;
      for (let k = from; k < to; k++) f[k] *= scale;
    }
  }
  return raw;
}

/** The k most similar rows of `train` for each query row, best first. */
export interface Neighbours {
  k: number;
  /** queries × k training row indices (-1 where fewer than k training rows exist). */
  index: Int32Array;
  /** queries × k dot products. */
  score: Float32Array;
}

/** Queries handled per pass over the training rows: a training row is read once per block. */
const QUERY_BLOCK = 16;

/**
 * Exact k nearest neighbours by dot product. Queries go in blocks so each training row is loaded
 * from memory once per block instead of once per query (the training matrix does not fit in cache).
 * `onBlock(done, ms)` reports progress and the block's time.
 */
export function nearestNeighbours(train: Float32Array, queries: Float32Array, dim: number, k: number, onBlock?: (done: number, ms: number) => void): Neighbours {
  const nTrain = train.length / dim;
  const nQuery = queries.length / dim;
  if (!Number.isInteger(nTrain) || !Number.isInteger(nQuery)) throw new RangeError(`nearestNeighbours: feature arrays are not whole rows of ${dim}`);
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`nearestNeighbours: k must be a positive integer, got ${k}`);
  const index = new Int32Array(nQuery * k).fill(-1);
  const score = new Float32Array(nQuery * k).fill(-Infinity);
  const last = k - 1;
  for (let q0 = 0; q0 < nQuery; q0 += QUERY_BLOCK) {
    const t0 = performance.now();
    const q1 = Math.min(nQuery, q0 + QUERY_BLOCK);
    for (let t = 0; t < nTrain; t++) {
      const tb = t * dim;
      for (let q = q0; q < q1; q++) {
        const qb = q * dim;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let j = 0;
        for (; j + 3 < dim; j += 4) {
          s0 += train[tb + j] * queries[qb + j];
          s1 += train[tb + j + 1] * queries[qb + j + 1];
          s2 += train[tb + j + 2] * queries[qb + j + 2];
          s3 += train[tb + j + 3] * queries[qb + j + 3];
        }
        for (; j < dim; j++) s0 += train[tb + j] * queries[qb + j];
        const s = s0 + s1 + s2 + s3;
        const base = q * k;
        if (s <= score[base + last]) continue;
        let p = last;
        while (p > 0 && score[base + p - 1] < s) {
          score[base + p] = score[base + p - 1];
          index[base + p] = index[base + p - 1];
          p--;
        }
        score[base + p] = s;
        index[base + p] = t;
      }
    }
    onBlock?.(q1, performance.now() - t0);
  }
  return { k, index, score };
}

/** Training items as the reference methods see them: their truth and label-space classes. */
export interface ReferenceTraining {
  labels: LabelSpace;
  items: readonly EvalTruth[];
  /** items × attributes class indices (MISSING where unknown). */
  classes: Int32Array;
}

export function referenceTraining(labels: LabelSpace, items: readonly EvalTruth[]): ReferenceTraining {
  const nAttr = labels.attributes.length;
  const classes = new Int32Array(items.length * nAttr);
  items.forEach((item, i) => classes.set(labels.encode(item), i * nAttr));
  return { labels, items, classes };
}

function mostFrequent(values: readonly string[]): string {
  const counts = new Map<string, number>();
  let best = '', bestCount = 0;
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > bestCount) [best, bestCount] = [v, c];
  }
  return best;
}

function trainingPrices(training: ReferenceTraining): number[] {
  return training.items.flatMap((i) => (i.price === null ? [] : [i.price]));
}

/** The majority row's single prediction (the same for every item). */
export function majorityPrediction(training: ReferenceTraining): EvalPrediction {
  const { labels, items } = training;
  const attributes: EvalPrediction['attributes'] = {};
  for (const a of labels.attributes) {
    const total = a.counts.reduce((s, c) => s + c, 0);
    let best = 0;
    a.counts.forEach((c, i) => {
      if (c > a.counts[best]) best = i;
    });
    attributes[a.name] = { value: a.classes[best], confidence: total > 0 ? a.counts[best] / total : 0 };
  }
  const prices = trainingPrices(training);
  const price = prices.length ? { value: prices.reduce((s, p) => s + p, 0) / prices.length, low: quantile(prices, 0.1), high: quantile(prices, 0.9) } : null;
  return {
    attributes,
    price,
    title: mostFrequent(items.map((i) => i.title)),
    description: mostFrequent(items.flatMap((i) => (i.description === null ? [] : [i.description]))),
  };
}

/** Attributes and price voted by each query's neighbours (text filled in by the retrieval functions). */
export function knnVotes(training: ReferenceTraining, neighbours: Neighbours): Omit<EvalPrediction, 'title' | 'description'>[] {
  const { labels, items, classes } = training;
  const nAttr = labels.attributes.length;
  const fallback = majorityPrediction(training);
  const nQuery = neighbours.index.length / neighbours.k;
  const votes = labels.attributes.map((a) => new Int32Array(a.classes.length));
  const out: Omit<EvalPrediction, 'title' | 'description'>[] = [];
  for (let q = 0; q < nQuery; q++) {
    const ranked = Array.from(neighbours.index.subarray(q * neighbours.k, (q + 1) * neighbours.k)).filter((t) => t >= 0);
    const attributes: EvalPrediction['attributes'] = {};
    labels.attributes.forEach((a, ai) => {
      const v = votes[ai].fill(0);
      let top = 0;
      for (const t of ranked) {
        const c = classes[t * nAttr + ai];
        if (c === MISSING) continue;
        top = Math.max(top, ++v[c]);
      }
      // Among the classes with the most votes, the best-ranked neighbour's.
      let best = -1;
      for (const t of ranked) {
        const c = classes[t * nAttr + ai];
        if (c !== MISSING && v[c] === top) {
          best = c;
          break;
        }
      }
      attributes[a.name] = best < 0 ? { ...fallback.attributes[a.name], confidence: 0 } : { value: a.classes[best], confidence: v[best] / ranked.length };
    });
    const prices = ranked.flatMap((t) => (items[t].price === null ? [] : [items[t].price!]));
    const price = prices.length ? { value: quantile(prices, 0.5), low: quantile(prices, 0.1), high: quantile(prices, 0.9) } : fallback.price;
    out.push({ attributes, price });
  }
  return out;
}

/** The nearest training item's text for each query. */
export function retrieveByImage(training: ReferenceTraining, neighbours: Neighbours): { title: string; description: string }[] {
  const nQuery = neighbours.index.length / neighbours.k;
  return Array.from({ length: nQuery }, (_, q) => {
    const item = training.items[neighbours.index[q * neighbours.k]];
    return { title: item.title, description: item.description ?? '' };
  });
}

/**
 * For each query, the text of the training item that agrees best with the predicted classes: the
 * sum of the confidences of the predictions it shares (an attribute the item lacks adds nothing),
 * ties broken by the dot product of the image features.
 */
export function retrieveByAttributes(
  training: ReferenceTraining,
  predicted: readonly Pick<EvalPrediction, 'attributes'>[],
  trainFeatures: Float32Array,
  queryFeatures: Float32Array,
  dim: number,
): { title: string; description: string }[] {
  const { labels, items, classes } = training;
  const nAttr = labels.attributes.length;
  const nTrain = items.length;
  const wanted = new Int32Array(nAttr);
  const weight = new Float64Array(nAttr);
  const tied: number[] = [];
  return predicted.map((p, q) => {
    labels.attributes.forEach((a, ai) => {
      const prediction = p.attributes[a.name];
      wanted[ai] = prediction ? labels.classIndex(ai, prediction.value) : MISSING;
      weight[ai] = prediction?.confidence ?? 0;
    });
    let bestAgreement = -1;
    tied.length = 0;
    for (let t = 0; t < nTrain; t++) {
      let agreement = 0;
      const base = t * nAttr;
      for (let ai = 0; ai < nAttr; ai++) if (classes[base + ai] === wanted[ai]) agreement += weight[ai];
      if (agreement > bestAgreement) {
        bestAgreement = agreement;
        tied.length = 0;
      }
      if (agreement === bestAgreement) tied.push(t);
    }
    let best = tied[0], bestScore = -Infinity;
    if (tied.length > 1) {
      const qb = q * dim;
      for (const t of tied) {
        let s = 0;
        const tb = t * dim;
        for (let j = 0; j < dim; j++) s += trainFeatures[tb + j] * queryFeatures[qb + j];
        if (s > bestScore) [best, bestScore] = [t, s];
      }
    }
    return { title: items[best].title, description: items[best].description ?? '' };
  });
}
