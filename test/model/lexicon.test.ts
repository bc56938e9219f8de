import { describe, expect, it } from 'vitest';
import { adviceSpans, buildLexicon, checkListing, findMentions, referenceFamilies } from '../../src/model/lexicon.ts';
import { schemaFor } from '../../src/model/lexicon-schemas.ts';
import { formOf, numberVariants, surfaceForms, words } from '../../src/model/phrases.ts';

/** A small Myntra-like vocabulary. */
const VOCAB = {
  gender: ['Men', 'Women', 'Unisex', 'Boys'],
  article_type: ['Tshirts', 'Shirts', 'Casual Shoes', 'Sports Shoes', 'Tops', 'Kurta Sets', 'Shorts', 'Lip Liner'],
  base_colour: ['Blue', 'Navy Blue', 'Red', 'White', 'Black', 'Off White', 'Multi', 'Teal'],
  pattern: ['Solid', 'Striped', 'Checked', 'Printed', 'Lace'],
  neck: ['Round Neck', 'V-Neck', 'Polo Collar', 'Mandarin Collar'],
  sleeve_length: ['Short Sleeves', 'Long Sleeves', 'Sleeveless', 'Three-Quarter Sleeves', 'No Sleeves'],
  season: ['Summer'],
};
const lexicon = buildLexicon(schemaFor('test', Object.keys(VOCAB)), VOCAB);

const mentionsOf = (text: string, ignore: string[] = []) =>
  findMentions(lexicon, text, ignore).map((m) => [m.text, ...m.terms.map((t) => `${t.attribute}=${t.label}`)]);

const check = (title: string, description: string, reference: Record<string, string>, ignore: string[] = []) =>
  checkListing(lexicon, { title, description }, reference, ignore);

describe('phrases', () => {
  it('reads words as lower-cased letter/digit runs with their spans', () => {
    expect(words("Men's T-Shirt, 3/4")).toEqual([
      { text: 'men', start: 0, end: 3 },
      { text: 's', start: 4, end: 5 },
      { text: 't', start: 6, end: 7 },
      { text: 'shirt', start: 8, end: 13 },
      { text: '3', start: 15, end: 16 },
      { text: '4', start: 17, end: 18 },
    ]);
    expect(formOf('  V-Neck ')).toBe('v neck');
  });

  it('makes singular/plural variants except for listed words', () => {
    expect(numberVariants('sleeves', new Set())).toEqual(['sleeves', 'sleeve']);
    expect(numberVariants('dresses', new Set())).toEqual(['dresses', 'dress']);
    expect(numberVariants('watch', new Set())).toEqual(['watch', 'watches']);
    expect(numberVariants('shorts', new Set(['shorts']))).toEqual(['shorts']);
  });

  it('makes hyphen/space (one form), plural and joined variants', () => {
    expect(surfaceForms('T-Shirts', true, new Set()).sort()).toEqual(['t shirt', 't shirts', 'tshirt', 'tshirts']);
    expect(surfaceForms('Off White', false, new Set()).sort()).toEqual(['off white', 'offwhite']);
  });
});

