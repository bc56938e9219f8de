import { describe, expect, it } from 'vitest';
import { hallucinationScores } from '../../src/eval/hallucination.ts';
import { buildLexicon } from '../../src/model/lexicon.ts';
import { schemaFor } from '../../src/model/lexicon-schemas.ts';

const VOCAB = {
  base_colour: ['Blue', 'Red', 'White'],
  sleeve_length: ['Short Sleeves', 'Long Sleeves'],
  article_type: ['Tshirts', 'Shirts'],
};
const lexicon = buildLexicon(schemaFor('test', Object.keys(VOCAB)), VOCAB);

describe('hallucination scores', () => {
  it('counts contradictions against truth and predictions, mention precision and the human baseline', () => {
    const s = hallucinationScores(lexicon, [
      {
        // Agrees with the truth on colour and sleeves (2 agreeing mentions + the type head).
        generated: { title: 'Blue Tshirt', description: 'Blue t-shirt with short sleeves' },
        truth: { base_colour: 'Blue', sleeve_length: 'Short Sleeves', article_type: 'Tshirts' },
        predicted: { base_colour: 'Blue', sleeve_length: 'Short Sleeves', article_type: 'Tshirts' },
        reference: { title: 'Blue Tshirt', description: 'Has long sleeves' }, // the human text contradicts
      },
      {
        // Wrong colour against the truth, but faithful to the (wrong) prediction.
        generated: { title: 'Red Shirt', description: 'Long sleeves' },
        truth: { base_colour: 'Blue', sleeve_length: 'Long Sleeves', article_type: 'Shirts' },
        predicted: { base_colour: 'Red', sleeve_length: 'Long Sleeves', article_type: 'Shirts' },
        reference: null,
      },
      {
        generated: { title: 'Shirt', description: 'Plain cotton' },
        truth: { base_colour: 'White', article_type: 'Shirts' },
        predicted: { base_colour: 'Blue', sleeve_length: 'Unknown', article_type: 'Tshirts' },
        reference: { title: 'White Shirt', description: '' },
      },
    ]);
    expect(s.n).toBe(3);
    expect(s.contradiction_rate_vs_truth).toBeCloseTo(1 / 3, 12);
    // Mentions vs truth: item 1 — Blue, Tshirt, Blue, short sleeves (4 agree); item 2 — Red (contradicts),
    // Shirt, Long sleeves (agree); item 3 — Shirt (agrees).
    expect(s.mention_precision_vs_truth).toBeCloseTo(7 / 8, 12);
    // Item 3's head noun "Shirt" contradicts its predicted type Tshirts.
    expect(s.contradiction_rate_vs_predicted).toBeCloseTo(1 / 3, 12);
    expect(s.n_human).toBe(2);
    expect(s.human_baseline).toBe(0.5);
    expect(s.listings_with_mentions).toBe(1);
    expect(s.per_attribute.base_colour).toEqual({ contradiction_rate_vs_truth: 1 / 3, mentions: 3, mention_precision_vs_truth: 2 / 3 });
    expect(s.paper_metric).toBeGreaterThan(0);
  });

  it("computes the paper's score on its `title: … | description: …` string", () => {
    // W = {title, blue, description, cotton}; V = {blue}: 1 mention, 3 hallucinated words.
    const s = hallucinationScores(lexicon, [
      { generated: { title: 'Blue', description: 'cotton' }, truth: {}, predicted: { base_colour: 'Blue', fabric: 'unknown' } },
    ]);
    expect(s.paper_metric).toBe(3);
    expect(s.human_baseline).toBeNaN();
    expect(s.mention_precision_vs_truth).toBeNaN();
  });
});
