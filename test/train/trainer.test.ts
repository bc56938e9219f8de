import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfig, validateConfig, type ModelConfig } from '../../src/model/config.ts';
import { readCheckpoint } from '../../src/node/checkpoint.ts';
import { readWeightsFolder } from '../../src/node/weights.ts';
import { classBalanceWeights, DEFAULT_SETTINGS, train, type TrainOptions } from '../../src/train/trainer.ts';
import { encodeBaselineJpeg, tempDir, writeCatalog } from '../data/fixtures.ts';
import { useGpu } from '../helpers/gpu.ts';

/**
 * The trainer end to end on generated catalogs: solid-colour photos whose colour is the `colour`
 * attribute (and sets the price and the title), with a micro config (the tiny preset shrunk) so a
 * few dozen steps run in seconds on lavapipe.
 */
const tiny = presetConfig('tiny', 1);
const config: ModelConfig = validateConfig({
  ...tiny,
  name: 'micro',
  backbone: { imageWidth: 16, imageHeight: 24, stemChannels: [8], patch: 2, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
  decoder: { ...tiny.decoder, dim: 32, layers: 1, heads: 2, mlpDim: 64, maxLength: 40 },
});

const COLOURS: Record<string, [number, number, number]> = { Red: [220, 30, 30], Blue: [30, 40, 210], Green: [30, 180, 40] };

/** `count` items cycling through `colours`; every image a solid colour with a little noise. */
function writeShop(dir: string, name: string, count: number, colours: string[], attribute: string): string {
  const rows = [];
  const images: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) {
    const colour = colours[i % colours.length];
    const rgb = new Uint8Array(20 * 30 * 3);
    for (let p = 0; p < rgb.length; p++) rgb[p] = Math.max(0, Math.min(255, COLOURS[colour][p % 3] + ((p * 7919 + i * 31) % 21) - 10));
    const id = `${name}${String(i).padStart(3, '0')}`;
    images[`images/${id}.jpg`] = encodeBaselineJpeg(20, 30, rgb);
    rows.push({ id, image: `images/${id}.jpg`, title: `${colour} shirt ${i}`, description: `A ${colour.toLowerCase()} cotton shirt.`, price: 10 + 20 * colours.indexOf(colour) + (i % 5), currency: 'EUR', brand: 'Acme', attributes: { [attribute]: colour } });
  }
  return writeCatalog(join(dir, name), rows, images);
}

