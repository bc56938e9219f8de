/**
 * `atelier batch <folder | listings.jsonl | catalog> --out listings.jsonl|.csv`: lists every image of
 * the input, resumably and shardably (see src/node/batch/ and docs/batch.md).
 */
import type { ListingEngine } from '../node/batch/listing-engine.ts';
import { readBatchInput } from '../node/batch/inputs.ts';
import { DEFAULT_BATCH_SIZE, runBatchJob, type BatchSummary } from '../node/batch/job.ts';
import { openOutput } from '../node/batch/output.ts';
import { inShard, parseShard, type Shard } from '../node/batch/shard.ts';
import type { ShopifyOptions } from '../node/batch/csv.ts';
import { createListingEngine, type ListingEngineOptions } from '../node/engine.ts';
import { parseArgs, usage, UsageError, type OptionSpec, type ParsedArgs } from './args.ts';
import { Progress } from './progress.ts';

/** CSV export options, shared with `atelier merge`. */
export const SHOPIFY_OPTION_SPEC: Record<string, OptionSpec> = {
  vendor: { type: 'string', description: 'CSV: Vendor for listings without a brand attribute' },
  'image-url-prefix': { type: 'string', description: 'CSV: public URL prefix for Image Src (the image path is appended); empty without it' },
};

export function shopifyOptions(options: ParsedArgs['options']): ShopifyOptions {
  return { vendor: options.vendor as string | undefined, imageUrlPrefix: options['image-url-prefix'] as string | undefined };
}

const SPEC: Record<string, OptionSpec> = {
  out: { type: 'string', description: 'output file: .jsonl (every item) or .csv (Shopify product CSV; failures in <name>.errors.jsonl)' },
  resume: { type: 'boolean', description: 'continue an existing output: skip the items it holds, drop a cut-off last line' },
  shard: { type: 'string', description: 'k/n: process only shard k (from 0) of n, split by a stable hash of the item id', default: '0/1' },
  'batch-size': { type: 'string', description: 'images per model call (capped by the model)', default: String(DEFAULT_BATCH_SIZE) },
  weights: { type: 'string', description: 'weights folder (default: the committed weights)' },
  catalog: { type: 'string', description: 'catalog schema of the weights to list with (default: the first)' },
  limit: { type: 'string', description: 'process at most the first N items of this shard' },
  ...SHOPIFY_OPTION_SPEC,
  json: { type: 'boolean', description: 'print the summary as JSON on stdout' },
  help: { type: 'boolean', description: 'show this help' },
};

const SYNOPSIS = '<image folder | listings.jsonl | catalog folder> --out <file.jsonl|file.csv> [options]';

function intOption(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  return runBatchCommand(argv, createListingEngine);
}

/** The command with its engine factory as a parameter, so tests and the crash test's child can run it with a stand-in. */
export async function runBatchCommand(argv: string[], createEngine: (options: ListingEngineOptions) => Promise<ListingEngine>): Promise<number> {
  const { positionals, options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('batch', SYNOPSIS, SPEC));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one input, got ${positionals.length}\n${usage('batch', SYNOPSIS, SPEC)}`);
  const out = options.out as string | undefined;
  if (!out) throw new UsageError('--out is required (a .jsonl or .csv file)');
  const batchSize = intOption('batch-size', options['batch-size'] as string, 1);
  const limit = options.limit === undefined ? Infinity : intOption('limit', options.limit as string, 0);
  let shard: Shard;
  try {
    shard = parseShard(options.shard as string);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  const input = await readBatchInput(positionals[0]);
  reportInputProblems(input.problems);
  const items = input.items.filter((item) => inShard(item.id, shard)).slice(0, limit);

  const output = openOutput(out, { resume: options.resume === true, shopify: shopifyOptions(options) });
  for (const line of output.recovered) console.error(`atelier batch: resume: ${line}`);
  const pending = items.filter((item) => !output.doneIds.has(item.id)).length;
  const context = { inputItems: input.items.length, inputProblems: input.problems.length, shard, outputs: output.paths };
  if (pending === 0) {
    output.close();
    printSummary(emptySummary(items.length, batchSize), context, options.json === true, null);
    return 0;
  }

  let engine: ListingEngine;
  try {
    engine = await createEngine({ weights: options.weights as string | undefined, catalog: options.catalog as string | undefined, batchSize });
  } catch (e) {
    output.close();
    console.error(`atelier batch: cannot start the listing engine: ${(e as Error).message}`);
    return 1;
  }

  const progress = new Progress({ total: pending, label: 'batch' });
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    console.error(`\natelier batch: ${signal}: stopping after the current batch (again to quit at once; --resume continues either way)`);
    stop.abort();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  let summary: BatchSummary;
  try {
    summary = await runBatchJob({
      items,
      engine,
      output,
      batchSize,
      signal: stop.signal,
      onBatch: (n, totals) => progress.tick(n, { failed: totals.failed }),
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    progress.finish();
    output.close();
    engine.dispose();
  }
  printSummary(summary, context, options.json === true, engine.adapterName);
  // The shell convention 128 + signal number, so a scheduler sees the job did not finish.
  return summary.interrupted ? 128 + (stoppedBy === 'SIGTERM' ? 15 : 2) : 0;
}

function reportInputProblems(problems: string[]): void {
  const shown = 20;
  for (const p of problems.slice(0, shown)) console.error(`atelier batch: input: ${p}`);
  if (problems.length > shown) console.error(`atelier batch: input: ... and ${problems.length - shown} more lines without a usable item`);
}

function emptySummary(items: number, batchSize: number): BatchSummary {
  return { items, skipped: items, done: 0, failed: 0, remaining: 0, interrupted: false, batchSize, seconds: 0, itemsPerSecond: 0, timings_ms: { read_decode: 0, engine: 0, write: 0 } };
}

/** `adapter` is null when no engine was started because every item was already in the output. */
function printSummary(
  summary: BatchSummary,
  context: { inputItems: number; inputProblems: number; shard: Shard; outputs: string[] },
  json: boolean,
  adapter: string | null,
): void {
  if (json) {
    console.log(JSON.stringify({ ...summary, ...context, shard: `${context.shard.index}/${context.shard.count}`, adapter }, null, 2));
    return;
  }
  const scope = context.shard.count > 1 ? `in shard ${context.shard.index}/${context.shard.count} (of ${context.inputItems} in the input)` : 'in the input';
  const lines = [`done ${summary.done}, failed ${summary.failed}, skipped ${summary.skipped} (already in the output) — of ${summary.items} items ${scope}`];
  if (adapter) lines.push(`${summary.itemsPerSecond.toFixed(2)} items/s over ${summary.seconds.toFixed(1)} s at batch size ${summary.batchSize} on ${adapter}`);
  else lines.push('nothing to do: every item is already in the output');
  lines.push(`output: ${context.outputs.join(', ')}`);
  if (summary.failed > 0) lines.push(`failed items are recorded with an "error" field`);
  if (context.inputProblems > 0) lines.push(`${context.inputProblems} input lines named no usable item (listed above)`);
  if (summary.interrupted) lines.push(`interrupted: ${summary.remaining} items left; rerun with --resume to finish`);
  console.error(lines.join('\n'));
}
