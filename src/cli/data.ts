/**
 * `atelier data <subcommand>`: catalogs from the command line.
 *   check <catalog>      load the catalog as training does (validation, tensor store, split,
 *                        vocabularies) and report rows loaded and skipped, each skip with line, id
 *                        and reason, and the label vocabularies; --json prints one object with
 *                        top-level loaded, skipped and problems
 *   cache <catalog>      build (or reuse) the tensor store of preprocessed images
 *   import <csv>         write a CSV export as a catalog's listings.jsonl, with --map
 *   tokenizer <catalog>… train the byte-level BPE tokenizer on the catalogs' training splits and
 *                        save it in Hugging Face tokenizer.json format
 * A <catalog> is a folder with listings.jsonl, a .jsonl file, or a .csv/.tsv file (with --map).
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../data/preprocess.ts';
import type { RowProblem } from '../data/schema.ts';
import { defaultSplitConfig, splitItems, type GroupKey, type SplitConfig } from '../data/split.ts';
import { BpeTokenizer, catalogTexts } from '../data/tokenizer.ts';
import { importCsvCatalog, loadCatalog, type LoadCatalogOptions } from '../node/catalog.ts';
import { prepareDataset, type Dataset } from '../node/dataset.ts';
import { ImageStore } from '../node/image-store.ts';
import { parseArgs, usage, UsageError, type OptionSpec, type ParsedArgs } from './args.ts';

const LOAD_SPEC: Record<string, OptionSpec> = {
  map: { type: 'list', description: 'CSV column mapping, e.g. id=id,image=images/{id}.jpg,title=productDisplayName,attr.colour=baseColour' },
  delimiter: { type: 'string', description: "CSV field delimiter (default ',' or tab for .tsv)" },
  'max-pixels': { type: 'string', description: 'refuse images larger than this many pixels (default 50000000)' },
  help: { type: 'boolean', description: 'show this help' },
};
const SPLIT_SPEC: Record<string, OptionSpec> = {
  val: { type: 'string', description: 'validation fraction of product groups (default 0.1)' },
  test: { type: 'string', description: 'test fraction of product groups (default 0)' },
  seed: { type: 'string', description: 'split seed (default atelier)' },
  group: { type: 'string', description: 'product grouping: id, title or id-prefix:N (default id-prefix:7 for hm, title otherwise)' },
};
const STORE_SPEC: Record<string, OptionSpec> = {
  size: { type: 'string', description: `preprocessed image size WIDTHxHEIGHT (default ${DEFAULT_PREPROCESS.width}x${DEFAULT_PREPROCESS.height})` },
  'cache-dir': { type: 'string', description: 'tensor store folder (default .cache/images in the repository)' },
};
const CHECK_SPEC: Record<string, OptionSpec> = {
  ...LOAD_SPEC,
  ...SPLIT_SPEC,
  ...STORE_SPEC,
  json: { type: 'boolean', description: 'print one JSON object' },
  'no-store': { type: 'boolean', description: 'decode every image to check it, without building or using the tensor store' },
  'min-count': { type: 'string', description: 'values seen fewer times in training go to "other" (default 20)' },
  'min-coverage': { type: 'string', description: 'model attributes with at least this share of training items (default 0.05)' },
  attributes: { type: 'string', description: 'comma-separated attributes to model (default: chosen by coverage)' },
};
const CACHE_SPEC: Record<string, OptionSpec> = { ...LOAD_SPEC, ...STORE_SPEC, rebuild: { type: 'boolean', description: 'build even if a valid store exists' } };
const IMPORT_SPEC: Record<string, OptionSpec> = {
  ...LOAD_SPEC,
  out: { type: 'string', description: "folder for listings.jsonl (default: the CSV's folder)" },
  json: { type: 'boolean', description: 'print one JSON object' },
};
const TOKENIZER_SPEC: Record<string, OptionSpec> = {
  ...LOAD_SPEC,
  ...SPLIT_SPEC,
  vocab: { type: 'string', description: 'vocabulary size including special tokens (default 4096)' },
  out: { type: 'string', description: 'where to write tokenizer.json (required)' },
};

const SUBCOMMANDS: Record<string, { synopsis: string; spec: Record<string, OptionSpec>; run: (args: ParsedArgs) => Promise<number> }> = {
  check: { synopsis: 'check <catalog> [options]', spec: CHECK_SPEC, run: check },
  cache: { synopsis: 'cache <catalog> [options]', spec: CACHE_SPEC, run: cache },
  import: { synopsis: 'import <file.csv> --map <mapping> [--out <folder>]', spec: IMPORT_SPEC, run: importCsv },
  tokenizer: { synopsis: 'tokenizer <catalog>... --out <tokenizer.json> [--vocab N]', spec: TOKENIZER_SPEC, run: trainTokenizer },
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name ? SUBCOMMANDS[name] : undefined;
  if (!sub) {
    const list = Object.values(SUBCOMMANDS).map((s) => `  atelier data ${s.synopsis}`).join('\n');
    if (name && name !== '--help') throw new UsageError(`unknown subcommand '${name}'; use one of:\n${list}`);
    console.log(`usage:\n${list}\nRun 'atelier data <subcommand> --help' for its options.`);
    return name ? 0 : 2;
  }
  const args = parseArgs(rest, sub.spec);
  if (args.options.help) {
    console.log(usage(`data ${sub.synopsis.split(' ')[0]}`, sub.synopsis.split(' ').slice(1).join(' '), sub.spec));
    return 0;
  }
  return sub.run(args);
}

function oneCatalog(args: ParsedArgs): string {
  if (args.positionals.length !== 1) throw new UsageError(`expected one catalog path, got ${args.positionals.length}`);
  return args.positionals[0];
}

function numberOption(args: ParsedArgs, name: string): number | undefined {
  const value = args.options[name];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

function loadOptions(args: ParsedArgs): LoadCatalogOptions {
  const map = args.options.map as string[];
  return {
    columns: map.length ? map.join(',') : undefined,
    delimiter: args.options.delimiter as string | undefined,
    maxPixels: numberOption(args, 'max-pixels'),
  };
}

function splitOptions(args: ParsedArgs): Partial<SplitConfig> {
  const split: Partial<SplitConfig> = {};
  const val = numberOption(args, 'val');
  const test = numberOption(args, 'test');
  if (val !== undefined) split.valFraction = val;
  if (test !== undefined) split.testFraction = test;
  if (args.options.seed !== undefined) split.seed = args.options.seed as string;
  const group = args.options.group as string | undefined;
  if (group !== undefined) split.groupKey = parseGroupKey(group);
  return split;
}

function parseGroupKey(text: string): GroupKey {
  if (text === 'id' || text === 'title') return { kind: text };
  const prefix = /^id-prefix:(\d+)$/.exec(text);
  if (prefix) return { kind: 'id-prefix', length: Number(prefix[1]) };
  throw new UsageError(`--group must be id, title or id-prefix:N, got ${JSON.stringify(text)}`);
}

function preprocessOption(args: ParsedArgs): PreprocessConfig | undefined {
  const size = args.options.size as string | undefined;
  if (size === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) throw new UsageError(`--size must be WIDTHxHEIGHT, e.g. 64x96, got ${JSON.stringify(size)}`);
  return { ...DEFAULT_PREPROCESS, width: Number(m[1]), height: Number(m[2]) };
}

/** Progress on stderr, at most every half second, so --json output stays clean. */
function progress(label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (process.stderr.isTTY && (now - last > 500 || done === total)) {
      last = now;
      process.stderr.write(`\r${label} ${done}/${total}${done === total ? '\n' : ''}`);
    }
  };
}

