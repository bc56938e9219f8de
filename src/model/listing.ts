import type { CatalogChoice } from './catalog-chooser.ts';

/**
 * The product's output: one listing per photo. This is the JSON the main command prints with
 * --json, what the batch job writes per line, and what the demo page renders.
 */
export interface AttributePrediction {
  value: string;
  /** Softmax probability of `value`. */
  confidence: number;
  /** True when the value came from a user-supplied fact, not the model. */
  fact?: boolean;
}

export interface PricePrediction {
  /** Point estimate (exp of the predicted log price). */
  value: number;
  /** Lower and upper ends of the interval (the configured quantiles, e.g. 10th and 90th percentile). */
  low: number;
  high: number;
  currency: string | null;
}

export interface GroundingMention {
  /** The attribute the mention refers to. */
  attribute: string;
  /** The surface text found in the generated listing. */
  text: string;
  /** The attribute value the mention names. */
  value: string;
  /** The value the listing was prompted with (prediction or fact), if the attribute was prompted. */
  prompted: string | null;
  agrees: boolean;
  field: 'title' | 'description';
}

export interface Listing {
  /** Catalog schema whose heads produced the attributes. */
  catalog: string;
  /** How that catalog was chosen, the others available and the chooser's confidence (see CatalogChoice). */
  catalog_choice?: CatalogChoice;
  attributes: Record<string, AttributePrediction>;
  price: PricePrediction;
  title: string;
  description: string;
  grounding: GroundingMention[];
  timings_ms: Record<string, number>;
}
