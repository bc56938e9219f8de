/**
 * Fitting and measuring the catalog chooser (Node): features of catalog photos — the backbone's
 * pooled embedding computed on the GPU by the listing model, plus image statistics — for a
 * deterministic sample of each catalog's training split and its validation split, split exactly as
 * the trainer splits (prepareDataset), then the logistic-regression head fitted on CPU
 * (src/model/catalog-chooser.ts) and scored per catalog.
 */
import { unitHash } from '../data/random.ts';
import type { CatalogItem } from '../data/schema.ts';
import { backboneFingerprint, chooserFeatures, fitCatalogHead, headProbabilities, IMAGE_STATS, type CatalogChooserJson, type FitOptions, type ImageStat } from '../model/catalog-chooser.ts';
import type { ListingModel } from '../model/listing-model.ts';
import { imageFilePath } from './catalog.ts';
import { prepareDataset, type Dataset } from './dataset.ts';
import { decodeImageFile } from './image.ts';

export interface ChooserSample {
  /** Index into the catalogs list. */
  label: number;
  id: string;
  pooled: Float32Array;
  /** The decoded photo's statistics, as chooserFeatures computes them. */
  features: Float64Array;
}

export interface CatalogSamples {
  catalog: string;
  train: ChooserSample[];
  val: ChooserSample[];
  /** Training split and validation split sizes. */
  trainItems: number;
  valItems: number;
}

/** The first `n` items in a fixed pseudo-random order (the same on every run). */
export function sampleItems(items: readonly CatalogItem[], n: number | undefined, seed = 'catalog-head'): CatalogItem[] {
  if (n === undefined || n >= items.length) return [...items];
  return [...items].sort((a, b) => unitHash(a.id, seed) - unitHash(b.id, seed)).slice(0, n);
}

const ALL_FEATURES = (dim: number): CatalogChooserJson['features'] => ({ pooled: dim, stats: [...IMAGE_STATS] });

/** Pooled embeddings and statistics of `items`' photos, `batch` photos per backbone pass. */
async function featuresOf(model: ListingModel, dataset: Dataset, items: readonly CatalogItem[], label: number, batch: number, onBatch?: (n: number) => void): Promise<ChooserSample[]> {
  const layout = ALL_FEATURES(model.config.backbone.dim);
  const out: ChooserSample[] = [];
  for (let i = 0; i < items.length; i += batch) {
    const chunk = items.slice(i, i + batch);
    const images = await Promise.all(chunk.map((item) => decodeImageFile(imageFilePath(dataset.catalog, item))));
    const { tokens, pooled } = await model.encode(images);
    tokens.dispose();
    const values = (await pooled.read()) as Float32Array;
    pooled.dispose();
    const d = model.config.backbone.dim;
    chunk.forEach((item, b) => {
      const p = values.slice(b * d, (b + 1) * d);
      out.push({ label, id: item.id, pooled: p, features: chooserFeatures(layout, p, images[b]) });
    });
    onBatch?.(chunk.length);
  }
  return out;
}

export interface CollectOptions {
  /** Training photos per catalog (default 1500; a fixed pseudo-random sample of the split). */
  trainPerCatalog?: number;
  /** Validation photos per catalog (default: the whole validation split). */
  valPerCatalog?: number;
  batch?: number;
  cacheDir?: string;
  /** Called before each catalog's photos with how many there are. */
  onCatalog?: (catalog: string, photos: number) => void;
  onBatch?: (photos: number) => void;
}

