import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fitImage, type PreprocessConfig } from '../../src/data/preprocess.ts';
import { run as dataCommand } from '../../src/cli/data.ts';
import { importCsvCatalog, imageFilePath, loadCatalog } from '../../src/node/catalog.ts';
import { prepareDataset } from '../../src/node/dataset.ts';
import { decodeImageFile } from '../../src/node/image.ts';
import { ImageStore } from '../../src/node/image-store.ts';
import { encodeBaselineJpeg, patternRgb, tempDir, writeCatalog, writeJpeg, writePng, type FixtureRow } from './fixtures.ts';

const SMALL: PreprocessConfig = { width: 8, height: 12, background: [255, 255, 255] };

/** A catalog with three good rows and one of every kind of bad row; returns its folder. */
function badCatalog(): string {
  const dir = tempDir('catalog');
  const jpeg = encodeBaselineJpeg(24, 36, patternRgb(24, 36));
  const corrupt = jpeg.slice();
  // Valid headers and end marker, broken entropy-coded data: passes the header probe, fails decoding.
  corrupt.set([0xff, 0xd3, 0xff, 0xd5], jpeg.length - 40);
  const bomb = jpeg.slice();
  const sof = bomb.findIndex((b, i) => b === 0xff && bomb[i + 1] === 0xc0);
  bomb.set([0xea, 0x60, 0xea, 0x60], sof + 5);
  const row = (id: string, fields: FixtureRow = {}): FixtureRow => ({ id, image: `images/${id}.jpg`, title: `Item ${id}`, price: 10, attributes: { colour: 'Red' }, ...fields });
  const rows: (FixtureRow | string)[] = [
    row('ok1', { description: 'A red top', attributes: { colour: 'Red', fit: 'NA' } }),
    row('ok2', { image: 'images/ok2.png', price: null, attributes: { colour: 'Blue' } }),
    row('missing', { image: 'images/nope.jpg' }),
    row('text'),
    row('trunc'),
    row('badprice', { price: 'abc' }),
    row('negprice', { price: -5 }),
    row('notitle', { title: '' }),
    '{"id": "json", "title": ',
    row('empty'),
    row('bomb'),
    row('ok3', { attributes: { colour: 'Grey' } }),
    row('corrupt'),
    row('ok1', { title: 'duplicate' }),
  ];
  return writeCatalog(dir, rows, {
    'images/ok1.jpg': jpeg,
    'images/ok2.png': writePng({ width: 10, height: 10, colourType: 6, bitDepth: 8, samples: Array.from({ length: 400 }, (_, i) => (i * 13) % 256) }),
    'images/text.jpg': new TextEncoder().encode('hello, I am a text file'),
    'images/trunc.jpg': jpeg.subarray(0, jpeg.length >> 1),
    'images/badprice.jpg': jpeg,
    'images/negprice.jpg': jpeg,
    'images/notitle.jpg': jpeg,
    'images/empty.jpg': new Uint8Array(0),
    'images/bomb.jpg': bomb,
    'images/ok3.jpg': writeJpeg({ width: 20, height: 30, planes: [Uint8Array.from({ length: 600 }, (_, i) => i % 256)], progressive: true }),
    'images/corrupt.jpg': corrupt,
  });
}

const EXPECTED_PROBLEMS: [number, string | null, RegExp][] = [
  [3, 'missing', /^image not found: images\/nope\.jpg$/],
  [4, 'text', /^unreadable image images\/text\.jpg: not a JPEG or PNG file/],
  [5, 'trunc', /^unreadable image images\/trunc\.jpg: truncated JPEG/],
  [6, 'badprice', /^price is not a number: "abc"$/],
  [7, 'negprice', /^negative price: -5$/],
  [8, 'notitle', /^missing title$/],
  [9, null, /^invalid JSON/],
  [10, 'empty', /^unreadable image images\/empty\.jpg: empty file \(0 bytes\)$/],
  [11, 'bomb', /^unreadable image images\/bomb\.jpg: JPEG header claims 60000x60000/],
  [14, 'ok1', /^duplicate id \(first on line 1\)$/],
];

