/**
 * `atelier train --data <catalog> [--data <catalog>…] --out runs/x [--epochs N | --steps N | --minutes M]`:
 * multitask training of the listing model (src/train/trainer.ts) with a progress bar, a JSONL log
 * and atomic checkpoints in the run folder. Ctrl-C (SIGINT) or SIGTERM stop after the current step
 * with a checkpoint; `--resume` continues exactly from the last one.
 */
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { DEFAULT_LOSS_WEIGHTS, DEFAULT_SETTINGS, train, type LossWeights, type TrainStage, type TrainTask } from '../train/trainer.ts';

const SPEC: Record<string, OptionSpec> = {
  data: { type: 'list', description: 'a catalog folder (repeat for several catalogs; one head each)' },
  out: { type: 'string', description: 'run folder: checkpoints, weights, train-log.jsonl (required)' },
  config: { type: 'string', description: `model preset: tiny, small or base (default ${DEFAULT_SETTINGS.config})` },
  epochs: { type: 'string', description: 'train this many epochs' },
  steps: { type: 'string', description: 'train this many steps' },
  minutes: { type: 'string', description: 'train for this many minutes (the schedule is planned from the measured speed)' },
  'batch-size': { type: 'string', description: `images per step (default ${DEFAULT_SETTINGS.batchSize})` },
  lr: { type: 'string', description: `peak learning rate (default ${DEFAULT_SETTINGS.lr})` },
  'weight-decay': { type: 'string', description: `AdamW weight decay (default ${DEFAULT_SETTINGS.weightDecay})` },
  'clip-norm': { type: 'string', description: `clip gradients to this global norm (default ${DEFAULT_SETTINGS.clipNorm})` },
  warmup: { type: 'string', description: 'warm-up steps (default 5% of the planned steps, at most 200; 50 with --minutes)' },
  resume: { type: 'boolean', description: 'continue the run in --out from its last checkpoint (its saved settings apply)' },
  init: { type: 'string', description: 'start from this weights folder (fine-tuning: backbone, decoder, tokenizer kept; new heads where needed)' },
  limit: { type: 'string', description: 'at most this many training items per catalog' },
  seed: { type: 'string', description: `seed of initialisation, data order and augmentation (default ${DEFAULT_SETTINGS.seed})` },
  task: { type: 'string', description: 'multitask (default), attributes or price (single-task ablations: no decoder)' },
  'no-hierarchy': { type: 'boolean', description: 'train the decoder with empty prompts (ablation)' },
  'no-decoder': { type: 'boolean', description: 'no decoder loss (heads only)' },
  stage: { type: 'string', description: "all (default) or decoder: only the decoder, every item with text, on image tokens computed once per image and cached (a staged schedule chains runs with --init: --no-decoder, then --stage decoder, then a short all)" },
  'class-balance': { type: 'string', description: `weigh attribute class c by (its frequency / the mean)^-p, this p (default ${DEFAULT_SETTINGS.classBalance}: inverse square root; 0: off)` },
  'loss-weights': { type: 'string', description: `e.g. attr=1,price=0.5,text=1 (default attr=${DEFAULT_LOSS_WEIGHTS.attr},price=${DEFAULT_LOSS_WEIGHTS.price},text=${DEFAULT_LOSS_WEIGHTS.text})` },
  'val-items': { type: 'string', description: `validation items per catalog (default ${DEFAULT_SETTINGS.valItems})` },
  'text-items': { type: 'string', description: `items of each batch the decoder trains on (default ${DEFAULT_SETTINGS.textItems})` },
  'max-tokens': { type: 'string', description: "cut training sequences (prompt + target) to this many tokens (default: the config's decoder.maxLength)" },
  'checkpoint-minutes': { type: 'string', description: `minutes between checkpoints (default ${DEFAULT_SETTINGS.checkpointMinutes})` },
  'vocab-size': { type: 'string', description: `tokenizer size of a new run (default ${DEFAULT_SETTINGS.vocabSize})` },
  'cache-dir': { type: 'string', description: 'tensor store folder (default .cache/images in the repository)' },
  help: { type: 'boolean', description: 'show this help' },
};

