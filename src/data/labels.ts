/**
 * Attribute label vocabularies and price targets (browser-safe, JSON-serialisable for the weights
 * folder).
 *
 * LabelSpace: per catalog, built from the TRAINING split only.
 *  - Which attributes: `include` names them explicitly; otherwise every attribute whose coverage
 *    (share of training items with a value) is at least `minCoverage` and that has at least two
 *    values seen `minCount` times. For H&M that keeps all 10; for Myntra the well-covered ones
 *    (gender, article type, colour, fabric, neck, sleeve length...) and drops the dozens of sparse
 *    detail attributes.
 *  - Classes of an attribute: values seen at least `minCount` times in training, most frequent
 *    first, then the explicit bucket OTHER ("other") last, which takes rarer values and values never
 *    seen in training. A real value spelled "other" in any case is that same bucket.
 *  - Missing values (absent, or placeholders removed by the schema) are index -1: never a class;
 *    losses and metrics skip them.
 *
 * PriceScaler: targets are z-scores of log1p(price) with mean/std from the training items that have
 * a price; an item without a price has target NaN (missing).
 */
import { AtelierDataError } from './errors.ts';
import type { CatalogItem } from './schema.ts';

export const OTHER = 'other';
/** The label index of a missing value. */
export const MISSING = -1;

export interface LabelOptions {
  /** Attributes to model, in this order; when absent they are chosen by coverage (see above). */
  include?: readonly string[];
  /** Attributes never to model. */
  exclude?: readonly string[];
  /** Minimum share of training items with a value, for automatic choice (default 0.05). */
  minCoverage?: number;
  /** Values seen fewer times than this in training go to "other" (default 20). */
  minCount?: number;
}

export interface AttributeVocab {
  name: string;
  /** Class names; the last is always OTHER. */
  classes: string[];
  /** Training items per class (same order as `classes`). */
  counts: number[];
  /** Share of training items with a value for this attribute. */
  coverage: number;
  /** Distinct values seen in training, before bucketing. */
  distinctValues: number;
}

export interface LabelSpaceJson {
  format: 'atelier-labels';
  version: 1;
  minCount: number;
  /** The coverage threshold used when attributes were chosen automatically. */
  minCoverage: number;
  attributes: AttributeVocab[];
}

export interface AttributeSummary {
  name: string;
  coverage: number;
  distinctValues: number;
  /** Why it is not modelled (null when it is): named in the configuration, too rare, or too few classes. */
  exclusion: 'configuration' | 'coverage' | 'classes' | null;
  /** The exclusion in words, e.g. "coverage 4.98% < 5%". */
  excludedBecause: string | null;
}

const percent = (x: number) => `${Number((x * 100).toFixed(2))}%`;

export class LabelSpace {
  readonly attributes: readonly AttributeVocab[];
  readonly minCount: number;
  readonly minCoverage: number;
  private readonly lookup: Map<string, number>[];

  private constructor(json: LabelSpaceJson) {
    this.attributes = json.attributes;
    this.minCount = json.minCount;
    this.minCoverage = json.minCoverage;
    this.lookup = json.attributes.map((a) => {
      const m = new Map<string, number>();
      a.classes.forEach((c, i) => m.set(c, i));
      return m;
    });
  }

