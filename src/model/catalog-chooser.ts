/**
 * The catalog chooser (`--catalog auto`): which catalog's attribute schema fits a photo best, with
 * a confidence. A multinomial logistic regression (the "catalog head") over the backbone's pooled
 * embedding and a few plain image statistics (aspect ratio, background, colour), fitted after
 * training on each catalog's training-split photos (`atelier catalog-head`, src/cli/catalog-head.ts)
 * and stored in the weights folder's model.json as `catalogChooser`. Browser-safe.
 *
 * The head is tied to the backbone it was fitted on: it stores a fingerprint of the backbone's
 * weights, and weights trained again (or a folder without a head) make `auto` fall back to the
 * first catalog with a note saying how to refit.
 */
import type { PixelImage } from '../data/preprocess.ts';

/** Image statistics the head can use, computed from the photo as given (before resizing). */
export const IMAGE_STATS = ['log_aspect', 'border_mean', 'border_std', 'white_fraction', 'mean_luma', 'std_luma', 'mean_saturation'] as const;
export type ImageStat = (typeof IMAGE_STATS)[number];

export interface CatalogChooserJson {
  version: 1;
  /** Class order of `weights` / `bias`. */
  catalogs: string[];
  /** Feature layout: the first `pooled` features are the pooled embedding (0: not used), then `stats` in order. */
  features: { pooled: number; stats: ImageStat[] };
  /** Standardisation applied before the linear map: (x - mean) / scale. */
  mean: number[];
  scale: number[];
  /** [catalogs][features] and [catalogs]. */
  weights: number[][];
  bias: number[];
  /** backboneFingerprint() of the weights the pooled features were computed with. */
  backbone: string;
  /** Provenance: data, sample counts, validation accuracy, the command that fitted it. */
  fit?: Record<string, unknown>;
}

export interface CatalogChoice {
  /** The catalog whose heads and schema made the listing. */
  used: string;
  /** Every catalog the weights have. */
  available: string[];
  /** 'flag': asked for (--catalog); 'auto': the chooser's pick; 'default': the weights' first catalog. */
  chosen_by: 'flag' | 'auto' | 'default';
  /** The chooser's probability for `used` (null unless chosen_by is 'auto'). */
  confidence: number | null;
  /** The chooser's probability per catalog (auto only). */
  probabilities?: Record<string, number>;
  /** Why `auto` could not choose (no head in these weights, or one fitted on other weights). */
  note?: string;
}

/** Luma and saturation of an 8-bit RGB(A) pixel, RGBA composited on white; in [0, 1]. */
function pixelAt(img: PixelImage, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * img.channels;
  const a = img.channels === 4 ? img.data[i + 3] / 255 : 1;
  const r = (img.data[i] * a + 255 * (1 - a)) / 255;
  const g = (img.data[i + 1] * a + 255 * (1 - a)) / 255;
  const b = (img.data[i + 2] * a + 255 * (1 - a)) / 255;
  return [r, g, b];
}

/**
 * IMAGE_STATS of a photo, on a grid of at most 64 × 64 sample points: ln(width / height); the
 * mean and spread of brightness on the outermost sample rows and columns (the background);
 * the fraction of near-white samples; brightness mean and spread; mean saturation.
 */
