/**
 * `atelier eval --data <catalog>`: runs the model over a catalog's validation split (or every row)
 * and prints the report of issue 6 (src/eval/report.ts) as JSON or Markdown; optionally writes
 * one JSON line per row for error analysis.
 */
import { writeFileSync } from 'node:fs';
import { evaluateModel, loadEvalData, type EvalSplit } from '../eval/evaluate.ts';
import { reportMarkdown } from '../eval/report.ts';
import { createListingEngine } from '../node/engine.ts';
import { DEFAULT_WEIGHTS_DIR } from '../node/weights.ts';
import { groundingOption, type OptionSpec, parseArgs, usage, UsageError } from './args.ts';
import { Progress } from './progress.ts';

export const MODEL_RUN_SPEC: Record<string, OptionSpec> = {
  data: { type: 'string', description: 'catalog folder (listings.jsonl + images), .jsonl or .csv file' },
  limit: { type: 'string', description: 'evaluate this many rows, spread evenly over the evaluated part' },
  split: { type: 'string', description: "'val' (default: the validation split of the deterministic split training uses) or 'all' (every row, e.g. your own catalog)" },
  'batch-size': { type: 'string', description: 'listings per model call (default 32)' },
  'max-tokens': { type: 'string', description: 'most tokens generated per listing (default: to the end token or the end of the decoder context)' },
  'cache-dir': { type: 'string', description: 'tensor store folder (default .cache/images in the repository)' },
};

const SPEC: Record<string, OptionSpec> = {
  ...MODEL_RUN_SPEC,
  weights: { type: 'string', description: 'weights folder (default: the committed weights/)' },
  out: { type: 'string', description: 'write the JSON report to this file' },
  format: { type: 'string', description: "what to print: 'json' (default) or 'md' (readable tables)" },
  predictions: { type: 'string', description: 'write one JSON line per row (truth, prediction, grounding; skipped rows with their reason)' },
  grounding: { type: 'string', description: 'prompted (default), strict (the text names only prompted attributes) or off (may contradict them)' },
  flat: { type: 'boolean', description: 'flat prompt: no predicted attributes in the prompt' },
  help: { type: 'boolean', description: 'show this help' },
};

/** A positive whole number option, or undefined when absent. */
export function positiveInteger(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--${name} needs a positive whole number, got '${v}'`);
  return n;
}

export function splitOption(v: unknown): EvalSplit {
  if (v === undefined) return 'val';
  if (v !== 'val' && v !== 'all') throw new UsageError(`--split must be 'val' or 'all', got '${v}'`);
  return v;
}

/** A progress callback that draws on stderr, created on the first call (when the total is known). */
export function progressBar(label: string): { tick: (done: number, total: number) => void; finish: () => void } {
  let bar: Progress | null = null;
  let last = 0;
  return {
    tick(done, total) {
      bar ??= new Progress({ total, label });
      bar.tick(done - last);
      last = done;
    },
    finish: () => bar?.finish(),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('eval', '--data <catalog> [options]', SPEC));
    return 0;
  }
  if (!options.data) throw new UsageError('--data <catalog folder> is required');
  const format = options.format ?? 'json';
  if (format !== 'json' && format !== 'md') throw new UsageError(`--format must be 'json' or 'md', got '${format}'`);
  const weights = (options.weights as string | undefined) ?? DEFAULT_WEIGHTS_DIR;
  const data = await loadEvalData(options.data as string, { split: splitOption(options.split), limit: positiveInteger(options.limit, 'limit'), cacheDir: options['cache-dir'] as string | undefined });
  const engine = await createListingEngine({ weights, batchSize: positiveInteger(options['batch-size'], 'batch-size') ?? 32 });
  const progress = progressBar(`eval ${data.dataset.catalog.name}`);
  try {
    const report = await evaluateModel(data, engine, {
      prompt: options.flat ? 'flat' : 'hierarchical',
      grounding: groundingOption(options.grounding),
      maxNewTokens: positiveInteger(options['max-tokens'], 'max-tokens'),
      predictions: options.predictions as string | undefined,
      meta: { weights },
      onProgress: progress.tick,
    });
    progress.finish();
    const json = JSON.stringify(report, null, 2);
    if (options.out) writeFileSync(options.out as string, json + '\n');
    console.log(format === 'md' ? reportMarkdown(report) : json);
    return 0;
  } finally {
    engine.dispose();
    data.dataset.images?.close();
  }
}