async function check(args: ParsedArgs): Promise<number> {
  const path = oneCatalog(args);
  const attributes = args.options.attributes as string | undefined;
  const started = performance.now();
  const data = await prepareDataset(path, {
    ...loadOptions(args),
    split: splitOptions(args),
    labels: {
      minCount: numberOption(args, 'min-count'),
      minCoverage: numberOption(args, 'min-coverage'),
      include: attributes ? attributes.split(',').map((a) => a.trim()).filter(Boolean) : undefined,
    },
    preprocess: preprocessOption(args),
    store: !args.options['no-store'],
    cacheDir: args.options['cache-dir'] as string | undefined,
    onProgress: progress('images'),
  });
  data.images?.close();
  const report = checkReport(data, (performance.now() - started) / 1000);
  console.log(args.options.json ? JSON.stringify(report, null, 2) : formatCheck(report));
  return 0;
}

function checkReport(data: Dataset, seconds: number) {
  const { catalog, split, splitConfig, labels, attributeSummary, price, images } = data;
  return {
    catalog: catalog.name,
    source: catalog.source,
    rows: catalog.rows,
    loaded: catalog.items.length,
    skipped: catalog.problems.length,
    problems: catalog.problems,
    split: { ...splitConfig, groups: split.groups, train: split.train.length, val: split.val.length, test: split.test.length },
    price: price ? { ...price.toJSON(), trainItemsWithoutPrice: split.train.length - price.stats.count } : null,
    vocabularies: Object.fromEntries(labels.attributes.map((a) => [a.name, { coverage: a.coverage, distinctValues: a.distinctValues, classes: a.classes, counts: a.counts }])),
    minCount: labels.minCount,
    minCoverage: labels.minCoverage,
    notModelled: attributeSummary.filter((a) => a.exclusion).map((a) => ({ name: a.name, coverage: a.coverage, exclusion: a.exclusion, reason: a.excludedBecause })),
    images: images ? { store: images.path, width: images.width, height: images.height, count: images.count, built: images.built } : null,
    seconds: Number(seconds.toFixed(2)),
  };
}

