/**
 * Data-layer throughput (CPU only; no GPU): `npm run bench:data [-- --json]`.
 *
 *  - images/s for JPEG decoding (jpeg-js), preprocessing (fitImage to 64×96) and both together, on
 *    real catalog photos from ../shared/data (H&M 128×192, Myntra 60×80) when present, otherwise
 *    on generated 128×192 JPEGs. Files are read into memory first, so disk speed is not measured.
 *  - tokenizer training time (byte-level BPE, 4096 and 8192 tokens) on every title, description,
 *    brand and attribute line of the catalogs, and encode/decode throughput in MB/s of UTF-8 text,
 *    with a cold piece cache (freshly loaded tokenizer) and a warm one.
 * Each timing is the median of a few runs so a busy shared machine disturbs it less.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpegJs from 'jpeg-js';
import { fitImage } from '../src/data/preprocess.ts';
import { BpeTokenizer, catalogTexts } from '../src/data/tokenizer.ts';
import { imageFilePath, loadCatalog } from '../src/node/catalog.ts';
import { decodeImage } from '../src/node/image.ts';
import { median } from './harness.ts';

const SHARED_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
const json = process.argv.includes('--json');
const results: Record<string, unknown>[] = [];
const report = (row: Record<string, unknown>) => {
  results.push(row);
  if (!json) console.log(Object.entries(row).map(([k, v]) => `${k}=${v}`).join('  '));
};

function time(runs: number, body: () => void): number {
  const seconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    body();
    seconds.push((performance.now() - start) / 1000);
  }
  return median(seconds);
}

async function imageSets(): Promise<{ name: string; files: Uint8Array[] }[]> {
  const sets: { name: string; files: Uint8Array[] }[] = [];
  for (const name of ['hm', 'myntra']) {
    if (!existsSync(join(SHARED_DATA, name, 'listings.jsonl'))) continue;
    const catalog = await loadCatalog(join(SHARED_DATA, name), { images: 'exists' });
    const step = Math.max(1, Math.floor(catalog.items.length / 2000));
    const files = catalog.items.filter((_, i) => i % step === 0).map((item) => new Uint8Array(readFileSync(imageFilePath(catalog, item))));
    sets.push({ name, files });
  }
  if (sets.length === 0) {
    console.warn(`${SHARED_DATA} not found: timing generated 128x192 JPEGs instead of catalog photos`);
    const rgba = Uint8Array.from({ length: 128 * 192 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 7919) % 251));
    sets.push({ name: 'generated', files: Array.from({ length: 500 }, () => new Uint8Array(jpegJs.encode({ width: 128, height: 192, data: rgba }, 80).data)) });
  }
  return sets;
}

async function benchImages(): Promise<void> {
  for (const { name, files } of await imageSets()) {
    const decoded = files.map((f) => decodeImage(f));
    const decode = time(3, () => files.forEach((f) => decodeImage(f)));
    const fit = time(3, () => decoded.forEach((image) => fitImage(image)));
    const both = time(3, () => files.forEach((f) => fitImage(decodeImage(f))));
    const { width, height } = decoded[0];
    report({ bench: 'images', catalog: name, images: files.length, size: `${width}x${height}`, decode_per_s: Math.round(files.length / decode), preprocess_per_s: Math.round(files.length / fit), decode_preprocess_per_s: Math.round(files.length / both) });
  }
}

async function benchTokenizer(): Promise<void> {
  const texts: string[] = [];
  for (const name of ['hm', 'myntra']) {
    if (!existsSync(join(SHARED_DATA, name, 'listings.jsonl'))) continue;
    for (const text of catalogTexts((await loadCatalog(join(SHARED_DATA, name), { images: 'exists' })).items)) texts.push(text);
  }
  if (texts.length === 0) {
    const words = ['black', 'cotton', 'shirt', 'with', 'short', 'sleeves', 'slim', 'fit', 'dress', 'blue', 'denim', 'Crème', '日本', '🎉'];
    for (let i = 0; i < 100_000; i++) texts.push(Array.from({ length: 12 }, (_, j) => words[(i * 31 + j * 17) % words.length]).join(' '));
  }
  const corpus = texts.join('\n');
  const megabytes = new TextEncoder().encode(corpus).length / 1e6;
  for (const vocabSize of [4096, 8192]) {
    let tokenizer: BpeTokenizer | null = null;
    const train = time(1, () => (tokenizer = BpeTokenizer.train(texts, { vocabSize })));
    const saved = JSON.stringify(tokenizer!.toJSON());
    let ids: number[] = [];
    const cold = time(1, () => (ids = BpeTokenizer.fromJSON(saved).encode(corpus)));
    const warmTokenizer = BpeTokenizer.fromJSON(saved);
    warmTokenizer.encode(corpus);
    const warm = time(3, () => warmTokenizer.encode(corpus));
    const decode = time(3, () => warmTokenizer.decode(ids));
    if (warmTokenizer.decode(ids) !== corpus) throw new Error('tokenizer round trip failed on the benchmark corpus');
    report({
      bench: 'tokenizer',
      vocab: vocabSize,
      corpus_mb: megabytes.toFixed(1),
      texts: texts.length,
      train_s: train.toFixed(1),
      tokens: ids.length,
      bytes_per_token: ((megabytes * 1e6) / ids.length).toFixed(2),
      encode_cold_mb_s: (megabytes / cold).toFixed(1),
      encode_warm_mb_s: (megabytes / warm).toFixed(1),
      decode_mb_s: (megabytes / decode).toFixed(1),
    });
  }
}

await benchImages();
await benchTokenizer();
if (json) console.log(JSON.stringify(results, null, 2));
