/**
 * Deterministic train/validation(/test) split by product group (browser-safe).
 *
 * Items of one group always land on the same side, so colour variants of a product never straddle
 * the split. A group's side is decided by a seeded hash of its key alone: the split is the same on
 * every run and machine, and adding items to a catalog never moves existing groups.
 *
 * Group keys (JSON-serialisable, stored with a model so evaluation reproduces the split):
 *  - { kind: 'id-prefix', length: 7 }: H&M, whose article id's first 7 digits are the product code.
 *  - { kind: 'title' }: items with the same title (case and spacing ignored) form one group. The
 *    default for other catalogs: Myntra ids carry no product code, and 40% of its rows share a title
 *    with another row (e.g. 72 × "Lucera Women Silver Earrings"), near-duplicates that would let a
 *    model score by memorising titles if they straddled the split.
 *  - { kind: 'id' }: every item is its own group.
 */
import { AtelierDataError } from './errors.ts';
import { unitHash } from './random.ts';
import type { CatalogItem } from './schema.ts';

export type GroupKey = { kind: 'id' } | { kind: 'id-prefix'; length: number } | { kind: 'title' };

export interface SplitConfig {
  groupKey: GroupKey;
  /** Fraction of groups in the validation set (default 0.1). */
  valFraction: number;
  /** Fraction of groups in a held-out test set (default 0: no test set). */
  testFraction: number;
  /** Any text; a different seed gives a different split. */
  seed: string;
}

export interface Split<T> {
  train: T[];
  val: T[];
  test: T[];
  /** Number of distinct groups. */
  groups: number;
}

/** The grouping used for a catalog when none is configured (see the file comment). */
export function defaultGroupKey(catalogName: string): GroupKey {
  return catalogName.toLowerCase() === 'hm' ? { kind: 'id-prefix', length: 7 } : { kind: 'title' };
}

export function defaultSplitConfig(catalogName: string): SplitConfig {
  return { groupKey: defaultGroupKey(catalogName), valFraction: 0.1, testFraction: 0, seed: 'atelier' };
}

export function groupOf(item: Pick<CatalogItem, 'id' | 'title'>, key: GroupKey): string {
  switch (key.kind) {
    case 'id':
      return item.id;
    case 'id-prefix':
      return item.id.slice(0, key.length);
    case 'title':
      return item.title.trim().toLowerCase().replace(/\s+/g, ' ');
  }
}

/** Splits items (keeping their order within each part). */
export function splitItems<T extends Pick<CatalogItem, 'id' | 'title'>>(items: readonly T[], config: SplitConfig): Split<T> {
  const { valFraction, testFraction } = config;
  if (!(valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1)) {
    throw new AtelierDataError('config', `split fractions must be >= 0 and leave a training set: val ${valFraction}, test ${testFraction}`);
  }
  if (config.groupKey.kind === 'id-prefix' && !(Number.isInteger(config.groupKey.length) && config.groupKey.length > 0)) {
    throw new AtelierDataError('config', `id-prefix length must be a positive integer, got ${config.groupKey.length}`);
  }
  const split: Split<T> = { train: [], val: [], test: [], groups: 0 };
  const side = new Map<string, T[]>();
  for (const item of items) {
    const group = groupOf(item, config.groupKey);
    let target = side.get(group);
    if (!target) {
      const u = unitHash(group, config.seed);
      target = u < testFraction ? split.test : u < testFraction + valFraction ? split.val : split.train;
      side.set(group, target);
    }
    target.push(item);
  }
  split.groups = side.size;
  return split;
}
