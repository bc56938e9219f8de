/**
 * The multitask trainer (Node): one shared backbone and decoder, one fused head per catalog.
 *
 * Each step takes a batch from ONE catalog (src/train/batches.ts: catalogs alternate in
 * proportion to their size) and minimises
 *
 *   w_attr · mean over attributes of CE (missing labels -1 skipped)
 *   + w_price · (Huber on the point output + pinball on the two quantile outputs; items without a price masked)
 *   + w_text · token CE of the decoder over the target tokens (prompt and padding masked)
 *
 * through the model's own graph (src/model/graph.ts over tapeOps), backward on the tape and AdamW
 * (warm-up + cosine, clipping, NaN/Inf stop) in one recorder and one submit per step.
 *
 * Run folder: checkpoints (src/node/checkpoint.ts: written atomically, `--resume` continues
 * exactly: the data order is a function of (seed, epoch, batch position), the optimizer's moments
 * and step are restored), `train-log.jsonl` (one line per `logEvery` steps, per validation and per
 * checkpoint) and `weights` (the latest checkpoint's weights folder). A running trainer holds the
 * folder's lock (src/node/lock.ts): a second one on the same folder is refused.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MISSING } from '../data/labels.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import { hashString, seededRandom } from '../data/random.ts';
import type { CatalogItem } from '../data/schema.ts';
import { BpeTokenizer, catalogTexts } from '../data/tokenizer.ts';
import { classificationScores, priceScores, type ClassificationScores, type PriceScores } from '../eval/metrics.ts';
import { catalogSchema, type CatalogManifest, type CatalogSchema, type ModelBundle } from '../model/bundle.ts';
import { presetConfig, validateConfig, type ModelConfig } from '../model/config.ts';
import { backboneForward, decoderHidden, decoderMemory, headLogits, outputLogits } from '../model/graph.ts';
import { initialBundle } from '../model/init.ts';
import { attributeVocabulary } from '../model/lexicon.ts';
import { backboneParams, decoderParams, headParams, headWidth, initialValues } from '../model/params.ts';
import { readCheckpoint, writeCheckpoint } from '../node/checkpoint.ts';
import { prepareDataset, type Dataset } from '../node/dataset.ts';
import { DEFAULT_CACHE_DIR, type ImageStore } from '../node/image-store.ts';
import { ImageTokenCache } from '../node/token-cache.ts';
import { createNodeContext } from '../node/gpu.ts';
import { lockFolder } from '../node/lock.ts';
import { readWeightsFolder } from '../node/weights.ts';
import type { GpuContext } from '../runtime/gpu.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Progress, type ProgressStream } from '../cli/progress.ts';
import { Parameter, Tape, type Var } from './autograd.ts';
import { epochBatches, hostBatch, TRAIN_PROMPTS, VALIDATION_PROMPTS, type BatchContext, type HostBatch, type TokenBatch } from './batches.ts';
import * as F from './ops.ts';
import { AdamW, type Schedule, type StepReport } from './optimizer.ts';
import { tapeOps } from './tape-ops.ts';

export type TrainTask = 'multitask' | 'attributes' | 'price';

/**
 * What a run trains: `all` (the backbone, heads and decoder from live images), or `decoder` (only
 * the decoder, every item of a batch with text, on image tokens the backbone computed once per
 * image and src/node/token-cache.ts stored). A staged schedule is several runs chained with
 * --init: `--no-decoder` (backbone + heads), then `--stage decoder`, then a short `all`.
 */
export type TrainStage = 'all' | 'decoder';

export interface LossWeights {
  attr: number;
  price: number;
  text: number;
}

export const DEFAULT_LOSS_WEIGHTS: LossWeights = { attr: 1, price: 0.5, text: 1 };

/** Everything that decides what a run computes; saved in each checkpoint and reused by --resume. */
export interface TrainSettings {
  data: string[];
  /** A preset name, or a full config whose vocabSize the trained tokenizer replaces. */
  config: string | ModelConfig;
  /** Stop after this many epochs, steps, or minutes of training (at least one is required). */
  epochs?: number;
  steps?: number;
  minutes?: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  clipNorm: number;
  /** Warm-up steps; default 5% of the planned steps (at most 200), or 50 when planning by minutes. */
  warmupSteps?: number;
  /** Start from this weights folder (fine-tuning). */
  init?: string;
  /** At most this many training items per catalog. */
  limit?: number;
  seed: number;
  task: TrainTask;
  /** false: the decoder is trained with empty prompts (ablation). */
  hierarchy: boolean;
  /** false: no decoder loss (the decoder's weights are kept as they are). */
  decoder: boolean;
  /** Default 'all'. */
  stage?: TrainStage;
  lossWeights: LossWeights;
  /**
   * Class balancing of the attribute losses: class c of an attribute weighs (n_c / n̄)^-p, p this
   * power (0: off; 0.5, the default chosen by docs/sweep.md: inverse square root of the frequency),
   * so rare classes, which macro-F1 counts as much as common ones, are not left unlearnt. See
   * classBalanceWeights.
   */
  classBalance?: number;
  /** Validation items per catalog (a subset of the validation split). */
  valItems: number;
  checkpointMinutes: number;
  /** A JSONL line every this many steps. */
  logEvery: number;
  /** Items of each batch the decoder is trained on (the first ones of the shuffled batch). */
  textItems: number;
  /** Training sequences are cut to this many tokens (at most the config's decoder.maxLength). */
  maxTokens?: number;
  /** Tokenizer size for a new run. */
  vocabSize: number;
  /** Tensor store folder (default: the repository's .cache/images). */
  cacheDir?: string;
}