export function imageStatistics(img: PixelImage): Record<ImageStat, number> {
  const gx = Math.min(64, img.width);
  const gy = Math.min(64, img.height);
  let n = 0, sum = 0, sum2 = 0, white = 0, sat = 0;
  let bn = 0, bsum = 0, bsum2 = 0;
  for (let j = 0; j < gy; j++) {
    const y = Math.min(img.height - 1, Math.floor(((j + 0.5) * img.height) / gy));
    for (let i = 0; i < gx; i++) {
      const x = Math.min(img.width - 1, Math.floor(((i + 0.5) * img.width) / gx));
      const [r, g, b] = pixelAt(img, x, y);
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      n++;
      sum += luma;
      sum2 += luma * luma;
      if (Math.min(r, g, b) > 235 / 255) white++;
      sat += Math.max(r, g, b) - Math.min(r, g, b);
      if (i === 0 || j === 0 || i === gx - 1 || j === gy - 1) {
        bn++;
        bsum += luma;
        bsum2 += luma * luma;
      }
    }
  }
  const mean = sum / n;
  const bmean = bsum / bn;
  return {
    log_aspect: Math.log(img.width / img.height),
    border_mean: bmean,
    border_std: Math.sqrt(Math.max(0, bsum2 / bn - bmean * bmean)),
    white_fraction: white / n,
    mean_luma: mean,
    std_luma: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
    mean_saturation: sat / n,
  };
}

/** The feature vector the head reads: the first `pooled` values of the embedding, then the stats. */
export function chooserFeatures(layout: CatalogChooserJson['features'], pooled: ArrayLike<number>, img: PixelImage): Float64Array {
  const stats = imageStatistics(img);
  const out = new Float64Array(layout.pooled + layout.stats.length);
  for (let i = 0; i < layout.pooled; i++) out[i] = pooled[i];
  layout.stats.forEach((s, i) => (out[layout.pooled + i] = stats[s]));
  return out;
}

