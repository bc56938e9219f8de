/**
 * Shopify product CSV (browser-safe: the batch job and the demo page write the same rows): the
 * listing → column mapping documented in docs/batch.md and RFC 4180 escaping.
 *
 * One product per row with a single variant. The item id goes to `Variant SKU`.
 */
import type { Listing } from './listing.ts';

export const SHOPIFY_COLUMNS = [
  'Handle',
  'Title',
  'Body (HTML)',
  'Vendor',
  'Product Category',
  'Type',
  'Tags',
  'Published',
  'Option1 Name',
  'Option1 Value',
  'Variant SKU',
  'Variant Price',
  'Image Src',
  'Image Alt Text',
  'Status',
] as const;

/** Attribute names (both catalogs' and common ones) read for the product type and the colour option, first found wins. */
const TYPE_ATTRIBUTES = ['product_type', 'article_type', 'type'];
const COLOUR_ATTRIBUTES = ['colour', 'base_colour', 'color'];
const BRAND_ATTRIBUTE = 'brand';

export interface ShopifyOptions {
  /** Vendor for listings without a `brand` attribute. */
  vendor?: string;
  /** Public URL the images' relative paths are appended to; without it Image Src stays empty (Shopify fetches images by URL). */
  imageUrlPrefix?: string;
  /** Predicted attributes below this confidence are left out of Tags (facts are always kept). */
  tagConfidence?: number;
}

export const DEFAULT_TAG_CONFIDENCE = 0.5;

/** A listing with the item it was made for: `id` (also the SKU) and `image` (its path). */
export type ShopifyItem = { id: string; image: string } & Listing;

/**
 * The product row of one listed item. `idSha256` is the hex SHA-256 of `record.id` (used by the
 * handle), passed in because Node hashes synchronously and the browser only asynchronously.
 */
export function shopifyRow(record: ShopifyItem, options: ShopifyOptions, idSha256: string): string[] {
  const attrs = record.attributes ?? {};
  const first = (names: string[]) => names.map((n) => attrs[n]?.value).find((v) => v !== undefined && v !== '');
  const colour = first(COLOUR_ATTRIBUTES);
  const minConfidence = options.tagConfidence ?? DEFAULT_TAG_CONFIDENCE;
  // Shopify splits Tags on commas, so a comma inside a value would make two tags.
  const tags = Object.values(attrs)
    .filter((a) => a.fact || a.confidence >= minConfidence)
    .map((a) => a.value.replace(/,/g, ' ').replace(/\s+/g, ' ').trim())
    .filter((v, i, all) => v !== '' && all.indexOf(v) === i);
  const price = record.price?.value;
  const row: Record<(typeof SHOPIFY_COLUMNS)[number], string> = {
    Handle: shopifyHandle(record.title, record.id, idSha256),
    Title: record.title,
    'Body (HTML)': descriptionHtml(record.description),
    Vendor: attrs[BRAND_ATTRIBUTE]?.value ?? options.vendor ?? '',
    // Shopify validates this against its product taxonomy; our attribute values are not taxonomy
    // paths, so it is left for the seller (or Shopify's own suggestion) to fill.
    'Product Category': '',
    Type: first(TYPE_ATTRIBUTES) ?? '',
    Tags: tags.join(', '),
    // Generated listings go in as drafts for a person to review before they are sold.
    Published: 'FALSE',
    // Shopify's convention for a product without options is Title / Default Title.
    'Option1 Name': colour ? 'Color' : 'Title',
    'Option1 Value': colour ?? 'Default Title',
    'Variant SKU': record.id,
    'Variant Price': typeof price === 'number' && Number.isFinite(price) ? price.toFixed(2) : '',
    'Image Src': options.imageUrlPrefix ? options.imageUrlPrefix + record.image.split('/').map(encodeURIComponent).join('/') : '',
    'Image Alt Text': record.title,
    Status: 'draft',
  };
  return SHOPIFY_COLUMNS.map((c) => row[c]);
}

/**
 * A URL handle (lowercase letters, digits, hyphens) unique per item: the title's slug for people,
 * the id's slug for uniqueness, and a short hash of the id when slugging the id lost characters
 * (two ids such as "a b.jpg" and "a-b.jpg" must not share a handle).
 */
export function shopifyHandle(title: string, id: string, idSha256: string): string {
  const titleSlug = cutAtHyphen(slug(title), 60);
  const idSlug = slug(id);
  const lossless = idSlug === id.toLowerCase();
  const suffix = lossless ? idSlug : `${idSlug}-${idSha256.slice(0, 8)}`;
  return [titleSlug, suffix].filter((s) => s !== '').join('-');
}

/** Shortens a slug to at most `max` characters, at a word boundary when there is one. */
function cutAtHyphen(s: string, max: number): string {
  if (s.length <= max || s[max] === '-') return s.slice(0, max);
  const cut = s.slice(0, max);
  const hyphen = cut.lastIndexOf('-');
  return hyphen > 0 ? cut.slice(0, hyphen) : cut;
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`);
}

/** Paragraphs (blank-line separated) become <p>, single line breaks <br>; all text is escaped. */
export function descriptionHtml(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => `<p>${p.split(/\r?\n/).map(escapeHtml).join('<br>')}</p>`)
    .join('');
}

/** RFC 4180: quote a field holding a quote, comma, line break or edge whitespace; double its quotes. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\n`;
}

export const CSV_HEADER = csvLine(SHOPIFY_COLUMNS);