export interface TrainOptions extends TrainSettings {
  out: string;
  /** Continue the run in `out` from its last checkpoint, with the settings saved there. */
  resume?: boolean;
  /** A GPU context to use (default: one is created and destroyed). */
  ctx?: GpuContext;
  /** Stops the run cleanly (a checkpoint is written) before the next step. */
  signal?: AbortSignal;
  /** Where the progress bar is drawn (default stderr); null draws nothing. */
  progress?: ProgressStream | null;
  /** Called after every step (tests, benchmarks). */
  onStep?: (report: StepReport) => void;
}

export const DEFAULT_SETTINGS: Omit<TrainSettings, 'data'> = {
  config: 'tiny',
  batchSize: 32,
  lr: 1e-3,
  weightDecay: 0.05,
  clipNorm: 1,
  seed: 1,
  task: 'multitask',
  hierarchy: true,
  decoder: true,
  lossWeights: DEFAULT_LOSS_WEIGHTS,
  classBalance: 0.5,
  valItems: 500,
  textItems: 8,
  checkpointMinutes: 5,
  logEvery: 10,
  vocabSize: 4096,
};

/** The trainer's part of a checkpoint. */
interface TrainerState {
  settings: TrainSettings;
  epoch: number;
  /** Batches of `epoch` already done. */
  batchIndex: number;
  /** Steps the schedule plans for (null while a --minutes run has not measured its speed yet). */
  plannedSteps: number | null;
  warmupSteps: number;
  /** Seconds spent training so far, over all sessions of the run. */
  trainSeconds: number;
}

export interface CatalogMetrics {
  catalog: string;
  items: number;
  attributes: Record<string, ClassificationScores>;
  mean_accuracy: number;
  mean_macro_f1: number;
  price: PriceScores;
  /** Decoder token cross-entropy (nats) and perplexity over the target tokens, prompts complete. */
  text: { ce: number; perplexity: number; tokens: number } | null;
}

export interface TrainResult {
  steps: number;
  epochs: number;
  trainSeconds: number;
  validation: CatalogMetrics[];
  checkpoint: string;
}

/** A catalog being trained: its schema (from the model), items and image reader. */
interface CatalogRun {
  schema: CatalogSchema;
  train: CatalogItem[];
  val: CatalogItem[];
  batch: Omit<BatchContext, 'items'>;
  store: ImageStore;
}

/**
 * Per-class loss weights of one attribute from its training counts: (n_c / n̄)^-power, clipped to
 * [1/10, 10] so a class seen once cannot dominate, then scaled so the weights average 1 over the
 * labelled items (the loss keeps its scale). Classes never seen get the largest weight.
 */
export function classBalanceWeights(counts: readonly number[], power: number): Float32Array {
  const total = counts.reduce((s, n) => s + n, 0);
  if (total === 0 || power === 0) return new Float32Array(counts.length).fill(1);
  const mean = total / counts.length;
  const raw = counts.map((n) => Math.min(10, Math.max(0.1, (Math.max(n, 1) / mean) ** -power)));
  const perItem = counts.reduce((s, n, c) => s + n * raw[c], 0) / total;
  return Float32Array.from(raw, (w) => w / perItem);
}

/** The class weights of every attribute of a catalog, from its training items, on the GPU. */
function classWeightTensors(ctx: GpuContext, c: CatalogRun, power: number): Tensor[] {
  const attrs = c.schema.labels.attributes;
  const counts = attrs.map((a) => new Array<number>(a.classes.length).fill(0));
  for (const item of c.train) {
    c.schema.labels.encode(item).forEach((label, i) => {
      if (label !== MISSING) counts[i][label]++;
    });
  }
  return attrs.map((a, i) => ctx.tensor(classBalanceWeights(counts[i], power), [a.classes.length], 'f32', `class-weights.${c.schema.name}.${a.name}`));
}

const HUBER_DELTA = 1;
/** Steps whose mean duration plans a --minutes run. */
const PLAN_WINDOW = 30;

