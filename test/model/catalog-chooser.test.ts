import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelSpace, PriceScaler } from '../../src/data/labels.ts';
import type { PixelImage } from '../../src/data/preprocess.ts';
import type { ModelBundle } from '../../src/model/bundle.ts';
import { backboneFingerprint, CatalogChooser, chooserFeatures, fitCatalogHead, headProbabilities, IMAGE_STATS, imageStatistics, REFIT_COMMAND, type CatalogChooserJson } from '../../src/model/catalog-chooser.ts';
import { initialBundle } from '../../src/model/init.ts';
import { ListingModel } from '../../src/model/listing-model.ts';
import { rng, useGpu } from '../helpers/gpu.ts';
import { TINY_ITEMS, tinyBundle } from './fixtures.ts';

/**
 * A generated fixture of two "catalogs" whose photos differ the way the shared ones do: 'studio'
 * photos are tall (2:3) on a light grey background, 'street' photos are 3:4 on white; the product
 * in the middle is a random colour.
 */
function photo(kind: 'studio' | 'street', seed: number): PixelImage {
  const r = rng(seed);
  const w = kind === 'studio' ? 40 + Math.floor(r() * 8) * 2 : 45 + Math.floor(r() * 9);
  const height = kind === 'studio' ? Math.round(w * 1.5) : Math.round(w * (4 / 3));
  const bg = kind === 'studio' ? 225 + Math.floor(r() * 12) : 250 + Math.floor(r() * 6);
  const colour = [r(), r(), r()].map((v) => Math.floor(v * 200));
  const data = new Uint8Array(w * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w; x++) {
      const inside = Math.abs(x - w / 2) < w * 0.3 && y > height * 0.15 && y < height * 0.85;
      const i = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) data[i + c] = inside ? colour[c] : Math.min(255, bg + Math.floor(r() * 4));
    }
  }
  return { width: w, height, channels: 3, data };
}

const STATS_ONLY = { pooled: 0, stats: [...IMAGE_STATS] };

function fitFixture(n: number, seed: number): CatalogChooserJson {
  const images = Array.from({ length: n }, (_, i) => photo(i % 2 ? 'street' : 'studio', seed + i));
  const x = images.map((img) => chooserFeatures(STATS_ONLY, [], img));
  const head = fitCatalogHead(x, images.map((_, i) => i % 2), 2);
  return { version: 1, catalogs: ['studio', 'street'], features: STATS_ONLY, ...head, backbone: '' };
}

describe('catalog chooser (CPU)', () => {
  it('image statistics: aspect, background, white fraction', () => {
    const white: PixelImage = { width: 30, height: 60, channels: 3, data: new Uint8Array(30 * 60 * 3).fill(255) };
    const s = imageStatistics(white);
    expect(s.log_aspect).toBeCloseTo(Math.log(0.5), 10);
    expect(s.border_mean).toBeCloseTo(1, 6);
    expect(s.white_fraction).toBe(1);
    expect(s.std_luma).toBeCloseTo(0, 6);
    // A transparent RGBA photo counts as white (composited on white, as preprocessing does).
    const clear: PixelImage = { width: 8, height: 8, channels: 4, data: new Uint8Array(8 * 8 * 4) };
    expect(imageStatistics(clear).white_fraction).toBe(1);
    const studio = imageStatistics(photo('studio', 3));
    expect(studio.border_mean).toBeLessThan(0.95);
    expect(studio.mean_saturation).toBeGreaterThan(0);
  });

  it('the fitted head separates a generated fixture, on photos it was not fitted on', () => {
    const head = fitFixture(80, 1);
    let correct = 0;
    for (let i = 0; i < 60; i++) {
      const kind = i % 2 ? 'street' : 'studio';
      const p = headProbabilities(head, chooserFeatures(STATS_ONLY, [], photo(kind, 1000 + i)));
      expect(p[0] + p[1]).toBeCloseTo(1, 10);
      if (head.catalogs[p[0] > p[1] ? 0 : 1] === kind) correct++;
    }
    expect(correct / 60).toBeGreaterThanOrEqual(0.95);
  });

  it('balanced fitting: a catalog with 5x the photos does not win by size', () => {
    const x: Float64Array[] = [];
    const y: number[] = [];
    const r = rng(5);
    for (let i = 0; i < 600; i++) {
      const label = i < 500 ? 0 : 1;
      x.push(Float64Array.of(label + (r() - 0.5) * 1.6, r()));
      y.push(label);
    }
    const head = fitCatalogHead(x, y, 2);
    // Halfway between the class means is a coin flip for a balanced head.
    const p = headProbabilities(head, [0.5, 0.5]);
    expect(Math.abs(p[0] - 0.5)).toBeLessThan(0.1);
  });

  it('a head for weights without one, other catalogs or another backbone is refused with the refit command', () => {
    const head = fitFixture(20, 2);
    expect(CatalogChooser.fromModel(undefined, ['studio', 'street'], 16, () => 'x')).toContain(REFIT_COMMAND);
    expect(CatalogChooser.fromModel(head, ['studio'], 16, () => 'x')).toMatch(/lack \(street\)/);
    const withPooled = { ...head, features: { pooled: 2, stats: head.features.stats }, mean: [0, 0, ...head.mean], scale: [1, 1, ...head.scale], weights: head.weights.map((w) => [0, 0, ...w]), backbone: 'aaaa' };
    expect(CatalogChooser.fromModel(withPooled, ['studio', 'street'], 16, () => 'bbbb')).toMatch(/other backbone weights/);
    expect(CatalogChooser.fromModel(withPooled, ['studio', 'street'], 16, () => 'aaaa')).toBeInstanceOf(CatalogChooser);
    expect(CatalogChooser.fromModel(withPooled, ['studio', 'street'], 1, () => 'aaaa')).toMatch(/do not match/);
  });

  it("the backbone fingerprint follows the backbone's weights, not the heads'", () => {
    const bundle = tinyBundle(3);
    const before = backboneFingerprint(bundle.params);
    const head = [...bundle.params.keys()].find((n) => n.startsWith('heads.'))!;
    bundle.params.get(head)!.data[0] += 1;
    expect(backboneFingerprint(bundle.params)).toBe(before);
    const bb = [...bundle.params.keys()].find((n) => n.startsWith('backbone.'))!;
    bundle.params.get(bb)!.data[0] += 1;
    expect(backboneFingerprint(bundle.params)).not.toBe(before);
  });
});

