/**
 * `atelier warmup [--weights <folder>] [--batch N] [--force]`: compiles the listing's GPU kernels
 * into Mesa's on-disk shader cache ahead of the first listing (src/node/warmup.ts), with progress
 * on stderr. `npm run setup:gpu` runs it; `atelier list` does the same by itself when the cache is
 * cold, so this only moves the wait to setup time.
 */
import type { ListingModel } from '../model/listing-model.ts';
import { createListingEngine } from '../node/engine.ts';
import { mesaShaderCache, warmListingKernels, type WarmupResult } from '../node/warmup.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { Progress } from './progress.ts';

const SPEC: Record<string, OptionSpec> = {
  weights: { type: 'string', description: 'weights folder (default: the committed weights/)' },
  batch: { type: 'string', description: 'batch size to compile for (default 1: one photo per call)' },
  force: { type: 'boolean', description: 'compile even when the cache is marked warm' },
  devices: { type: 'string', description: 'GPU devices compiling at once (default: the idle cores, at most 4)' },
  quiet: { type: 'boolean', description: 'print nothing when the cache is already warm' },
  help: { type: 'boolean', description: 'show this help' },
};

export const COMPILING_LABEL = 'compiling GPU kernels (first run only)';

/**
 * Compiles a listing's kernels ahead when the cache is cold, drawing progress on stderr
 * ("compiling GPU kernels (first run only)  12/19 …"); silent when warm.
 */
export async function warmWithProgress(model: ListingModel, options: { batches?: number[]; force?: boolean; devices?: number } = {}): Promise<WarmupResult> {
  let progress: Progress | null = null;
  try {
    return await warmListingKernels(model, {
      ...options,
      onStart: (total) => {
        process.stderr.write(`Compiling the listing's ${total} GPU kernels into Mesa's shader cache (${mesaShaderCache().dir}); later runs start in seconds.\n`);
        progress = new Progress({ total, label: COMPILING_LABEL, plainEveryMs: 3000 });
      },
      onProgress: () => progress?.tick(),
    });
  } finally {
    (progress as Progress | null)?.finish();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('warmup', '[--weights <folder>] [--batch N] [--force]', SPEC));
    return 0;
  }
  const batch = options.batch === undefined ? 1 : Number(options.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 32) throw new UsageError(`--batch needs a whole number from 1 to 32, got '${options.batch}'`);
  const engine = await createListingEngine({ weights: options.weights as string | undefined, batchSize: batch });
  try {
    const devices = options.devices === undefined ? undefined : Number(options.devices);
    const r = await warmWithProgress(engine.model, { batches: [batch], force: Boolean(options.force), devices });
    if (r.status === 'compiled') process.stderr.write(`compiled ${r.kernels} kernels in ${(r.ms / 1000).toFixed(1)} s (cache: ${r.cacheDir})\n`);
    else if (r.status === 'skipped') process.stderr.write(`nothing to compile ahead: ${r.reason}\n`);
    else if (!options.quiet) process.stderr.write(`GPU kernels already compiled (cache: ${r.cacheDir}); --force compiles again\n`);
    return 0;
  } finally {
    engine.dispose();
  }
}