function log(out: string, entry: Record<string, unknown>): void {
  appendFileSync(join(out, 'train-log.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

export function sameLabels(a: CatalogSchema, b: CatalogManifest): boolean {
  const x = a.labels.toJSON().attributes.map((v) => [v.name, v.classes]);
  const y = b.labels.attributes.map((v) => [v.name, v.classes]);
  return JSON.stringify(x) === JSON.stringify(y);
}

/** How training preprocesses a catalog's images for a model config (its tensor store). */
export function trainingPreprocess(config: ModelConfig): PreprocessConfig {
  return { width: config.backbone.imageWidth, height: config.backbone.imageHeight, background: [255, 255, 255] };
}

/** Every value of every attribute in the training split: the manifest's `vocabulary`. */
export function trainingVocabulary(d: Dataset): Record<string, string[]> {
  return attributeVocabulary(d.split.train);
}

function manifestOf(d: Dataset): CatalogManifest {
  if (!d.price) throw new Error(`catalog ${d.catalog.source} has no prices in its training split; the price head needs some`);
  return { name: d.catalog.name, labels: d.labels.toJSON(), price: d.price.toJSON(), vocabulary: trainingVocabulary(d) };
}

/**
 * `--init`: the weights' backbone, decoder and tokenizer carried over; a catalog the weights lack,
 * or whose attribute classes differ, gets a fresh head.
 */
function fineTuneBundle(init: ModelBundle, datasets: Dataset[], seed: number): { bundle: ModelBundle; freshHeads: string[] } {
  const random = seededRandom(hashString('fresh-heads', seed));
  const manifests = datasets.map(manifestOf);
  const replaced = new Set(manifests.map((m) => m.name));
  const freshHeads: string[] = [];
  const catalogs = init.manifest.catalogs.filter((c) => !replaced.has(c.name));
  const params = new Map([...init.params].filter(([name]) => !name.startsWith('heads.') || !replaced.has(name.split('.')[1])));
  for (const m of manifests) {
    const old = init.catalogs.find((c) => c.name === m.name);
    if (old && sameLabels(old, m)) {
      // The head is kept; the vocabulary is that of the data now trained on.
      catalogs.push({ ...init.manifest.catalogs.find((c) => c.name === m.name)!, vocabulary: m.vocabulary });
      for (const suffix of ['weight', 'bias']) params.set(`heads.${m.name}.${suffix}`, init.params.get(`heads.${m.name}.${suffix}`)!);
      continue;
    }
    catalogs.push(m);
    freshHeads.push(m.name);
    for (const spec of headParams(init.config, catalogSchema(m).head)) params.set(spec.name, { shape: spec.shape, data: initialValues(spec, random) });
  }
  return { bundle: { ...init, manifest: { ...init.manifest, catalogs }, catalogs: catalogs.map(catalogSchema), params }, freshHeads };
}

function plannedFromSettings(s: TrainSettings, batchesPerEpoch: number): number | null {
  const byEpochs = s.epochs !== undefined ? s.epochs * batchesPerEpoch : Infinity;
  const bySteps = s.steps ?? Infinity;
  const planned = Math.min(byEpochs, bySteps);
  return Number.isFinite(planned) ? planned : null;
}

const SETTING_KEYS = ['data', 'config', 'epochs', 'steps', 'minutes', 'batchSize', 'lr', 'weightDecay', 'clipNorm', 'warmupSteps', 'init', 'limit', 'seed', 'task', 'hierarchy', 'decoder', 'stage', 'lossWeights', 'classBalance', 'valItems', 'textItems', 'maxTokens', 'checkpointMinutes', 'logEvery', 'vocabSize', 'cacheDir'] as const satisfies readonly (keyof TrainSettings)[];

/** The settings part of the options (what a checkpoint saves). */
function settingsOf(o: TrainOptions): TrainSettings {
  return Object.fromEntries(SETTING_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as unknown as TrainSettings;
}

export function checkSettings(s: TrainSettings): void {
  const problems: string[] = [];
  if (s.data.length === 0) problems.push('at least one --data catalog is needed');
  if (s.epochs === undefined && s.steps === undefined && s.minutes === undefined) problems.push('say how long to train: --epochs, --steps or --minutes');
  for (const [k, v] of Object.entries({ epochs: s.epochs, steps: s.steps, minutes: s.minutes, batchSize: s.batchSize, lr: s.lr })) {
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) problems.push(`${k} must be a non-negative number, got ${v}`);
  }
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) problems.push(`batch size must be a positive integer, got ${s.batchSize}`);
  if (!['multitask', 'attributes', 'price'].includes(s.task)) problems.push(`task must be multitask, attributes or price, got ${s.task}`);
  if (s.stage !== undefined && !['all', 'decoder'].includes(s.stage)) problems.push(`stage must be all or decoder, got ${s.stage}`);
  if (s.stage === 'decoder' && (s.task !== 'multitask' || !s.decoder)) problems.push('--stage decoder trains the decoder: it needs the multitask task and the decoder');
  if (problems.length) throw new Error(`train: ${problems.join('; ')}`);
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  // One trainer per run folder, locked before it is read: two would interleave checkpoints, and one
  // would resume from a checkpoint the other then removes.
  mkdirSync(options.out, { recursive: true });
  const lock = lockFolder(options.out);
  try {
    return await trainLocked(options);
  } finally {
    lock.release();
  }
}

async function trainLocked(options: TrainOptions): Promise<TrainResult> {
  const out = options.out;
  const resumed = options.resume ? readCheckpoint<TrainerState>(out) : null;
  if (options.resume && !resumed) throw new Error(`--resume: ${out} holds no checkpoint (no ${join(out, 'latest')})`);
  if (!options.resume && existsSync(join(out, 'latest'))) throw new Error(`${out} already holds a run; pass --resume to continue it or choose another --out`);
  const settings: TrainSettings = resumed ? resumed.state.settings : settingsOf(options);
  checkSettings(settings);
  const started = performance.now();

  // The model: a checkpoint, a weights folder to fine-tune, or a fresh model for the catalogs.
  const init = resumed ? resumed.bundle : settings.init ? readWeightsFolder(settings.init) : null;
  const sizeConfig = init?.config ?? (typeof settings.config === 'string' ? presetConfig(settings.config, 1) : settings.config);
  const preprocess = trainingPreprocess(sizeConfig);
  const datasets: Dataset[] = [];
  try {
    for (const path of settings.data) datasets.push(await prepareDataset(path, { preprocess, cacheDir: settings.cacheDir }));
    const names = datasets.map((d) => d.catalog.name);
    if (new Set(names).size !== names.length) throw new Error(`two --data catalogs are both named '${names.find((n, i) => names.indexOf(n) !== i)}'`);
    const trainItems = datasets.map((d) => (settings.limit !== undefined ? d.split.train.slice(0, settings.limit) : d.split.train));

    let bundle: ModelBundle;
    let freshHeads: string[] = [];
    if (resumed) bundle = resumed.bundle;
    else if (init) ({ bundle, freshHeads } = fineTuneBundle(init, datasets, settings.seed));
    else {
      const tokenizer = BpeTokenizer.train((function* () {
        for (const items of trainItems) yield* catalogTexts(items);
      })(), { vocabSize: settings.vocabSize });
      const config = validateConfig({ ...sizeConfig, decoder: { ...sizeConfig.decoder, vocabSize: tokenizer.vocabSize } });
      bundle = initialBundle(config, datasets.map(manifestOf), tokenizer, settings.seed);
    }
    const config = bundle.config;
    const catalogs: CatalogRun[] = datasets.map((d, i) => {
      const schema = bundle.catalogs.find((c) => c.name === d.catalog.name)!;
      const store = d.images!;
      return {
        schema,
        store,
        train: trainItems[i],
        val: d.split.val.slice(0, settings.valItems),
        batch: {
          schema,
          readImages: (ids) => store.read(ids),
          preprocess,
          tokenizer: bundle.tokenizer,
          maxLength: Math.min(settings.maxTokens ?? Infinity, config.decoder.maxLength),
          textItems: settings.stage === 'decoder' ? settings.batchSize : Math.min(settings.textItems, settings.batchSize),
        },
      };
    });
    for (const c of catalogs) if (c.train.length < settings.batchSize) throw new Error(`catalog ${c.schema.name} has ${c.train.length} training items, fewer than one batch of ${settings.batchSize}`);

    const ctx = options.ctx ?? (await createNodeContext());
    try {
      return await runTraining({ ctx, options, settings, bundle, catalogs, resumed, freshHeads, started });
    } finally {
      if (!options.ctx) ctx.destroy();
    }
  } finally {
    for (const d of datasets) d.images?.close();
  }
}

interface RunInputs {
  ctx: GpuContext;
  options: TrainOptions;
  settings: TrainSettings;
  bundle: ModelBundle;
  catalogs: CatalogRun[];
  resumed: ReturnType<typeof readCheckpoint<TrainerState>>;
  freshHeads: string[];
  started: number;
}

async function runTraining(r: RunInputs): Promise<TrainResult> {
  const { ctx, options, settings, bundle, catalogs } = r;
  const out = options.out;
  const config = bundle.config;
  const text = settings.task === 'multitask' && settings.decoder;
  const decoderStage = settings.stage === 'decoder';
  const params = new Map([...bundle.params].map(([name, p]) => [name, new Parameter(name, ctx.tensor(p.data, p.shape, 'f32', name))]));
  const trainedNames = (
    decoderStage
      ? decoderParams(config)
      : [...backboneParams(config), ...catalogs.flatMap((c) => headParams(config, c.schema.head)), ...(text ? decoderParams(config) : [])]
  ).map((s) => s.name);
  const taus = ctx.tensor(config.priceQuantiles, [2], 'f32', 'price.taus');
  const classWeights = new Map(catalogs.map((c) => [c, settings.classBalance ? classWeightTensors(ctx, c, settings.classBalance) : null]));

  const batchesPerEpoch = catalogs.reduce((s, c) => s + Math.floor(c.train.length / settings.batchSize), 0);
  const state: TrainerState = r.resumed?.state ?? {
    settings,
    epoch: 0,
    batchIndex: 0,
    plannedSteps: plannedFromSettings(settings, batchesPerEpoch),
    warmupSteps: 0,
    trainSeconds: 0,
  };
  if (!r.resumed) {
    const planned = state.plannedSteps;
    state.warmupSteps = settings.warmupSteps ?? (planned === null ? 50 : Math.max(1, Math.min(200, Math.round(0.05 * planned))));
  }
  // The optimizer reads the schedule object on every step, so planning a --minutes run's length
  // once its speed is known (below) updates the cosine in place.
  const schedule: Schedule = { peak: settings.lr, warmupSteps: state.warmupSteps, totalSteps: state.plannedSteps ?? Number.MAX_SAFE_INTEGER, floor: settings.lr * 0.02 };
  const opt = new AdamW(ctx, trainedNames.map((n) => params.get(n)!), { lr: schedule, weightDecay: settings.weightDecay, clipNorm: settings.clipNorm });
  if (r.resumed) opt.importState(r.resumed.optimizer);

  if (!r.resumed) {
    log(out, {
      type: 'start',
      settings: { ...settings, config: typeof settings.config === 'string' ? settings.config : settings.config.name },
      config,
      catalogs: catalogs.map((c) => ({ name: c.schema.name, train: c.train.length, val: c.val.length, attributes: c.schema.head.attributes.map((a) => `${a.name}(${a.values.length})`) })),
      parameters: [...params.values()].reduce((s, p) => s + p.value.size, 0),
      trained_parameters: trainedNames.length,
      batches_per_epoch: batchesPerEpoch,
      planned_steps: state.plannedSteps,
      warmup_steps: state.warmupSteps,
      fresh_heads: r.freshHeads,
      validation_items: catalogs.map((c) => c.val.length),
    });
  } else log(out, { type: 'resume', step: opt.stepCount, epoch: state.epoch, batch_index: state.batchIndex });

  const saveCheckpoint = async (): Promise<string> => {
    const values = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, p] of params) values.set(name, { shape: [...p.value.shape], data: (await p.value.read()) as Float32Array });
    const dir = writeCheckpoint(out, opt.stepCount, { bundle: { ...bundle, params: values }, optimizer: await opt.exportState(), state }, {
      trainer: 'atelier train',
      steps: opt.stepCount,
      epoch: state.epoch + state.batchIndex / Math.max(1, batchesPerEpoch),
      train_seconds: Math.round(state.trainSeconds),
      task: settings.task,
      hierarchy: settings.hierarchy,
      decoder: settings.decoder,
      loss_weights: settings.lossWeights,
      class_balance: settings.classBalance ?? 0,
    });
    log(out, { type: 'checkpoint', step: opt.stepCount, dir });
    return dir;
  };

  const validateAll = async (): Promise<CatalogMetrics[]> => {
    const t0 = performance.now();
    const metrics: CatalogMetrics[] = [];
    for (const c of catalogs) metrics.push(await validate(ctx, params, config, c, taus, settings, text, classWeights.get(c)!));
    log(out, { type: 'validation', step: opt.stepCount, epoch: state.epoch, seconds: Math.round((performance.now() - t0) / 100) / 10, subset: `first ${settings.valItems} validation items per catalog`, metrics });
    return metrics;
  };

  const progressStream = options.progress === undefined ? process.stderr : options.progress;
  // The decoder stage's image tokens: the backbone once per training image (its weights do not
  // change in this stage), before the clock of the training budget starts.
  const tokenCaches = new Map<CatalogRun, ImageTokenCache>();
  if (decoderStage) {
    for (const c of catalogs) {
      const bar = progressStream ? new Progress({ total: c.train.length, label: `image tokens ${c.schema.name}`, stream: progressStream }) : null;
      let shown = 0;
      const cache = await ImageTokenCache.open({
        ctx,
        config,
        weights: (name) => params.get(name)!.value,
        weightValues: bundle.params,
        store: c.store,
        preprocess: c.batch.preprocess,
        catalog: c.schema.name,
        ids: c.train.map((item) => item.id),
        cacheDir: settings.cacheDir ?? DEFAULT_CACHE_DIR,
        onProgress: (done) => {
          bar?.tick(done - shown);
          shown = done;
        },
      });
      bar?.finish();
      tokenCaches.set(c, cache);
      log(out, { type: 'image-tokens', catalog: c.schema.name, items: c.train.length, built: cache.built, path: cache.path });
    }
  }
  const budgetSeconds = settings.minutes !== undefined ? settings.minutes * 60 : Infinity;
  let progress = progressStream ? new Progress({ total: state.plannedSteps, label: 'train', stream: progressStream }) : null;
  progress?.tick(opt.stepCount);
  let batches = epochBatches(catalogs.map((c) => c.train.length), settings.batchSize, settings.seed, state.epoch);
  let lastCheckpoint = performance.now();
  let lastValidationStep = -1;
  let validation: CatalogMetrics[] = [];
  const window: { seconds: number; images: number; tokens: number; losses: Record<string, number>[] } = { seconds: 0, images: 0, tokens: 0, losses: [] };
  const byMinutes = plannedFromSettings(settings, batchesPerEpoch) === null;
  /** Durations of the session's recent steps (its first two, which compile pipelines, left out). */
  const recent: number[] = [];
  let sessionSteps = 0;
  let planDue = byMinutes;
  let sessionSeconds = 0;
  const sessionStartSeconds = state.trainSeconds;

  try {
    while (true) {
      if (state.plannedSteps !== null && opt.stepCount >= state.plannedSteps) break;
      if (state.trainSeconds >= budgetSeconds) break;
      if (options.signal?.aborted) break;
      const ref = batches[state.batchIndex];
      const c = catalogs[ref.catalog];
      const t0 = performance.now();
      const prompts = text ? (settings.hierarchy ? TRAIN_PROMPTS : { ...TRAIN_PROMPTS, hierarchy: false }) : null;
      const tokenCache = tokenCaches.get(c);
      const host = hostBatch({ ...c.batch, items: c.train }, ref.items, { seed: settings.seed, epoch: state.epoch, augment: true, prompts, images: !tokenCache });
      const report = tokenCache
        ? await decoderStep(ctx, params, config, tokenCache.read(ref.items.map((p) => c.train[p].id)), tokenCache.shape, host, opt, settings)
        : await trainStep(ctx, params, config, c.schema, host, taus, opt, settings, text, classWeights.get(c)!);
      const seconds = (performance.now() - t0) / 1000;
      sessionSeconds += seconds;
      state.trainSeconds = sessionStartSeconds + sessionSeconds;
      state.batchIndex++;
      options.onStep?.(report);

      // --minutes: once the speed is known (after warm-up), plan the cosine to end with the budget;
      // plan again at each checkpoint and after a resume, since a shared machine's speed drifts.
      if (sessionSteps++ >= 2) recent.push(seconds);
      if (recent.length > PLAN_WINDOW) recent.shift();
      if (planDue && opt.stepCount >= state.warmupSteps && recent.length >= 5) {
        const perStep = recent.reduce((sum, x) => sum + x, 0) / recent.length;
        state.plannedSteps = opt.stepCount + Math.max(1, Math.floor((0.95 * (budgetSeconds - state.trainSeconds)) / perStep));
        schedule.totalSteps = state.plannedSteps;
        planDue = false;
        log(out, { type: 'plan', step: opt.stepCount, seconds_per_step: perStep, planned_steps: state.plannedSteps });
        if (progressStream) {
          progress?.finish();
          progress = new Progress({ total: state.plannedSteps, label: 'train', stream: progressStream });
          progress.tick(opt.stepCount - 1); // this step is counted below
        }
      }

      window.seconds += seconds;
      window.images += host.count;
      window.tokens += host.tokens ? host.tokens.rows * host.tokens.length : 0;
      window.losses.push(report.losses);
      const summary = summariseLosses(report.losses);
      progress?.tick(1, {
        epoch: state.epoch + 1,
        ...Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, v.toFixed(3)])),
        'img/s': (host.count / seconds).toFixed(1),
      });
      if (opt.stepCount % settings.logEvery === 0) {
        const mean: Record<string, number> = {};
        for (const l of window.losses) for (const [k, v] of Object.entries(summariseLosses(l))) mean[k] = (mean[k] ?? 0) + v / window.losses.length;
        log(out, {
          type: 'train',
          step: opt.stepCount,
          epoch: state.epoch + state.batchIndex / batchesPerEpoch,
          lr: report.lr,
          grad_norm: report.gradNorm,
          losses: mean,
          images_per_s: window.images / window.seconds,
          tokens_per_s: window.tokens / window.seconds,
          train_seconds: Math.round(state.trainSeconds),
        });
        window.seconds = window.images = window.tokens = 0;
        window.losses = [];
      }
      if (state.batchIndex >= batches.length) {
        validation = await validateAll();
        lastValidationStep = opt.stepCount;
        state.epoch++;
        state.batchIndex = 0;
        batches = epochBatches(catalogs.map((cc) => cc.train.length), settings.batchSize, settings.seed, state.epoch);
      }
      if ((performance.now() - lastCheckpoint) / 60000 >= settings.checkpointMinutes) {
        await saveCheckpoint();
        lastCheckpoint = performance.now();
        planDue = byMinutes;
      }
    }
    progress?.finish();
    if (lastValidationStep !== opt.stepCount && !options.signal?.aborted) validation = await validateAll();
    const checkpoint = await saveCheckpoint();
    const result: TrainResult = { steps: opt.stepCount, epochs: state.epoch + state.batchIndex / batchesPerEpoch, trainSeconds: state.trainSeconds, validation, checkpoint };
    log(out, { type: options.signal?.aborted ? 'stopped' : 'end', step: opt.stepCount, epochs: result.epochs, train_seconds: Math.round(state.trainSeconds), wall_seconds: Math.round((performance.now() - r.started) / 1000) });
    return result;
  } finally {
    for (const cache of tokenCaches.values()) cache.close();
    opt.dispose();
    taus.dispose();
    for (const weights of classWeights.values()) for (const t of weights ?? []) t.dispose();
    for (const p of params.values()) p.value.dispose();
  }
}

