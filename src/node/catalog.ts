/**
 * Catalogs on disk (Node): the loader the trainer, the evaluator, the batch job and
 * `atelier data check` all use.
 *
 *   const catalog = await loadCatalog('../shared/data/hm');        // or a .jsonl or .csv file
 *   catalog.items     // CatalogItem[] that passed every check (src/data/schema.ts)
 *   catalog.problems  // { line, id, reason }[]: one per skipped row, in line order
 *   imageFilePath(catalog, item)                                  // absolute path of its image
 *
 * A catalog path is a folder holding `listings.jsonl`, a `.jsonl` file, or a `.csv` export read
 * with a column mapping (src/data/csv.ts). Every row is validated (schema rules) and its image is
 * checked; a bad row is reported with its line and id, counted, and skipped: the load never stops
 * half-way. Image checks (`images` option):
 *   'exists' the file exists and is not empty;
 *   'probe'  (default) the file is read and its header checked: a JPEG or PNG, within the pixel
 *            limit, not cut short (see src/node/image.ts) — ~0.1 ms an image;
 *   'decode' the image is fully decoded (what the tensor store does anyway when it is built).
 * `fingerprint` hashes the listings file and every image's size and modification time, so caches
 * built from a catalog (the tensor store) notice any change.
 *
 * `importCsvCatalog` writes a CSV export as a catalog folder's listings.jsonl.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { csvToRows, parseColumnMap, parseCsv, type ColumnMap } from '../data/csv.ts';
import { AtelierDataError } from '../data/errors.ts';
import { parseListings, safeRelativePath, validateRows, type CatalogItem, type ParsedListings, type RowProblem } from '../data/schema.ts';
import { decodeImage, probeImage, readImageBytes, DEFAULT_MAX_PIXELS } from './image.ts';

export type ImageCheck = 'exists' | 'probe' | 'decode';

export interface LoadCatalogOptions {
  /** How thoroughly to check each item's image (default 'probe'). */
  images?: ImageCheck;
  /** Pixel limit for images (default 50 megapixels). */
  maxPixels?: number;
  /** CSV only: the column mapping ("title=productDisplayName,attr.colour=baseColour" or parsed). */
  columns?: string | ColumnMap;
  /** CSV only: the field delimiter (default ','; '\t' for .tsv files). */
  delimiter?: string;
  /** Called now and then while images are checked. */
  onProgress?: (done: number, total: number) => void;
}

export interface Catalog {
  /** The folder's name (or the file's name without extension). */
  name: string;
  /** Absolute folder that image paths are relative to. */
  dir: string;
  /** Absolute path of the listings file that was read. */
  source: string;
  /** Non-blank rows in the listings file. */
  rows: number;
  items: CatalogItem[];
  problems: RowProblem[];
  /** sha256 of the listings bytes, the column mapping and each image's size and mtime. */
  fingerprint: string;
}

/** Absolute path of an item's image. */
export function imageFilePath(catalog: Pick<Catalog, 'dir'>, item: Pick<CatalogItem, 'imagePath'>): string {
  return join(catalog.dir, ...item.imagePath.split('/'));
}

/** Finds the listings file of a catalog path: a folder's listings.jsonl, or the file itself. */
async function resolveListings(path: string): Promise<{ source: string; dir: string; name: string }> {
  const full = resolve(path);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new AtelierDataError('catalog', `catalog ${path} does not exist`);
  }
  if (info.isDirectory()) {
    const source = join(full, 'listings.jsonl');
    try {
      await stat(source);
    } catch {
      throw new AtelierDataError('catalog', `catalog folder ${path} has no listings.jsonl`);
    }
    return { source, dir: full, name: basename(full) };
  }
  const ext = extname(full).toLowerCase();
  if (!['.jsonl', '.csv', '.tsv'].includes(ext)) throw new AtelierDataError('catalog', `catalog ${path} is neither a folder nor a .jsonl/.csv/.tsv file`);
  return { source: full, dir: dirname(full), name: ext === '.jsonl' && basename(full) === 'listings.jsonl' ? basename(dirname(full)) : basename(full, extname(full)) };
}

