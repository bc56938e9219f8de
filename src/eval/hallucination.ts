/**
 * The `hallucination` block of the evaluation report: contradictions between generated listings
 * and the items' true attributes, self-consistency with the model's own predictions, the paper's
 * score for comparison, and the same contradiction metric on the catalog's human-written text as
 * the baseline every model number is read against. Definitions: docs/metrics.md. Browser-safe.
 */
import { checkListing, type Lexicon, type ListingText } from '../model/lexicon.ts';
import { paperHallucinationScore } from './metrics.ts';

type Attributes = Readonly<Record<string, string | null | undefined>>;

export interface HallucinationItem {
  /** The generated title and description. */
  generated: ListingText;
  /** True attribute values (missing ones are not checked). */
  truth: Attributes;
  /** The model's predicted values (those it prompted the decoder with, or all of its argmaxes). */
  predicted: Attributes;
  /** The catalog's own title and description, for the human baseline; null when it has none. */
  reference?: ListingText | null;
  /** The item's brand: its words are not read as attribute mentions ("Red Tape"). */
  brand?: string | null;
}

export interface AttributeHallucination {
  /** Share of listings whose text contradicts this attribute's true value. */
  contradiction_rate_vs_truth: number;
  /** Mentions of this attribute counted against the truth (agreeing + contradicting). */
  mentions: number;
  mention_precision_vs_truth: number;
}

export interface HallucinationScores {
  n: number;
  /** Share of listings with at least one mention contradicting a true attribute value. */
  contradiction_rate_vs_truth: number;
  /** Agreeing / (agreeing + contradicting) mentions against the truth; NaN without mentions. */
  mention_precision_vs_truth: number;
  /** Share of listings contradicting one of the model's own predicted values. */
  contradiction_rate_vs_predicted: number;
  /** arXiv 2510.21835's score on `title: … | description: …` against the predicted values. */
  paper_metric: number;
  /** contradiction_rate_vs_truth of the catalog's own text; NaN when no item has one. */
  human_baseline: number;
  /** Items with a reference text (the human baseline's denominator). */
  n_human: number;
  /** Share of generated listings with at least one checked mention (what the rates can see). */
  listings_with_mentions: number;
  per_attribute: Record<string, AttributeHallucination>;
}

/** Scores generated listings; see HallucinationScores for each number. */
export function hallucinationScores(lexicon: Lexicon, items: readonly HallucinationItem[]): HallucinationScores {
  let vsTruth = 0, vsPredicted = 0, agree = 0, contradict = 0, withMentions = 0, human = 0, nHuman = 0;
  const perAttr = new Map<string, { flagged: number; agree: number; contradict: number }>();
  for (const attribute of lexicon.attributes.keys()) perAttr.set(attribute, { flagged: 0, agree: 0, contradict: 0 });
  for (const item of items) {
    const ignore = item.brand ? [item.brand] : [];
    const truthCheck = checkListing(lexicon, item.generated, item.truth, ignore);
    if (truthCheck.contradicted.length > 0) vsTruth++;
    if (truthCheck.mentions.length > 0) withMentions++;
    for (const attribute of truthCheck.contradicted) perAttr.get(attribute)!.flagged++;
    for (const m of truthCheck.mentions) {
      const s = perAttr.get(m.attribute)!;
      if (m.verdict === 'agrees') {
        agree++;
        s.agree++;
      } else if (m.verdict === 'contradicts') {
        contradict++;
        s.contradict++;
      }
    }
    if (checkListing(lexicon, item.generated, item.predicted, ignore).contradicted.length > 0) vsPredicted++;
    if (item.reference) {
      nHuman++;
      if (checkListing(lexicon, item.reference, item.truth, ignore).contradicted.length > 0) human++;
    }
  }
  const n = items.length;
  const rate = (k: number, d: number) => (d > 0 ? k / d : Number.NaN);
  const paper = paperHallucinationScore(
    items.map((i) => ({ text: `title: ${i.generated.title} | description: ${i.generated.description}`, predicted: i.predicted })),
  );
  return {
    n,
    contradiction_rate_vs_truth: rate(vsTruth, n),
    mention_precision_vs_truth: rate(agree, agree + contradict),
    contradiction_rate_vs_predicted: rate(vsPredicted, n),
    paper_metric: paper.score,
    human_baseline: rate(human, nHuman),
    n_human: nHuman,
    listings_with_mentions: rate(withMentions, n),
    per_attribute: Object.fromEntries(
      [...perAttr].map(([a, s]) => [
        a,
        { contradiction_rate_vs_truth: rate(s.flagged, n), mentions: s.agree + s.contradict, mention_precision_vs_truth: rate(s.agree, s.agree + s.contradict) },
      ]),
    ),
  };
}