/** attr (mean over attributes), price (point + interval), text and total, from a step's named losses. */
function summariseLosses(losses: Record<string, number>): Record<string, number> {
  const attrs = Object.entries(losses).filter(([k]) => k.startsWith('attr.'));
  const out: Record<string, number> = { loss: losses.total };
  if (attrs.length) out.attr = attrs.reduce((s, [, v]) => s + v, 0) / attrs.length;
  if ('price' in losses) out.price = losses.price + losses.interval;
  if ('text' in losses) out.text = losses.text;
  return out;
}

/** A text batch on the GPU: decoder input ids and positions u32 [B, L], and where its loss is. */
export interface TextInputs {
  ids: Tensor;
  positions: Tensor;
  /**
   * The flat positions (b * L + t) that have a target token, u32 [T], and those labels, i32 [T]:
   * only these rows go through the vocabulary projection and the CE (prompt and padding rows
   * would cost the largest product of the decoder and add nothing to the loss).
   */
  targetRows: Tensor;
  targetLabels: Tensor;
}

export interface StepInputs {
  images: Tensor;
  labels: Tensor[];
  price: Tensor;
  hasPrice: Tensor;
  text: TextInputs | null;
}

export function uploadText(ctx: GpuContext, t: TokenBatch): TextInputs {
  const rows: number[] = [];
  t.labels.forEach((label, i) => label >= 0 && rows.push(i));
  // A batch without any target (all prompts) keeps one masked row: the CE of nothing is 0.
  if (rows.length === 0) rows.push(0);
  return {
    ids: ctx.tensor(t.ids, [t.rows, t.length], 'u32'),
    positions: ctx.tensor(t.positions, [t.rows, t.length], 'u32'),
    targetRows: ctx.tensor(Uint32Array.from(rows), [rows.length], 'u32'),
    targetLabels: ctx.tensor(Int32Array.from(rows, (r) => t.labels[r]), [rows.length], 'i32'),
  };
}

