/**
 * Rare attribute values and grounded decoding: a value seen fewer than `minCount` times in training
 * is no head class (it is folded into "other"), yet the evaluation's lexicon reads it in text. The
 * manifest's value vocabulary makes grounding ban it too. The catalog is generated here: 30
 * t-shirts, 25 shirts and three rare types, two of which share the head noun "wash" (as Myntra's
 * "Body Wash and Scrub" and "Face Wash and Cleanser" do, so "wash" alone names a product type).
 */
import { describe, expect, it } from 'vitest';
import { LabelSpace, PriceScaler } from '../../src/data/labels.ts';
import { catalogSchema, type CatalogManifest } from '../../src/model/bundle.ts';
import { createGrounding, prepareGroundingVocabulary } from '../../src/model/grounding.ts';
import { attributeVocabulary, catalogLexicon, checkListing, lexiconFromItems, mergeVocabularies } from '../../src/model/lexicon.ts';

const RARE_TYPES = ['Waistcoat', 'Body Wash and Scrub', 'Face Wash and Cleanser'];

function fixtureItems() {
  const types = [...Array<string>(30).fill('Tshirts'), ...Array<string>(25).fill('Shirts'), ...RARE_TYPES];
  return types.map((type, i) => ({
    title: `Men ${type} ${i}`,
    price: 400 + 10 * i,
    currency: 'INR',
    attributes: { article_type: type, gender: i % 2 ? 'Men' : 'Women', base_colour: ['Blue', 'Black', 'White'][i % 3] } as Record<string, string>,
  }));
}

const items = fixtureItems();
const { labels } = LabelSpace.build(items, { minCount: 20, minCoverage: 0 });
/** The same catalog as weights written before manifests carried a vocabulary. */
const oldManifest: CatalogManifest = { name: 'shop', labels: labels.toJSON(), price: PriceScaler.fit(items).toJSON() };
const manifest: CatalogManifest = { ...oldManifest, vocabulary: attributeVocabulary(items) };

/** Decoded token texts of a byte-level-BPE-like tokenizer; 0 and 1 are special. */
const TOKENS = ['<eos>', '<desc>', ' Men', ' men', ' T', '-', 'shirt', ' tshirt', ' waist', 'coat', ' waistcoat', ' Waistcoat', ' wash', ' Wash', 'ed', ' care', ' body', ' scrub', ' blue', ' cotton', ','];
const id = (text: string) => TOKENS.indexOf(text);
const prompted = { article_type: 'Tshirts', gender: 'Men', base_colour: 'Blue' };

/** Greedy title decoding over fixed per-step preferences, banned tokens masked as a decoder would. */
function decodeTitle(grounding: ReturnType<typeof createGrounding>, script: string[][]): string {
  let state = grounding.start('title');
  let title = '';
  for (const choices of script) {
    const banned = new Set(grounding.banned(state));
    const token = choices.map(id).find((t) => !banned.has(t));
    if (token === undefined) throw new Error(`every choice of ${JSON.stringify(choices)} is banned`);
    state = grounding.advance(state, token);
    title += TOKENS[token];
  }
  return title;
}

describe('rare values in the grounding lexicon', () => {
  it('the rare types are no head class', () => {
    expect(labels.attributes.find((a) => a.name === 'article_type')!.classes).toEqual(['Tshirts', 'Shirts', 'other']);
  });

  it("the model's lexicon (manifest vocabulary + head classes) equals the evaluation's lexicon of the catalog", () => {
    expect(catalogLexicon('shop', catalogSchema(manifest).vocabulary)).toEqual(lexiconFromItems('shop', items));
  });

  it('grounding bans the surface forms of a rare value when another value of its attribute is prompted', () => {
    const vocab = prepareGroundingVocabulary(catalogLexicon('shop', catalogSchema(manifest).vocabulary), TOKENS, [0, 1]);
    const g = createGrounding(vocab, prompted);
    expect(g.forbidden.title).toEqual(expect.arrayContaining(['waistcoat', 'waistcoats', 'wash', 'body wash and scrub', 'face wash and cleanser']));
    const banned = (text: string) => [...g.banned(g.stateAfter('title', text))].map((t) => TOKENS[t]);
    expect(banned('Men')).toEqual(expect.arrayContaining([' waistcoat', ' Waistcoat', ' wash', ' Wash']));
    expect(banned('Men waist')).toContain('coat');
    for (const allowed of [' tshirt', ' waist', ' body', ' care']) expect(banned('Men')).not.toContain(allowed);
  });

  it('a decoder that prefers the rare values writes no contradiction the metric can find', () => {
    const script = [[' Men'], [' waistcoat', ' Waistcoat', ' tshirt'], [' wash', ' Wash', ' care'], [' body', ' cotton']];
    const grounded = createGrounding(prepareGroundingVocabulary(catalogLexicon('shop', catalogSchema(manifest).vocabulary), TOKENS, [0, 1]), prompted);
    const title = decodeTitle(grounded, script);
    expect(title).toBe(' Men tshirt care body');
    const metric = lexiconFromItems('shop', items);
    expect(checkListing(metric, { title, description: '' }, prompted).contradicted).toEqual([]);
    // With only the head classes (an old manifest) the same decoder writes what the metric flags.
    const headOnly = createGrounding(prepareGroundingVocabulary(catalogLexicon('shop', catalogSchema(oldManifest).vocabulary), TOKENS, [0, 1]), prompted);
    const free = decodeTitle(headOnly, script);
    expect(free).toBe(' Men waistcoat wash body');
    expect(checkListing(metric, { title: free, description: '' }, prompted).contradicted).toEqual(['article_type']);
  });
});

describe('value vocabularies', () => {
  it('keep every value, rare or not, never a missing marker, in an order-independent form', () => {
    const raw: { attributes: Record<string, string> }[] = [
      { attributes: { colour: 'Teal', fit: 'NA' } },
      { attributes: { colour: 'Blue', fit: 'Unknown', neck: 'V-Neck' } },
      { attributes: { colour: 'Teal' } },
    ];
    const vocabulary = attributeVocabulary(raw);
    expect(vocabulary).toEqual({ colour: ['Blue', 'Teal'], neck: ['V-Neck'] });
    expect(Object.keys(vocabulary)).toEqual(['colour', 'neck']);
    expect(attributeVocabulary([...raw].reverse())).toEqual(vocabulary);
    expect(mergeVocabularies({ neck: ['Round Neck'], colour: ['Teal', 'n/a'] }, vocabulary)).toEqual({ colour: ['Blue', 'Teal'], neck: ['Round Neck', 'V-Neck'] });
  });
});
