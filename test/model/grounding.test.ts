import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/data/random.ts';
import { createGrounding, type GroundingMode, type GroundingState, groundingReport, prepareGroundingVocabulary } from '../../src/model/grounding.ts';
import { buildLexicon, checkListing } from '../../src/model/lexicon.ts';
import { schemaFor } from '../../src/model/lexicon-schemas.ts';

const VOCAB = {
  gender: ['Men', 'Women', 'Unisex'],
  article_type: ['Tshirts', 'Shirts', 'Casual Shoes', 'Tops'],
  base_colour: ['Blue', 'Navy Blue', 'Red', 'White', 'Black', 'Off White'],
  neck: ['Round Neck', 'V-Neck', 'Polo Collar'],
  sleeve_length: ['Short Sleeves', 'Long Sleeves', 'Sleeveless', 'Three-Quarter Sleeves'],
};
const lexicon = buildLexicon(schemaFor('test', Object.keys(VOCAB)), VOCAB);

/** A byte-level-BPE-like vocabulary decoded to text: whole words, word pieces, punctuation. */
const TOKENS = [
  '<eos>', '<sep>', ' ', 'red', ' red', ' Red', ' blue', 'Blue', ' navy', ' white', ' black', ' shirt', ' t', '-',
  'shirt', 'shirts', ' short', ' sle', 'eves', 'eve', 's', ' long', ' sleeves', ',', '.', ' and', ' with', ' a',
  ' bl', 'ue', 'ue,', 'ueberry', ' blueberry', ' for', ' men', ' women', ' sleeveless', ' v', ' neck', ' round',
  ' top', ' shoes', ' metal', ' buckle', 'less', ' cotton', ' soft', ' 3', '/', '4', ' half', ' full', ' polo',
  ' collar', ' off', ' wh', 'ite', ' Wo', 'men', ' girls', ' vneck',
];
const EOS = 0;
const SEP = 1;
const id = (text: string) => {
  const i = TOKENS.indexOf(text);
  if (i < 0) throw new Error(`no token ${JSON.stringify(text)}`);
  return i;
};
const vocab = prepareGroundingVocabulary(lexicon, TOKENS, [EOS, SEP]);
const PROMPTED = { base_colour: 'Blue', sleeve_length: 'Long Sleeves', gender: 'Men', neck: 'Round Neck', article_type: 'Tshirts' };

const bannedTexts = (g: ReturnType<typeof createGrounding>, s: GroundingState) => [...g.banned(s)].map((t) => TOKENS[t]);


/**
 * Greedy decoding of one listing over fake logits: the title until <sep>, then the description
 * until <eos> (or `steps` tokens each). Banned tokens get -Infinity, as a decoder's mask would.
 */
function decode(prompted: Record<string, string | undefined>, logitsAt: (step: number, segment: 'title' | 'description') => Float32Array, steps: number, mode: GroundingMode = 'prompted') {
  const g = createGrounding(vocab, prompted, mode);
  const text = { title: '', description: '' };
  for (const segment of ['title', 'description'] as const) {
    let state = g.start(segment);
    for (let step = 0; step < steps; step++) {
      const logits = logitsAt(step, segment);
      for (const t of g.banned(state)) logits[t] = -Infinity;
      let best = 0;
      for (let t = 1; t < logits.length; t++) if (logits[t] > logits[best]) best = t;
      if (best === EOS || best === SEP) break;
      state = g.advance(state, best);
      text[segment] += TOKENS[best];
    }
  }
  return text;
}