export function disposeText(x: TextInputs | null): void {
  if (x) for (const t of [x.ids, x.positions, x.targetRows, x.targetLabels]) t.dispose();
}

export function upload(ctx: GpuContext, config: ModelConfig, host: HostBatch): StepInputs {
  const b = config.backbone;
  return {
    images: ctx.tensor(host.images, [host.count, b.imageHeight, b.imageWidth, 3]),
    labels: host.attributeLabels.map((l) => ctx.tensor(l, [host.count], 'i32')),
    price: ctx.tensor(host.price, [host.count]),
    hasPrice: ctx.tensor(host.hasPrice, [host.count]),
    text: host.tokens ? uploadText(ctx, host.tokens) : null,
  };
}

export function disposeInputs(x: StepInputs): void {
  for (const t of [x.images, ...x.labels, x.price, x.hasPrice]) t.dispose();
  disposeText(x.text);
}

/**
 * The losses of one batch on a tape: the fused head's attribute and price terms, and the decoder's
 * token CE when `text`. Returns the weighted total and every named part (all retained).
 */
export function lossGraph(
  tape: Tape,
  params: Map<string, Parameter>,
  config: ModelConfig,
  schema: CatalogSchema,
  x: StepInputs,
  taus: Tensor,
  s: TrainSettings,
  text: boolean,
  classWeights: readonly Tensor[] | null = null,
): { total: Var; parts: Record<string, Var>; logits: Var } {
  const w = paramVars(tape, params);
  const backbone = backboneForward(tapeOps, w, config, tape.constant(x.images));
  const logits = tape.retain(headLogits(tapeOps, w, schema.name, backbone.pooled));
  const head = schema.head;
  const priceCol = headWidth(head) - head.priceOutputs;
  const heads: F.HeadLoss[] = [];
  if (s.task !== 'price') {
    let col = 0;
    head.attributes.forEach((a, i) => {
      heads.push({ kind: 'crossEntropy', name: `attr.${a.name}`, weight: s.lossWeights.attr / head.attributes.length, col0: col, classes: a.values.length, labels: x.labels[i], classWeight: classWeights?.[i] });
      col += a.values.length;
    });
  }
  if (s.task !== 'attributes') {
    heads.push({ kind: 'regression', name: 'price', weight: s.lossWeights.price, col0: priceCol, target: x.price, mask: x.hasPrice, huberDelta: HUBER_DELTA });
    heads.push({ kind: 'pinball', name: 'interval', weight: s.lossWeights.price, col0: priceCol + 1, target: x.price, taus, mask: x.hasPrice });
  }
  const { total: headTotal, perHead } = F.headsLoss(logits, heads);
  const parts: Record<string, Var> = { ...perHead };
  let total = headTotal;
  if (text && x.text) {
    const [B] = x.text.ids.shape;
    const imageTokens = B === x.images.shape[0] ? backbone.tokens : F.slice(backbone.tokens, 0, 0, B);
    parts.text = tape.retain(textLoss(w, config, imageTokens, x.text));
    total = F.weightedSum([{ loss: headTotal, weight: 1 }, { loss: parts.text, weight: s.lossWeights.text }]);
  }
  parts.total = tape.retain(total);
  return { total, parts, logits };
}