describe('lexicon', () => {
  it('derives families from values, word by word for colours, by head noun for types', () => {
    expect([...referenceFamilies(lexicon, 'base_colour', 'Navy Blue')!]).toEqual(['blue']);
    expect([...referenceFamilies(lexicon, 'article_type', 'Sports Shoes')!]).toContain('footwear');
    // A value outside the vocabulary (a user-supplied fact) is classified the same way.
    expect([...referenceFamilies(lexicon, 'base_colour', 'Dark Teal')!].sort()).toEqual(['blue', 'green']);
    expect(referenceFamilies(lexicon, 'base_colour', 'Multi')).toBeUndefined();
    expect(referenceFamilies(lexicon, 'season', 'Summer')).toBeUndefined();
  });

  it('documents every value it does not check', () => {
    expect(lexicon.attributes.get('pattern')!.unchecked.get('Printed')).toMatch(/not exclusive/);
    expect(lexicon.attributes.get('pattern')!.unchecked.get('Lace')).toMatch(/material, finish, detail/);
    expect(lexicon.attributes.get('article_type')!.unchecked.get('Kurta Sets')).toMatch(/set's title names its parts/);
  });
});

describe('matcher', () => {
  it('matches whole words only: "tshirts" never as "shirts", hyphen and space variants alike', () => {
    expect(mentionsOf('Tshirts, T-shirt and t shirts; not sweatshirts')).toEqual([
      ['Tshirts', 'article_type=Tshirts'],
      ['T-shirt', 'article_type=t shirt'],
      ['t shirts', 'article_type=t shirt'],
    ]);
  });

  it('takes the longest phrase on overlaps, multi-word values included', () => {
    expect(mentionsOf('navy blue round-neck tee with short-sleeves')).toEqual([
      ['navy blue', 'base_colour=Navy Blue'],
      ['round-neck', 'neck=Round Neck'],
      ['tee', 'article_type=t shirt'],
      ['short-sleeves', 'sleeve_length=Short Sleeves'],
    ]);
    // "off white" is one colour, not "white"; "3/4 sleeves" one sleeve length.
    expect(mentionsOf('Off-white top, 3/4 sleeves')).toEqual([
      ['Off-white', 'base_colour=Off White'],
      ['top', 'article_type=Tops'],
      ['3/4 sleeves', 'sleeve_length=three quarter sleeves'],
    ]);
  });

  it('skips ignored phrases such as the brand', () => {
    expect(mentionsOf('Red Tape Men Black Shoes', ['Red Tape']).map((m) => m[0])).toEqual(['Men', 'Black', 'Shoes']);
  });

  it('finds advice sentences', () => {
    const text = 'Blue shirt. Pair it with black jeans! Machine wash';
    expect(adviceSpans(text).map(([s, e]) => text.slice(s, e))).toEqual([' Pair it with black jeans!']);
  });
});

describe('contradictions', () => {
  it('flags a colour only when no colour mention agrees (multi-colour items)', () => {
    expect(check('Blue and white shirt', '', { base_colour: 'Blue' }).contradicted).toEqual([]);
    const c = check('Blue and white shirt', '', { base_colour: 'Red' });
    expect(c.contradicted).toEqual(['base_colour']);
    expect(c.mentions.map((m) => m.verdict)).toEqual(['contradicts', 'contradicts']);
    expect(check('Navy shirt', 'A teal trim', { base_colour: 'Blue' }).mentions.map((m) => m.verdict)).toEqual(['agrees', 'agrees']);
  });

  it('does not check advice sentences, part nouns or weak forms', () => {
    expect(check('Blue shirt', 'Pair it with black jeans.', { base_colour: 'Blue' }).mentions).toHaveLength(1);
    expect(check('Watch', 'White dial and a metal buckle.', { base_colour: 'Blue' }).mentions.map((m) => m.verdict)).toEqual(['excused', 'excused']);
    expect(check('Watch', 'White dial and a metal buckle.', { base_colour: 'Blue' }).contradicted).toEqual([]);
  });

  it('checks sleeves, necklines and gender as exclusive with compatibility groups', () => {
    expect(check('Shirt', 'has short sleeves', { sleeve_length: 'Long Sleeves' }).contradicted).toEqual(['sleeve_length']);
    expect(check('Top', 'three-quarter sleeves', { sleeve_length: 'Long Sleeves' }).contradicted).toEqual([]);
    expect(check('Top', 'no sleeves', { sleeve_length: 'Sleeveless' }).contradicted).toEqual([]);
    expect(check('Top', 'a mandarin collar with a V-neckline', { neck: 'Mandarin Collar' }).contradicted).toEqual([]);
    expect(check('Top', 'V-neck', { neck: 'Round Neck' }).contradicted).toEqual(['neck']);
    expect(check('Boys Tshirt', 'for men', { gender: 'Men' }).contradicted).toEqual([]);
    expect(check('Women Tshirt', '', { gender: 'Men' }).contradicted).toEqual(['gender']);
    expect(check('Unisex Tshirt', 'for men and women', { gender: 'Women' }).contradicted).toEqual([]);
  });

  it('checks pattern in the title only, and never "printed"', () => {
    expect(check('Striped Shirt', '', { pattern: 'Solid' }).contradicted).toEqual(['pattern']);
    expect(check('Solid Shirt', 'three stripes on the sleeves', { pattern: 'Solid' }).contradicted).toEqual([]);
    expect(check('Printed Shirt', '', { pattern: 'Solid' }).mentions).toEqual([]);
  });

  it('checks the product type by the head noun of the title only', () => {
    expect(check('Men Tshirts', '', { article_type: 'Shirts' }).contradicted).toEqual(['article_type']);
    expect(check('Round Neck Shirt', '', { article_type: 'Tshirts' }).contradicted).toEqual(['article_type']);
    // Only the last type mention of the title is the head; descriptions are not checked.
    expect(check('Shirt Style Tshirt', 'Pair these shoes with shorts', { article_type: 'Tshirts' }).mentions).toHaveLength(1);
    expect(check('Casual Shoe', 'comfortable shoes', { article_type: 'Sports Shoes' }).contradicted).toEqual([]);
    expect(check('Blue Top', '', { article_type: 'Tshirts' }).contradicted).toEqual([]);
    // A head noun alone names a value only when it heads two values or is one: not "liner".
    expect(check('Gel Liner', '', { article_type: 'Lip Liner' }).mentions).toEqual([]);
    expect(check('Eye Liner', '', { article_type: 'Lip Liner' }).contradicted).toEqual(['article_type']);
  });

  it('skips attributes whose reference is missing or unchecked', () => {
    expect(check('Red shirt', '', { base_colour: 'Multi' }).mentions).toEqual([]);
    expect(check('Red shirt', '', {}).mentions).toEqual([]);
  });
});