describe('grounded decoding', () => {
  it('forbids exactly the forms that disagree with the prompted values, in their segments', () => {
    const g = createGrounding(vocab, PROMPTED);
    expect(g.forbidden.description).toEqual(expect.arrayContaining(['red', 'short sleeves', 'short sleeved', 'half sleeves', 'sleeveless', 'women', 'v neck']));
    expect(g.forbidden.description).not.toEqual(expect.arrayContaining(['three quarter sleeves']));
    expect(g.forbidden.description).not.toContain('navy blue');
    // Product type is grounded in the title only; weak forms ("metal") never.
    expect(g.forbidden.title).toEqual(expect.arrayContaining(['casual shoes', 'shirts', 'shirt']));
    expect(g.forbidden.description).not.toContain('shirt');
    expect([...g.forbidden.title, ...g.forbidden.description]).not.toContain('metal');
  });

  it('strict mode also forbids every value of an attribute that was not prompted', () => {
    const partial = { base_colour: 'Blue', article_type: 'Tshirts' };
    const prompted = createGrounding(vocab, partial);
    const strict = createGrounding(vocab, partial, 'strict');
    // Unprompted gender and sleeves: any mention is allowed by default, none in strict mode.
    expect(prompted.forbidden.description).not.toEqual(expect.arrayContaining(['men', 'women', 'long sleeves']));
    expect(strict.forbidden.description).toEqual(expect.arrayContaining(['men', 'women', 'unisex', 'long sleeves', 'short sleeves', 'sleeveless', 'round neck']));
    // Prompted attributes are treated alike in both modes.
    expect(strict.forbidden.description).toContain('red');
    expect(strict.forbidden.description).not.toContain('blue');
    // A decode in strict mode never names an unprompted attribute.
    const after = (text: string) => bannedTexts(strict, strict.stateAfter('description', text));
    expect(after('')).toEqual(expect.arrayContaining([' men', ' women', ' sleeveless']));
    expect(after(' short')).toEqual(expect.arrayContaining([' sleeves']));
    // Prefers " men", then " sleeveless", then " blue"; " cotton" is the fallback everywhere.
    const plan = [' men', ' sleeveless', ' blue'];
    const logits = (step: number) => Float32Array.from(TOKENS, (t) => (t === plan[step] ? 2 : t === ' cotton' ? 1 : t === '<eos>' || t === '<sep>' ? (step >= 3 ? 3 : -1) : 0));
    const unprompted = (mode: GroundingMode) =>
      checkListing(lexicon, decode(partial, logits, 6, mode), { gender: 'Men', sleeve_length: 'Long Sleeves', base_colour: 'Blue' }).mentions.filter((m) => m.attribute === 'gender' || m.attribute === 'sleeve_length');
    expect(unprompted('prompted').length).toBeGreaterThan(0); // this decoder names them when allowed
    expect(unprompted('strict')).toEqual([]);
  });

  it('bans a contradicting mention completed across several tokens', () => {
    const g = createGrounding(vocab, PROMPTED);
    const after = (text: string) => bannedTexts(g, g.stateAfter('description', text));
    expect(after('')).toEqual(expect.arrayContaining([' red', ' Red', ' sleeveless', ' women']));
    expect(after('')).not.toContain(' short');
    expect(after(' short')).not.toContain(' sle');
    // "short sle" + "eve" or "eves" would complete "short sleeve(s)"; "s" makes "short sles".
    expect(after(' short sle')).toEqual(expect.arrayContaining(['eve', 'eves']));
    expect(after(' short sle')).not.toContain('s');
    expect(after(' long')).not.toContain(' sleeves');
    expect(after(' short -')).toContain(' sleeves');
    expect(after(' half')).toContain(' sleeves');
    expect(after(' Wo')).toContain('men');
    // Conservative: "white" is banned wherever it would start at a word boundary, even after "off".
    expect(after(' off')).toContain(' white');
  });

  it('is conservative at word boundaries: a completed phrase at the end of a token is banned', () => {
    const g = createGrounding(vocab, { base_colour: 'Red' });
    const after = (text: string) => bannedTexts(g, g.stateAfter('description', text));
    expect(after(' a')).toContain(' blue');
    expect(after(' a')).not.toContain(' blueberry');
    expect(after(' a bl')).toEqual(expect.arrayContaining(['ue', 'ue,']));
    expect(after(' a bl')).not.toContain('ueberry');
    expect(after(' a')).not.toContain('<eos>');
    expect(after(' a')).not.toContain('<sep>');
  });

  it('advancing token by token equals reading the text', () => {
    const g = createGrounding(vocab, PROMPTED);
    let s = g.start('description');
    const pieces = [' soft', ' cotton', ' bl', 'ueberry', ',', ' long', ' sleeves', '<eos>'];
    for (const p of pieces) s = g.advance(s, id(p));
    expect(s).toEqual(g.stateAfter('description', ' soft cotton blueberry, long sleeves'));
    expect(() => g.advance(s, TOKENS.length)).toThrow(/outside the vocabulary/);
  });

  it('a decoder that prefers the wrong values writes the agreeing ones instead', () => {
    // Each step: the decoder's first choice (wrong), then its second choice.
    const script = [
      [' red', ' blue'], [' t'], ['-'], ['shirt'], [' with'], [' sleeveless', ' long'], [' sleeves'],
      [' for'], [' women', ' men'], [' and'], [' vneck', ' round'], [' neck'],
    ];
    const logitsAt = (step: number) => {
      const l = new Float32Array(TOKENS.length).fill(0);
      l[EOS] = l[SEP] = step >= script.length ? 20 : -1;
      (script[step] ?? []).forEach((t, rank) => (l[id(t)] = 10 - rank));
      return l;
    };
    const grounded = decode(PROMPTED, logitsAt, 20);
    expect(grounded.description).toBe(' blue t-shirt with long sleeves for men and round neck');
    const report = groundingReport(lexicon, grounded, PROMPTED);
    expect(report.every((m) => m.agrees)).toBe(true);
    expect(report.filter((m) => m.segment === 'description').map((m) => m.attribute).sort()).toEqual(['base_colour', 'gender', 'neck', 'sleeve_length']);
    // Without grounding the same decoder contradicts every one of them.
    const free = decode({}, logitsAt, 20);
    expect(free.description).toBe(' red t-shirt with sleeveless sleeves for women and vneck neck');
    expect(checkListing(lexicon, free, PROMPTED).contradicted.sort()).toEqual(['base_colour', 'gender', 'neck', 'sleeve_length']);
  });

  it('a decoder that always prefers wrong tokens never writes a contradiction', () => {
    // Its script is "red short sleeves t-shirt for women with v neck"; wrong tokens outrank the rest.
    const script = [' red', ' short', ' sle', 'eves', ' t', '-', 'shirt', ' for', ' Wo', 'men', ' with', ' v', ' neck'];
    const wrong = [' red', ' Red', 'red', ' women', ' sleeveless', 'less', 'eves', 'eve', ' v', ' white', ' black', ' polo', ' girls'];
    const logitsAt = (step: number) => {
      const l = new Float32Array(TOKENS.length).fill(0);
      wrong.forEach((t) => (l[id(t)] = 5));
      if (step < script.length) l[id(script[step])] = 10;
      l[EOS] = l[SEP] = step >= 16 ? 20 : -1;
      return l;
    };
    const text = decode(PROMPTED, logitsAt, 20);
    expect(groundingReport(lexicon, text, PROMPTED).filter((m) => !m.agrees)).toEqual([]);
    expect(checkListing(lexicon, text, PROMPTED).contradicted).toEqual([]);
    expect(checkListing(lexicon, decode({}, logitsAt, 20), PROMPTED).contradicted.length).toBeGreaterThan(0);
  });

  it('random decodes never contain a contradicting mention (property check over 300 listings)', () => {
    const random = seededRandom(7);
    const prompts = [PROMPTED, { base_colour: 'Red', sleeve_length: 'Sleeveless', gender: 'Women', article_type: 'Casual Shoes' }, { base_colour: 'Navy', neck: 'V-Neck' }];
    let agreeing = 0;
    for (let trial = 0; trial < 300; trial++) {
      const prompted = prompts[trial % prompts.length];
      const text = decode(prompted, () => Float32Array.from(TOKENS, (_, t) => (t <= SEP ? -2 : random())), 24);
      const report = groundingReport(lexicon, text, prompted);
      expect(report.filter((m) => !m.agrees), JSON.stringify(text)).toEqual([]);
      expect(checkListing(lexicon, text, prompted).contradicted, JSON.stringify(text)).toEqual([]);
      agreeing += report.length;
    }
    expect(agreeing).toBeGreaterThan(50);
  });

  it('rejects special token ids outside the vocabulary', () => {
    expect(() => prepareGroundingVocabulary(lexicon, TOKENS, [TOKENS.length])).toThrow(/special token id/);
  });
});
