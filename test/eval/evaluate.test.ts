/**
 * The evaluation runner, report and reference rows on generated catalogs: solid-colour product
 * photos whose colour (and colour-dependent price) is learnable from pixels, one corrupt image, and
 * a tiny random-init model built in the test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LabelSpace, PriceScaler } from '../../src/data/labels.ts';
import { BpeTokenizer, catalogTexts } from '../../src/data/tokenizer.ts';
import { run as runEval } from '../../src/cli/eval.ts';
import { knnVotes, nearestNeighbours, referenceTraining } from '../../src/eval/baselines.ts';
import { evaluateReferences, loadEvalData, type EvalData } from '../../src/eval/evaluate.ts';
import type { EvalRecord, EvalReport } from '../../src/eval/report.ts';
import { catalogSchema } from '../../src/model/bundle.ts';
import { presetConfig, validateConfig } from '../../src/model/config.ts';
import { initialBundle } from '../../src/model/init.ts';
import { catalogLexicon } from '../../src/model/lexicon.ts';
import { writeWeightsFolder } from '../../src/node/weights.ts';
import { trainingVocabulary } from '../../src/train/trainer.ts';
import { encodeBaselineJpeg, tempDir, writeCatalog, type FixtureRow } from '../data/fixtures.ts';
import { rng } from '../helpers/gpu.ts';

const COLOURS: Record<string, [number, number, number]> = { Red: [200, 30, 30], Blue: [30, 40, 190], Green: [40, 170, 50], Black: [20, 20, 20], Yellow: [230, 210, 40] };
const PRICE_OF: Record<string, number> = { Red: 10, Blue: 20, Green: 40, Black: 80, Yellow: 160 };
/** Product types and the box (x0, y0, x1, y1 as fractions of the photo) their garment fills. */
const TYPES: Record<string, [number, number, number, number]> = { 'T-shirt': [0.1, 0.1, 0.9, 0.5], Dress: [0.3, 0.05, 0.7, 0.95], Skirt: [0.2, 0.5, 0.8, 0.9] };

/** A product photo: a coloured block shaped by the product type on a white backdrop, with pixel noise. */
function photo(colour: string, type: string, seed: number, width = 32, height = 48): Uint8Array {
  const r = rng(seed);
  const [x0, y0, x1, y1] = TYPES[type];
  const rgb = new Uint8Array(width * height * 3).fill(255);
  for (let y = Math.floor(height * y0); y < Math.floor(height * y1); y++) {
    for (let x = Math.floor(width * x0); x < Math.floor(width * x1); x++) {
      for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, COLOURS[colour][c] + Math.round((r() - 0.5) * 40)));
    }
  }
  return encodeBaselineJpeg(width, height, rgb);
}

/** `count` rows cycling through colours and types (colour frequencies uneven: Red is the majority). */
function catalogRows(count: number): { rows: FixtureRow[]; images: Record<string, Uint8Array> } {
  const names = Object.keys(COLOURS);
  const types = Object.keys(TYPES);
  const rows: FixtureRow[] = [];
  const images: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    const colour = i % 3 === 0 ? 'Red' : names[i % names.length];
    const type = types[(i >> 1) % types.length];
    const id = `item${String(i).padStart(4, '0')}`;
    rows.push({
      id,
      image: `images/${id}.jpg`,
      title: `${colour} ${type} number ${i}`,
      description: `A ${colour.toLowerCase()} ${type.toLowerCase()} in soft cotton.`,
      price: PRICE_OF[colour] * (1 + 0.02 * (i % 5)),
      attributes: { colour, product_type: type },
    });
    images[`images/${id}.jpg`] = photo(colour, type, i + 1);
  }
  return { rows, images };
}

