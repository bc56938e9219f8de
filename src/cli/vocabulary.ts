/**
 * `atelier vocabulary --weights <folder> --data <catalog> [--data <catalog>…]`: recomputes each
 * catalog's value vocabulary (every value of every attribute in its training split, rare values
 * included) with the trainer's own code and stores it in the folder's model.json, the rest of the
 * manifest and the weights and tokenizer files untouched. Grounded decoding builds its lexicon from
 * it; weights trained before the manifest carried it get it this way. The catalog must be the data
 * the heads were trained on: its training split must give the manifest's exact head classes.
 */
import { catalogSchema } from '../model/bundle.ts';
import { catalogLexicon } from '../model/lexicon.ts';
import { prepareDataset } from '../node/dataset.ts';
import { lockFolder } from '../node/lock.ts';
import { DEFAULT_WEIGHTS_DIR, readWeightsFolder, writeManifest } from '../node/weights.ts';
import { sameLabels, trainingPreprocess, trainingVocabulary } from '../train/trainer.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';

const SPEC: Record<string, OptionSpec> = {
  weights: { type: 'string', description: 'weights folder whose model.json is updated (default: the committed weights/)' },
  data: { type: 'list', description: 'a catalog the weights were trained on (repeat for several)' },
  'cache-dir': { type: 'string', description: 'tensor store folder (default .cache/images in the repository)' },
  help: { type: 'boolean', description: 'show this help' },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('vocabulary', '--data <catalog> [--data <catalog>…] [--weights <folder>]', SPEC));
    return 0;
  }
  const paths = options.data as string[];
  if (paths.length === 0) throw new UsageError('at least one --data <catalog folder> is needed');
  const dir = (options.weights as string | undefined) ?? DEFAULT_WEIGHTS_DIR;
  // Held from the read to the write, so two updates of one folder cannot lose one another's catalogs.
  const lock = lockFolder(dir);
  try {
    await updateVocabularies(dir, paths, options['cache-dir'] as string | undefined);
  } finally {
    lock.release();
  }
  return 0;
}

async function updateVocabularies(dir: string, paths: string[], cacheDir: string | undefined): Promise<void> {
  const bundle = readWeightsFolder(dir);
  const catalogs = [...bundle.manifest.catalogs];
  for (const path of paths) {
    // Loaded exactly as training loads it, so the training split is the one the weights saw.
    const dataset = await prepareDataset(path, { preprocess: trainingPreprocess(bundle.config), cacheDir });
    dataset.images?.close();
    const name = dataset.catalog.name;
    const index = catalogs.findIndex((c) => c.name === name);
    if (index < 0) throw new Error(`${dir} has no head for catalog '${name}' (it has: ${catalogs.map((c) => c.name).join(', ')})`);
    if (!sameLabels(bundle.catalogs[index], { ...catalogs[index], labels: dataset.labels.toJSON() })) {
      throw new Error(`${path}: its training split gives other head classes than ${dir}/model.json holds for '${name}', so it is not the data these weights were trained on`);
    }
    const updated = { ...catalogs[index], vocabulary: trainingVocabulary(dataset) };
    catalogs[index] = updated;
    const schema = catalogSchema(updated);
    const lexicon = catalogLexicon(name, schema.vocabulary);
    const beyondHeads = [...lexicon.attributes.values()].reduce((n, a) => {
      const classes = new Set(schema.head.attributes.find((h) => h.name === a.attribute)?.values ?? []);
      return n + [...a.valueFamilies.keys()].filter((v) => !classes.has(v)).length;
    }, 0);
    const values = Object.values(updated.vocabulary).reduce((n, v) => n + v.length, 0);
    console.log(`${name}: ${Object.keys(updated.vocabulary).length} attributes, ${values} values; the lexicon checks ${beyondHeads} values that are no head class`);
  }
  writeManifest(dir, { ...bundle.manifest, catalogs });
  console.log(`wrote ${dir}/model.json`);
}
