import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelBundle } from '../../src/model/bundle.ts';
import { ListingModel } from '../../src/model/listing-model.ts';
import { useGpu } from '../helpers/gpu.ts';
import { randomImage, tinyBundle } from './fixtures.ts';

/**
 * An adversarial decoder: the final norm outputs a constant vector u (gamma 0, beta u) and the
 * tied embedding rows of the tokens spelling "red" are made large along u, so without grounding
 * every step writes "red". The listing is prompted with a blue colour, so grounding must ban it.
 */
function wrongColourBundle(): { bundle: ModelBundle; redTokens: number[] } {
  const bundle = tinyBundle(3);
  const tok = bundle.tokenizer;
  const dim = bundle.config.decoder.dim;
  const u = Float32Array.from({ length: dim }, (_, i) => (i % 2 ? 1 : -1));
  bundle.params.get('decoder.norm.gamma')!.data.fill(0);
  bundle.params.get('decoder.norm.beta')!.data.set(u);
  const embed = bundle.params.get('decoder.embed')!.data;
  const redTokens = [...new Set([...tok.encode(' red'), ...tok.encode('red'), ...tok.encode(' Red'), ...tok.encode('Red')])];
  redTokens.forEach((id, rank) => {
    for (let i = 0; i < dim; i++) embed[id * dim + i] = u[i] * (4 - rank * 0.1);
  });
  return { bundle, redTokens };
}

describe('grounded decoding', () => {
  const gpu = useGpu();
  let model: ListingModel;
  beforeAll(() => {
    model = ListingModel.load(gpu(), wrongColourBundle().bundle);
  });
  afterAll(() => model?.dispose());

  const facts = [{ name: 'base_colour', value: 'Blue' }];
  const image = randomImage(32, 48, 5);

  it('without grounding the adversarial decoder contradicts the prompted colour', async () => {
    const [listing] = await model.list([image], { facts, grounding: 'off', maxNewTokens: 16 });
    const text = `${listing.title} ${listing.description}`.toLowerCase();
    expect(text).toMatch(/\bred\b/);
    expect(listing.grounding.some((g) => g.attribute === 'base_colour' && !g.agrees)).toBe(true);
  });

  it('with grounding it never emits a contradicting mention', async () => {
    for (const maxNewTokens of [8, 16, 24]) {
      const [listing] = await model.list([image], { facts, grounding: 'prompted', maxNewTokens });
      expect(listing.grounding.filter((g) => !g.agrees)).toEqual([]);
      expect(`${listing.title} ${listing.description}`.toLowerCase()).not.toMatch(/\bred\b/);
    }
  });

  it('beam search with grounding never contradicts, in any beam it keeps', async () => {
    const [listing] = await model.list([image], { facts, grounding: 'prompted', maxNewTokens: 12, beams: 3 });
    expect(listing.grounding.filter((g) => !g.agrees)).toEqual([]);
    expect(`${listing.title} ${listing.description}`.toLowerCase()).not.toMatch(/\bred\b/);
  });

  it('sampling with grounding also never contradicts', async () => {
    for (const seed of [1, 2, 3]) {
      const [listing] = await model.list([image], { facts, grounding: 'prompted', maxNewTokens: 16, temperature: 1, seed });
      expect(listing.grounding.filter((g) => !g.agrees)).toEqual([]);
    }
  });
});
