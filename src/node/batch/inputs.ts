/**
 * What `atelier batch` lists: the items of its input, in a fixed order.
 *
 * - a folder of images: every .jpg/.jpeg/.png/.webp below it (recursively, hidden entries skipped),
 *   sorted by relative path; an item's id is that relative path with `/` separators;
 * - a listings.jsonl: one item per line, `id` and `image` (relative to the file's folder) — the
 *   catalog format of src/node/catalog.ts, of which only these two fields matter here. Its
 *   `loadCatalog` is not used: it requires a title (a catalog waiting to be listed has none) and
 *   drops rows with bad images, which the batch job must record as failed items instead. Ids and
 *   image paths are normalised the same way (trimmed ids, src/data/schema.ts `safeRelativePath`),
 *   so batch output joins with the loaded catalog by id;
 * - a catalog folder: a folder holding listings.jsonl, read as above.
 *
 * Only ids and paths are read here; images are opened when their batch comes, so a bad image is a
 * failed item in the output, not a failed enumeration. Lines that cannot name an item (bad JSON, no
 * id, a repeated id) are input problems: reported with their line number and left out.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { safeRelativePath } from '../../data/schema.ts';

export interface BatchItem {
  /** Unique within the input; the key that resume, sharding and merge use. */
  id: string;
  /** The image as the output records it: relative to the input folder (or as the catalog line says). */
  image: string;
  /** Absolute path to read. */
  path: string;
}

export interface BatchInput {
  kind: 'images' | 'listings';
  /** The folder that `image` paths are relative to. */
  root: string;
  items: BatchItem[];
  /** One line per input line that names no usable item (line number, id when known, cause). */
  problems: string[];
  /** Files in an image folder that are not images (not listed). */
  ignoredFiles: number;
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
const CATALOG_FILE = 'listings.jsonl';

export async function readBatchInput(input: string): Promise<BatchInput> {
  const abs = resolve(input);
  let stat;
  try {
    stat = statSync(abs);
  } catch {
    throw new Error(`input '${input}' does not exist`);
  }
  if (stat.isDirectory()) {
    const catalog = join(abs, CATALOG_FILE);
    return existsAsFile(catalog) ? readListingsFile(catalog) : readImageFolder(abs);
  }
  if (abs.endsWith('.jsonl')) return readListingsFile(abs);
  throw new Error(`input '${input}' must be a folder of images, a catalog folder (with ${CATALOG_FILE}) or a .jsonl file`);
}

function existsAsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readImageFolder(root: string): BatchInput {
  const items: BatchItem[] = [];
  let ignoredFiles = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      // Follow symbolic links (folders of links into a shared store are common); a dangling link
      // is left as a file, so it becomes a failed item rather than a failed enumeration.
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true);
      if (isDir) {
        walk(path);
      } else if (IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
        const rel = relative(root, path).split(sep).join('/');
        items.push({ id: rel, image: rel, path });
      } else {
        ignoredFiles++;
      }
    }
  };
  walk(root);
  // Code-unit order, not locale order, so every machine enumerates the same sequence.
  items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { kind: 'images', root, items, problems: [], ignoredFiles };
}

async function readListingsFile(file: string): Promise<BatchInput> {
  const root = dirname(file);
  const items: BatchItem[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      problems.push(`line ${lineNo}: not valid JSON (${(e as Error).message})`);
      continue;
    }
    const { id, image } = (row ?? {}) as { id?: unknown; image?: unknown };
    const idText = typeof id === 'number' && Number.isFinite(id) ? String(id) : typeof id === 'string' ? id.trim() : '';
    if (idText === '') {
      problems.push(`line ${lineNo}: no "id"`);
      continue;
    }
    if (typeof image !== 'string' || image.trim() === '') {
      problems.push(`line ${lineNo} (id ${idText}): no "image"`);
      continue;
    }
    const imagePath = safeRelativePath(image.trim());
    if (imagePath === null) {
      problems.push(`line ${lineNo} (id ${idText}): image path "${image}" is absolute or leaves the catalog folder`);
      continue;
    }
    const first = seen.get(idText);
    if (first !== undefined) {
      problems.push(`line ${lineNo} (id ${idText}): the id repeats line ${first}; only the first is listed`);
      continue;
    }
    seen.set(idText, lineNo);
    items.push({ id: idText, image: imagePath, path: join(root, ...imagePath.split('/')) });
  }
  return { kind: 'listings', root, items, problems, ignoredFiles: 0 };
}