  /** Builds vocabularies from training items; `summary` explains every attribute seen, kept or not. */
  static build(trainItems: readonly Pick<CatalogItem, 'attributes'>[], options: LabelOptions = {}): { labels: LabelSpace; summary: AttributeSummary[] } {
    const minCount = options.minCount ?? 20;
    const minCoverage = options.minCoverage ?? 0.05;
    if (!(Number.isInteger(minCount) && minCount >= 1)) throw new AtelierDataError('config', `minCount must be a positive integer, got ${minCount}`);
    if (!(minCoverage >= 0 && minCoverage <= 1)) throw new AtelierDataError('config', `minCoverage must be in [0, 1], got ${minCoverage}`);
    const valueCounts = new Map<string, Map<string, number>>();
    for (const item of trainItems) {
      for (const [name, value] of Object.entries(item.attributes)) {
        let counts = valueCounts.get(name);
        if (!counts) valueCounts.set(name, (counts = new Map()));
        const key = bucketOf(value);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    for (const name of options.include ?? []) {
      if (!valueCounts.has(name)) throw new AtelierDataError('labels', `attribute "${name}" has no values in the training items (attributes seen: ${[...valueCounts.keys()].join(', ')})`);
    }
    const exclude = new Set(options.exclude ?? []);
    const n = Math.max(trainItems.length, 1);
    const vocab = (name: string): AttributeVocab => {
      const counts = valueCounts.get(name)!;
      const frequent = [...counts].filter(([v, c]) => v !== OTHER && c >= minCount).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      let total = 0;
      for (const c of counts.values()) total += c;
      const kept = frequent.reduce((s, [, c]) => s + c, 0);
      return {
        name,
        classes: [...frequent.map(([v]) => v), OTHER],
        counts: [...frequent.map(([, c]) => c), total - kept],
        coverage: total / n,
        distinctValues: counts.size,
      };
    };
    const summary: AttributeSummary[] = [];
    const chosen: AttributeVocab[] = [];
    for (const name of valueCounts.keys()) {
      const v = vocab(name);
      let exclusion: AttributeSummary['exclusion'] = null;
      let excludedBecause: string | null = null;
      if (exclude.has(name)) [exclusion, excludedBecause] = ['configuration', 'excluded by configuration'];
      else if (options.include) {
        if (!options.include.includes(name)) [exclusion, excludedBecause] = ['configuration', 'not in the configured list'];
      } else if (v.coverage < minCoverage) [exclusion, excludedBecause] = ['coverage', `coverage ${percent(v.coverage)} < ${percent(minCoverage)}`];
      else if (v.classes.length - 1 < 2) [exclusion, excludedBecause] = ['classes', `fewer than 2 values seen ${minCount}+ times`];
      summary.push({ name, coverage: v.coverage, distinctValues: v.distinctValues, exclusion, excludedBecause });
      if (!exclusion && !options.include) chosen.push(v);
    }
    const attributes = options.include ? options.include.filter((name) => !exclude.has(name)).map(vocab) : chosen;
    return { labels: new LabelSpace({ format: 'atelier-labels', version: 1, minCount, minCoverage, attributes }), summary };
  }

  static fromJSON(json: string | unknown): LabelSpace {
    const data = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<LabelSpaceJson> | null;
    if (!data || data.format !== 'atelier-labels' || data.version !== 1 || !Array.isArray(data.attributes)) {
      throw new AtelierDataError('labels', 'not an atelier-labels version 1 file');
    }
    for (const a of data.attributes) {
      if (typeof a.name !== 'string' || !Array.isArray(a.classes) || a.classes[a.classes.length - 1] !== OTHER) {
        throw new AtelierDataError('labels', `attribute entry ${JSON.stringify(a.name)} is malformed (classes must end with "${OTHER}")`);
      }
    }
    return new LabelSpace(data as LabelSpaceJson);
  }

  toJSON(): LabelSpaceJson {
    return { format: 'atelier-labels', version: 1, minCount: this.minCount, minCoverage: this.minCoverage, attributes: this.attributes.map((a) => ({ ...a })) };
  }

  /** Position of an attribute in `attributes` (and in `encode`'s output). */
  attributeIndex(name: string): number {
    const i = this.attributes.findIndex((a) => a.name === name);
    if (i < 0) throw new AtelierDataError('labels', `attribute "${name}" is not modelled (modelled: ${this.attributes.map((a) => a.name).join(', ')})`);
    return i;
  }

  /** Class index of `value` for attribute number `attribute`: MISSING for null/undefined, OTHER's index for rare or unseen values. */
  classIndex(attribute: number, value: string | null | undefined): number {
    if (value === null || value === undefined) return MISSING;
    const classes = this.lookup[attribute];
    return classes.get(bucketOf(value)) ?? classes.get(OTHER)!;
  }

  /** One label per modelled attribute, in `attributes` order (MISSING where the item has none). */
  encode(item: Pick<CatalogItem, 'attributes'>): Int32Array {
    return Int32Array.from(this.attributes, (a, i) => this.classIndex(i, item.attributes[a.name]));
  }

  /** The class name of a predicted index. */
  className(attribute: number, index: number): string {
    const name = this.attributes[attribute]?.classes[index];
    if (name === undefined) throw new AtelierDataError('labels', `class ${index} of attribute ${attribute} does not exist`);
    return name;
  }
}

/** A value as a vocabulary key: any spelling of "other" is the OTHER bucket. */
function bucketOf(value: string): string {
  return value.trim().toLowerCase() === OTHER ? OTHER : value;
}

export interface PriceScalerJson {
  format: 'atelier-price';
  version: 1;
  transform: 'log1p';
  mean: number;
  std: number;
  /** Training items with a price. */
  count: number;
  /** The catalog's currency when all priced items agree, else null. */
  currency: string | null;
}

export class PriceScaler {
  constructor(readonly stats: PriceScalerJson) {}

  static fit(trainItems: readonly Pick<CatalogItem, 'price' | 'currency'>[]): PriceScaler {
    const logs: number[] = [];
    const currencies = new Set<string | null>();
    for (const item of trainItems) {
      if (item.price === null) continue;
      logs.push(Math.log1p(item.price));
      currencies.add(item.currency);
    }
    if (logs.length === 0) throw new AtelierDataError('labels', 'no training item has a price, so price statistics cannot be fitted');
    const mean = logs.reduce((s, x) => s + x, 0) / logs.length;
    const variance = logs.reduce((s, x) => s + (x - mean) ** 2, 0) / logs.length;
    const currency = currencies.size === 1 ? [...currencies][0] : null;
    return new PriceScaler({ format: 'atelier-price', version: 1, transform: 'log1p', mean, std: Math.sqrt(variance) || 1, count: logs.length, currency });
  }

  static fromJSON(json: string | unknown): PriceScaler {
    const data = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<PriceScalerJson> | null;
    if (!data || data.format !== 'atelier-price' || data.transform !== 'log1p' || !(Number.isFinite(data.mean) && (data.std ?? 0) > 0)) {
      throw new AtelierDataError('labels', 'not an atelier-price file with a log1p transform, finite mean and positive std');
    }
    return new PriceScaler(data as PriceScalerJson);
  }

  toJSON(): PriceScalerJson {
    return { ...this.stats };
  }

  /** The normalised target of a price; NaN (missing) for null. */
  target(price: number | null): number {
    return price === null ? NaN : (Math.log1p(price) - this.stats.mean) / this.stats.std;
  }

  /** The price a normalised prediction stands for. */
  price(target: number): number {
    return Math.expm1(target * this.stats.std + this.stats.mean);
  }
}