describe('the multitask trainer', () => {
  const gpu = useGpu();
  let root = '';
  let shop = '';
  let boutique = '';
  const base = (out: string): TrainOptions => ({
    ...DEFAULT_SETTINGS,
    data: [shop],
    out,
    config,
    batchSize: 8,
    textItems: 4,
    lr: 3e-3,
    warmupSteps: 3,
    vocabSize: 300,
    valItems: 16,
    logEvery: 5,
    cacheDir: join(root, 'cache'),
    ctx: gpu(),
    progress: null,
  });

  beforeAll(() => {
    root = tempDir('trainer');
    mkdirSync(join(root, 'cache'));
    shop = writeShop(root, 'shop', 72, ['Red', 'Blue'], 'colour');
    boutique = writeShop(root, 'boutique', 72, ['Green', 'Red'], 'tone');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lowers the loss, logs, validates and writes a loadable weights folder', async () => {
    const losses: number[] = [];
    const out = join(root, 'learn');
    const result = await train({ ...base(out), steps: 30, onStep: (r) => losses.push(r.losses.total) });
    expect(result.steps).toBe(30);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.7 * mean(losses.slice(0, 5)));
    const shopMetrics = result.validation[0];
    expect(shopMetrics.attributes.colour.accuracy).toBeGreaterThan(0.9); // red vs blue photos
    expect(shopMetrics.text!.ce).toBeGreaterThan(0);
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const types = log.map((l) => l.type);
    expect(types[0]).toBe('start');
    expect(types.filter((t) => t === 'train')).toHaveLength(6);
    expect(types.slice(-3)).toEqual(['validation', 'checkpoint', 'end']);
    const weights = readWeightsFolder(join(out, 'weights'));
    expect(weights.catalogs.map((c) => c.name)).toEqual(['shop']);
    expect(weights.config.backbone.dim).toBe(32);
    // The manifest carries every attribute value of the training split: grounding's vocabulary.
    expect(weights.manifest.catalogs[0].vocabulary).toEqual({ colour: ['Blue', 'Red'] });
  });

  it('class balancing: rarer classes weigh more, the loss keeps its scale, and a balanced run learns', async () => {
    const counts = [900, 90, 9, 1, 0];
    const w = Array.from(classBalanceWeights(counts, 0.5));
    for (let c = 1; c < 4; c++) expect(w[c]).toBeGreaterThan(w[c - 1]);
    expect(w[4]).toBe(w[3]); // an unseen class weighs as one seen once
    // Averaged over the labelled items the weights are 1; clipping bounds the spread to 100x.
    expect(counts.reduce((s, n, c) => s + n * w[c], 0) / 1000).toBeCloseTo(1, 5);
    expect(w[4] / w[0]).toBeLessThanOrEqual(100 + 1e-6);
    expect(Array.from(classBalanceWeights(counts, 0))).toEqual([1, 1, 1, 1, 1]);
    const result = await train({ ...base(join(root, 'balanced')), steps: 12, classBalance: 0.5 });
    expect(result.validation[0].attributes.colour.accuracy).toBeGreaterThan(0.9);
  });

  it('resumes from a checkpoint to exactly the parameters of an uninterrupted run', async () => {
    const steps = 10;
    const whole = await train({ ...base(join(root, 'whole')), steps });
    const abort = new AbortController();
    const first = await train({ ...base(join(root, 'parts')), steps, signal: abort.signal, onStep: (r) => r.step === 3 && abort.abort() });
    expect(first.steps).toBe(4);
    const second = await train({ ...base(join(root, 'parts')), resume: true, steps: 999 }); // saved settings win
    expect(second.steps).toBe(steps);
    const a = readWeightsFolder(join(whole.checkpoint, 'weights'));
    const b = readWeightsFolder(join(second.checkpoint, 'weights'));
    for (const [name, p] of a.params) expect(Array.from(b.params.get(name)!.data), name).toEqual(Array.from(p.data));
    const ma = readCheckpoint(join(root, 'whole'))!.optimizer;
    const mb = readCheckpoint(join(root, 'parts'))!.optimizer;
    expect(mb.stepCount).toBe(ma.stepCount);
    expect(Array.from(mb.moments[0].v)).toEqual(Array.from(ma.moments[0].v));
  });

  it('keeps the previous checkpoint when a checkpoint write fails midway', async () => {
    const out = join(root, 'crash');
    const abort = new AbortController();
    await train({ ...base(out), steps: 4, signal: abort.signal, onStep: (r) => r.step === 1 && abort.abort() });
    // The next checkpoint (step 4) cannot write its optimizer file: a folder is in the way.
    const trap = join(out, 'checkpoints', 'step-000004.tmp', 'optimizer.safetensors');
    mkdirSync(trap, { recursive: true });
    await expect(train({ ...base(out), resume: true })).rejects.toThrow(/EISDIR|directory/);
    expect(existsSync(join(out, 'checkpoints', 'step-000004'))).toBe(false);
    const kept = readCheckpoint(out)!;
    expect(kept.optimizer.stepCount).toBe(2);
    expect(readWeightsFolder(join(out, 'weights')).params.size).toBe(kept.bundle.params.size);
    // Once the cause is gone, the run resumes from the kept checkpoint and finishes.
    rmSync(trap, { recursive: true });
    expect((await train({ ...base(out), resume: true })).steps).toBe(4);
    expect(readdirSync(join(out, 'checkpoints'))).toEqual(['step-000004']);
  });

  it('--stage decoder: trains only the decoder on cached image tokens, every item with text, and reuses the cache', async () => {
    const source = join(root, 'learn', 'weights');
    const init = readWeightsFolder(source);
    const out = join(root, 'decoder-stage');
    const texts: number[] = [];
    const result = await train({ ...base(out), init: source, stage: 'decoder', steps: 12, onStep: (r) => texts.push(r.losses.text) });
    expect(result.steps).toBe(12);
    expect(texts.every(Number.isFinite)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(texts.slice(-3))).toBeLessThan(mean(texts.slice(0, 3)));
    const tuned = readWeightsFolder(join(out, 'weights'));
    let changed = 0;
    for (const [name, p] of init.params) {
      const same = Array.from(tuned.params.get(name)!.data).every((v, i) => v === p.data[i]);
      if (!name.startsWith('decoder.')) expect(same, `${name} is not the decoder's: unchanged`).toBe(true);
      else if (!same) changed++;
    }
    expect(changed).toBeGreaterThan(0);
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const cache = log.find((l) => l.type === 'image-tokens');
    expect(cache).toMatchObject({ catalog: 'shop', built: true });
    // every item of a batch has text: batch 8 of sequences
    expect(log.find((l) => l.type === 'train').tokens_per_s).toBeGreaterThan(0);
    // A second run on the same weights and images reads the cache instead of building it.
    await train({ ...base(join(root, 'decoder-stage-2')), init: source, stage: 'decoder', steps: 1 });
    const again = readFileSync(join(root, 'decoder-stage-2', 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(again.find((l) => l.type === 'image-tokens')).toMatchObject({ built: false, path: cache.path });
  });

  it('--init carries the backbone and decoder over and makes a fresh head for a new catalog', async () => {
    const source = join(root, 'learn', 'weights');
    const init = readWeightsFolder(source);
    const out = join(root, 'finetune');
    await train({ ...base(out), data: [boutique], init: source, steps: 0 });
    const tuned = readWeightsFolder(join(out, 'weights'));
    expect(tuned.catalogs.map((c) => c.name).sort()).toEqual(['boutique', 'shop']);
    expect(tuned.tokenizer.toJSON()).toEqual(init.tokenizer.toJSON());
    for (const [name, p] of init.params) expect(Array.from(tuned.params.get(name)!.data), name).toEqual(Array.from(p.data));
    const head = tuned.params.get('heads.boutique.weight')!;
    expect(head.shape).toEqual([tuned.catalogs.find((c) => c.name === 'boutique')!.head.attributes[0].values.length + 3, 32]);
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').split('\n')[0];
    expect(JSON.parse(log).fresh_heads).toEqual(['boutique']);
    expect(tuned.manifest.catalogs.find((c) => c.name === 'boutique')!.vocabulary).toEqual({ tone: ['Green', 'Red'] });
  });
});