/** Loads and validates a catalog; see the file comment. */
export async function loadCatalog(path: string, options: LoadCatalogOptions = {}): Promise<Catalog> {
  const { source, dir, name } = await resolveListings(path);
  const bytes = await readFile(source);
  const text = bytes.toString('utf8');
  const ext = extname(source).toLowerCase();
  let parsed: ParsedListings;
  const hash = createHash('sha256').update(bytes);
  if (ext === '.jsonl') {
    if (options.columns) throw new AtelierDataError('catalog', 'a column mapping only applies to CSV catalogs');
    parsed = parseListings(text);
  } else {
    const columns = typeof options.columns === 'string' ? parseColumnMap(options.columns) : options.columns;
    hash.update(JSON.stringify(columns ?? null));
    parsed = validateRows(csvToRows(parseCsv(text, options.delimiter ?? (ext === '.tsv' ? '\t' : ',')), columns));
  }
  const { items, problems } = await checkImages(dir, parsed.items, options, hash);
  problems.push(...parsed.problems);
  problems.sort((a, b) => a.line - b.line);
  return { name, dir, source, rows: parsed.rows, items, problems, fingerprint: hash.digest('hex') };
}

/** Checks every item's image with a few reads in flight; items whose image fails become problems. */
async function checkImages(dir: string, items: CatalogItem[], options: LoadCatalogOptions, hash: ReturnType<typeof createHash>) {
  const mode = options.images ?? 'probe';
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const failures: (string | null)[] = new Array(items.length).fill(null);
  const stamps: string[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const file = imageFilePath({ dir }, items[i]);
      try {
        const info = await stat(file);
        stamps[i] = `${info.size}:${info.mtimeMs}`;
        if (!info.isFile()) throw new AtelierDataError('image', 'not a regular file');
        if (info.size === 0) throw new AtelierDataError('image', 'empty file (0 bytes)');
        if (mode !== 'exists') {
          const bytes = await readImageBytes(file, { maxPixels });
          if (mode === 'probe') probeImage(bytes, { maxPixels });
          else decodeImage(bytes, { maxPixels });
        }
      } catch (e) {
        stamps[i] ??= 'missing';
        const code = (e as NodeJS.ErrnoException).code;
        failures[i] = code === 'ENOENT' ? `image not found: ${items[i].imagePath}` : `unreadable image ${items[i].imagePath}: ${(e as Error).message}`;
      }
      if (++done % 1000 === 0) options.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  options.onProgress?.(items.length, items.length);
  for (let i = 0; i < items.length; i++) hash.update(`${items[i].id}\0${stamps[i]}\n`);
  const kept: CatalogItem[] = [];
  const problems: RowProblem[] = [];
  items.forEach((item, i) => {
    const failure = failures[i];
    if (failure) problems.push({ line: item.line, id: item.id, reason: failure });
    else kept.push(item);
  });
  return { items: kept, problems };
}

export interface ImportResult {
  /** The listings.jsonl written. */
  path: string;
  catalog: Catalog;
  /** Rows written. */
  written: number;
  /** Rows skipped by the load plus rows whose image lies outside the output folder. */
  problems: RowProblem[];
}

/**
 * Reads a CSV export with a column mapping and writes the rows that pass every check as
 * `<out>/listings.jsonl` (default: the CSV's folder), image paths made relative to `out`.
 */
export async function importCsvCatalog(csvPath: string, options: LoadCatalogOptions & { out?: string }): Promise<ImportResult> {
  const catalog = await loadCatalog(csvPath, options);
  if (extname(catalog.source).toLowerCase() === '.jsonl') throw new AtelierDataError('catalog', `${csvPath} is already a JSON lines catalog`);
  const out = resolve(options.out ?? catalog.dir);
  await mkdir(out, { recursive: true });
  const problems = [...catalog.problems];
  const lines: string[] = [];
  for (const item of catalog.items) {
    const image = safeRelativePath(relative(out, imageFilePath(catalog, item)).split(sep).join('/'));
    if (image === null) {
      problems.push({ line: item.line, id: item.id, reason: `image ${item.imagePath} is outside the output folder ${out}` });
      continue;
    }
    const { id, title, description, price, currency, brand, attributes } = item;
    lines.push(JSON.stringify({ id, image, title, description, price, currency, brand, attributes }));
  }
  problems.sort((a, b) => a.line - b.line);
  const path = join(out, 'listings.jsonl');
  await writeFile(path, lines.length ? lines.join('\n') + '\n' : '');
  return { path, catalog, written: lines.length, problems };
}