/** FNV-1a (two 32-bit lanes) over the backbone's parameters, by name: ties a head to its backbone. */
export function backboneFingerprint(params: ReadonlyMap<string, { data: Float32Array }>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  const names = [...params.keys()].filter((n) => n.startsWith('backbone.')).sort();
  for (const name of names) {
    for (let c = 0; c < name.length; c++) h1 = Math.imul(h1 ^ name.charCodeAt(c), 0x01000193);
    const d = params.get(name)!.data;
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    for (let i = 0; i < bits.length; i++) {
      h1 = Math.imul(h1 ^ bits[i], 0x01000193);
      h2 = Math.imul(h2 ^ (bits[i] >>> 7), 0x01000193) ^ (h1 >>> 13);
    }
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

export interface FitOptions {
  /** L2 penalty on the weights (standardised features); default 1e-3. */
  l2?: number;
  /** Full-batch Adam steps (default 400). */
  iterations?: number;
  learningRate?: number;
  /** Weight each class by 1 / its count, so a larger catalog does not win by size (default true). */
  balanced?: boolean;
}

/**
 * Fits a multinomial logistic regression on standardised features (plain TS, CPU): full-batch
 * Adam on the class-weighted mean cross-entropy plus `l2` · |W|². Returns the head's numbers.
 */
export function fitCatalogHead(x: readonly Float64Array[], y: readonly number[], classes: number, options: FitOptions = {}): Pick<CatalogChooserJson, 'mean' | 'scale' | 'weights' | 'bias'> {
  const n = x.length;
  if (n === 0 || y.length !== n) throw new Error(`fitCatalogHead: ${n} samples and ${y.length} labels`);
  const f = x[0].length;
  const counts = new Array(classes).fill(0);
  for (const c of y) counts[c]++;
  if (counts.some((c) => c === 0)) throw new Error(`fitCatalogHead: every catalog needs samples (counts ${counts.join(', ')})`);
  const mean = new Array(f).fill(0);
  const scale = new Array(f).fill(0);
  for (const row of x) for (let j = 0; j < f; j++) mean[j] += row[j] / n;
  for (const row of x) for (let j = 0; j < f; j++) scale[j] += (row[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < f; j++) scale[j] = Math.sqrt(scale[j]) || 1;
  const z = x.map((row) => Float64Array.from(row, (v, j) => (v - mean[j]) / scale[j]));
  const sampleWeight = y.map((c) => (options.balanced === false ? 1 / n : 1 / (classes * counts[c])));
  const l2 = options.l2 ?? 1e-3;
  const lr = options.learningRate ?? 0.05;
  const iterations = options.iterations ?? 400;
  const P = classes * (f + 1); // weights row-major [class][feature], then biases
  const theta = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const grad = new Float64Array(P);
  const logits = new Float64Array(classes);
  for (let t = 1; t <= iterations; t++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const row = z[i];
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let s = theta[classes * f + c];
        const w = c * f;
        for (let j = 0; j < f; j++) s += theta[w + j] * row[j];
        logits[c] = s;
        if (s > max) max = s;
      }
      let total = 0;
      for (let c = 0; c < classes; c++) total += (logits[c] = Math.exp(logits[c] - max));
      for (let c = 0; c < classes; c++) {
        const g = sampleWeight[i] * (logits[c] / total - (y[i] === c ? 1 : 0));
        const w = c * f;
        for (let j = 0; j < f; j++) grad[w + j] += g * row[j];
        grad[classes * f + c] += g;
      }
    }
    for (let k = 0; k < classes * f; k++) grad[k] += 2 * l2 * theta[k];
    for (let k = 0; k < P; k++) {
      m[k] = 0.9 * m[k] + 0.1 * grad[k];
      v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
      theta[k] -= (lr * (m[k] / (1 - 0.9 ** t))) / (Math.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  const weights = Array.from({ length: classes }, (_, c) => Array.from(theta.subarray(c * f, (c + 1) * f)));
  return { mean, scale, weights, bias: Array.from(theta.subarray(classes * f)) };
}

/** Softmax probabilities of the head for one feature vector. */
export function headProbabilities(head: Pick<CatalogChooserJson, 'mean' | 'scale' | 'weights' | 'bias'>, features: ArrayLike<number>): number[] {
  const logits = head.weights.map((w, c) => {
    let s = head.bias[c];
    for (let j = 0; j < w.length; j++) s += (w[j] * (features[j] - head.mean[j])) / head.scale[j];
    return s;
  });
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** How to (re)fit the head on the committed weights with the shared catalogs. */
export const REFIT_COMMAND = 'node bin/atelier.mjs catalog-head --weights weights --data ../shared/data/myntra --data ../shared/data/hm';

export class CatalogChooser {
  private constructor(readonly json: CatalogChooserJson) {}

  /**
   * The head stored with a model, or why there is none that fits it: no head, a head for other
   * catalogs, features that do not match the backbone's width, or a head fitted on other weights.
   */
  static fromModel(json: CatalogChooserJson | undefined, catalogs: readonly string[], pooledDim: number, fingerprint: () => string): CatalogChooser | string {
    const refit = `fit one with: ${REFIT_COMMAND}`;
    if (!json) return `these weights have no catalog chooser (model.json catalogChooser); ${refit}`;
    if (json.version !== 1 || !Array.isArray(json.catalogs) || !Array.isArray(json.weights) || json.weights.length !== json.catalogs.length) return `the weights' catalogChooser is not one this version reads; ${refit}`;
    const missing = json.catalogs.filter((c) => !catalogs.includes(c));
    if (missing.length) return `the catalog chooser knows catalogs these weights lack (${missing.join(', ')}); ${refit}`;
    const width = json.features.pooled + json.features.stats.length;
    if (json.features.pooled > pooledDim || json.weights.some((w) => w.length !== width) || json.mean.length !== width || json.scale.length !== width) return `the catalog chooser's features do not match this model; ${refit}`;
    if (json.features.pooled > 0 && json.backbone !== fingerprint()) return `the catalog chooser was fitted on other backbone weights; ${refit}`;
    return new CatalogChooser(json);
  }

  /** The best-fitting catalog for one photo and its pooled embedding, with every catalog's probability. */
  choose(pooled: ArrayLike<number>, img: PixelImage): { catalog: string; confidence: number; probabilities: Record<string, number> } {
    const p = headProbabilities(this.json, chooserFeatures(this.json.features, pooled, img));
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    return { catalog: this.json.catalogs[best], confidence: p[best], probabilities: Object.fromEntries(this.json.catalogs.map((c, i) => [c, p[i]])) };
  }
}
