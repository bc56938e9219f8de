/**
 * Shopify product CSV: the listing → column mapping (documented in docs/batch.md), RFC 4180
 * escaping, and reading our own CSV back for `--resume`.
 *
 * One product per row with a single variant. Failed items have no row (Shopify would import them
 * as empty products); the batch job writes them to a JSONL file beside the CSV instead. The item id
 * goes to `Variant SKU`, which is how resume finds the items a CSV already holds.
 */
import { createHash } from 'node:crypto';
import type { ListedRecord } from './jsonl.ts';
import { CorruptRecordError, type RecordFormat } from './records.ts';

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

const SKU_COLUMN = SHOPIFY_COLUMNS.indexOf('Variant SKU');

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

export function shopifyRow(record: ListedRecord, options: ShopifyOptions = {}): string[] {
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
    Handle: shopifyHandle(record.title, record.id),
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
export function shopifyHandle(title: string, id: string): string {
  const titleSlug = cutAtHyphen(slug(title), 60);
  const idSlug = slug(id);
  const lossless = idSlug === id.toLowerCase();
  const suffix = lossless ? idSlug : `${idSlug}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
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

/** Splits one record (without its terminating newline) into fields; throws on malformed quoting. */
export function parseCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          i++;
        }
        field += text[i];
      }
      i++;
      if (i < text.length && text[i] !== ',') throw new Error(`text after a closing quote at column ${i + 1}`);
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end === -1 ? text.length : end);
      if (field.includes('"')) throw new Error(`a quote inside an unquoted field at column ${i + 1}`);
      i = end === -1 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/** Our Shopify CSV read back: the header (null) then one SKU (item id) per row. */
export const SHOPIFY_CSV_FORMAT: RecordFormat<string | null> = {
  name: 'Shopify CSV',
  boundaries() {
    let inQuotes = false;
    return (buf, from) => {
      for (let i = from; i < buf.length; i++) {
        if (buf[i] === QUOTE) inQuotes = !inQuotes;
        else if (buf[i] === NEWLINE && !inQuotes) return i;
      }
      return -1;
    };
  },
  parse(text, recordNo) {
    if (recordNo === 1) {
      if (`${text}\n` !== CSV_HEADER) throw new Error('the header is not the Shopify columns atelier batch writes');
      return null;
    }
    let fields: string[];
    try {
      fields = parseCsvRecord(text);
    } catch (e) {
      throw new CorruptRecordError((e as Error).message);
    }
    if (fields.length !== SHOPIFY_COLUMNS.length) throw new CorruptRecordError(`${fields.length} fields, expected ${SHOPIFY_COLUMNS.length}`);
    return fields[SKU_COLUMN];
  },
  isOurs: (head) => CSV_HEADER.startsWith(head) || head.startsWith(CSV_HEADER),
};