/** A tiny random-init weights folder whose heads know the catalog's colours and types. */
function writeTinyWeights(dir: string, catalogName: string, rows: FixtureRow[], image: { width: number; height: number }): string {
  const items = rows.map((r) => ({ title: r.title as string, description: r.description as string, brand: null, price: r.price as number, currency: null, attributes: r.attributes as Record<string, string> }));
  const tokenizer = BpeTokenizer.train([...catalogTexts(items)], { vocabSize: 300 });
  const preset = presetConfig('tiny', tokenizer.vocabSize);
  const config = validateConfig({
    ...preset,
    name: 'eval-test',
    backbone: { imageWidth: image.width, imageHeight: image.height, stemChannels: [4, 8], patch: 4, dim: 16, layers: 1, heads: 2, mlpDim: 32 },
    decoder: { dim: 16, layers: 1, heads: 2, mlpDim: 32, maxLength: 48, vocabSize: tokenizer.vocabSize },
  });
  // Colours seen at least 4 times (Red, Green) are classes; the rest fall into 'other'.
  const { labels } = LabelSpace.build(items, { minCount: 4, minCoverage: 0 });
  writeWeightsFolder(dir, initialBundle(config, [{ name: catalogName, labels: labels.toJSON(), price: PriceScaler.fit(items).toJSON() }], tokenizer, 3));
  return dir;
}

function expectNumberOrNull(x: unknown, path: string): void {
  if (x === null) return;
  expect(typeof x, path).toBe('number');
  expect(Number.isFinite(x as number), path).toBe(true);
}

