/**
 * The cached tensor store (Node): every image of a catalog decoded and preprocessed once
 * (src/data/preprocess.ts `fitImage`), kept as uint8 RGB, so epochs never re-decode JPEGs.
 *
 * Files, in the cache folder (default `<repo>/.cache/images`, which git ignores):
 *   <catalog>-<key>.bin   N images of height × width × 3 bytes, end to end, in `index.ids` order
 *   <catalog>-<key>.json  the index: ids, image size, preprocessing, the items whose image failed
 * `key` hashes the catalog's fingerprint (listings bytes and every image's size and mtime), the
 * preprocessing config and the pixel limit, so any change to those builds a new store; older stores
 * of the same catalog are then deleted. A store is written under a temporary name and renamed, so
 * a crash or a concurrent builder never leaves a half-written store under the real name.
 *
 * Reading: `read(ids)` fills one contiguous buffer (N × H × W × 3) with positioned reads, which is
 * what a batch needs; `readAll()` loads everything when it fits in memory. (Node has no mmap; the
 * OS page cache keeps a store that is read every epoch in memory.) Call `close()` when done.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierDataError } from '../data/errors.ts';
import { checkPreprocessConfig, DEFAULT_PREPROCESS, fitImage, imageBytes, type PreprocessConfig } from '../data/preprocess.ts';
import type { RowProblem } from '../data/schema.ts';
import { imageFilePath, type Catalog } from './catalog.ts';
import { PROJECT_ROOT } from './gpu.ts';
import { decodeImage, readImageBytes, DEFAULT_MAX_PIXELS } from './image.ts';

export const DEFAULT_CACHE_DIR = join(PROJECT_ROOT, '.cache', 'images');
const FORMAT = 'atelier-image-store';
const VERSION = 1;

export interface ImageStoreOptions {
  preprocess?: PreprocessConfig;
  maxPixels?: number;
  cacheDir?: string;
  /** Build even when a valid store exists. */
  rebuild?: boolean;
  /** Called now and then while a store is built. */
  onProgress?: (done: number, total: number) => void;
}

export interface ImageStoreIndex {
  format: typeof FORMAT;
  version: typeof VERSION;
  key: string;
  catalog: { name: string; source: string; fingerprint: string };
  preprocess: PreprocessConfig;
  maxPixels: number;
  /** Ids of the stored images, in file order. */
  ids: string[];
  /** Items whose image could not be decoded when the store was built: skipped rows. */
  failed: RowProblem[];
  createdAt: string;
}

export class ImageStore {
  /** True when this `open` built the store (false: an existing store was reused). */
  readonly built: boolean;
  private readonly positions: Map<string, number>;
  private fd: number | null;

  private constructor(readonly index: ImageStoreIndex, readonly path: string, built: boolean) {
    this.built = built;
    this.positions = new Map(index.ids.map((id, i) => [id, i]));
    this.fd = openSync(path, 'r');
  }

  /** Opens the catalog's store, building it first when there is none for this catalog state and config. */
  static async open(catalog: Catalog, options: ImageStoreOptions = {}): Promise<ImageStore> {
    const preprocess = options.preprocess ?? DEFAULT_PREPROCESS;
    checkPreprocessConfig(preprocess);
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
    const key = createHash('sha256').update(JSON.stringify({ version: VERSION, fingerprint: catalog.fingerprint, preprocess, maxPixels })).digest('hex').slice(0, 16);
    const stem = join(cacheDir, `${catalog.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${key}`);
    if (!options.rebuild) {
      const index = readIndex(`${stem}.json`);
      // A store whose data file is missing or cut short (a deleted or damaged cache) is rebuilt.
      if (index?.key === key && fileSize(`${stem}.bin`) === index.ids.length * imageBytes(preprocess)) return new ImageStore(index, `${stem}.bin`, false);
    }
    mkdirSync(cacheDir, { recursive: true });
    const index = await build(catalog, { preprocess, maxPixels, key, stem, onProgress: options.onProgress });
    removeOlderStores(cacheDir, catalog.source, key);
    return new ImageStore(index, `${stem}.bin`, true);
  }

  get count(): number {
    return this.index.ids.length;
  }
  get width(): number {
    return this.index.preprocess.width;
  }
  get height(): number {
    return this.index.preprocess.height;
  }
  /** Bytes of one image (height × width × 3). */
  get imageBytes(): number {
    return imageBytes(this.index.preprocess);
  }

  has(id: string): boolean {
    return this.positions.has(id);
  }

