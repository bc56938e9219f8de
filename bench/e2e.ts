/**
 * End-to-end listing benchmark (issue 4): photo -> listing on the default weights, batch 1, split
 * into preprocessing, backbone, heads, prefill and decode; per-token decode time early and late in
 * the sequence (the KV cache must keep decode flat); batched throughput.
 *
 *   npm run bench:e2e [-- --json] [-- --weights dir] [-- --runs N] [-- --batch 16]
 *
 * Images: the shared H&M catalog's photos when ../shared is present (decoded from JPEG, the decode
 * counted in ms_per_listing), else generated images. Every listing is verified: non-empty title,
 * finite price inside its interval, every attribute present.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import type { PixelImage } from '../src/data/preprocess.ts';
import type { Listing } from '../src/model/listing.ts';
import { createListingEngine } from '../src/node/engine.ts';
import { PROJECT_ROOT } from '../src/node/gpu.ts';
import { decodeImageFile } from '../src/node/image.ts';
import { median } from './harness.ts';

const { options } = parseArgs(process.argv.slice(2), {
  json: { type: 'boolean', description: 'print one JSON object' },
  weights: { type: 'string', description: 'weights folder (default weights/)' },
  runs: { type: 'string', description: 'timed listings at batch 1 (default 10)' },
  batch: { type: 'string', description: 'batch size for the throughput run (default 16)' },
  tokens: { type: 'string', description: 'tokens per listing (default 64)' },
});
const runs = Number(options.runs ?? 10);
const batchSize = Number(options.batch ?? 16);
const tokens = Number(options.tokens ?? 64);
const log = (...a: unknown[]) => (options.json ? console.error(...a) : console.log(...a));

const imageDir = join(PROJECT_ROOT, '..', 'shared', 'data', 'hm', 'images');
const files = existsSync(imageDir) ? readdirSync(imageDir).sort().slice(0, Math.max(runs, batchSize) + 2).map((f) => join(imageDir, f)) : [];
async function image(i: number): Promise<PixelImage> {
  if (files.length) return decodeImageFile(files[i % files.length]);
  const w = 128;
  const h = 192;
  return { width: w, height: h, channels: 3, data: Uint8Array.from({ length: w * h * 3 }, (_, j) => (j * 31 + i * 17) & 255) };
}

function verify(l: Listing): void {
  const problems: string[] = [];
  if (!l.title.trim()) problems.push('empty title');
  if (!(Number.isFinite(l.price.value) && l.price.low <= l.price.value && l.price.value <= l.price.high)) problems.push(`bad price ${JSON.stringify(l.price)}`);
  if (Object.keys(l.attributes).length === 0) problems.push('no attributes');
  if (problems.length) throw new Error(`listing failed verification: ${problems.join(', ')}`);
}

const engine = await createListingEngine({ weights: options.weights as string | undefined, batchSize });
try {
  const model = engine.model;
  log(`adapter: ${engine.adapterName}; images: ${files.length ? 'shared H&M photos' : 'generated'}`);
  // Warm-up: compiles every pipeline and teaches the waits their durations.
  for (let i = 0; i < 2; i++) verify((await engine.list([await image(i)], { maxNewTokens: tokens, stopAtEos: false }))[0]);

  const total: number[] = [];
  const parts: Record<string, number[]> = { preprocess_ms: [], backbone_ms: [], heads_ms: [], prefill_ms: [], decode_ms: [] };
  const at8: number[] = [];
  const at120: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const img = await image(i + 2);
    const [listing] = await engine.list([img], { maxNewTokens: tokens, stopAtEos: false });
    total.push(performance.now() - t0);
    verify(listing);
    for (const k of Object.keys(parts)) parts[k].push(listing.timings_ms[k]);
  }
  // Flat decode: long listings, the median step time over steps 4..12 and 116..124 of each (nine
  // steps: a single step is often hit by a garbage collection or another process on this machine).
  for (let i = 0; i < 5; i++) {
    await engine.list([await image(i)], { maxNewTokens: 128, stopAtEos: false });
    const steps = model.lastStepTimes;
    at8.push(median(steps.slice(4, 13)));
    at120.push(median(steps.slice(116, 125)));
  }
  const batchImages = await Promise.all(Array.from({ length: batchSize }, (_, i) => image(i)));
  await engine.list(batchImages, { maxNewTokens: tokens, stopAtEos: false });
  const batchRuns: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const out = await engine.list(batchImages, { maxNewTokens: tokens, stopAtEos: false });
    batchRuns.push(performance.now() - t0);
    out.forEach(verify);
  }
  const result = {
    adapter: engine.adapterName,
    config: model.config.name,
    tokens_per_listing: tokens,
    ms_per_listing: median(total),
    preprocess_ms: median(parts.preprocess_ms),
    backbone_ms: median(parts.backbone_ms),
    heads_ms: median(parts.heads_ms),
    prefill_ms: median(parts.prefill_ms),
    decode_ms: median(parts.decode_ms),
    decode_ms_per_token_at_8: median(at8),
    decode_ms_per_token_at_120: median(at120),
    decode_flatness_120_over_8: median(at120) / median(at8),
    batch_size: batchSize,
    listings_per_s_batched: (batchSize * 1000) / median(batchRuns),
    verified: true,
  };
  if (options.json) console.log(JSON.stringify(result));
  else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${typeof v === 'number' ? v.toFixed(2) : v}`);
} finally {
  engine.dispose();
}