/** A path relative to the working folder when it lies inside it, else absolute. */
function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

function formatCheck(r: ReturnType<typeof checkReport>): string {
  const pct = (x: number) => `${Number((x * 100).toFixed(2))}%`;
  const group = r.split.groupKey.kind === 'id-prefix' ? `id-prefix:${r.split.groupKey.length}` : r.split.groupKey.kind;
  const lines = [
    `catalog ${r.catalog}: ${r.source}`,
    `rows ${r.rows}: loaded ${r.loaded}, skipped ${r.skipped}`,
    r.images ? `images: ${r.images.count} preprocessed to ${r.images.width}x${r.images.height} in ${shortPath(r.images.store)} (${r.images.built ? 'built now' : 'reused'})` : 'images: all decoded (no tensor store)',
    `split by ${group} (seed ${r.split.seed}): ${r.split.groups} groups; train ${r.split.train}, val ${r.split.val}, test ${r.split.test}`,
    r.price
      ? `price: ${r.price.count} training items priced (${r.price.trainItemsWithoutPrice} without); log1p mean ${r.price.mean.toFixed(3)}, std ${r.price.std.toFixed(3)}, currency ${r.price.currency ?? 'not stated'}`
      : 'price: no training item has a price',
    `vocabularies from the training split (values seen < ${r.minCount} times -> other):`,
  ];
  for (const [name, v] of Object.entries(r.vocabularies)) {
    const shown = v.classes.slice(0, 8).map((c, i) => `${c} ${v.counts[i]}`);
    if (v.classes.length > 9) shown.push(`... ${v.classes.length - 9} more`);
    if (v.classes.length > 8) shown.push(`other ${v.counts[v.counts.length - 1]}`);
    lines.push(`  ${name} (${pct(v.coverage)}, ${v.distinctValues} values -> ${v.classes.length} classes): ${shown.join('; ')}`);
  }
  const rare = r.notModelled.filter((a) => a.exclusion === 'coverage').sort((a, b) => b.coverage - a.coverage);
  const others = r.notModelled.filter((a) => a.exclusion !== 'coverage');
  if (rare.length) lines.push(`not modelled, coverage under ${pct(r.minCoverage)}: ${rare.map((a) => `${a.name} ${pct(a.coverage)}`).join(', ')}`);
  if (others.length) lines.push(`not modelled: ${others.map((a) => `${a.name} (${a.reason})`).join(', ')}`);
  if (r.problems.length) {
    lines.push('skipped rows:');
    for (const p of r.problems) lines.push(`  line ${p.line}${p.id ? ` id ${p.id}` : ''}: ${p.reason}`);
  }
  lines.push(`(${r.seconds} s)`);
  return lines.join('\n');
}

