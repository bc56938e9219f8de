/**
 * The evaluation runner (Node): a catalog's evaluated part, the model or the reference methods run
 * over it, and the records scored by report.ts.
 *
 *   const data = await loadEvalData('../shared/data/myntra', { split: 'val', limit: 500 });
 *   const engine = await createListingEngine({ weights: 'weights', catalog: data.dataset.catalog.name, batchSize: 32 });
 *   const report = await evaluateModel(data, engine, { prompt: 'hierarchical', grounded: true });
 *   const rows = evaluateReferences(data, modelLabels(engine, data), threshold);
 *
 * The evaluated part is the validation split of the catalog's deterministic split (src/data/split.ts,
 * the split training uses) or, with `split: 'all'`, every row. Rows of that part whose image cannot
 * be read are counted in `skipped` (so n + skipped = the part's rows) and written to the predictions
 * file with their reason. `limit` takes that many rows spread evenly over the part (every
 * len/limit-th row in file order), so a short run still covers the whole catalog.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import type { LabelSpace } from '../data/labels.ts';
import type { PixelImage } from '../data/preprocess.ts';
import { parseListings, type CatalogItem, type RowProblem } from '../data/schema.ts';
import { splitItems } from '../data/split.ts';
import { attributeVocabulary, catalogLexicon, type AttributeVocabulary, type Lexicon } from '../model/lexicon.ts';
import type { CatalogSchema } from '../model/bundle.ts';
import type { GroundingMode } from '../model/grounding.ts';
import type { ListOptions } from '../model/listing-model.ts';
import { imageFilePath } from '../node/catalog.ts';
import { prepareDataset, type Dataset } from '../node/dataset.ts';
import type { NodeListingEngine } from '../node/engine.ts';
import { decodeImageFile } from '../node/image.ts';
import {
  FEATURE_DIM,
  featureMean,
  knnVotes,
  majorityPrediction,
  nearestNeighbours,
  normaliseFeatures,
  rawImageFeatures,
  referenceTraining,
  retrieveByAttributes,
  retrieveByImage,
} from './baselines.ts';
import { latencyOf, scoreRecords, type BatchTiming, type EvalRecord, type EvalTruth, type ResultRow } from './report.ts';

export type EvalSplit = 'val' | 'all';

export interface EvalData {
  dataset: Dataset;
  split: EvalSplit;
  /** Readable rows evaluated, in file order. */
  items: CatalogItem[];
  /** Rows of the evaluated part whose image (or row) could not be read. */
  unreadable: RowProblem[];
  /** Rows in the evaluated part before `limit` (readable and not). */
  partRows: number;
  /** The evaluated part in words, for reports. */
  note: string;
  /**
   * The value vocabulary of the catalog's training split, computed as the trainer computes the one
   * it stores with the weights (every value, rare ones included; `attributeVocabulary`).
   */
  vocabulary: AttributeVocabulary;
  /**
   * The contradiction lexicon, `catalogLexicon` over `vocabulary`: for weights trained on this
   * catalog, the very lexicon grounded decoding bans from, so `contradiction_rate_vs_predicted`
   * with grounding is 0 by construction.
   */
  lexicon: Lexicon;
}

