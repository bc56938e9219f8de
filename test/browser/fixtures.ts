/**
 * Fixtures for the page tests: a product-like photo as PNG bytes, and a tiny weights folder with two
 * catalogs written beside the built pages, for when the committed weights are not there.
 */
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { LabelSpace, PriceScaler } from '../../src/data/labels.ts';
import type { ModelBundle } from '../../src/model/bundle.ts';
import { initialBundle } from '../../src/model/init.ts';
import { writeWeightsFolder } from '../../src/node/weights.ts';
import { TINY_ITEMS, tinyBundle } from '../model/fixtures.ts';

/**
 * A flat-colour T-shirt (body, sleeves, a neck cut-out) on white, RGBA with full alpha: the kind of
 * packshot the model is trained on, and exactly representable by every PNG decoder (no colour
 * profile, no transparency), so Node and the browser see the same pixels.
 */
export function shirtPng(width: number, height: number, rgb: [number, number, number]): { png: Buffer; rgba: Uint8Array } {
  const png = new PNG({ width, height });
  const inShirt = (x: number, y: number) => {
    const [u, v] = [x / width, y / height];
    const body = u > 0.28 && u < 0.72 && v > 0.18 && v < 0.92;
    const sleeves = v > 0.18 && v < 0.42 && u > 0.1 && u < 0.9 && v - 0.18 < (0.5 - Math.abs(u - 0.5)) * 0.9;
    const neck = (u - 0.5) ** 2 / 0.01 + (v - 0.18) ** 2 / 0.004 < 1;
    return (body || sleeves) && !neck;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      // A little shading down the shirt, so the image is not just two colours.
      const shade = inShirt(x, y) ? 1 - 0.25 * (y / height) : null;
      png.data[i] = shade === null ? 255 : Math.round(rgb[0] * shade);
      png.data[i + 1] = shade === null ? 255 : Math.round(rgb[1] * shade);
      png.data[i + 2] = shade === null ? 255 : Math.round(rgb[2] * shade);
      png.data[i + 3] = 255;
    }
  }
  return { png: PNG.sync.write(png), rgba: new Uint8Array(png.data) };
}

/** FNV-1a over bytes, as web/photo.ts pixelChecksum computes it in the page. */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * test/model/fixtures.ts's tiny model with a second catalog ('shop': two of the attributes, prices
 * in USD), so the page shows its catalog selector. Seeded random weights, never trained.
 *
 * Untrained, the decoder picks byte and word-piece tokens as often as words, and lone UTF-8 bytes
 * decode to replacement characters. The embedding rows (tied with the output layer) of every token
 * that is not a whole word with its leading space are shrunk, so its logits are small and the
 * decoder writes words: a readable screenshot, and attribute words for grounding to find.
 */
export function twoCatalogBundle(seed: number): ModelBundle {
  const base = tinyBundle(seed);
  const shopItems = TINY_ITEMS.map((it) => ({
    ...it,
    price: Math.round(it.price / 8) / 10,
    currency: 'USD',
    attributes: { base_colour: it.attributes.base_colour, gender: it.attributes.gender },
  }));
  const { labels } = LabelSpace.build(shopItems, { minCount: 1, minCoverage: 0 });
  const shop = { name: 'shop', labels: labels.toJSON(), price: PriceScaler.fit(shopItems).toJSON() };
  const bundle = initialBundle(base.config, [...base.manifest.catalogs, shop], base.tokenizer, seed);
  const { tokenizer } = bundle;
  const embed = bundle.params.get('decoder.embed')!;
  const dim = embed.shape[1];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.isSpecial(id) || /^ [A-Za-z]{3,}$/.test(tokenizer.decode([id]))) continue;
    embed.data.subarray(id * dim, (id + 1) * dim).forEach((v, j, row) => (row[j] = v * 0.1));
  }
  return bundle;
}

/** Writes the bundle as a weights folder `name` in the served folder; returns its path on disk. */
export function serveWeights(siteDir: string, name: string, bundle: ModelBundle): string {
  const dir = join(siteDir, name);
  writeWeightsFolder(dir, bundle);
  return dir;
}