/** The decoder's token CE over the target tokens, given the image tokens [B, N, D] of the text rows. */
export function textLoss(w: (name: string) => Var, config: ModelConfig, imageTokens: Var, x: TextInputs): Var {
  const [B, L] = x.ids.shape;
  const memory = decoderMemory(tapeOps, w, imageTokens);
  const hidden = decoderHidden(tapeOps, w, config, x.ids, x.positions, memory);
  const targets = tapeOps.embed(x.targetRows, F.reshape(hidden, [B * L, config.decoder.dim]));
  return F.crossEntropy(outputLogits(tapeOps, w, config, targets), x.targetLabels);
}

/** Variables of a tape's parameters, one per name. */
export function paramVars(tape: Tape, params: Map<string, Parameter>): (name: string) => Var {
  const vars = new Map<string, Var>();
  return (name) => {
    let v = vars.get(name);
    if (!v) {
      const p = params.get(name);
      if (!p) throw new Error(`the model has no parameter '${name}'`);
      vars.set(name, (v = tape.param(p)));
    }
    return v;
  };
}

/**
 * One decoder-stage step: the text loss on cached image tokens (f32 [B * N * D]), backward and
 * AdamW over the decoder's parameters, in one recorder and one submit.
 */
async function decoderStep(ctx: GpuContext, params: Map<string, Parameter>, config: ModelConfig, imageTokens: Float32Array, shape: [number, number], host: HostBatch, opt: AdamW, s: TrainSettings): Promise<StepReport> {
  const t = host.tokens!;
  const tokens = ctx.tensor(imageTokens, [t.rows, ...shape]);
  const inputs = uploadText(ctx, t);
  try {
    return await optimizerStep(ctx, 'decoder-step', opt, (tape) => {
      const text = tape.retain(textLoss(paramVars(tape, params), config, tape.constant(tokens), inputs));
      return { total: tape.retain(F.scale(text, s.lossWeights.text)), parts: { text } };
    });
  } finally {
    tokens.dispose();
    disposeText(inputs);
  }
}

