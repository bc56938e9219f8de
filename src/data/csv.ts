/**
 * CSV exports as catalogs (browser-safe, so a seller's spreadsheet can also be read in the page).
 *
 * `parseCsv` follows RFC 4180: fields separated by a delimiter (',' by default), optionally quoted
 * with '"', quotes inside quoted fields doubled, commas and line breaks (LF or CRLF) allowed inside
 * quoted fields, a UTF-8 byte order mark ignored. Each record remembers the line it starts on.
 *
 * A column mapping says which column feeds which listing field:
 *   "id=id,image=filename,title=productDisplayName,price=price,attr.colour=baseColour"
 * Fields: id, image, title, description, price, currency, brand, and attr.<name> for attributes.
 * A value with braces is a template over columns, e.g. image=images/{id}.jpg. Without a mapping,
 * columns named like the fields are used and every other column becomes an attribute.
 * `csvToRows` produces the objects that `validateRows` (schema.ts) checks like JSON lines.
 */
import { AtelierDataError } from './errors.ts';

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  cells: string[];
  /** Set when the record could not be parsed (e.g. a quote that is never closed). */
  error?: string;
}

export function parseCsv(text: string, delimiter = ','): CsvRecord[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new AtelierDataError('csv', `CSV delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  }
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    let error: string | undefined;
    // One record: cells until an unquoted line break or the end of the text.
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) {
            error = `unterminated quoted field starting on line ${start}`;
            cell += text.slice(i);
            line += countLineBreaks(text, i, n);
            i = n;
            break;
          }
          cell += text.slice(i, q);
          line += countLineBreaks(text, i, q);
          i = q + 1;
          if (text[i] === '"') {
            cell += '"';
            i++;
          } else break;
        }
        // Characters between a closing quote and the next delimiter are kept, as spreadsheets do.
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') cell += text[i++];
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') cell += text[i++];
      }
      cells.push(cell);
      if (i < n && text[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    const blank = cells.length === 1 && cells[0] === '' && !error;
    if (!blank) records.push(error ? { line: start, cells, error } : { line: start, cells });
  }
  return records;
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) count++;
  return count;
}

/** Listing field → a column name, or a template such as "images/{id}.jpg". */
export interface ColumnMap {
  fields: Partial<Record<ListingField, string>>;
  attributes: Record<string, string>;
}

const LISTING_FIELDS = ['id', 'image', 'title', 'description', 'price', 'currency', 'brand'] as const;
type ListingField = (typeof LISTING_FIELDS)[number];

/** Parses "title=productDisplayName,price=price,attr.colour=baseColour" (entries may also be given as separate strings). */
export function parseColumnMap(spec: string | readonly string[]): ColumnMap {
  const map: ColumnMap = { fields: {}, attributes: {} };
  const entries = (typeof spec === 'string' ? [spec] : spec).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = eq === -1 ? '' : entry.slice(0, eq).trim();
    const column = eq === -1 ? '' : entry.slice(eq + 1).trim();
    if (!key || !column) throw new AtelierDataError('csv', `column mapping entry "${entry}" is not field=column`);
    if (key.startsWith('attr.') && key.length > 5) map.attributes[key.slice(5)] = column;
    else if ((LISTING_FIELDS as readonly string[]).includes(key)) map.fields[key as ListingField] = column;
    else throw new AtelierDataError('csv', `unknown field "${key}" in column mapping (use ${LISTING_FIELDS.join(', ')} or attr.<name>)`);
  }
  return map;
}

/** The mapping used when none is given: same-named columns for fields, the rest as attributes. */
export function defaultColumnMap(header: readonly string[]): ColumnMap {
  const map: ColumnMap = { fields: {}, attributes: {} };
  for (const column of header) {
    const name = column.trim();
    if ((LISTING_FIELDS as readonly string[]).includes(name)) map.fields[name as ListingField] = column;
    else if (name.startsWith('attr.') && name.length > 5) map.attributes[name.slice(5)] = column;
    else if (name) map.attributes[name] = column;
  }
  return map;
}

/**
 * Turns parsed CSV records (the first is the header) into rows for `validateRows`. A mapping that
 * names a column the header does not have is an error for the whole file; a record with the wrong
 * number of cells is a problem for that row only.
 */
export function csvToRows(records: readonly CsvRecord[], map?: ColumnMap): { line: number; raw: unknown; error?: string }[] {
  if (records.length === 0) throw new AtelierDataError('csv', 'the CSV file is empty (no header row)');
  const [headerRecord, ...body] = records;
  const header = headerRecord.cells.map((c) => c.trim());
  const mapping = map ?? defaultColumnMap(header);
  const columnIndex = new Map(header.map((name, i) => [name, i]));
  const resolve = (source: string, what: string): ((cells: string[]) => string) => {
    if (source.includes('{')) {
      const parts = source.split(/(\{[^}]*\})/);
      const getters = parts.map((part) => {
        if (!part.startsWith('{') || !part.endsWith('}')) return () => part;
        return resolve(part.slice(1, -1), what);
      });
      return (cells) => getters.map((g) => g(cells)).join('');
    }
    const index = columnIndex.get(source);
    if (index === undefined) throw new AtelierDataError('csv', `column "${source}" (for ${what}) is not in the CSV header: ${header.join(', ')}`);
    return (cells) => cells[index] ?? '';
  };
  const fieldGetters = Object.entries(mapping.fields).map(([field, source]) => [field, resolve(source, field)] as const);
  const attributeGetters = Object.entries(mapping.attributes).map(([name, source]) => [name, resolve(source, `attr.${name}`)] as const);
  return body.map((record) => {
    const raw: Record<string, unknown> = { attributes: {} };
    for (const [field, get] of fieldGetters) raw[field] = get(record.cells);
    for (const [name, get] of attributeGetters) (raw.attributes as Record<string, string>)[name] = get(record.cells);
    if (record.error) return { line: record.line, raw, error: record.error };
    if (record.cells.length !== header.length) {
      return { line: record.line, raw, error: `row has ${record.cells.length} cells but the header has ${header.length}` };
    }
    return { line: record.line, raw };
  });
}