function num(v: unknown, name: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} needs a non-negative ${integer ? 'integer' : 'number'}, got '${v}'`);
  return n;
}

function lossWeights(v: string | undefined): LossWeights {
  const w = { ...DEFAULT_LOSS_WEIGHTS };
  if (v === undefined) return w;
  for (const part of v.split(',')) {
    const [k, value] = part.split('=');
    if (!(k in w)) throw new UsageError(`--loss-weights: unknown task '${k}' (known: attr, price, text)`);
    w[k as keyof LossWeights] = num(value, 'loss-weights')!;
  }
  return w;
}

export async function run(argv: string[]): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, SPEC);
  if (o.help) {
    console.log(usage('train', '--data <catalog> [--data <catalog>…] --out <run> (--epochs N | --steps N | --minutes M)', SPEC));
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!o.out) throw new UsageError('--out <run folder> is required');
  const data = o.data as string[];
  if (!o.resume && data.length === 0) throw new UsageError('at least one --data catalog is needed');
  const task = (o.task as string | undefined) ?? 'multitask';
  if (!['multitask', 'attributes', 'price'].includes(task)) throw new UsageError(`--task must be multitask, attributes or price, got '${task}'`);
  const stage = (o.stage as string | undefined) ?? 'all';
  if (!['all', 'decoder'].includes(stage)) throw new UsageError(`--stage must be all or decoder, got '${stage}'`);
  const abort = new AbortController();
  const stop = () => {
    if (abort.signal.aborted) process.exit(130);
    console.error('\nstopping after this step (a checkpoint is written); press Ctrl-C again to quit at once');
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const result = await train({
    ...DEFAULT_SETTINGS,
    data,
    out: o.out as string,
    config: (o.config as string | undefined) ?? DEFAULT_SETTINGS.config,
    epochs: num(o.epochs, 'epochs'),
    steps: num(o.steps, 'steps', true),
    minutes: num(o.minutes, 'minutes'),
    batchSize: num(o['batch-size'], 'batch-size', true) ?? DEFAULT_SETTINGS.batchSize,
    lr: num(o.lr, 'lr') ?? DEFAULT_SETTINGS.lr,
    weightDecay: num(o['weight-decay'], 'weight-decay') ?? DEFAULT_SETTINGS.weightDecay,
    clipNorm: num(o['clip-norm'], 'clip-norm') ?? DEFAULT_SETTINGS.clipNorm,
    warmupSteps: num(o.warmup, 'warmup', true),
    resume: o.resume === true,
    init: o.init as string | undefined,
    limit: num(o.limit, 'limit', true),
    seed: num(o.seed, 'seed', true) ?? DEFAULT_SETTINGS.seed,
    task: task as TrainTask,
    hierarchy: !o['no-hierarchy'],
    decoder: !o['no-decoder'],
    stage: stage as TrainStage,
    lossWeights: lossWeights(o['loss-weights'] as string | undefined),
    classBalance: num(o['class-balance'], 'class-balance') ?? DEFAULT_SETTINGS.classBalance,
    valItems: num(o['val-items'], 'val-items', true) ?? DEFAULT_SETTINGS.valItems,
    textItems: num(o['text-items'], 'text-items', true) ?? DEFAULT_SETTINGS.textItems,
    maxTokens: num(o['max-tokens'], 'max-tokens', true),
    checkpointMinutes: num(o['checkpoint-minutes'], 'checkpoint-minutes') ?? DEFAULT_SETTINGS.checkpointMinutes,
    vocabSize: num(o['vocab-size'], 'vocab-size', true) ?? DEFAULT_SETTINGS.vocabSize,
    cacheDir: o['cache-dir'] as string | undefined,
    signal: abort.signal,
  });
  for (const m of result.validation) {
    const text = m.text ? `  text CE ${m.text.ce.toFixed(3)} (ppl ${m.text.perplexity.toFixed(1)})` : '';
    console.log(`${m.catalog}: attributes acc ${m.mean_accuracy.toFixed(3)} macro-F1 ${m.mean_macro_f1.toFixed(3)}  price MAE ${m.price.mae.toFixed(2)} R² ${m.price.r2.toFixed(3)}${text}  (${m.items} validation items)`);
  }
  console.log(`${result.steps} steps, ${result.epochs.toFixed(3)} epochs, ${(result.trainSeconds / 60).toFixed(1)} min of training; checkpoint ${result.checkpoint}`);
  return 0;
}