  /** The images of `ids`, end to end (ids.length × height × width × 3). */
  read(ids: readonly string[], out?: Uint8Array): Uint8Array {
    const size = this.imageBytes;
    const result = out ?? new Uint8Array(ids.length * size);
    if (result.length < ids.length * size) throw new AtelierDataError('config', `output holds ${result.length} bytes, ${ids.length} images need ${ids.length * size}`);
    const fd = this.openFd();
    ids.forEach((id, i) => {
      const position = this.positions.get(id);
      if (position === undefined) throw new AtelierDataError('catalog', `image store ${this.path} has no image for item ${id}`);
      const got = readSync(fd, result, i * size, size, position * size);
      if (got !== size) throw new AtelierDataError('catalog', `image store ${this.path} is shorter than its index says (item ${id})`);
    });
    return result;
  }

  /** Every stored image, in `index.ids` order. */
  readAll(): Uint8Array {
    return this.read(this.index.ids);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new AtelierDataError('config', `image store ${this.path} is closed`);
    return this.fd;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

function readIndex(path: string): ImageStoreIndex | null {
  try {
    const index = JSON.parse(readFileSync(path, 'utf8')) as ImageStoreIndex;
    return index.format === FORMAT && index.version === VERSION ? index : null;
  } catch {
    return null;
  }
}

async function build(
  catalog: Catalog,
  options: { preprocess: PreprocessConfig; maxPixels: number; key: string; stem: string; onProgress?: (done: number, total: number) => void },
): Promise<ImageStoreIndex> {
  const { preprocess, maxPixels, key, stem } = options;
  const size = imageBytes(preprocess);
  const temp = `${stem}.tmp-${process.pid}`;
  const fd = openSync(`${temp}.bin`, 'w');
  const ids: string[] = [];
  const failed: RowProblem[] = [];
  // Images are written in chunks of about 4 MB.
  const perChunk = Math.max(1, Math.floor(4_000_000 / size));
  const chunk = new Uint8Array(perChunk * size);
  let inChunk = 0;
  try {
    // Reads run a few files ahead of decoding so disk waits overlap with work.
    const ahead = 8;
    const reads = catalog.items.slice(0, ahead).map((item) => readImageBytes(imageFilePath(catalog, item), { maxPixels }).catch((e: Error) => e));
    for (let i = 0; i < catalog.items.length; i++) {
      const item = catalog.items[i];
      if (i + ahead < catalog.items.length) reads.push(readImageBytes(imageFilePath(catalog, catalog.items[i + ahead]), { maxPixels }).catch((e: Error) => e));
      const bytes = await reads[i];
      delete reads[i];
      try {
        if (bytes instanceof Error) throw bytes;
        fitImage(decodeImage(bytes, { maxPixels }), preprocess, chunk.subarray(inChunk * size, (inChunk + 1) * size));
      } catch (e) {
        failed.push({ line: item.line, id: item.id, reason: `unreadable image ${item.imagePath}: ${(e as Error).message}` });
        continue;
      }
      ids.push(item.id);
      if (++inChunk === perChunk) {
        writeSync(fd, chunk);
        inChunk = 0;
      }
      if (i % 1000 === 999) options.onProgress?.(i + 1, catalog.items.length);
    }
    if (inChunk > 0) writeSync(fd, chunk.subarray(0, inChunk * size));
  } catch (e) {
    closeSync(fd);
    rmSync(`${temp}.bin`, { force: true });
    throw e;
  }
  closeSync(fd);
  options.onProgress?.(catalog.items.length, catalog.items.length);
  const index: ImageStoreIndex = {
    format: FORMAT,
    version: VERSION,
    key,
    catalog: { name: catalog.name, source: catalog.source, fingerprint: catalog.fingerprint },
    preprocess,
    maxPixels,
    ids,
    failed,
    createdAt: new Date().toISOString(),
  };
  writeFileSync(`${temp}.json`, JSON.stringify(index));
  renameSync(`${temp}.bin`, `${stem}.bin`);
  renameSync(`${temp}.json`, `${stem}.json`);
  return index;
}

/** Deletes stores built from the same listings file with another key (stale ones). */
function removeOlderStores(cacheDir: string, source: string, key: string): void {
  for (const file of readdirSync(cacheDir)) {
    if (!file.endsWith('.json') || file.includes('.tmp-')) continue;
    const index = readIndex(join(cacheDir, file));
    if (!index || index.key === key || index.catalog.source !== source) continue;
    const stem = join(cacheDir, file.slice(0, -'.json'.length));
    rmSync(`${stem}.json`, { force: true });
    rmSync(`${stem}.bin`, { force: true });
  }
}