describe('atelier eval on a tiny catalog with a random-init model', () => {
  const root = tempDir('eval');
  const catalogDir = join(root, 'shop');
  const cacheDir = join(root, 'cache');
  const { rows, images } = catalogRows(24);
  let report: EvalReport;
  let predictionLines: Record<string, unknown>[];
  let markdown = '';

  beforeAll(async () => {
    rows.push({ id: 'broken', image: 'images/broken.jpg', title: 'Broken photo', description: 'x', price: 5, attributes: { colour: 'Red' } });
    writeCatalog(catalogDir, rows, { ...images, 'images/broken.jpg': photo('Red', 'Dress', 99).subarray(0, 300) });
    // The model's input size differs from the tensor store's, so images are decoded from their files.
    const weights = writeTinyWeights(join(root, 'weights'), 'shop', rows, { width: 16, height: 24 });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const args = ['--data', catalogDir, '--weights', weights, '--split', 'all', '--cache-dir', cacheDir, '--max-tokens', '6', '--batch-size', '8'];
      expect(await runEval([...args, '--out', join(root, 'report.json'), '--predictions', join(root, 'preds.jsonl')])).toBe(0);
      expect(await runEval([...args, '--format', 'md', '--limit', '5', '--flat'])).toBe(0);
      markdown = String(log.mock.calls.at(-1)?.[0]);
    } finally {
      log.mockRestore();
      stderr.mockRestore();
    }
    report = JSON.parse(readFileSync(join(root, 'report.json'), 'utf8'));
    predictionLines = readFileSync(join(root, 'preds.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  }, 120_000);

  it('scores every readable row and counts the corrupt image as skipped', () => {
    expect(report.skipped).toBe(1);
    expect(report.n + report.skipped).toBe(rows.length);
  });

  it('has every field of the report, with finite numbers where defined', () => {
    expect(Object.keys(report.attributes).sort()).toEqual(['colour', 'product_type']);
    for (const [name, s] of Object.entries(report.attributes)) {
      expect(s.n, name).toBe(report.n);
      expect(s.accuracy).toBeGreaterThanOrEqual(0);
      expect(s.macro_f1).toBeLessThanOrEqual(1);
    }
    expectNumberOrNull(report.attributes_mean_macro_f1, 'attributes_mean_macro_f1');
    expect(report.attributes_mean_macro_f1).not.toBeNull();
    for (const key of ['mae', 'rmse', 'r2', 'r2_log', 'interval_coverage'] as const) {
      expect(report.price[key], `price.${key}`).not.toBeNull();
      expectNumberOrNull(report.price[key], `price.${key}`);
    }
    for (const field of ['title', 'description'] as const) {
      for (const key of ['rouge1', 'rouge2', 'rougeL', 'bleu'] as const) {
        expect(report.text[field][key]).not.toBeNull();
        expectNumberOrNull(report.text[field][key], `text.${field}.${key}`);
      }
    }
    const h = report.hallucination;
    for (const key of ['contradiction_rate_vs_truth', 'contradiction_rate_vs_predicted', 'paper_metric', 'human_baseline'] as const) {
      expect(h[key], key).not.toBeNull();
      expectNumberOrNull(h[key], key);
    }
    // NaN (written as null) when the generated text mentions no checkable attribute.
    expectNumberOrNull(h.mention_precision_vs_truth, 'mention_precision_vs_truth');
    for (const key of ['median_ms', 'p90_ms', 'decode_tokens_per_s'] as const) {
      expect(report.latency[key]).toBeGreaterThan(0);
    }
    expect(report.latency.adapter.length).toBeGreaterThan(0);
    expect(report.meta).toMatchObject({ catalog: 'shop', split: 'all', prompt: 'hierarchical', grounding: 'prompted' });
  });

  it("names the lexicon's values that weights without a vocabulary cannot ban: the rare colours", () => {
    // The test weights' manifest has no vocabulary, so only the head classes (Red, Green, the types) are known.
    const unknown = report.meta.lexicon_values_unknown_to_weights as Record<string, string[]>;
    expect(Object.keys(unknown)).toEqual(['colour']);
    expect(unknown.colour.length).toBeGreaterThan(0);
    for (const value of unknown.colour) expect(['Black', 'Blue', 'Yellow']).toContain(value);
  });

  it('writes one predictions line per row, skipped rows with their reason', () => {
    expect(predictionLines).toHaveLength(rows.length);
    const skipped = predictionLines.filter((l) => 'skipped' in l);
    expect(skipped.map((l) => l.id)).toEqual(['broken']);
    const scored = predictionLines.filter((l) => !('skipped' in l));
    expect(new Set(scored.map((l) => l.id)).size).toBe(report.n);
    for (const line of scored) {
      expect(line).toHaveProperty('truth.attributes.colour');
      expect(line).toHaveProperty('predicted.attributes.colour.confidence');
      expect(line).toHaveProperty('predicted.price.low');
      expect(line).toHaveProperty('predicted.title');
      expect(line).toHaveProperty('grounding');
    }
  });

  it("scores colour in the model's label space: colours it does not model count as 'other'", () => {
    const modelled = new Set(['Red', 'Green']);
    const scored = predictionLines.filter((l) => !('skipped' in l)) as unknown as EvalRecord[];
    const hits = scored.filter((l) => {
      const truth = l.truth.attributes.colour;
      return (modelled.has(truth) ? truth : 'other') === l.predicted.attributes.colour.value;
    }).length;
    expect(report.attributes.colour.accuracy).toBeCloseTo(hits / scored.length, 12);
  });

  it('prints a readable table with --format md, and --limit takes that many rows', () => {
    expect(markdown).toContain('# Evaluation: shop');
    expect(markdown).toContain('| colour |');
    expect(markdown).toMatch(/5 items scored, 0 skipped/);
    expect(markdown).toContain('prompt flat');
  });
});

describe('reference rows', () => {
  const root = tempDir('eval-refs');
  const catalogDir = join(root, 'looks');
  let data: EvalData;
  let labels: LabelSpace;

  beforeAll(async () => {
    const { rows, images } = catalogRows(300);
    writeCatalog(catalogDir, rows, images);
    data = await loadEvalData(catalogDir, { cacheDir: join(root, 'cache') });
    labels = data.dataset.labels;
  }, 120_000);
  afterAll(() => data?.dataset.images?.close());

  it("the metric's lexicon is the one weights trained on the catalog ground with", () => {
    const { dataset } = data;
    const manifest = { name: dataset.catalog.name, labels: dataset.labels.toJSON(), price: dataset.price!.toJSON(), vocabulary: trainingVocabulary(dataset) };
    expect(catalogLexicon(manifest.name, catalogSchema(manifest).vocabulary)).toEqual(data.lexicon);
  });

  it('evaluates the validation split of the deterministic split', () => {
    expect(data.items.length).toBe(data.dataset.split.val.length);
    expect(data.items.length).toBeGreaterThan(15);
    expect(data.note).toContain('validation split');
  });

  it('majority reaches the majority share; image k-NN learns colour and its price from pixels', () => {
    const [majority, knnImage, knnAttributes] = evaluateReferences(data, labels, 0.5, { k: 5 });
    const colours = data.items.map((i) => i.attributes.colour);
    const redShare = colours.filter((c) => c === 'Red').length / colours.length;
    expect(majority.report.attributes.colour.accuracy).toBeCloseTo(redShare, 10);
    expect(majority.report.price.r2).toBeLessThan(0.05);
    expect(knnImage.report.attributes.colour.accuracy).toBeGreaterThan(0.95);
    expect(knnImage.report.attributes.colour.macro_f1).toBeGreaterThan(0.9);
    expect(knnImage.report.price.r2_log).toBeGreaterThan(0.9);
    // Retrieved text names the right colour, so it rarely contradicts the truth.
    expect(knnImage.report.hallucination.contradiction_rate_vs_truth).toBeLessThan(0.1);
    expect(knnAttributes.report.attributes).toEqual(knnImage.report.attributes);
    expect(knnAttributes.report.text.description.rougeL).toBeGreaterThan(0.5);
  });
});

describe('k-NN search and votes', () => {
  it('finds the same neighbours as a brute-force sort, with -1 when k exceeds the training rows', () => {
    const r = rng(5);
    const dim = 7;
    const train = Float32Array.from({ length: 19 * dim }, () => r() - 0.5);
    const queries = Float32Array.from({ length: 21 * dim }, () => r() - 0.5);
    const k = 4;
    const nb = nearestNeighbours(train, queries, dim, k);
    for (let q = 0; q < 21; q++) {
      const scores = Array.from({ length: 19 }, (_, t) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += train[t * dim + j] * queries[q * dim + j];
        return { t, s };
      }).sort((a, b) => b.s - a.s);
      expect(Array.from(nb.index.subarray(q * k, (q + 1) * k))).toEqual(scores.slice(0, k).map((x) => x.t));
    }
    const few = nearestNeighbours(train.subarray(0, 2 * dim), queries.subarray(0, dim), dim, 3);
    expect(few.index[2]).toBe(-1);
  });

  it('votes by majority, breaks ties by rank, and lets neighbours without a value abstain', () => {
    const items = ['Red', 'Blue', 'Blue', 'Red', null, 'Green'].map((colour, i) => ({ attributes: (colour ? { colour } : {}) as Record<string, string>, price: 10 * (i + 1), title: `t${i}`, description: null, brand: null }));
    const { labels } = LabelSpace.build(items, { minCount: 1, minCoverage: 0 });
    const training = referenceTraining(labels, items);
    // Query 0: Red, Blue, Blue, Red (tie 2–2: the best-ranked, Red, wins). Query 1: nobody, Blue, Green.
    const nb = { k: 4, index: Int32Array.from([0, 1, 2, 3, 4, 1, 5, -1]), score: new Float32Array(8) };
    const [a, b] = knnVotes(training, nb);
    expect(a.attributes.colour).toEqual({ value: 'Red', confidence: 0.5 });
    expect(a.price).toMatchObject({ value: 25 });
    expect(b.attributes.colour.value).toBe('Blue');
    expect(b.attributes.colour.confidence).toBeCloseTo(1 / 3, 10);
  });
});

