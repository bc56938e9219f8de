import { describe, expect, it } from 'vitest';
import {
  classificationScores,
  lcsLength,
  paperHallucinationScore,
  priceScores,
  rSquared,
  rougeL,
  rougeN,
  rougeTokens,
  sentenceBleu,
  textQuality,
  textScores,
} from '../../src/eval/metrics.ts';

describe('rouge', () => {
  it('tokenises like rouge-score: lower-case, non-[a-z0-9] runs split, non-ASCII letters dropped', () => {
    expect(rougeTokens("T-Shirt, Men's (Blue)!")).toEqual(['t', 'shirt', 'men', 's', 'blue']);
    expect(rougeTokens('Café 3/4')).toEqual(['caf', '3', '4']);
    expect(rougeTokens(' -- ')).toEqual([]);
  });

  it('computes the LCS of token sequences', () => {
    expect(lcsLength(['a', 'b', 'c', 'd', 'e'], ['a', 'c', 'e', 'f'])).toBe(3);
    expect(lcsLength(['a', 'b'], ['b', 'a'])).toBe(1);
    expect(lcsLength([], ['a'])).toBe(0);
  });

  it('ROUGE-L: LCS "a c e" of 4 predicted and 5 reference tokens gives P 3/4, R 3/5, F 2/3', () => {
    const s = rougeL('A C E F', 'a b c d e');
    expect(s.precision).toBeCloseTo(3 / 4, 12);
    expect(s.recall).toBeCloseTo(3 / 5, 12);
    expect(s.f).toBeCloseTo(2 / 3, 12);
  });

  it('ROUGE-1/2 clip repeated n-grams and score no overlap as 0', () => {
    expect(rougeN('A C E F', 'a b c d e', 1).f).toBeCloseTo(2 / 3, 12);
    expect(rougeN('A C E F', 'a b c d e', 2).f).toBe(0);
    // Reference bigram "the the" ×2, prediction ×1: P = 1/1, R = 1/2.
    const r2 = rougeN('the the', 'the the the', 2);
    expect(r2.precision).toBe(1);
    expect(r2.recall).toBe(0.5);
    expect(r2.f).toBeCloseTo(2 / 3, 12);
    expect(rougeN('', 'a b', 1).f).toBe(0);
    expect(() => rougeN('a', 'a', 0)).toThrow(/positive integer/);
  });
});

describe('sentence BLEU-4 with smoothing method 1', () => {
  it('matches the hand computation with one smoothed order', () => {
    // p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0 → 0.1/3; equal lengths so BP = 1. NLTK gives 0.254066374077.
    const expected = (5 / 6 * (3 / 5) * (1 / 4) * (0.1 / 3)) ** 0.25;
    expect(sentenceBleu('the cat sat on the mat', 'the cat is on the mat')).toBeCloseTo(expected, 12);
    expect(expected).toBeCloseTo(0.254066374077, 10);
  });

  it('applies the brevity penalty and smooths orders longer than the hypothesis as 0.1/1', () => {
    // p1 = 2/2, p2 = 1/1, p3 = p4 = 0.1/1, BP = exp(1 − 6/2). NLTK gives 0.042796774281.
    expect(sentenceBleu('the cat', 'the cat sat on the mat')).toBeCloseTo(Math.exp(-2) * Math.sqrt(0.1), 12);
  });

  it('is 0 without a unigram match (case-sensitive whitespace tokens) or for an empty hypothesis', () => {
    expect(sentenceBleu('The cat', 'the dog')).toBe(0);
    expect(sentenceBleu('', 'the dog')).toBe(0);
  });

  it('averages over pairs with a real reference and skips the others', () => {
    const s = textScores([
      { prediction: 'the cat sat on the mat', reference: 'the cat is on the mat' },
      { prediction: 'anything', reference: null },
      { prediction: 'anything', reference: ' ! ' },
      { prediction: '', reference: 'the cat is on the mat' },
    ]);
    expect(s.n).toBe(2);
    expect(s.bleu).toBeCloseTo(0.254066374077 / 2, 10);
    expect(s.rougeL).toBeCloseTo(5 / 6 / 2, 12);
  });
});

describe('classification scores', () => {
  it('skips missing truth and takes macro-F1 over the union of true and predicted classes (sklearn)', () => {
    // Scored pairs (a,a) (a,b) (b,b) (c,d): F1 a = 2/3, b = 2/3, c = 0 (never predicted), d = 0 (never true).
    const s = classificationScores(['a', 'a', 'b', null, 'c'], ['a', 'b', 'b', 'c', 'd']);
    expect(s.n).toBe(4);
    expect(s.accuracy).toBe(0.5);
    expect(s.macro_f1).toBeCloseTo(1 / 3, 12); // sklearn f1_score(average='macro') = 0.3333
  });

  it('counts an abstention as a miss without adding a class', () => {
    const s = classificationScores(['a', 'b'], ['a', undefined]);
    expect(s.accuracy).toBe(0.5);
    expect(s.macro_f1).toBeCloseTo(0.5, 12);
  });

  it('gives NaN with no scored item and rejects mismatched lengths', () => {
    expect(classificationScores([null], ['a']).n).toBe(0);
    expect(classificationScores([null], ['a']).macro_f1).toBeNaN();
    expect(() => classificationScores(['a'], [])).toThrow(/1 true labels but 0 predictions/);
  });
});