function expectProblems(problems: { line: number; id: string | null; reason: string }[], expected: [number, string | null, RegExp][]) {
  expect(problems.map((p) => [p.line, p.id])).toEqual(expected.map(([line, id]) => [line, id]));
  problems.forEach((p, i) => expect(p.reason).toMatch(expected[i][2]));
}

describe('loadCatalog', () => {
  let dir: string;
  beforeAll(() => {
    dir = badCatalog();
  });

  it('skips every bad row with line, id and reason, and loads the rest', async () => {
    const catalog = await loadCatalog(dir);
    expect(catalog.name).toBe(dir.split('/').pop());
    expect(catalog.rows).toBe(14);
    expect(catalog.items.map((i) => i.id)).toEqual(['ok1', 'ok2', 'ok3', 'corrupt']);
    expect(catalog.items[0].attributes).toEqual({ colour: 'Red' });
    expect(catalog.items[1].price).toBeNull();
    expectProblems(catalog.problems, EXPECTED_PROBLEMS);
  });

  it("'decode' also catches images whose headers are fine but data is not", async () => {
    const catalog = await loadCatalog(dir, { images: 'decode' });
    expect(catalog.items.map((i) => i.id)).toEqual(['ok1', 'ok2', 'ok3']);
    expect(catalog.problems.find((p) => p.id === 'corrupt')?.reason).toMatch(/^unreadable image images\/corrupt\.jpg: corrupt JPEG data/);
  });

  it("'exists' only needs a non-empty file", async () => {
    const catalog = await loadCatalog(dir, { images: 'exists' });
    expect(catalog.items.map((i) => i.id)).toEqual(['ok1', 'ok2', 'text', 'trunc', 'bomb', 'ok3', 'corrupt']);
  });

  it('the fingerprint changes when an image or the listings change', async () => {
    const copy = badCatalog();
    const before = (await loadCatalog(copy, { images: 'exists' })).fingerprint;
    expect((await loadCatalog(copy, { images: 'exists' })).fingerprint).toBe(before);
    utimesSync(join(copy, 'images/ok1.jpg'), new Date(), new Date(Date.now() + 5000));
    const touched = (await loadCatalog(copy, { images: 'exists' })).fingerprint;
    expect(touched).not.toBe(before);
    writeFileSync(join(copy, 'listings.jsonl'), readFileSync(join(copy, 'listings.jsonl'), 'utf8') + '\n');
    expect((await loadCatalog(copy, { images: 'exists' })).fingerprint).not.toBe(touched);
  });

  it('explains catalogs that cannot be read at all', async () => {
    await expect(loadCatalog(join(dir, 'nowhere'))).rejects.toThrow(/does not exist/);
    await expect(loadCatalog(join(dir, 'images'))).rejects.toThrow(/has no listings\.jsonl/);
    await expect(loadCatalog(join(dir, 'images/ok1.jpg'))).rejects.toThrow(/neither a folder nor a \.jsonl\/\.csv\/\.tsv file/);
  });
});

