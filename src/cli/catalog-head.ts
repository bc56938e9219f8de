/**
 * `atelier catalog-head --weights <folder> --data <catalog> --data <catalog> …`: fits the catalog
 * chooser behind `atelier list --catalog auto` (src/model/catalog-chooser.ts) on a weights folder's
 * backbone and stores it in the folder's model.json (`catalogChooser`; weights and tokenizer files
 * untouched). Features of a fixed sample of each catalog's training split are computed on the GPU,
 * the logistic regression is fitted on CPU, and each catalog's validation split (the trainer's
 * split) is scored: the fraction of its photos that get their own catalog's schema. Run it again
 * whenever the weights are retrained: a head fitted on other backbone weights is not used.
 */
import { backboneFingerprint, REFIT_COMMAND } from '../model/catalog-chooser.ts';
import { collectChooserSamples, FEATURE_SETS, fitChooser, scoreHead, type FeatureSet } from '../node/catalog-chooser.ts';
import { createListingEngine } from '../node/engine.ts';
import { lockFolder } from '../node/lock.ts';
import { DEFAULT_WEIGHTS_DIR, readWeightsFolder, writeManifest } from '../node/weights.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { Progress } from './progress.ts';

const SPEC: Record<string, OptionSpec> = {
  weights: { type: 'string', description: 'weights folder whose model.json gets the head (default: the committed weights/)' },
  data: { type: 'list', description: 'a catalog the weights have heads for (repeat: every catalog the chooser picks among)' },
  features: { type: 'string', description: `features the head reads: ${Object.keys(FEATURE_SETS).join(', ')} (default all: pooled embedding + image statistics)` },
  compare: { type: 'boolean', description: 'also fit and score every feature set (printed, not stored)' },
  'train-per-catalog': { type: 'string', description: 'training photos per catalog (default 1500, a fixed sample of the training split)' },
  'val-per-catalog': { type: 'string', description: 'validation photos per catalog (default: the whole validation split)' },
  'dry-run': { type: 'boolean', description: 'fit and score, but do not write model.json' },
  json: { type: 'boolean', description: 'print the scores as JSON' },
  'cache-dir': { type: 'string', description: 'tensor store folder (default .cache/images in the repository)' },
  help: { type: 'boolean', description: 'show this help' },
};

function count(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} needs a whole number >= 1, got '${v}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('catalog-head', '--data <catalog> --data <catalog> [--weights <folder>]', SPEC));
    console.log(`\nThe committed weights: ${REFIT_COMMAND}`);
    return 0;
  }
  const paths = options.data as string[];
  if (paths.length < 2) throw new UsageError('give at least two --data catalogs: the chooser picks among them');
  const featureSet = (options.features ?? 'all') as FeatureSet;
  if (!(featureSet in FEATURE_SETS)) throw new UsageError(`--features must be one of ${Object.keys(FEATURE_SETS).join(', ')}, got '${featureSet}'`);
  const dir = (options.weights as string | undefined) ?? DEFAULT_WEIGHTS_DIR;
  const started = new Date().toISOString();
  const t0 = performance.now();

  const engine = await createListingEngine({ weights: dir, batchSize: 32 });
  let progress: Progress | null = null;
  let samples;
  try {
    samples = await collectChooserSamples(engine.model, paths, {
      trainPerCatalog: count(options['train-per-catalog'], 'train-per-catalog'),
      valPerCatalog: count(options['val-per-catalog'], 'val-per-catalog'),
      cacheDir: options['cache-dir'] as string | undefined,
      onCatalog: (name, photos) => {
        progress?.finish();
        progress = new Progress({ total: photos, label: `features ${name}` });
      },
      onBatch: (n) => progress?.tick(n),
    });
    (progress as Progress | null)?.finish();
  } finally {
    engine.dispose();
  }

  const model = engine.model;
  const sets = options.compare ? (Object.keys(FEATURE_SETS) as FeatureSet[]) : [featureSet];
  const results = sets.map((set) => {
    const head = fitChooser(model, samples, set);
    return { set, head, score: scoreHead(head, samples) };
  });
  const chosen = results.find((r) => r.set === featureSet)!;
  const report = results.map((r) => ({ features: r.set, ...r.score.perCatalog }));
  if (options.json) console.log(JSON.stringify({ samples: samples.map((s) => ({ catalog: s.catalog, train: s.train.length, val: s.val.length, trainItems: s.trainItems, valItems: s.valItems })), report }, null, 2));
  else {
    for (const s of samples) console.log(`${s.catalog}: fitted on ${s.train.length} of ${s.trainItems} training photos; scored on ${s.val.length} of ${s.valItems} validation photos`);
    for (const r of results) {
      const parts = Object.entries(r.score.perCatalog).map(([c, v]) => `${c} ${(100 * v.accuracy).toFixed(1)}% (${v.correct}/${v.photos}, mean confidence ${v.meanConfidence.toFixed(3)})`);
      console.log(`features ${r.set.padEnd(20)} own schema on validation: ${parts.join('; ')}`);
    }
  }

  if (options['dry-run']) return 0;
  const lock = lockFolder(dir);
  try {
    // Read again under the lock: the head goes into the manifest as it is now.
    const bundle = readWeightsFolder(dir);
    const fit = {
      command: `atelier catalog-head ${argv.join(' ')}`,
      at: started,
      minutes: +((performance.now() - t0) / 60000).toFixed(1),
      train: Object.fromEntries(samples.map((s) => [s.catalog, s.train.length])),
      validation: chosen.score.perCatalog,
    };
    if (backboneFingerprint(bundle.params) !== chosen.head.backbone) throw new Error(`${dir}'s weights changed while the head was fitted; run the command again`);
    writeManifest(dir, { ...bundle.manifest, catalogChooser: { ...chosen.head, fit } });
  } finally {
    lock.release();
  }
  console.log(`wrote the catalog chooser (features: ${featureSet}) into ${dir}/model.json`);
  return 0;
}
