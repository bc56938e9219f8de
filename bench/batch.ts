/**
 * Batch listing throughput: listings per second through the whole `atelier batch` path (read and
 * decode JPEGs, model, write JSONL with fsync per batch) for 1,000 images of a shared catalog at
 * the default batch size, then how it scales with the batch size on a smaller slice.
 *
 *   npx tsx bench/batch.ts [--catalog-dir ../shared/data/hm] [--images 1000] [--batch-sizes 1,4,8,16,32]
 *                          [--scaling-images 128] [--weights dir] [--catalog name] [--json]
 *
 * Each run first lists one batch untimed (pipeline compilation, buffer pools), then times the job.
 * Every run verifies its own output before its number counts: one record per image, no errors,
 * a non-empty title each. Needs the real listing model (createListingEngine).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import { decodeImageFile } from '../src/node/image.ts';
import { readBatchInput, type BatchItem } from '../src/node/batch/inputs.ts';
import { DEFAULT_BATCH_SIZE, runBatchJob, type BatchSummary } from '../src/node/batch/job.ts';
import { JSONL_FORMAT, isFailed } from '../src/node/batch/jsonl.ts';
import { openOutput } from '../src/node/batch/output.ts';
import { scanRecords } from '../src/node/batch/records.ts';
import { createListingEngine } from '../src/node/engine.ts';
import { PROJECT_ROOT } from '../src/node/gpu.ts';

const SPEC = {
  'catalog-dir': { type: 'string' as const, description: 'catalog folder', default: join(PROJECT_ROOT, '..', 'shared', 'data', 'hm') },
  images: { type: 'string' as const, description: 'images in the main run', default: '1000' },
  'batch-sizes': { type: 'string' as const, description: 'batch sizes of the scaling runs', default: '1,4,8,16,32' },
  'scaling-images': { type: 'string' as const, description: 'images per scaling run', default: '128' },
  weights: { type: 'string' as const, description: 'weights folder' },
  catalog: { type: 'string' as const, description: 'catalog schema of the weights' },
  json: { type: 'boolean' as const, description: 'print JSON' },
};

interface RunResult {
  batch_size: number;
  images: number;
  listings_per_s: number;
  seconds: number;
  engine_ms_per_listing: number;
  timings_ms: BatchSummary['timings_ms'];
  verified: boolean;
}

/** One timed job over `items` at `batchSize` with a fresh engine (verification problems are printed). */
async function timedRun(items: BatchItem[], batchSize: number, options: { weights?: string; catalog?: string }, scratch: string): Promise<{ result: RunResult; adapter: string }> {
  const engine = await createListingEngine({ ...options, batchSize });
  try {
    const warmup = await Promise.all(items.slice(0, Math.min(batchSize, engine.maxBatch)).map((it) => decodeImageFile(it.path)));
    await engine.list(warmup);

    const out = join(scratch, `run-${batchSize}-${items.length}.jsonl`);
    rmSync(out, { force: true });
    const output = openOutput(out, { resume: false });
    let summary: BatchSummary;
    try {
      summary = await runBatchJob({ items, engine, output, batchSize });
    } finally {
      output.close();
    }
    return { result: { ...summaryNumbers(summary, items.length), verified: verify(out, items) }, adapter: engine.adapterName };
  } finally {
    engine.dispose();
  }
}

function summaryNumbers(summary: BatchSummary, images: number): Omit<RunResult, 'verified'> {
  return {
    batch_size: summary.batchSize,
    images,
    listings_per_s: summary.done / summary.seconds,
    seconds: summary.seconds,
    engine_ms_per_listing: summary.timings_ms.engine / Math.max(1, summary.done),
    timings_ms: summary.timings_ms,
  };
}

/** Every item exactly once, each with a listing whose title is non-empty. */
function verify(out: string, items: BatchItem[]): boolean {
  const expected = new Set(items.map((it) => it.id));
  const problems: string[] = [];
  scanRecords(out, JSONL_FORMAT, (record, line) => {
    if (!expected.delete(record.id)) problems.push(`line ${line}: unexpected or repeated id ${record.id}`);
    else if (isFailed(record)) problems.push(`${record.id}: ${record.error}`);
    else if (typeof record.title !== 'string' || record.title.trim() === '') problems.push(`${record.id}: empty title`);
  });
  for (const id of expected) problems.push(`${id}: no record`);
  for (const p of problems.slice(0, 10)) console.error(`verify: ${p}`);
  if (problems.length > 10) console.error(`verify: ... and ${problems.length - 10} more`);
  return problems.length === 0;
}

async function main(): Promise<number> {
  const { options } = parseArgs(process.argv.slice(2), SPEC);
  const catalogDir = options['catalog-dir'] as string;
  if (!existsSync(join(catalogDir, 'listings.jsonl'))) {
    console.error(`bench/batch: no catalog at ${catalogDir} (pass --catalog-dir, or provide ../shared/data)`);
    return 2;
  }
  const count = Number(options.images);
  const scalingCount = Number(options['scaling-images']);
  const batchSizes = (options['batch-sizes'] as string).split(',').map(Number);
  const engineOptions = { weights: options.weights as string | undefined, catalog: options.catalog as string | undefined };
  const input = await readBatchInput(catalogDir);
  if (input.items.length < count) throw new Error(`${catalogDir} has ${input.items.length} items, fewer than --images ${count}`);
  const items = input.items.slice(0, count);

  const scratch = mkdtempSync(join(tmpdir(), 'atelier-bench-batch-'));
  try {
    const main = await timedRun(items, DEFAULT_BATCH_SIZE, engineOptions, scratch);
    const scaling: RunResult[] = [];
    for (const b of batchSizes) scaling.push((await timedRun(items.slice(0, scalingCount), b, engineOptions, scratch)).result);
    const report = { adapter: main.adapter, catalog: catalogDir, ...main.result, scaling };
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(`${main.adapter}: ${main.result.listings_per_s.toFixed(2)} listings/s for ${count} images at batch ${main.result.batch_size} (verified: ${main.result.verified})`);
      console.log('batch  listings/s  engine ms/listing  verified');
      for (const r of scaling) console.log(`${String(r.batch_size).padStart(5)}  ${r.listings_per_s.toFixed(2).padStart(10)}  ${r.engine_ms_per_listing.toFixed(1).padStart(17)}  ${r.verified}`);
    }
    return [main.result, ...scaling].every((r) => r.verified) ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main();