/** Features of each catalog's training sample and validation split; `paths[i]` must be one of the model's catalogs. */
export async function collectChooserSamples(model: ListingModel, paths: readonly string[], options: CollectOptions = {}): Promise<CatalogSamples[]> {
  const out: CatalogSamples[] = [];
  const names: string[] = [];
  for (const path of paths) {
    const dataset = await prepareDataset(path, { preprocess: { width: model.config.backbone.imageWidth, height: model.config.backbone.imageHeight, background: [255, 255, 255] }, cacheDir: options.cacheDir });
    dataset.images?.close();
    const name = dataset.catalog.name;
    if (!model.catalogNames.includes(name)) throw new Error(`${path} is catalog '${name}', which these weights have no heads for (they have: ${model.catalogNames.join(', ')})`);
    if (names.includes(name)) throw new Error(`two --data catalogs are both named '${name}'`);
    names.push(name);
    const train = sampleItems(dataset.split.train, options.trainPerCatalog ?? 1500);
    const val = sampleItems(dataset.split.val, options.valPerCatalog);
    options.onCatalog?.(name, train.length + val.length);
    const label = names.length - 1;
    const batch = options.batch ?? 32;
    out.push({
      catalog: name,
      train: await featuresOf(model, dataset, train, label, batch, options.onBatch),
      val: await featuresOf(model, dataset, val, label, batch, options.onBatch),
      trainItems: dataset.split.train.length,
      valItems: dataset.split.val.length,
    });
  }
  return out;
}

/** Feature sets the command can fit on (the default is 'all'). */
export const FEATURE_SETS = {
  all: (dim: number) => ({ pooled: dim, stats: [...IMAGE_STATS] }),
  embedding: (dim: number) => ({ pooled: dim, stats: [] as ImageStat[] }),
  stats: () => ({ pooled: 0, stats: [...IMAGE_STATS] }),
  'stats-no-aspect': () => ({ pooled: 0, stats: IMAGE_STATS.filter((s) => s !== 'log_aspect') }),
  'embedding-no-aspect': (dim: number) => ({ pooled: dim, stats: IMAGE_STATS.filter((s) => s !== 'log_aspect') }),
} satisfies Record<string, (dim: number) => CatalogChooserJson['features']>;
export type FeatureSet = keyof typeof FEATURE_SETS;

/** A sample's features in a layout (samples carry every feature: the pooled values, then IMAGE_STATS). */
function select(s: ChooserSample, layout: CatalogChooserJson['features']): Float64Array {
  const all = s.features;
  const dim = all.length - IMAGE_STATS.length;
  const out = new Float64Array(layout.pooled + layout.stats.length);
  for (let i = 0; i < layout.pooled; i++) out[i] = all[i];
  layout.stats.forEach((name, i) => (out[layout.pooled + i] = all[dim + IMAGE_STATS.indexOf(name)]));
  return out;
}

export interface ChooserScore {
  /** Per catalog: validation photos, how many got their own catalog, and the fraction. */
  perCatalog: Record<string, { photos: number; correct: number; accuracy: number; meanConfidence: number }>;
}

/** Validation accuracy per catalog of a head over samples. */
export function scoreHead(head: CatalogChooserJson, samples: readonly CatalogSamples[]): ChooserScore {
  const perCatalog: ChooserScore['perCatalog'] = {};
  for (const c of samples) {
    let correct = 0;
    let confidence = 0;
    for (const s of c.val) {
      const p = headProbabilities(head, select(s, head.features));
      const best = p.indexOf(Math.max(...p));
      if (head.catalogs[best] === c.catalog) correct++;
      confidence += Math.max(...p);
    }
    perCatalog[c.catalog] = { photos: c.val.length, correct, accuracy: c.val.length ? correct / c.val.length : NaN, meanConfidence: c.val.length ? confidence / c.val.length : NaN };
  }
  return { perCatalog };
}

/** Fits the head on the samples' training photos with a feature set. */
export function fitChooser(model: ListingModel, samples: readonly CatalogSamples[], featureSet: FeatureSet = 'all', options: FitOptions = {}): CatalogChooserJson {
  const features = FEATURE_SETS[featureSet](model.config.backbone.dim);
  const train = samples.flatMap((c) => c.train);
  const head = fitCatalogHead(train.map((s) => select(s, features)), train.map((s) => s.label), samples.length, options);
  return { version: 1, catalogs: samples.map((c) => c.catalog), features, ...head, backbone: backboneFingerprint(model.bundle.params) };
}
