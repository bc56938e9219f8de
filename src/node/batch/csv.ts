/**
 * Shopify product CSV for the batch job: the row mapping (src/model/shopify-csv.ts, shared with the
 * demo page) with Node's synchronous SHA-256 for handles, and reading our own CSV back for `--resume`.
 *
 * Failed items have no row (Shopify would import them as empty products); the batch job writes them
 * to a JSONL file beside the CSV instead. The item id goes to `Variant SKU`, which is how resume
 * finds the items a CSV already holds.
 */
import { createHash } from 'node:crypto';
import { CSV_HEADER, SHOPIFY_COLUMNS, shopifyHandle as handleWithDigest, shopifyRow as rowWithDigest, type ShopifyOptions } from '../../model/shopify-csv.ts';
import type { ListedRecord } from './jsonl.ts';
import { CorruptRecordError, type RecordFormat } from './records.ts';

export { CSV_HEADER, DEFAULT_TAG_CONFIDENCE, SHOPIFY_COLUMNS, csvField, csvLine, descriptionHtml, escapeHtml, type ShopifyOptions } from '../../model/shopify-csv.ts';

const SKU_COLUMN = SHOPIFY_COLUMNS.indexOf('Variant SKU');

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export function shopifyRow(record: ListedRecord, options: ShopifyOptions = {}): string[] {
  return rowWithDigest(record, options, sha256Hex(record.id));
}

export function shopifyHandle(title: string, id: string): string {
  return handleWithDigest(title, id, sha256Hex(id));
}

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