/** One step: upload, forward, backward and AdamW in one recorder and one submit; one readback. */
async function trainStep(ctx: GpuContext, params: Map<string, Parameter>, config: ModelConfig, schema: CatalogSchema, host: HostBatch, taus: Tensor, opt: AdamW, s: TrainSettings, text: boolean, classWeights: readonly Tensor[] | null): Promise<StepReport> {
  const inputs = upload(ctx, config, host);
  try {
    return await optimizerStep(ctx, 'train-step', opt, (tape) => lossGraph(tape, params, config, schema, inputs, taus, s, text, classWeights));
  } finally {
    disposeInputs(inputs);
  }
}

/**
 * The losses `graph` records on a fresh tape, their backward and AdamW, in one recorder and one
 * submit; reads back the step's report (every part and the total, as named losses).
 */
async function optimizerStep(ctx: GpuContext, label: string, opt: AdamW, graph: (tape: Tape) => { total: Var; parts: Record<string, Var> }): Promise<StepReport> {
  const rec = ctx.recorder(label);
  const tape = new Tape(rec);
  const { total, parts } = graph(tape);
  tape.backward(total);
  const result = opt.step(rec, { ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.value])), total: total.value });
  tape.dispose();
  rec.submit();
  return await result.read();
}

/**
 * Validation of one catalog on its validation subset, without augmentation: per-attribute accuracy
 * and macro-F1, price MAE/R²/interval coverage in the catalog's price unit, and (with the decoder)
 * token CE and perplexity with complete prompts.
 */
