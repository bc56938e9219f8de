import { describe, expect, it } from 'vitest';
import { LabelSpace, MISSING, OTHER, PriceScaler } from '../../src/data/labels.ts';
import { defaultGroupKey, groupOf, splitItems, type SplitConfig } from '../../src/data/split.ts';

const item = (attributes: Record<string, string>) => ({ attributes });

describe('label vocabularies', () => {
  // colour: Black ×5, Red ×3, Teal ×1, "Other" ×1; fit on half the items; rare on one item.
  const train = [
    ...Array.from({ length: 5 }, (_, i) => item({ colour: 'Black', fit: i % 2 ? 'Slim' : 'Regular' })),
    ...Array.from({ length: 3 }, () => item({ colour: 'Red' })),
    item({ colour: 'Teal', rare: 'x' }),
    item({ colour: 'Other', fit: 'Regular' }),
  ];

  it('keeps values seen minCount times, most frequent first, and buckets the rest as other', () => {
    const { labels } = LabelSpace.build(train, { minCount: 2, minCoverage: 0.3 });
    const colour = labels.attributes[labels.attributeIndex('colour')];
    expect(colour.classes).toEqual(['Black', 'Red', OTHER]);
    expect(colour.counts).toEqual([5, 3, 2]);
    expect(colour.coverage).toBe(1);
    expect(colour.distinctValues).toBe(4);
  });

  it('missing is -1, rare and unseen values are other', () => {
    const { labels } = LabelSpace.build(train, { minCount: 2, minCoverage: 0.3 });
    const c = labels.attributeIndex('colour');
    const f = labels.attributeIndex('fit');
    expect([...labels.encode(item({ colour: 'Red' }))]).toEqual([1, MISSING]);
    expect(labels.classIndex(c, 'Teal')).toBe(2);
    expect(labels.classIndex(c, 'Magenta')).toBe(2);
    expect(labels.classIndex(c, 'OTHER')).toBe(2);
    expect(labels.classIndex(f, undefined)).toBe(MISSING);
    expect(labels.className(c, 0)).toBe('Black');
  });

  it('chooses attributes by coverage and class count, explaining the others', () => {
    const { labels, summary } = LabelSpace.build(train, { minCount: 2, minCoverage: 0.3 });
    expect(labels.attributes.map((a) => a.name)).toEqual(['colour', 'fit']);
    expect(summary.find((s) => s.name === 'rare')?.excludedBecause).toBe('coverage 10% < 30%');
    const strict = LabelSpace.build(train, { minCount: 3, minCoverage: 0.3 });
    expect(strict.labels.attributes.map((a) => a.name)).toEqual(['colour']);
    expect(strict.summary.find((s) => s.name === 'fit')?.excludedBecause).toBe('fewer than 2 values seen 3+ times');
  });

  it('honours include and exclude lists', () => {
    expect(LabelSpace.build(train, { include: ['fit', 'colour'], exclude: ['colour'] }).labels.attributes.map((a) => a.name)).toEqual(['fit']);
    expect(() => LabelSpace.build(train, { include: ['neck'] })).toThrow(/attribute "neck" has no values in the training items/);
    expect(() => LabelSpace.build(train, { minCount: 0 })).toThrow(/minCount/);
  });

  it('round-trips through JSON', () => {
    const { labels } = LabelSpace.build(train, { minCount: 2, minCoverage: 0.3 });
    const again = LabelSpace.fromJSON(JSON.stringify(labels.toJSON()));
    expect(again.toJSON()).toEqual(labels.toJSON());
    expect([...again.encode(item({ colour: 'Teal', fit: 'Slim' }))]).toEqual([...labels.encode(item({ colour: 'Teal', fit: 'Slim' }))]);
    expect(() => LabelSpace.fromJSON('{"format":"x"}')).toThrow(/not an atelier-labels/);
  });
});