/** tinyBundle's model with two catalogs, 'studio' and 'street', sharing its label space. */
function twoCatalogBundle(chooser?: CatalogChooserJson): ModelBundle {
  const base = tinyBundle(4);
  const { labels } = LabelSpace.build(TINY_ITEMS, { minCount: 1, minCoverage: 0 });
  const price = PriceScaler.fit(TINY_ITEMS).toJSON();
  const bundle = initialBundle(base.config, ['studio', 'street'].map((name) => ({ name, labels: labels.toJSON(), price })), base.tokenizer, 4);
  return { ...bundle, manifest: { ...bundle.manifest, catalogChooser: chooser } };
}

describe('--catalog auto in the listing model (GPU)', () => {
  const gpu = useGpu();
  let plain: ListingModel;
  let chooser: ListingModel;
  const head = fitFixture(80, 7);
  beforeAll(() => {
    plain = ListingModel.load(gpu(), twoCatalogBundle());
    chooser = ListingModel.load(gpu(), twoCatalogBundle(head));
  });
  afterAll(() => {
    plain?.dispose();
    chooser?.dispose();
  });

  it('without a chooser: the first catalog, with a note naming the refit command', async () => {
    const [l] = await plain.list([photo('street', 1)], { catalog: 'auto', maxNewTokens: 3 });
    expect(l.catalog).toBe('studio');
    expect(l.catalog_choice).toMatchObject({ used: 'studio', available: ['studio', 'street'], chosen_by: 'default', confidence: null });
    expect(l.catalog_choice!.note).toContain(REFIT_COMMAND);
  });

  it('a named catalog is reported as chosen by the flag, none as the default', async () => {
    const [named] = await plain.list([photo('street', 2)], { catalog: 'street', maxNewTokens: 3 });
    expect(named.catalog_choice).toMatchObject({ used: 'street', chosen_by: 'flag' });
    const [unnamed] = await plain.list([photo('street', 2)], { maxNewTokens: 3 });
    expect(unnamed.catalog_choice).toMatchObject({ used: 'studio', chosen_by: 'default' });
  });

  it('with a chooser: each photo of a mixed batch gets its own catalog, with its confidence', async () => {
    const kinds = ['studio', 'street', 'street', 'studio'] as const;
    const images = kinds.map((k, i) => photo(k, 500 + i));
    const listings = await chooser.list(images, { catalog: 'auto', maxNewTokens: 3 });
    expect(listings.map((l) => l.catalog)).toEqual([...kinds]);
    for (const l of listings) {
      expect(l.catalog_choice!.chosen_by).toBe('auto');
      expect(l.catalog_choice!.confidence).toBeGreaterThan(0.5);
      expect(l.catalog_choice!.probabilities![l.catalog]).toBe(l.catalog_choice!.confidence);
    }
    // The same photos one at a time give the same listings (the mixed batch is split, not mixed up).
    const single = await chooser.list([images[1]], { catalog: 'auto', maxNewTokens: 3 });
    expect(single[0].title).toBe(listings[1].title);
    expect(single[0].attributes).toEqual(listings[1].attributes);
  });
});
