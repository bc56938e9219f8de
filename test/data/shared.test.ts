/**
 * Checks against the real catalogs in ../shared/data (H&M and Myntra). Skipped, with a message, when
 * that folder is absent. Images are only checked for existence here (the full decode of every image
 * is `atelier data check` and bench/data.ts); a sample is decoded and preprocessed.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LabelSpace } from '../../src/data/labels.ts';
import { fitImage } from '../../src/data/preprocess.ts';
import { defaultSplitConfig, groupOf, splitItems } from '../../src/data/split.ts';
import { BpeTokenizer, catalogTexts } from '../../src/data/tokenizer.ts';
import { imageFilePath, loadCatalog, type Catalog } from '../../src/node/catalog.ts';
import { decodeImageFile } from '../../src/node/image.ts';

const SHARED_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data');
const present = existsSync(join(SHARED_DATA, 'hm', 'listings.jsonl')) && existsSync(join(SHARED_DATA, 'myntra', 'listings.jsonl'));
if (!present) console.warn(`skipping the shared-catalog tests: ${SHARED_DATA} (../shared/data) is not here`);

const catalogs = new Map<string, Promise<Catalog>>();
const load = (name: string) => {
  if (!catalogs.has(name)) catalogs.set(name, loadCatalog(join(SHARED_DATA, name), { images: 'exists' }));
  return catalogs.get(name)!;
};

function noGroupStraddles(catalog: Catalog): { val: number; groups: number } {
  const config = defaultSplitConfig(catalog.name);
  const split = splitItems(catalog.items, config);
  const trainGroups = new Set(split.train.map((i) => groupOf(i, config.groupKey)));
  for (const item of split.val) expect(trainGroups.has(groupOf(item, config.groupKey))).toBe(false);
  return { val: split.val.length / catalog.items.length, groups: split.groups };
}

async function decodeSample(catalog: Catalog, every: number): Promise<Set<string>> {
  const sizes = new Set<string>();
  for (let i = 0; i < catalog.items.length; i += every) {
    const image = await decodeImageFile(imageFilePath(catalog, catalog.items[i]));
    sizes.add(`${image.width}x${image.height}`);
    const fitted = fitImage(image);
    expect(fitted.length).toBe(64 * 96 * 3);
  }
  return sizes;
}

describe.skipIf(!present)('shared catalogs', () => {
  it('H&M: every row loads; prices, attributes and product-code split as the README says', async () => {
    const hm = await load('hm');
    expect([hm.rows, hm.items.length, hm.problems.length]).toEqual([22332, 22332, 0]);
    expect(hm.items.filter((i) => i.price === null).length).toBe(957);
    expect(hm.items.filter((i) => i.description === null).length).toBe(57);
    const { val, groups } = noGroupStraddles(hm);
    expect(groups).toBe(12302);
    expect(val).toBeGreaterThan(0.08);
    expect(val).toBeLessThan(0.12);
    const { labels } = LabelSpace.build(splitItems(hm.items, defaultSplitConfig('hm')).train);
    expect(labels.attributes.map((a) => a.name)).toEqual(['product_type', 'product_group', 'colour', 'colour_master', 'colour_value', 'pattern', 'department', 'index_group', 'section', 'garment_group']);
    expect(labels.attributes[2].classes[0]).toBe('Black');
    expect(await decodeSample(hm, 1000)).toEqual(new Set(['128x192']));
  });

  it('Myntra: every row loads in INR; the well-covered attributes are modelled; titles group', async () => {
    const myntra = await load('myntra');
    expect([myntra.rows, myntra.items.length, myntra.problems.length]).toEqual([39599, 39599, 0]);
    expect(myntra.items.every((i) => i.currency === 'INR' && i.price !== null && i.price >= 50)).toBe(true);
    const { val } = noGroupStraddles(myntra);
    expect(val).toBeGreaterThan(0.08);
    expect(val).toBeLessThan(0.12);
    const { labels } = LabelSpace.build(splitItems(myntra.items, defaultSplitConfig('myntra')).train);
    const names = labels.attributes.map((a) => a.name);
    for (const name of ['gender', 'article_type', 'base_colour', 'season', 'usage', 'neck', 'sleeve_length', 'fabric']) expect(names).toContain(name);
    for (const sparse of ['hemline', 'ornamentation', 'dupatta']) expect(names).not.toContain(sparse);
    const sizes = await decodeSample(myntra, 2000);
    expect(sizes.has('60x80')).toBe(true);
  });

  it('a tokenizer trained on H&M training text round-trips its validation text', async () => {
    const hm = await load('hm');
    const { train, val } = splitItems(hm.items, defaultSplitConfig('hm'));
    const tokenizer = BpeTokenizer.train(catalogTexts(train.slice(0, 3000)), { vocabSize: 1500 });
    for (const text of [...catalogTexts(val.slice(0, 300))]) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    // Learned merges compress: English catalog text takes well under one token per 3 characters.
    const sample = [...catalogTexts(val.slice(0, 300))].join('\n');
    expect(tokenizer.encode(sample).length).toBeLessThan(sample.length / 3);
  });
});