export interface EvalDataOptions {
  split?: EvalSplit;
  limit?: number;
  /** Tensor store folder (default: the repository's .cache/images). */
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Loads a catalog (building its tensor store if needed) and picks the evaluated rows. */
export async function loadEvalData(path: string, options: EvalDataOptions = {}): Promise<EvalData> {
  const split = options.split ?? 'val';
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
  const dataset = await prepareDataset(path, { cacheDir: options.cacheDir, onProgress: options.onProgress });
  const { catalog } = dataset;
  let items: CatalogItem[];
  let unreadable: RowProblem[];
  let note: string;
  if (split === 'all') {
    items = catalog.items;
    unreadable = catalog.problems;
    note = 'all rows';
  } else {
    items = dataset.split.val;
    const assigned = unreadableInValidation(dataset);
    unreadable = assigned.problems;
    const { groupKey, valFraction, seed } = dataset.splitConfig;
    note = `validation split (${Math.round(valFraction * 100)}% of product groups by ${groupKey.kind === 'id-prefix' ? `id prefix ${groupKey.length}` : groupKey.kind}, seed '${seed}')`;
    if (assigned.unassigned) note += `; ${assigned.unassigned} invalid rows could not be assigned to a side and are not counted`;
  }
  const part = [...items.map((item) => ({ line: item.line, item })), ...unreadable.map((problem) => ({ line: problem.line, problem }))].sort((a, b) => a.line - b.line);
  const chosen = options.limit !== undefined && options.limit < part.length ? Array.from({ length: options.limit }, (_, j) => part[Math.floor((j * part.length) / options.limit!)]) : part;
  if (chosen.length < part.length) note += `, ${chosen.length} of its ${part.length} rows spread evenly (--limit)`;
  const vocabulary = attributeVocabulary(dataset.split.train);
  return {
    dataset,
    split,
    items: chosen.flatMap((e) => ('item' in e && e.item ? [e.item] : [])),
    unreadable: chosen.flatMap((e) => ('problem' in e && e.problem ? [e.problem] : [])),
    partRows: part.length,
    note,
    vocabulary,
    lexicon: catalogLexicon(catalog.name, vocabulary),
  };
}

/**
 * The skipped rows that belong to the validation side. A side is decided by the row's group alone,
 * so a row with a valid schema (only its image failed) is placed by re-reading it; a row that fails
 * the schema has no group and is left out. Only JSON-lines catalogs can be re-read this way.
 */
function unreadableInValidation(dataset: Dataset): { problems: RowProblem[]; unassigned: number } {
  const { catalog, splitConfig } = dataset;
  if (catalog.problems.length === 0) return { problems: [], unassigned: 0 };
  if (extname(catalog.source).toLowerCase() !== '.jsonl') return { problems: [], unassigned: catalog.problems.length };
  const rows = new Map(parseListings(readFileSync(catalog.source, 'utf8')).items.map((item) => [item.line, item]));
  const problems: RowProblem[] = [];
  let unassigned = 0;
  for (const problem of catalog.problems) {
    const row = rows.get(problem.line);
    if (!row) unassigned++;
    else if (splitItems([row], splitConfig).val.length) problems.push(problem);
  }
  return { problems, unassigned };
}

function truthOf(item: CatalogItem): EvalTruth {
  return { attributes: item.attributes, price: item.price, title: item.title, description: item.description, brand: item.brand };
}

function modelCatalog(engine: NodeListingEngine, data: EvalData): CatalogSchema {
  const name = data.dataset.catalog.name;
  const schema = engine.model.bundle.catalogs.find((c) => c.name === name);
  if (!schema) throw new Error(`the weights have no heads for catalog '${name}' (they have: ${engine.model.bundle.catalogs.map((c) => c.name).join(', ')})`);
  return schema;
}

/** The label space the model's heads predict for the data's catalog. */
export function modelLabels(engine: NodeListingEngine, data: EvalData): LabelSpace {
  return modelCatalog(engine, data).labels;
}

/**
 * Values the metric's lexicon reads that the weights' vocabulary lacks, by checked attribute:
 * grounding cannot ban their forms (empty for weights trained on this catalog's training split).
 */
function valuesUnknownToModel(data: EvalData, model: AttributeVocabulary): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const attribute of data.lexicon.attributes.keys()) {
    const known = new Set(model[attribute] ?? []);
    const missing = data.vocabulary[attribute].filter((v) => !known.has(v));
    if (missing.length > 0) out[attribute] = missing;
  }
  return out;
}

