/**
 * A catalog made ready for training, evaluation or a batch job (Node), in one call:
 *
 *   const data = await prepareDataset('../shared/data/hm', { split: { valFraction: 0.1 } });
 *   data.split.train / data.split.val   CatalogItem[] (grouped by product, src/data/split.ts)
 *   data.labels.encode(item)            attribute class indices, -1 = missing (src/data/labels.ts)
 *   data.price?.target(item.price)      normalised log price, NaN = missing
 *   data.images?.read(ids)              preprocessed uint8 images (src/node/image-store.ts)
 *   data.problems                       every skipped row: { line, id, reason }
 *
 * Steps: load and validate the catalog (src/node/catalog.ts); open or build the tensor store,
 * whose decode failures become skipped rows too (with `store: false`, every image is decoded to
 * check it and nothing is written); split; build the label vocabularies and price statistics from
 * the training part only. `labels.toJSON()`, `price.toJSON()` and `splitConfig` are what a model's
 * weights folder keeps so evaluation and inference use the same vocabularies and scaling.
 */
import { AtelierDataError } from '../data/errors.ts';
import { LabelSpace, PriceScaler, type AttributeSummary, type LabelOptions } from '../data/labels.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import type { CatalogItem, RowProblem } from '../data/schema.ts';
import { defaultSplitConfig, splitItems, type Split, type SplitConfig } from '../data/split.ts';
import { loadCatalog, type Catalog, type LoadCatalogOptions } from './catalog.ts';
import { ImageStore } from './image-store.ts';

export interface DatasetOptions extends Omit<LoadCatalogOptions, 'images'> {
  /** Overrides of the catalog's default split (see defaultSplitConfig). */
  split?: Partial<SplitConfig>;
  labels?: LabelOptions;
  preprocess?: PreprocessConfig;
  /** Use (and build when needed) the tensor store (default true). */
  store?: boolean;
  cacheDir?: string;
  rebuildStore?: boolean;
  /** Progress of image checking, then of building the tensor store (images done, images in all). */
  onProgress?: (done: number, total: number) => void;
}

export interface Dataset {
  /** The catalog with `items` reduced to the usable ones and `problems` to every skipped row. */
  catalog: Catalog;
  split: Split<CatalogItem>;
  splitConfig: SplitConfig;
  labels: LabelSpace;
  /** Every attribute seen in training, with whether it is modelled and why not. */
  attributeSummary: AttributeSummary[];
  /** null when no training item has a price. */
  price: PriceScaler | null;
  /** null with `store: false`. Close it when done. */
  images: ImageStore | null;
}

export async function prepareDataset(path: string, options: DatasetOptions = {}): Promise<Dataset> {
  const useStore = options.store ?? true;
  const loaded = await loadCatalog(path, { ...options, images: useStore ? 'probe' : 'decode' });
  let items = loaded.items;
  let problems: RowProblem[] = loaded.problems;
  let images: ImageStore | null = null;
  if (useStore) {
    images = await ImageStore.open(loaded, { preprocess: options.preprocess, maxPixels: options.maxPixels, cacheDir: options.cacheDir, rebuild: options.rebuildStore, onProgress: options.onProgress });
    const store = images;
    if (store.index.failed.length) {
      items = items.filter((item) => store.has(item.id));
      problems = [...problems, ...store.index.failed].sort((a, b) => a.line - b.line);
    }
  }
  const catalog: Catalog = { ...loaded, items, problems };
  if (items.length === 0) {
    images?.close();
    throw new AtelierDataError('catalog', `catalog ${catalog.source} has no usable rows (${problems.length} skipped; first: ${problems[0] ? `line ${problems[0].line}: ${problems[0].reason}` : 'none'})`);
  }
  const splitConfig: SplitConfig = { ...defaultSplitConfig(catalog.name), ...options.split };
  const split = splitItems(items, splitConfig);
  const { labels, summary } = LabelSpace.build(split.train, options.labels);
  const price = split.train.some((item) => item.price !== null) ? PriceScaler.fit(split.train) : null;
  return { catalog, split, splitConfig, labels, attributeSummary: summary, price, images };
}
