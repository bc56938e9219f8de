import { describe, expect, it } from 'vitest';
import { csvToRows, parseColumnMap, parseCsv } from '../../src/data/csv.ts';
import { isMissingValue, parseListings, safeRelativePath, validateListing, validateRows } from '../../src/data/schema.ts';

const row = (fields: Record<string, unknown> = {}) => ({ id: 'a1', image: 'images/a1.jpg', title: 'Red dress', price: 19.99, attributes: { colour: 'Red' }, ...fields });

describe('listing validation', () => {
  it('accepts a full row and normalises optional fields', () => {
    const { item } = validateListing(row({ description: '  Soft cotton.  ', currency: 'EUR', brand: '', attributes: { colour: ' Red ', size: 'NA', fit: 'Unknown', x: 'undefined', n: 3 } }), 4);
    expect(item).toEqual({
      id: 'a1',
      line: 4,
      imagePath: 'images/a1.jpg',
      title: 'Red dress',
      description: 'Soft cotton.',
      price: 19.99,
      currency: 'EUR',
      brand: null,
      attributes: { colour: 'Red', n: '3' },
    });
  });

  it.each([
    [{ id: '' }, 'missing id'],
    [{ id: { x: 1 } }, 'missing id'],
    [{ title: '  ' }, 'missing title'],
    [{ title: 'Unknown' }, 'missing title'],
    [{ title: ['x'] }, 'title is not text'],
    [{ image: undefined }, 'missing image path'],
    [{ image: '../secret.jpg' }, 'image path "../secret.jpg" is absolute or leaves the catalog folder'],
    [{ image: '/etc/passwd' }, 'is absolute or leaves the catalog folder'],
    [{ price: 'twelve' }, 'price is not a number: "twelve"'],
    [{ price: -3 }, 'negative price: -3'],
    [{ price: '-0.5' }, 'negative price: -0.5'],
    [{ price: true }, 'price is not a number: true'],
    [{ attributes: ['red'] }, 'attributes is not an object'],
    [{ attributes: { colour: { r: 1 } } }, 'attribute "colour" is not text'],
    [{ brand: [1] }, 'brand is not text'],
  ])('skips %j: %s', (fields, reason) => {
    const { problem } = validateListing(row(fields), 9);
    expect(problem?.line).toBe(9);
    expect(problem?.reason).toContain(reason);
  });

  it('keeps items without a price (null, absent or empty) and accepts numeric strings', () => {
    expect(validateListing(row({ price: null }), 1).item?.price).toBeNull();
    expect(validateListing(row({ price: undefined }), 1).item?.price).toBeNull();
    expect(validateListing(row({ price: ' ' }), 1).item?.price).toBeNull();
    expect(validateListing(row({ price: '12.50' }), 1).item?.price).toBe(12.5);
    expect(validateListing(row({ price: 0 }), 1).item?.price).toBe(0);
  });

  it('numeric ids become text', () => {
    expect(validateListing(row({ id: 1163 }), 1).item?.id).toBe('1163');
  });

  it('knows the placeholder spellings of missing values', () => {
    for (const v of ['', ' ', 'Unknown', 'UNKNOWN', 'NA', 'n/a', 'undefined', 'null', 'NaN', '-']) expect(isMissingValue(v)).toBe(true);
    for (const v of ['None', 'Other', 'No', '0']) expect(isMissingValue(v)).toBe(false);
  });

  it('normalises relative paths and refuses escapes', () => {
    expect(safeRelativePath('./images//a.jpg')).toBe('images/a.jpg');
    expect(safeRelativePath('images\\sub\\a.jpg')).toBe('images/sub/a.jpg');
    expect(safeRelativePath('images/../b.jpg')).toBe('b.jpg');
    for (const bad of ['../a.jpg', 'images/../../a.jpg', '/a.jpg', 'C:/a.jpg', '\\\\server\\a.jpg', '.', '']) expect(safeRelativePath(bad)).toBeNull();
  });
});

