import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CSV_HEADER, SHOPIFY_COLUMNS, SHOPIFY_CSV_FORMAT, csvField, csvLine, descriptionHtml, escapeHtml, parseCsvRecord, shopifyHandle, shopifyRow } from '../../src/node/batch/csv.ts';
import type { ListedRecord } from '../../src/node/batch/jsonl.ts';
import { scanRecords } from '../../src/node/batch/records.ts';
import { rng } from '../helpers/gpu.ts';
import { FakeEngine } from './fake-engine.ts';
import { runJob, useTempDir, writePngFolder } from './fixtures.ts';

function record(overrides: Partial<ListedRecord> = {}): ListedRecord {
  return {
    id: '0108775015',
    image: 'images/0108775015.jpg',
    catalog: 'hm',
    attributes: {
      product_type: { value: 'Vest top', confidence: 0.91 },
      colour: { value: 'Black', confidence: 0.88 },
      section: { value: 'Womens Swimwear, beachwear', confidence: 0.7 },
      pattern: { value: 'Solid', confidence: 0.2 },
      brand: { value: 'Acme & Sons', confidence: 1, fact: true },
    },
    price: { value: 4.989, low: 3, high: 9, currency: null },
    title: 'Strap top',
    description: 'Jersey top with narrow shoulder straps.',
    grounding: [],
    timings_ms: {},
    ...overrides,
  };
}

function column(row: string[], name: (typeof SHOPIFY_COLUMNS)[number]): string {
  return row[SHOPIFY_COLUMNS.indexOf(name)];
}

describe('CSV escaping', () => {
  it('quotes fields with quotes, commas, line breaks or edge spaces and doubles their quotes', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('')).toBe('');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('line1\nline2')).toBe('"line1\nline2"');
    expect(csvField('cr\r\nlf')).toBe('"cr\r\nlf"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField('"')).toBe('""""');
    expect(csvLine(['a', 'b,c', 'd"e'])).toBe('a,"b,c","d""e"\n');
  });

  it('round-trips random text made of the awkward characters', () => {
    const next = rng(7);
    const alphabet = ['"', ',', '\n', '\r\n', ' ', 'a', 'é', '<', '&', "'", '😀', ';', '\t'];
    for (let trial = 0; trial < 300; trial++) {
      const fields = Array.from({ length: 1 + Math.floor(next() * 5) }, () =>
        Array.from({ length: Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
      );
      expect(parseCsvRecord(csvLine(fields).slice(0, -1))).toEqual(fields);
    }
  });

  it('escapes HTML in the body and turns paragraphs and line breaks into tags', () => {
    expect(escapeHtml(`<b>"Tom" & 'Jerry'</b>`)).toBe('&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;');
    expect(descriptionHtml('First <script>alert(1)</script> para.\nSame para, new line.\n\n  Second & last.  ')).toBe(
      '<p>First &lt;script&gt;alert(1)&lt;/script&gt; para.<br>Same para, new line.</p><p>Second &amp; last.</p>',
    );
    expect(descriptionHtml('')).toBe('');
  });
});

describe('Shopify mapping', () => {
  it('maps a listing to the documented columns', () => {
    const row = shopifyRow(record(), { imageUrlPrefix: 'https://cdn.example.com/hm/' });
    expect(row).toHaveLength(SHOPIFY_COLUMNS.length);
    expect(column(row, 'Handle')).toBe('strap-top-0108775015');
    expect(column(row, 'Title')).toBe('Strap top');
    expect(column(row, 'Body (HTML)')).toBe('<p>Jersey top with narrow shoulder straps.</p>');
    expect(column(row, 'Vendor')).toBe('Acme & Sons');
    expect(column(row, 'Product Category')).toBe('');
    expect(column(row, 'Type')).toBe('Vest top');
    // Low-confidence "Solid" is left out; the comma inside a value would split the tag.
    expect(column(row, 'Tags')).toBe('Vest top, Black, Womens Swimwear beachwear, Acme & Sons');
    expect(column(row, 'Published')).toBe('FALSE');
    expect(column(row, 'Option1 Name')).toBe('Color');
    expect(column(row, 'Option1 Value')).toBe('Black');
    expect(column(row, 'Variant SKU')).toBe('0108775015');
    expect(column(row, 'Variant Price')).toBe('4.99');
    expect(column(row, 'Image Src')).toBe('https://cdn.example.com/hm/images/0108775015.jpg');
    expect(column(row, 'Image Alt Text')).toBe('Strap top');
    expect(column(row, 'Status')).toBe('draft');
  });

  it('falls back where an attribute is missing: Myntra names, default variant, vendor option, no image URL', () => {
    const myntra = record({
      id: 'shoes/Left Shoe (1).jpg',
      image: 'shoes/Left Shoe (1).jpg',
      attributes: { article_type: { value: 'Casual Shoes', confidence: 0.6 }, base_colour: { value: 'Navy Blue', confidence: 0.7 } },
    });
    const row = shopifyRow(myntra, { vendor: 'My Shop' });
    expect(column(row, 'Type')).toBe('Casual Shoes');
    expect(column(row, 'Option1 Value')).toBe('Navy Blue');
    expect(column(row, 'Vendor')).toBe('My Shop');
    expect(column(row, 'Image Src')).toBe('');
    expect(shopifyRow(myntra, { imageUrlPrefix: 'https://x/' })[SHOPIFY_COLUMNS.indexOf('Image Src')]).toBe('https://x/shoes/Left%20Shoe%20(1).jpg');
    const plain = shopifyRow(record({ attributes: {} }));
    expect([column(plain, 'Option1 Name'), column(plain, 'Option1 Value'), column(plain, 'Vendor'), column(plain, 'Tags')]).toEqual(['Title', 'Default Title', '', '']);
  });

  it('makes URL-safe handles that stay unique when slugging loses characters', () => {
    expect(shopifyHandle('Crème Brûlée T-Shirt!', '12345')).toBe('creme-brulee-t-shirt-12345');
    const a = shopifyHandle('Top', 'a b.jpg');
    const b = shopifyHandle('Top', 'a-b.jpg');
    expect(a).not.toBe(b);
    for (const h of [a, b, shopifyHandle('', '中文.png'), shopifyHandle('x'.repeat(300), 'id')]) expect(h).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(shopifyHandle('word '.repeat(40), '1').length).toBeLessThanOrEqual(62);
  });

  it('writes generated text with quotes, commas, newlines and HTML as a CSV whose every row reads back intact', async () => {
    const dir = useTempDir('csv')();
    const names = writePngFolder(join(dir, 'in'), 7);
    const nasty = ` "Best", <b>bold</b> & 'more'\nsecond line, "end"`;
    const out = join(dir, 'out.csv');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine({ extraText: nasty }), batchSize: 3 });
    const text = readFileSync(out, 'utf8');
    expect(text.startsWith(CSV_HEADER)).toBe(true);
    const rows: string[][] = [];
    scanRecords(out, { ...SHOPIFY_CSV_FORMAT, parse: (t, n) => (n === 1 ? null : parseCsvRecord(t)) }, (r) => r && rows.push(r));
    expect(rows.map((r) => column(r, 'Variant SKU')).sort()).toEqual(names);
    for (const r of rows) {
      expect(r).toHaveLength(SHOPIFY_COLUMNS.length);
      expect(column(r, 'Title').endsWith(nasty)).toBe(true);
      expect(column(r, 'Body (HTML)')).toContain(`&quot;Best&quot;, &lt;b&gt;bold&lt;/b&gt; &amp; &#39;more&#39;<br>second line, &quot;end&quot;</p>`);
    }
  });
});
