/**
 * Grounded decoding cost (CPU, no GPU): preparing a vocabulary once, building one listing's
 * constraint, and the per-step banned set over a 128-step decode, for 2k- and 8k-token
 * vocabularies. The lexicon is built from the Myntra catalog's vocabulary when ../shared/data is
 * present (the largest one), else from a small built-in vocabulary.
 *
 *   npx tsx bench/grounding.ts [--json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseListings, seededRandom } from '../src/data/index.ts';
import { createGrounding, prepareGroundingVocabulary } from '../src/model/grounding.ts';
import { buildLexicon, type Lexicon, lexiconFromItems } from '../src/model/lexicon.ts';
import { schemaFor } from '../src/model/lexicon-schemas.ts';
import { median } from './harness.ts';

const FALLBACK_VOCAB: Record<string, string[]> = {
  gender: ['Men', 'Women', 'Unisex', 'Boys', 'Girls'],
  article_type: ['Tshirts', 'Shirts', 'Casual Shoes', 'Sports Shoes', 'Tops', 'Kurtas', 'Jeans', 'Watches', 'Handbags', 'Heels'],
  base_colour: ['Black', 'White', 'Blue', 'Navy Blue', 'Red', 'Green', 'Grey', 'Pink', 'Brown', 'Purple', 'Yellow', 'Beige'],
  neck: ['Round Neck', 'Polo Collar', 'V-Neck', 'Mandarin Collar', 'Boat Neck'],
  sleeve_length: ['Short Sleeves', 'Long Sleeves', 'Sleeveless', 'Three-Quarter Sleeves'],
  pattern: ['Solid', 'Striped', 'Checked', 'Printed'],
};

function catalogLexicon(): { source: string; lexicon: Lexicon } {
  const path = join(import.meta.dirname, '..', '..', 'shared', 'data', 'myntra', 'listings.jsonl');
  if (!existsSync(path)) return { source: 'built-in', lexicon: buildLexicon(schemaFor('built-in', Object.keys(FALLBACK_VOCAB)), FALLBACK_VOCAB) };
  return { source: 'myntra', lexicon: lexiconFromItems('myntra', parseListings(readFileSync(path, 'utf8')).items) };
}

/** A BPE-like vocabulary: lexicon words whole and split into pieces, with and without a leading space, plus random pieces. */
function syntheticTokens(words: string[], size: number, random: () => number): string[] {
  const out = new Set<string>(['<eos>', '<sep>', ' ', ',', '.', '-', '/']);
  for (const w of words) {
    if (out.size >= size / 2) break;
    out.add(' ' + w);
    out.add(w);
    const cut = 1 + Math.floor(random() * (w.length - 1));
    out.add(' ' + w.slice(0, cut));
    out.add(w.slice(cut));
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  while (out.size < size) {
    const len = 1 + Math.floor(random() * 6);
    let piece = random() < 0.5 ? ' ' : '';
    for (let i = 0; i < len; i++) piece += letters[Math.floor(random() * 26)];
    out.add(piece);
  }
  return [...out];
}

const { source, lexicon } = catalogLexicon();
const lexiconWords = [...new Set([...lexicon.attributes.values()].flatMap((a) => [...a.forms.keys()].flatMap((f) => f.split(' '))))];
const prompted = { base_colour: 'Navy Blue', sleeve_length: 'Long Sleeves', gender: 'Men', neck: 'Round Neck', article_type: 'Shirts', pattern: 'Checked' };
const results: Record<string, number | string>[] = [];
for (const size of [2048, 8192]) {
  const random = seededRandom(size);
  const tokens = syntheticTokens(lexiconWords, size, random);
  let t0 = performance.now();
  const prepared = prepareGroundingVocabulary(lexicon, tokens, [0, 1]);
  const prepareMs = performance.now() - t0;
  const buildMs: number[] = [];
  const stepMs: number[] = [];
  for (let listing = 0; listing < 20; listing++) {
    t0 = performance.now();
    const g = createGrounding(prepared, prompted);
    buildMs.push(performance.now() - t0);
    for (const segment of ['title', 'description'] as const) {
      let state = g.start(segment);
      for (let step = 0; step < (segment === 'title' ? 16 : 112); step++) {
        t0 = performance.now();
        const banned = g.banned(state);
        stepMs.push(performance.now() - t0);
        let next: number;
        do next = 2 + Math.floor(random() * (tokens.length - 2));
        while (banned.includes(next));
        state = g.advance(state, next);
      }
    }
  }
  const sorted = [...stepMs].sort((a, b) => a - b);
  results.push({
    lexicon: source,
    vocab_size: tokens.length,
    forbidden_phrases_description: createGrounding(prepared, prompted).forbidden.description.length,
    prepare_vocabulary_ms: +prepareMs.toFixed(2),
    build_per_listing_ms: +median(buildMs).toFixed(3),
    step_median_ms: +median(stepMs).toFixed(4),
    step_p99_ms: +sorted[Math.floor(sorted.length * 0.99)].toFixed(3),
    step_mean_ms: +(stepMs.reduce((a, b) => a + b, 0) / stepMs.length).toFixed(4),
    per_listing_128_steps_ms: +(stepMs.reduce((a, b) => a + b, 0) / 20 + median(buildMs)).toFixed(2),
  });
}
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));
else console.table(results);