describe('price targets', () => {
  const items = [10, 20, 40, null].map((price) => ({ price, currency: 'INR' }));

  it('normalises log1p prices with training mean/std; missing prices are NaN', () => {
    const scaler = PriceScaler.fit(items);
    const logs = [10, 20, 40].map(Math.log1p);
    const mean = logs.reduce((a, b) => a + b) / 3;
    const std = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    expect(scaler.stats).toMatchObject({ transform: 'log1p', count: 3, currency: 'INR' });
    expect(scaler.stats.mean).toBeCloseTo(mean, 12);
    expect(scaler.stats.std).toBeCloseTo(std, 12);
    expect(scaler.target(20)).toBeCloseTo((Math.log1p(20) - mean) / std, 12);
    expect(scaler.target(null)).toBeNaN();
    expect(scaler.price(scaler.target(123.45))).toBeCloseTo(123.45, 9);
    expect(PriceScaler.fromJSON(JSON.stringify(scaler.toJSON())).stats).toEqual(scaler.stats);
  });

  it('mixed currencies are not claimed, and no prices is an error', () => {
    expect(PriceScaler.fit([{ price: 1, currency: 'INR' }, { price: 2, currency: null }]).stats.currency).toBeNull();
    expect(() => PriceScaler.fit([{ price: null, currency: null }])).toThrow(/no training item has a price/);
  });
});

describe('split by product group', () => {
  const items = Array.from({ length: 3000 }, (_, i) => ({ id: String(1_000_000 + Math.floor(i / 3)).padStart(7, '0') + String(i % 3).padStart(3, '0'), title: `Product ${i % 500}` }));
  const config: SplitConfig = { groupKey: { kind: 'id-prefix', length: 7 }, valFraction: 0.1, testFraction: 0.1, seed: 'atelier' };

  it('never puts one group on two sides', () => {
    for (const groupKey of [config.groupKey, { kind: 'title' } as const]) {
      const split = splitItems(items, { ...config, groupKey });
      const side = new Map<string, string>();
      for (const [name, part] of Object.entries({ train: split.train, val: split.val, test: split.test })) {
        for (const it of part) {
          const g = groupOf(it, groupKey);
          expect(side.get(g) ?? name).toBe(name);
          side.set(g, name);
        }
      }
      expect(split.train.length + split.val.length + split.test.length).toBe(items.length);
    }
  });

  it('gives roughly the configured fractions, deterministically', () => {
    const a = splitItems(items, config);
    expect(a.groups).toBe(1000);
    expect(a.val.length / items.length).toBeGreaterThan(0.07);
    expect(a.val.length / items.length).toBeLessThan(0.13);
    expect(a.test.length / items.length).toBeGreaterThan(0.07);
    expect(a.test.length / items.length).toBeLessThan(0.13);
    expect(splitItems(items, config).val).toEqual(a.val);
    expect(splitItems(items, { ...config, seed: 'other' }).val).not.toEqual(a.val);
  });

  it('is stable when items are added or reordered', () => {
    const before = new Set(splitItems(items.slice(0, 1500), config).val.map((i) => i.id));
    const after = splitItems([...items].reverse(), config).val.map((i) => i.id);
    for (const id of before) expect(after).toContain(id);
  });

  it('groups H&M by product code and other catalogs by normalised title', () => {
    expect(defaultGroupKey('hm')).toEqual({ kind: 'id-prefix', length: 7 });
    expect(defaultGroupKey('myntra')).toEqual({ kind: 'title' });
    expect(groupOf({ id: '0108775015', title: '' }, { kind: 'id-prefix', length: 7 })).toBe('0108775');
    expect(groupOf({ id: '1', title: '  Lucera  Women Silver\tEarrings ' }, { kind: 'title' })).toBe('lucera women silver earrings');
  });

  it('rejects fractions that leave no training set', () => {
    expect(() => splitItems(items, { ...config, valFraction: 0.6, testFraction: 0.4 })).toThrow(/leave a training set/);
    expect(() => splitItems(items, { ...config, groupKey: { kind: 'id-prefix', length: 0 } })).toThrow(/positive integer/);
  });
});