async function cache(args: ParsedArgs): Promise<number> {
  const started = performance.now();
  const catalog = await loadCatalog(oneCatalog(args), { ...loadOptions(args), onProgress: progress('checking images') });
  const store = await ImageStore.open(catalog, {
    preprocess: preprocessOption(args),
    maxPixels: loadOptions(args).maxPixels,
    cacheDir: args.options['cache-dir'] as string | undefined,
    rebuild: Boolean(args.options.rebuild),
    onProgress: progress('preprocessing'),
  });
  store.close();
  const failed: RowProblem[] = [...catalog.problems, ...store.index.failed];
  console.log(
    `${store.built ? 'built' : 'reused'} ${store.path}: ${store.count} images of ${store.width}x${store.height}x3 (${((store.count * store.imageBytes) / 2 ** 20).toFixed(1)} MiB), ${failed.length} rows skipped, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  for (const p of failed.sort((a, b) => a.line - b.line)) console.log(`  line ${p.line}${p.id ? ` id ${p.id}` : ''}: ${p.reason}`);
  return 0;
}

async function importCsv(args: ParsedArgs): Promise<number> {
  const result = await importCsvCatalog(oneCatalog(args), { ...loadOptions(args), out: args.options.out as string | undefined });
  const { written } = result;
  if (args.options.json) console.log(JSON.stringify({ path: result.path, rows: result.catalog.rows, loaded: written, skipped: result.problems.length, problems: result.problems }, null, 2));
  else {
    console.log(`wrote ${result.path}: ${written} of ${result.catalog.rows} rows, ${result.problems.length} skipped`);
    for (const p of result.problems) console.log(`  line ${p.line}${p.id ? ` id ${p.id}` : ''}: ${p.reason}`);
  }
  return 0;
}

async function trainTokenizer(args: ParsedArgs): Promise<number> {
  const out = args.options.out as string | undefined;
  if (!out) throw new UsageError('--out <tokenizer.json> is required');
  if (args.positionals.length === 0) throw new UsageError('expected at least one catalog path');
  const vocabSize = numberOption(args, 'vocab') ?? 4096;
  const texts: string[] = [];
  for (const path of args.positionals) {
    // Text only: the images just have to exist. Validation text stays out of the vocabulary.
    const catalog = await loadCatalog(path, { ...loadOptions(args), images: 'exists' });
    const { train } = splitItems(catalog.items, { ...defaultSplitConfig(catalog.name), ...splitOptions(args) });
    for (const text of catalogTexts(train)) texts.push(text);
    console.log(`${catalog.name}: ${train.length} training items of ${catalog.items.length}`);
  }
  const started = performance.now();
  const tokenizer = BpeTokenizer.train(texts, { vocabSize });
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(out, JSON.stringify(tokenizer.toJSON()));
  console.log(`wrote ${out}: ${tokenizer.vocabSize} tokens (${tokenizer.specialTokens.join(' ')}), trained in ${seconds.toFixed(1)} s on ${(texts.reduce((s, t) => s + t.length, 0) / 1e6).toFixed(1)} M characters`);
  return 0;
}
