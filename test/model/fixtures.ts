/**
 * A tiny listing model for tests: a tokenizer trained on a few product texts, a colour / sleeve /
 * gender label space, a shrunken config and seeded random weights.
 */
import { LabelSpace, PriceScaler } from '../../src/data/labels.ts';
import type { PixelImage } from '../../src/data/preprocess.ts';
import { BpeTokenizer } from '../../src/data/tokenizer.ts';
import type { ModelBundle } from '../../src/model/bundle.ts';
import { presetConfig, validateConfig } from '../../src/model/config.ts';
import { initialBundle } from '../../src/model/init.ts';
import { rng } from '../helpers/gpu.ts';

const COLOURS = ['Red', 'Blue', 'Green', 'Black', 'White'];
const SLEEVES = ['Short Sleeves', 'Long Sleeves', 'Sleeveless'];
const GENDERS = ['Men', 'Women'];

export const TINY_ITEMS = Array.from({ length: 60 }, (_, i) => {
  const colour = COLOURS[i % COLOURS.length];
  const sleeve = SLEEVES[i % SLEEVES.length];
  const gender = GENDERS[i % GENDERS.length];
  return {
    title: `${gender} ${colour} Cotton T-shirt`,
    description: `A ${colour.toLowerCase()} t-shirt with ${sleeve.toLowerCase()} and a round neck, for ${gender.toLowerCase()}.`,
    price: 300 + 25 * i,
    currency: 'INR',
    attributes: { base_colour: colour, sleeve_length: sleeve, gender },
  };
});

export function tinyBundle(seed = 1, overrides: { layers?: number } = {}): ModelBundle {
  const texts = TINY_ITEMS.flatMap((it) => [it.title, it.description, ...Object.values(it.attributes)]);
  const tok = BpeTokenizer.train(texts, { vocabSize: 400 });
  const base = presetConfig('tiny', tok.vocabSize);
  const config = validateConfig({
    ...base,
    name: 'test',
    backbone: { imageWidth: 16, imageHeight: 24, stemChannels: [4, 8], patch: 2, dim: 16, layers: overrides.layers ?? 1, heads: 2, mlpDim: 32 },
    decoder: { dim: 16, layers: overrides.layers ?? 2, heads: 2, mlpDim: 32, maxLength: 64, vocabSize: tok.vocabSize },
  });
  const { labels } = LabelSpace.build(TINY_ITEMS, { minCount: 1, minCoverage: 0 });
  const price = PriceScaler.fit(TINY_ITEMS);
  return initialBundle(config, [{ name: 'myntra', labels: labels.toJSON(), price: price.toJSON() }], tok, seed);
}

/** A random RGB image of any size. */
export function randomImage(width: number, height: number, seed: number): PixelImage {
  const r = rng(seed);
  return { width, height, channels: 3, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(r() * 256)) };
}