describe('CSV catalogs', () => {
  it('loads with a column mapping and imports to listings.jsonl', async () => {
    const dir = tempDir('csv');
    writeCatalog(dir, [], { 'images/10.jpg': encodeBaselineJpeg(8, 8, patternRgb(8, 8)), 'images/11.jpg': encodeBaselineJpeg(8, 8, patternRgb(8, 8)) });
    const csv = join(dir, 'styles.csv');
    writeFileSync(csv, 'id,productDisplayName,price,baseColour,notes\n10,"Blue shirt, slim",499,Blue,"multi\nline"\n11,Red cap,-1,Red,x\n12,Green cap,5,Green,x\n');
    const columns = 'id=id,title=productDisplayName,price=price,image=images/{id}.jpg,attr.colour=baseColour';
    const catalog = await loadCatalog(csv, { columns });
    expect(catalog.name).toBe('styles');
    expect(catalog.items.map((i) => [i.id, i.title, i.attributes.colour])).toEqual([['10', 'Blue shirt, slim', 'Blue']]);
    expect(catalog.problems).toEqual([
      { line: 4, id: '11', reason: 'negative price: -1' },
      { line: 5, id: '12', reason: 'image not found: images/12.jpg' },
    ]);

    const result = await importCsvCatalog(csv, { columns });
    expect(result.path).toBe(join(dir, 'listings.jsonl'));
    expect(result.written).toBe(1);
    const again = await loadCatalog(dir);
    expect(again.items.map((i) => [i.id, i.imagePath, i.title, i.price, i.attributes])).toEqual([['10', 'images/10.jpg', 'Blue shirt, slim', 499, { colour: 'Blue' }]]);

    // A folder that does not contain the images cannot hold a catalog that refers to them.
    const elsewhere = await importCsvCatalog(csv, { columns, out: join(dir, 'sub') });
    expect(elsewhere.written).toBe(0);
    expect(elsewhere.problems.find((p) => p.id === '10')?.reason).toMatch(/is outside the output folder/);
  });
});

describe('image store', () => {
  let dir: string;
  let cacheDir: string;
  beforeAll(() => {
    dir = badCatalog();
    cacheDir = tempDir('store');
  });

  it('builds once, stores fitImage(decode(file)) per item, reports undecodable images, then reuses', async () => {
    const catalog = await loadCatalog(dir);
    const store = await ImageStore.open(catalog, { cacheDir, preprocess: SMALL });
    expect(store.built).toBe(true);
    expect(store.index.ids).toEqual(['ok1', 'ok2', 'ok3']);
    expect(store.index.failed.map((f) => [f.line, f.id])).toEqual([[13, 'corrupt']]);
    expect(store.index.failed[0].reason).toMatch(/^unreadable image images\/corrupt\.jpg: corrupt JPEG data/);
    const batch = store.read(['ok3', 'ok1']);
    expect(batch.length).toBe(2 * 8 * 12 * 3);
    for (const [i, id] of ['ok3', 'ok1'].entries()) {
      const item = catalog.items.find((it) => it.id === id)!;
      const want = fitImage(await decodeImageFile(imageFilePath(catalog, item)), SMALL);
      expect([...batch.subarray(i * want.length, (i + 1) * want.length)]).toEqual([...want]);
    }
    expect(store.readAll().length).toBe(3 * 8 * 12 * 3);
    expect(() => store.read(['corrupt'])).toThrow(/has no image for item corrupt/);
    store.close();
    expect(() => store.read(['ok1'])).toThrow(/is closed/);

    const reused = await ImageStore.open(catalog, { cacheDir, preprocess: SMALL });
    expect(reused.built).toBe(false);
    expect(reused.path).toBe(store.path);
    reused.close();
    const rebuilt = await ImageStore.open(catalog, { cacheDir, preprocess: SMALL, rebuild: true });
    expect(rebuilt.built).toBe(true);
    rebuilt.close();
    // A damaged cache (data file cut short) is noticed and rebuilt.
    writeFileSync(store.path, new Uint8Array(10));
    const repaired = await ImageStore.open(catalog, { cacheDir, preprocess: SMALL });
    expect(repaired.built).toBe(true);
    expect([...repaired.read(['ok1'])]).toEqual([...batch.subarray(8 * 12 * 3)]);
    repaired.close();
  });

  it('a changed image or preprocessing config builds a new store and removes the stale one', async () => {
    const first = await ImageStore.open(await loadCatalog(dir), { cacheDir, preprocess: SMALL });
    first.close();
    const bigger = await ImageStore.open(await loadCatalog(dir), { cacheDir, preprocess: { ...SMALL, width: 10 } });
    expect(bigger.built).toBe(true);
    expect(bigger.path).not.toBe(first.path);
    expect(bigger.read(['ok1']).length).toBe(10 * 12 * 3);
    bigger.close();
    utimesSync(join(dir, 'images/ok2.png'), new Date(), new Date(Date.now() + 10_000));
    const touched = await ImageStore.open(await loadCatalog(dir), { cacheDir, preprocess: { ...SMALL, width: 10 } });
    expect(touched.built).toBe(true);
    touched.close();
    expect(readdirSync(cacheDir).sort()).toEqual([touched.path.split('/').pop()!, touched.path.split('/').pop()!.replace('.bin', '.json')].sort());
  });
});