export interface ModelEvalOptions {
  prompt?: 'hierarchical' | 'flat';
  grounding?: GroundingMode | 'off';
  maxNewTokens?: number;
  /** Where to write one JSON line per row (records, and skipped rows with their reason). */
  predictions?: string;
  /** Extra fields for the report's meta (weights folder, variant name). */
  meta?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/** Lists every evaluated item with the engine and scores the listings. */
export async function evaluateModel(data: EvalData, engine: NodeListingEngine, options: ModelEvalOptions = {}) {
  const { dataset, items } = data;
  const schema = modelCatalog(engine, data);
  const { labels } = schema;
  const { bundle } = engine.model;
  const { imageWidth, imageHeight } = engine.model.config.backbone;
  const store = dataset.images;
  // The tensor store's images are the model's input when the sizes agree; otherwise decode files.
  const fromStore = store !== null && store.width === imageWidth && store.height === imageHeight;
  const listOptions: ListOptions = { catalog: dataset.catalog.name, prompt: options.prompt ?? 'hierarchical', grounding: options.grounding ?? 'prompted', maxNewTokens: options.maxNewTokens };
  const records: EvalRecord[] = [];
  const unreadable = [...data.unreadable];
  const timings: BatchTiming[] = [];
  const fd = options.predictions ? openSync(options.predictions, 'w') : null;
  const writeLine = (value: unknown) => fd !== null && writeSync(fd, JSON.stringify(value) + '\n');
  options.onProgress?.(0, items.length);
  try {
    for (let start = 0; start < items.length; start += engine.maxBatch) {
      const batch = items.slice(start, start + engine.maxBatch);
      const readable: CatalogItem[] = [];
      const images: PixelImage[] = [];
      if (fromStore) {
        const pixels = store!.read(batch.map((i) => i.id));
        const size = store!.imageBytes;
        batch.forEach((item, i) => {
          readable.push(item);
          images.push({ width: imageWidth, height: imageHeight, channels: 3, data: pixels.subarray(i * size, (i + 1) * size) });
        });
      } else {
        for (const item of batch) {
          try {
            images.push(await decodeImageFile(imageFilePath(dataset.catalog, item)));
            readable.push(item);
          } catch (e) {
            unreadable.push({ line: item.line, id: item.id, reason: (e as Error).message });
            writeLine({ id: item.id, line: item.line, skipped: (e as Error).message });
          }
        }
      }
      if (images.length === 0) continue;
      const t0 = performance.now();
      const listings = await engine.list(images, listOptions);
      const wall = performance.now() - t0;
      let tokens = 0;
      listings.forEach((listing, i) => {
        const item = readable[i];
        // Tokens written: the title, <desc>, the description and </s> (re-encoded from the text).
        const written = bundle.tokenizer.encode(listing.title).length + bundle.tokenizer.encode(listing.description).length + 2;
        tokens += Math.min(written, (listing.timings_ms.decode_steps ?? written) + 1);
        const record: EvalRecord = {
          id: item.id,
          truth: truthOf(item),
          predicted: {
            attributes: Object.fromEntries(Object.entries(listing.attributes).map(([name, p]) => [name, { value: p.value, confidence: p.confidence }])),
            price: { value: listing.price.value, low: listing.price.low, high: listing.price.high },
            title: listing.title,
            description: listing.description,
          },
          grounding: listing.grounding,
        };
        records.push(record);
        writeLine(record);
      });
      timings.push({ rows: listings.length, wall_ms: wall, decode_ms: listings[0].timings_ms.decode_ms, tokens });
      options.onProgress?.(Math.min(items.length, start + batch.length), items.length);
    }
    if (fd !== null) for (const p of data.unreadable) writeLine({ id: p.id, line: p.line, skipped: p.reason });
  } finally {
    if (fd !== null) closeSync(fd);
  }
  return scoreRecords(
    records,
    { labels, lexicon: data.lexicon, threshold: bundle.manifest.confidenceThreshold },
    {
      skipped: unreadable.length,
      latency: latencyOf(timings, engine.adapterName, engine.maxBatch),
      meta: {
        catalog: dataset.catalog.name,
        data: dataset.catalog.dir,
        split: data.split,
        split_note: data.note,
        model: bundle.config.name,
        confidence_threshold: bundle.manifest.confidenceThreshold,
        prompt: listOptions.prompt,
        grounding: listOptions.grounding,
        max_new_tokens: options.maxNewTokens ?? 'model default',
        batch_size: engine.maxBatch,
        lexicon_values_unknown_to_weights: valuesUnknownToModel(data, schema.vocabulary),
        ...options.meta,
      },
    },
  );
}

export interface ReferenceOptions {
  /** Neighbours voting (default 10). */
  k?: number;
  /** Training items searched at most (spread evenly over the training split; default all). */
  maxTrain?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Images read from the tensor store per chunk when computing features. */
const FEATURE_CHUNK = 2048;

function storeFeatures(dataset: Dataset, items: readonly CatalogItem[]): Float32Array {
  const store = dataset.images;
  if (!store) throw new Error('the reference rows need the tensor store of preprocessed images');
  const out = new Float32Array(items.length * FEATURE_DIM);
  for (let i = 0; i < items.length; i += FEATURE_CHUNK) {
    const chunk = items.slice(i, i + FEATURE_CHUNK);
    out.set(rawImageFeatures(store.read(chunk.map((c) => c.id)), chunk.length, { width: store.width, height: store.height }), i * FEATURE_DIM);
  }
  return out;
}

/**
 * The reference rows (baselines.ts) on the evaluated items, scored in `labels` (the model's label
 * space, or the dataset's when there is no model) with the same confidence threshold.
 */
export function evaluateReferences(data: EvalData, labels: LabelSpace, threshold: number, options: ReferenceOptions = {}): ResultRow[] {
  const { dataset, items } = data;
  const k = options.k ?? 10;
  const fullTrain = dataset.split.train;
  const maxTrain = options.maxTrain ?? fullTrain.length;
  const trainItems = maxTrain < fullTrain.length ? Array.from({ length: maxTrain }, (_, j) => fullTrain[Math.floor((j * fullTrain.length) / maxTrain)]) : fullTrain;
  const training = referenceTraining(labels, trainItems.map(truthOf));
  const trainRaw = storeFeatures(dataset, trainItems);
  const mean = featureMean(trainRaw);
  const trainFeatures = normaliseFeatures(trainRaw, mean);
  const queryFeatures = normaliseFeatures(storeFeatures(dataset, items), mean);

  const knnTimings: BatchTiming[] = [];
  let previous = 0;
  options.onProgress?.(0, items.length);
  const neighbours = nearestNeighbours(trainFeatures, queryFeatures, FEATURE_DIM, k, (done, ms) => {
    knnTimings.push({ rows: done - previous, wall_ms: ms });
    previous = done;
    options.onProgress?.(done, items.length);
  });
  const votes = knnVotes(training, neighbours);
  const byImage = retrieveByImage(training, neighbours);
  // Attribute retrieval, timed per block of the same queries as the k-NN search (added to it).
  const byAttributes: { title: string; description: string }[] = [];
  const attributeTimings: BatchTiming[] = [];
  let from = 0;
  for (const t of knnTimings) {
    const t0 = performance.now();
    byAttributes.push(...retrieveByAttributes(training, votes.slice(from, from + t.rows), trainFeatures, queryFeatures.subarray(from * FEATURE_DIM, (from + t.rows) * FEATURE_DIM), FEATURE_DIM));
    attributeTimings.push({ rows: t.rows, wall_ms: t.wall_ms + performance.now() - t0 });
    from += t.rows;
  }
  const t0 = performance.now();
  const majority = majorityPrediction(training);
  const majorityTiming: BatchTiming = { rows: items.length, wall_ms: performance.now() - t0 };

  const context = { labels, lexicon: data.lexicon, threshold };
  const trainNote = trainItems.length < fullTrain.length ? `${trainItems.length} of ${fullTrain.length} training items (spread evenly)` : `all ${fullTrain.length} training items`;
  const row = (name: string, method: string, predictions: EvalRecord['predicted'][], timings: BatchTiming[]): ResultRow => ({
    name,
    report: scoreRecords(
      items.map((item, i) => ({ id: item.id, truth: truthOf(item), predicted: predictions[i] })),
      context,
      {
        skipped: data.unreadable.length,
        latency: latencyOf(timings, 'CPU (JavaScript)', 1),
        meta: { catalog: dataset.catalog.name, data: dataset.catalog.dir, split: data.split, split_note: data.note, method, k, training: trainNote, confidence_threshold: threshold },
      },
    ),
  });
  return [
    row('majority class / mean price', 'majority', items.map(() => majority), [majorityTiming]),
    row(`image ${k}-NN, text of the nearest image`, 'knn-image', votes.map((v, i) => ({ ...v, ...byImage[i] })), knnTimings),
    row(`image ${k}-NN, text retrieved by predicted attributes`, 'knn-attributes', votes.map((v, i) => ({ ...v, ...byAttributes[i] })), attributeTimings),
  ];
}