describe('listings files', () => {
  it('reports every bad row with its line and id, and never stops', () => {
    const text = [
      JSON.stringify(row({ id: 'ok1' })),
      '',
      '{"id": "broken", ',
      JSON.stringify(row({ id: 'neg', price: -1 })),
      '[1, 2]',
      JSON.stringify(row({ id: 'ok1', title: 'again' })),
      JSON.stringify(row({ id: 'ok2' })),
    ].join('\n');
    const parsed = parseListings(text);
    expect(parsed.rows).toBe(6);
    expect(parsed.items.map((i) => [i.id, i.line])).toEqual([
      ['ok1', 1],
      ['ok2', 7],
    ]);
    expect(parsed.problems.map((p) => [p.line, p.id])).toEqual([
      [3, null],
      [4, 'neg'],
      [5, null],
      [6, 'ok1'],
    ]);
    expect(parsed.problems[0].reason).toMatch(/^invalid JSON/);
    expect(parsed.problems[2].reason).toBe('row is not a JSON object');
    expect(parsed.problems[3].reason).toBe('duplicate id (first on line 1)');
  });
});

describe('CSV', () => {
  it('parses quotes, doubled quotes, delimiters and line breaks inside fields, CRLF and a BOM', () => {
    const text = '\ufeffid,title,desc\r\n1,"Red, long dress","She said ""wow""\nnext line"\r\n\r\n2,plain,\n3,"x"y,z\n';
    const records = parseCsv(text);
    expect(records.map((r) => [r.line, r.cells])).toEqual([
      [1, ['id', 'title', 'desc']],
      [2, ['1', 'Red, long dress', 'She said "wow"\nnext line']],
      [5, ['2', 'plain', '']],
      [6, ['3', 'xy', 'z']],
    ]);
  });

  it('reports an unterminated quote on the row where it starts', () => {
    const records = parseCsv('id,title\n1,ok\n2,"never closed\n3,x\n');
    expect(records[2]).toMatchObject({ line: 3, error: 'unterminated quoted field starting on line 3' });
  });

  it('supports other delimiters and refuses impossible ones', () => {
    expect(parseCsv('a;b\n1;2', ';')[1].cells).toEqual(['1', '2']);
    expect(() => parseCsv('a', '"')).toThrow(/delimiter/);
  });

  it('maps columns, templates and attributes; rows are validated like JSON lines', () => {
    const csv = parseCsv(
      ['id,productDisplayName,price,baseColour,season', '10,Blue shirt,499,Blue,Summer', '11,,100,Red,Fall', '12,Green cap,abc,Green,Winter', '13,Short row'].join('\n'),
    );
    const map = parseColumnMap('id=id,title=productDisplayName,price=price,image=images/{id}.jpg,attr.colour=baseColour');
    const parsed = validateRows(csvToRows(csv, map));
    expect(parsed.items).toEqual([
      { id: '10', line: 2, imagePath: 'images/10.jpg', title: 'Blue shirt', description: null, price: 499, currency: null, brand: null, attributes: { colour: 'Blue' } },
    ]);
    expect(parsed.problems).toEqual([
      { line: 3, id: '11', reason: 'missing title' },
      { line: 4, id: '12', reason: 'price is not a number: "abc"' },
      { line: 5, id: '13', reason: 'row has 2 cells but the header has 5' },
    ]);
  });

  it('without a mapping uses same-named columns and makes the rest attributes', () => {
    const parsed = validateRows(csvToRows(parseCsv('id,image,title,colour,attr.size\n1,a.png,Cap,Red,M')));
    expect(parsed.items[0].attributes).toEqual({ colour: 'Red', size: 'M' });
  });

  it('explains mapping mistakes', () => {
    expect(() => parseColumnMap('colour=baseColour')).toThrow(/unknown field "colour" in column mapping/);
    expect(() => parseColumnMap('title')).toThrow(/is not field=column/);
    expect(() => csvToRows(parseCsv('id,name\n1,x'), parseColumnMap('title=productDisplayName'))).toThrow(/column "productDisplayName" \(for title\) is not in the CSV header: id, name/);
    expect(() => csvToRows([], undefined)).toThrow(/empty/);
  });
});