describe('prepareDataset and atelier data check', () => {
  let dir: string;
  let cacheDir: string;
  beforeAll(() => {
    dir = badCatalog();
    cacheDir = tempDir('check');
  });
  afterEach(() => vi.restoreAllMocks());

  it('combines loader and store problems; vocabularies and prices come from the training split', async () => {
    const data = await prepareDataset(dir, { cacheDir, preprocess: SMALL, split: { valFraction: 0 }, labels: { minCount: 1 } });
    data.images?.close();
    expect(data.catalog.items.map((i) => i.id)).toEqual(['ok1', 'ok2', 'ok3']);
    expectProblems(data.catalog.problems, [...EXPECTED_PROBLEMS.slice(0, 9), [13, 'corrupt', /corrupt JPEG data/], EXPECTED_PROBLEMS[9]]);
    expect(data.split.train.map((i) => i.id)).toEqual(['ok1', 'ok2', 'ok3']);
    expect(data.labels.attributes.map((a) => [a.name, a.classes])).toEqual([['colour', ['Blue', 'Grey', 'Red', 'other']]]);
    expect(data.price?.stats.count).toBe(2);
    const noStore = await prepareDataset(dir, { store: false, split: { valFraction: 0 } });
    expect(noStore.images).toBeNull();
    expect(noStore.catalog.problems.map((p) => p.id)).toEqual(data.catalog.problems.map((p) => p.id));
  });

  it('refuses a catalog with no usable rows, saying why', async () => {
    const empty = writeCatalog(tempDir('empty'), [{ id: 'x', image: 'images/x.jpg', title: 'X' }], {});
    await expect(prepareDataset(empty, { cacheDir })).rejects.toThrow(/has no usable rows \(1 skipped; first: line 1: image not found: images\/x\.jpg\)/);
  });

  it('--json prints loaded, skipped, problems and vocabularies', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await dataCommand(['check', dir, '--json', '--cache-dir', cacheDir, '--size', '8x12', '--val', '0', '--min-count', '1'])).toBe(0);
    const report = JSON.parse(log.mock.calls[0][0] as string);
    expect(report).toMatchObject({ rows: 14, loaded: 3, skipped: 11 });
    expect(report.problems[0]).toEqual({ line: 3, id: 'missing', reason: 'image not found: images/nope.jpg' });
    expect(report.vocabularies.colour.classes).toEqual(['Blue', 'Grey', 'Red', 'other']);
    expect(report.images).toMatchObject({ width: 8, height: 12, count: 3 });
  });

  it('prints each skipped row in text mode', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await dataCommand(['check', dir, '--cache-dir', cacheDir, '--size', '8x12'])).toBe(0);
    const text = log.mock.calls[0][0] as string;
    expect(text).toContain('loaded 3, skipped 11');
    expect(text).toContain('line 3 id missing: image not found: images/nope.jpg');
    expect(text).toContain('line 9: invalid JSON');
    // With the default minimum of 20 examples a value, three items support no class.
    expect(text).toContain('not modelled: colour (fewer than 2 values seen 20+ times)');
  });

  it('explains bad options', async () => {
    await expect(dataCommand(['check'])).rejects.toThrow(/expected one catalog path/);
    await expect(dataCommand(['check', dir, '--size', 'big'])).rejects.toThrow(/--size must be WIDTHxHEIGHT/);
    await expect(dataCommand(['check', dir, '--group', 'brand'])).rejects.toThrow(/--group must be id, title or id-prefix:N/);
    await expect(dataCommand(['frobnicate'])).rejects.toThrow(/unknown subcommand 'frobnicate'/);
  });
});