async function validate(ctx: GpuContext, params: Map<string, Parameter>, config: ModelConfig, c: CatalogRun, taus: Tensor, s: TrainSettings, text: boolean, classWeights: readonly Tensor[] | null): Promise<CatalogMetrics> {
  const head = c.schema.head;
  const truth: (string | null)[][] = head.attributes.map(() => []);
  const predicted: string[][] = head.attributes.map(() => []);
  const prices: { truth: number | null; predicted: number; low: number; high: number }[] = [];
  let ceSum = 0;
  let tokens = 0;
  const width = headWidth(head);
  const priceCol = width - head.priceOutputs;
  // A price prediction far below the catalog's range (an untrained head) still has to be positive for the log-R².
  const positive = (p: number) => Math.max(p, 1e-2);
  for (let start = 0; start < c.val.length; start += s.batchSize) {
    const positions = Array.from({ length: Math.min(s.batchSize, c.val.length - start) }, (_, i) => start + i);
    const host = hostBatch({ ...c.batch, items: c.val }, positions, { seed: s.seed, epoch: 0, augment: false, prompts: text ? (s.hierarchy ? VALIDATION_PROMPTS : { ...VALIDATION_PROMPTS, hierarchy: false }) : null });
    const inputs = upload(ctx, config, host);
    const rec = ctx.recorder('validate');
    const tape = new Tape(rec);
    try {
      const { logits, parts } = lossGraph(tape, params, config, c.schema, inputs, taus, s, text, classWeights);
      rec.submit();
      const out = (await logits.value.read()) as Float32Array;
      if (parts.text && host.tokens) {
        ceSum += ((await parts.text.value.read()) as Float32Array)[0] * host.tokens.targetTokens;
        tokens += host.tokens.targetTokens;
      }
      positions.forEach((p, b) => {
        const row = out.subarray(b * width, (b + 1) * width);
        let col = 0;
        head.attributes.forEach((a, i) => {
          let best = 0;
          for (let k = 1; k < a.values.length; k++) if (row[col + k] > row[col + best]) best = k;
          const label = host.attributeLabels[i][b];
          truth[i].push(label === MISSING ? null : a.values[label]);
          predicted[i].push(a.values[best]);
          col += a.values.length;
        });
        const [point, lo, hi] = [row[priceCol], row[priceCol + 1], row[priceCol + 2]].map((v) => positive(c.schema.price.price(v)));
        prices.push({ truth: c.val[p].price, predicted: point, low: Math.min(lo, hi), high: Math.max(lo, hi) });
      });
    } finally {
      tape.dispose();
      disposeInputs(inputs);
    }
  }
  const attributes = Object.fromEntries(head.attributes.map((a, i) => [a.name, classificationScores(truth[i], predicted[i])]));
  const scored = Object.values(attributes).filter((m) => m.n > 0);
  return {
    catalog: c.schema.name,
    items: c.val.length,
    attributes,
    mean_accuracy: scored.reduce((sum, m) => sum + m.accuracy, 0) / Math.max(1, scored.length),
    mean_macro_f1: scored.reduce((sum, m) => sum + m.macro_f1, 0) / Math.max(1, scored.length),
    price: priceScores(prices),
    text: text ? { ce: ceSum / Math.max(1, tokens), perplexity: Math.exp(ceSum / Math.max(1, tokens)), tokens } : null,
  };
}
