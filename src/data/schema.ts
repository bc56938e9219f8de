/**
 * The catalog row schema and its validation (browser-safe).
 *
 * A catalog is a folder with `listings.jsonl`, one JSON object per line:
 *   { id, image, title, description, price, currency, brand, attributes: { name: value } }
 * `image` is a path relative to the folder. `validateListing` turns one parsed row into a
 * `CatalogItem` or a `RowProblem` (line, id, reason); `parseListings` does a whole file and never
 * stops on a bad row. Checking that the image exists and decodes is the Node loader's job
 * (src/node/catalog.ts), since it needs the disk.
 *
 * Rules:
 *  - `id`: a non-empty string (or a number, kept as its decimal text); unique in the file.
 *  - `image`: a non-empty relative path that stays inside the catalog folder.
 *  - `title`: a non-empty string.
 *  - `price`: null/absent (the item keeps its attributes and text, with no price target), or a
 *    finite non-negative number (numeric strings such as "12.50" are accepted); anything else
 *    skips the row.
 *  - `description`, `currency`, `brand`: a string or null; empty or placeholder text becomes null.
 *  - `attributes`: an object of text (numbers and booleans become text); placeholder values such as
 *    "Unknown", "NA", "undefined" or "" mean *missing* and are dropped, never kept as a class.
 */

export interface CatalogItem {
  id: string;
  /** 1-based line of the row in listings.jsonl (or of the row's first line in a CSV). */
  line: number;
  /** The image path as written in the listing, relative to the catalog folder ('/' separators). */
  imagePath: string;
  title: string;
  description: string | null;
  /** null when the listing has no price: the item has no price target. */
  price: number | null;
  currency: string | null;
  brand: string | null;
  /** Present values only; missing/placeholder values are removed. */
  attributes: Record<string, string>;
}

/** One skipped row: where it is, its id when it had one, and why it was skipped. */
export interface RowProblem {
  line: number;
  id: string | null;
  reason: string;
}

/** Values that mean "not known" in the exports we read (compared trimmed and case-insensitively). */
const MISSING_VALUES = new Set(['', 'unknown', 'undefined', 'na', 'n/a', 'null', 'nan', '-']);

/** True when `value` is a placeholder for a missing value ("Unknown", "NA", "undefined", ""...). */
export function isMissingValue(value: string): boolean {
  return MISSING_VALUES.has(value.trim().toLowerCase());
}

export type ListingResult = { item: CatalogItem; problem?: undefined } | { item?: undefined; problem: RowProblem };

/**
 * Validates one parsed row. `raw` is whatever JSON.parse returned (or the object a CSV row was
 * mapped to); nothing is assumed about its shape.
 */
export function validateListing(raw: unknown, line: number): ListingResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { problem: { line, id: null, reason: 'row is not a JSON object' } };
  }
  const row = raw as Record<string, unknown>;
  const id = typeof row.id === 'number' && Number.isFinite(row.id) ? String(row.id) : typeof row.id === 'string' ? row.id.trim() : '';
  const fail = (reason: string): ListingResult => ({ problem: { line, id: id || null, reason } });
  if (!id) return fail('missing id');

  const title = optionalText(row.title);
  if (title === undefined) return fail('title is not text');
  if (title === null) return fail('missing title');

  if (typeof row.image !== 'string' || !row.image.trim()) return fail('missing image path');
  const imagePath = safeRelativePath(row.image.trim());
  if (imagePath === null) return fail(`image path "${row.image}" is absolute or leaves the catalog folder`);

  const price = parsePrice(row.price);
  if (typeof price === 'string') return fail(price);

  const description = optionalText(row.description);
  const currency = optionalText(row.currency);
  const brand = optionalText(row.brand);
  for (const [field, value] of [['description', description], ['currency', currency], ['brand', brand]] as const) {
    if (value === undefined) return fail(`${field} is not text`);
  }

  const attributes: Record<string, string> = {};
  if (row.attributes !== undefined && row.attributes !== null) {
    if (typeof row.attributes !== 'object' || Array.isArray(row.attributes)) return fail('attributes is not an object');
    for (const [name, value] of Object.entries(row.attributes as Record<string, unknown>)) {
      const text = optionalText(value);
      if (text === undefined) return fail(`attribute "${name}" is not text`);
      if (text !== null && name.trim()) attributes[name.trim()] = text;
    }
  }
  return {
    item: { id, line, imagePath, title, description: description ?? null, price, currency: currency ?? null, brand: brand ?? null, attributes },
  };
}

/** Text, or null for absent/placeholder values, or undefined when the value is not text at all. */
function optionalText(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  let text: string;
  if (typeof value === 'string') text = value;
  else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') text = String(value);
  else return undefined;
  text = text.trim();
  return isMissingValue(text) ? null : text;
}

/** A price, null when absent, or the reason it is unusable. */
function parsePrice(value: unknown): number | null | string {
  if (value === undefined || value === null) return null;
  let price: number;
  if (typeof value === 'number') price = value;
  else if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return null;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return `price is not a number: ${JSON.stringify(value)}`;
    price = Number(text);
  } else return `price is not a number: ${JSON.stringify(value)}`;
  if (!Number.isFinite(price)) return `price is not a finite number: ${JSON.stringify(value)}`;
  if (price < 0) return `negative price: ${price}`;
  return price;
}

/**
 * Normalises a relative path to '/'-separated segments, or null when it is absolute (POSIX, UNC or
 * a drive letter) or climbs out of the folder with '..'.
 */
export function safeRelativePath(path: string): string | null {
  const unified = path.replace(/\\/g, '/');
  if (unified.startsWith('/') || /^[a-zA-Z]:/.test(unified)) return null;
  const parts: string[] = [];
  for (const part of unified.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.length ? parts.join('/') : null;
}

export interface ParsedListings {
  /** Non-blank rows seen. */
  rows: number;
  items: CatalogItem[];
  problems: RowProblem[];
}

/** Parses and validates listings.jsonl text; blank lines are ignored, duplicate ids skipped. */
export function parseListings(text: string): ParsedListings {
  const rows: { line: number; raw: unknown; error?: string }[] = [];
  let line = 0;
  for (const rawLine of text.split('\n')) {
    line++;
    const trimmed = rawLine.trim();
    if (!trimmed) continue;
    try {
      rows.push({ line, raw: JSON.parse(trimmed) });
    } catch (e) {
      rows.push({ line, raw: undefined, error: `invalid JSON: ${(e as Error).message}` });
    }
  }
  return validateRows(rows);
}

/**
 * Validates rows that were parsed elsewhere (JSON lines, or CSV rows mapped to listing objects):
 * a row with `error` is skipped with that reason; duplicate ids keep the first row.
 */
export function validateRows(rows: readonly { line: number; raw: unknown; error?: string }[]): ParsedListings {
  const items: CatalogItem[] = [];
  const problems: RowProblem[] = [];
  const firstLine = new Map<string, number>();
  for (const { line, raw, error } of rows) {
    if (error) {
      const id = raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : null;
      problems.push({ line, id, reason: error });
      continue;
    }
    const result = validateListing(raw, line);
    if (result.problem) {
      problems.push(result.problem);
      continue;
    }
    const seen = firstLine.get(result.item.id);
    if (seen !== undefined) {
      problems.push({ line, id: result.item.id, reason: `duplicate id (first on line ${seen})` });
      continue;
    }
    firstLine.set(result.item.id, line);
    items.push(result.item);
  }
  return { rows: rows.length, items, problems };
}