describe('price scores', () => {
  it('R² is 1 − SS_res/SS_tot, with sklearn\'s constant-truth convention', () => {
    expect(rSquared([1, 2, 3, 4], [1, 2, 3, 5])).toBeCloseTo(0.8, 12); // SS_res 1, SS_tot 5
    expect(rSquared([2, 2], [2, 3])).toBe(0);
    expect(rSquared([2, 2], [2, 2])).toBe(1);
  });

  it('computes MAE, RMSE, R², R² on log price and interval coverage over known prices', () => {
    const s = priceScores([
      { truth: 1, predicted: 1, low: 0.5, high: 1.5 },
      { truth: 2, predicted: 2 },
      { truth: 3, predicted: 3 },
      { truth: 4, predicted: 5, low: 5, high: 6 },
      { truth: null, predicted: 100 },
    ]);
    expect(s.n).toBe(4);
    expect(s.mae).toBeCloseTo(0.25, 12);
    expect(s.rmse).toBeCloseTo(0.5, 12);
    expect(s.r2).toBeCloseTo(0.8, 12);
    expect(s.interval_coverage).toBe(0.5);
    // ln truths 0, 1, 2 against ln predictions 1, 1, 1: SS_res = 2 = SS_tot.
    const e = Math.E;
    expect(priceScores([{ truth: 1, predicted: e }, { truth: e, predicted: e }, { truth: e * e, predicted: e }]).r2_log).toBeCloseTo(0, 12);
  });

  it('rejects non-positive prices', () => {
    expect(() => priceScores([{ truth: 0, predicted: 1 }])).toThrow(/must be positive/);
  });
});

describe("the paper's hallucination score", () => {
  it('reproduces evaluate_hallucinations.py on its own example plus one', () => {
    // Item 1: V = {red, v-neck, short sleeve}; mentions red, v-neck; hallucinated: a, beautiful,
    // t-shirt, with, sleeves, perfect, for, summer ("short" is a substring of "short sleeve").
    // Item 2: V = {black, round neck}; mention black; "a" is a substring of "black"; simple, top.
    const s = paperHallucinationScore([
      {
        text: 'A beautiful red v-neck t-shirt with short sleeves, perfect for summer.',
        predicted: { colour: 'red', neck: 'V-Neck', sleeve: 'Short Sleeve', fabric: 'Unknown', fit: null },
      },
      { text: 'A simple black top.', predicted: { colour: 'black', neck: 'Round Neck' } },
    ]);
    expect(s).toEqual({ mentions: 3, hallucinations: 10, score: 10 / 3 });
  });

  it("uses Python's Unicode \\w words with hyphen chains", () => {
    // Python: re.findall gives title, zoë, s, café_bar, x, 3, 4, sleeves, long, é → 1 mention, 9 others.
    const s = paperHallucinationScore([{ text: "title: Zoë's café_bar -x- 3/4 sleeves--long é", predicted: { a: 'x' } }]);
    expect(s).toEqual({ mentions: 1, hallucinations: 9, score: 9 });
    expect(paperHallucinationScore([{ text: 'nothing here', predicted: {} }]).score).toBe(0);
  });
});

describe('text quality (would a seller keep it)', () => {
  it('counts repeated words, cut sentences, distinct-n, empties and lengths', () => {
    const q = textQuality(["Nike Men's Der Men's Bots Men's", 'A red cotton shirt.', 'A red shirt with a', ''], ['Nike shoes', 'Red shirt', null, 'x y z w']);
    expect(q.n).toBe(4);
    expect(q.repeated_word_3x).toBeCloseTo(1 / 4); // "men" 3 times (the "s" after the apostrophe too)
    expect(q.empty).toBeCloseTo(1 / 4);
    expect(q.ends_mid_sentence).toBeCloseTo(2 / 3); // the Nike title and "with a"
    // words: nike men s der men s bots men s (9) + a red cotton shirt (4) + a red shirt with a (5)
    expect(q.mean_words).toBeCloseTo(18 / 3);
    expect(q.distinct_1).toBeCloseTo(new Set(['nike', 'men', 's', 'der', 'bots', 'a', 'red', 'cotton', 'shirt', 'with']).size / 18);
    expect(q.reference_mean_words).toBeCloseTo((2 + 2 + 4) / 3);
    expect(textQuality([]).repeated_word_3x).toBeNaN();
  });
});
