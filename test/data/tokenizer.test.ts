import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/data/random.ts';
import { BpeTokenizer, catalogTexts, SPECIAL_TOKENS } from '../../src/data/tokenizer.ts';

// GPT-2's pre-tokenizer regex, written out again here as the specification HF's ByteLevel follows.
const GPT2_PIECES = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Reference BPE training: recount every pair of every word before each merge (slow, obviously
 * right). Most frequent pair first, ties to the smaller (left id, right id).
 */
function referenceTrain(texts: string[], vocabSize: number, specials: number): [number, number][] {
  const words: number[][] = [];
  const freq: number[] = [];
  const index = new Map<string, number>();
  for (const text of texts) {
    for (const [piece] of text.matchAll(GPT2_PIECES)) {
      const seen = index.get(piece);
      if (seen !== undefined) freq[seen]++;
      else {
        index.set(piece, words.length);
        words.push([...new TextEncoder().encode(piece)].map((b) => specials + b));
        freq.push(1);
      }
    }
  }
  const bytesOf: number[][] = [];
  for (let i = 0; i < specials; i++) bytesOf.push([]);
  for (let b = 0; b < 256; b++) bytesOf.push([b]);
  const key = (ids: number[]) => ids.join(',');
  const idOfBytes = new Map(bytesOf.map((b, id) => [key(b), id]));
  const merges: [number, number][] = [];
  while (bytesOf.length < vocabSize) {
    const counts = new Map<string, number>();
    words.forEach((w, wi) => {
      for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]},${w[i + 1]}`, (counts.get(`${w[i]},${w[i + 1]}`) ?? 0) + freq[wi]);
    });
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [pair, count] of counts) {
      const [a, b] = pair.split(',').map(Number);
      if (count > bestCount || (count === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = count;
      }
    }
    if (!best || bestCount < 2) break;
    const [a, b] = best;
    const merged = [...bytesOf[a], ...bytesOf[b]];
    let id = idOfBytes.get(key(merged));
    if (id === undefined) {
      id = bytesOf.length;
      bytesOf.push(merged);
      idOfBytes.set(key(merged), id);
    }
    merges.push([a, b]);
    for (let wi = 0; wi < words.length; wi++) {
      const w = words[wi];
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
    }
  }
  return merges;
}

/** Reference encoding: repeatedly merge the lowest-rank adjacent pair, leftmost first. */
function referenceEncode(tokenizer: BpeTokenizer, text: string): number[] {
  const json = tokenizer.toJSON();
  const idOf = new Map(Object.entries(json.model.vocab));
  const rank = new Map(json.model.merges.map((m, r) => [m, r]));
  const out: number[] = [];
  for (const [piece] of text.matchAll(GPT2_PIECES)) {
    let symbols = [...new TextEncoder().encode(piece)].map((b) => tokenizer.tokenText(SPECIAL_TOKENS.length + b));
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      symbols = [...symbols.slice(0, best), symbols[best] + symbols[best + 1], ...symbols.slice(best + 2)];
    }
    out.push(...symbols.map((s) => idOf.get(s)!));
  }
  return out;
}

function randomCorpus(seed: number, lines: number, alphabet: string[]): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: lines }, () => {
    const n = 1 + Math.floor(random() * 40);
    return Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  });
}

const UNICODE_SAMPLES = [
  'Crème brûlée façade naïve — “quotes” ½',
  'Emoji 🎉👍🏽 family 👩‍👩‍👧‍👦 flags 🇮🇳🇸🇪',
  '日本語のテキストと中文字符，한국어 텍스트',
  'Math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and combining e\u0301 a\u0308',
  'tabs\tand\nnew lines\r\n  double  spaces   trailing   ',
  "it's they'll we'd I'M 12,345.67 ₹1,299 $9.99",
  'zero\u200bwidth and \u0000 control \u007f chars',
  '',
];

describe('byte-level BPE tokenizer', () => {
  const catalogLike = [
    'Black cotton T-shirt with short sleeves',
    'Blue denim jeans, slim fit, five pockets',
    'Red floral summer dress with short sleeves',
    'colour: Black',
    'colour: Dark Blue',
    'Nike Men Blue T20 Indian Cricket Jersey',
    'Puma Men Black Running Shoes',
    'Jersey top with narrow shoulder straps.',
  ];
  const corpus = Array.from({ length: 30 }, (_, i) => catalogLike[i % catalogLike.length] + (i % 3 ? ' ' + UNICODE_SAMPLES[i % UNICODE_SAMPLES.length] : ''));

  it('training matches a from-scratch reference merge for merge (ties included)', () => {
    for (const [seed, alphabet] of [
      [1, ['a', 'b', 'c', ' ']],
      [2, ['ab', 'b', 'ba', ' ', 'é', '🎉']],
      [3, ['x', 'y', ' ', '\n', '1', '.']],
    ] as [number, string[]][]) {
      const texts = randomCorpus(seed, 60, alphabet);
      const tokenizer = BpeTokenizer.train(texts, { vocabSize: SPECIAL_TOKENS.length + 256 + 60 });
      const reference = referenceTrain(texts, SPECIAL_TOKENS.length + 256 + 60, SPECIAL_TOKENS.length);
      const merges = tokenizer.toJSON().model.merges;
      const toText = (id: number) => tokenizer.tokenText(id);
      expect(merges).toEqual(reference.map(([a, b]) => `${toText(a)} ${toText(b)}`));
      for (const text of texts.slice(0, 20)) expect(tokenizer.encode(text)).toEqual(referenceEncode(tokenizer, text));
    }
  });

  it('round-trips any Unicode text exactly, including text it never saw', () => {
    const tokenizer = BpeTokenizer.train(corpus, { vocabSize: 400 });
    const random = seededRandom(7);
    const randomText = Array.from({ length: 200 }, () => {
      // Any scalar value: BMP outside the surrogate range, or astral.
      const cp = random() < 0.7 ? Math.floor(random() * 0xd7ff) : 0x10000 + Math.floor(random() * 0xfffff);
      return String.fromCodePoint(cp);
    }).join('');
    for (const text of [...UNICODE_SAMPLES, randomText]) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('learns merges: frequent words become single tokens', () => {
    const tokenizer = BpeTokenizer.train(corpus, { vocabSize: 600 });
    const pieces = tokenizer.encode('Black cotton').map((id) => tokenizer.tokenText(id));
    expect(pieces).toEqual(['Black', 'Ġcotton']);
    expect(tokenizer.encode('Black cotton T-shirt with short sleeves').length).toBeLessThan(10);
  });

  it('puts special tokens first and reads special-token text literally', () => {
    const tokenizer = BpeTokenizer.train(corpus, { vocabSize: 300 });
    SPECIAL_TOKENS.forEach((token, id) => expect(tokenizer.specialId(token)).toBe(id));
    expect([tokenizer.padId, tokenizer.bosId, tokenizer.eosId]).toEqual([0, 1, 2]);
    const ids = tokenizer.encode('<title>');
    expect(ids).not.toContain(tokenizer.specialId('<title>'));
    expect(tokenizer.decode(ids)).toBe('<title>');
    const prompt = [tokenizer.bosId, tokenizer.specialId('<title>'), ...tokenizer.encode('Red dress'), tokenizer.eosId];
    expect(tokenizer.decode(prompt)).toBe('Red dress');
    expect(tokenizer.decode(prompt, true)).toBe('<s><title>Red dress</s>');
    expect(() => tokenizer.specialId('<nope>')).toThrow(/has no special token <nope>/);
  });

  it('never learns a merge that spells a special token, even when the text is full of them', () => {
    // '::' is one pre-tokenizer piece, so BPE would otherwise merge ':' ':' into it.
    const specialTokens = [...SPECIAL_TOKENS, '::'];
    const tokenizer = BpeTokenizer.train(Array.from({ length: 50 }, () => 'colour::red <s><title>Red dress</s>'), { vocabSize: 400, specialTokens });
    for (const text of ['::', 'colour::red', '<s>', '<title>', '</s>']) {
      const ids = tokenizer.encode(text);
      expect(ids.some((id) => tokenizer.isSpecial(id))).toBe(false);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    expect(() => BpeTokenizer.train(['x'], { vocabSize: 300, specialTokens: ['|'] })).toThrow(/special token "\|" is also a byte token/);
  });

  it('honours the vocabulary size, and stops early when pairs run out', () => {
    expect(BpeTokenizer.train(corpus, { vocabSize: 350 }).vocabSize).toBe(350);
    const tiny = BpeTokenizer.train(['ab ab'], { vocabSize: 1000 });
    expect(tiny.vocabSize).toBeLessThan(1000);
    expect(() => BpeTokenizer.train(corpus, { vocabSize: 100 })).toThrow(/vocabulary size must be an integer from 265/);
  });

  it('is deterministic and independent of text order', () => {
    const a = BpeTokenizer.train(corpus, { vocabSize: 500 });
    const b = BpeTokenizer.train([...corpus].reverse(), { vocabSize: 500 });
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
  });

  it('saves Hugging Face tokenizer.json and reloads to the same ids', () => {
    const tokenizer = BpeTokenizer.train(corpus, { vocabSize: 450 });
    const json = tokenizer.toJSON();
    expect(json.model.type).toBe('BPE');
    expect(json.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.added_tokens.map((t) => [t.id, t.content, t.special])).toEqual(SPECIAL_TOKENS.map((t, i) => [i, t, true]));
    expect(Object.keys(json.model.vocab)).toHaveLength(450);
    expect(json.model.vocab['Ġ']).toBe(SPECIAL_TOKENS.length + 32);
    const reloaded = BpeTokenizer.fromJSON(JSON.stringify(json));
    // Merges may also be written as pairs, as newer HF versions do.
    const pairs = BpeTokenizer.fromJSON({ ...json, model: { ...json.model, merges: json.model.merges.map((m) => m.split(' ')) } });
    for (const text of [...corpus, ...UNICODE_SAMPLES]) {
      expect(reloaded.encode(text)).toEqual(tokenizer.encode(text));
      expect(pairs.encode(text)).toEqual(tokenizer.encode(text));
    }
  });

  it('refuses tokenizer files it would encode differently', () => {
    const json = BpeTokenizer.train(corpus, { vocabSize: 300 }).toJSON();
    expect(() => BpeTokenizer.fromJSON('{nope')).toThrow(/invalid JSON/);
    expect(() => BpeTokenizer.fromJSON({ ...json, model: { ...json.model, type: 'WordPiece' } })).toThrow(/model.type is "WordPiece"/);
    expect(() => BpeTokenizer.fromJSON({ ...json, normalizer: { type: 'NFC' } })).toThrow(/normalizers are not supported/);
    const vocab = { ...json.model.vocab };
    delete vocab['Ā'];
    expect(() => BpeTokenizer.fromJSON({ ...json, model: { ...json.model, vocab } })).toThrow(/not contiguous|lacks/);
    expect(() => BpeTokenizer.fromJSON({ ...json, model: { ...json.model, merges: ['zz qq'] } })).toThrow(/merge "zz qq" uses tokens that are not in the vocab/);
  });

  it('collects catalog texts: titles, descriptions, brands and attribute lines', () => {
    const texts = [...catalogTexts([{ title: 'T', description: null, brand: 'Nike', attributes: { colour: 'Red' } }])];
    expect(texts).toEqual(['T', 'Nike', 'colour: Red']);
  });
});
