/**
 * The facts form: one select per attribute of the catalog (its classes, from the weights' label
 * space) to correct a prediction, and a brand. The chosen values go to the model as `facts`: they
 * replace the predictions in the prompt and the grounded decoder cannot contradict them.
 */
import { OTHER } from '../src/data/labels.ts';
import type { CatalogSchema } from '../src/model/bundle.ts';
import type { Listing } from '../src/model/listing.ts';
import { attributeLabel, type PromptFact } from '../src/model/prompt.ts';

/** The value of an attribute's select that means "keep the prediction". */
const AS_PREDICTED = '';

/** Builds the selects for a catalog's attributes (no corrections chosen). */
export function buildFactFields(container: HTMLElement, schema: CatalogSchema): void {
  container.replaceChildren(
    ...schema.head.attributes.map(({ name, values }) => {
      const select = document.createElement('select');
      select.name = name;
      select.dataset.attribute = name;
      const keep = new Option('as predicted', AS_PREDICTED);
      select.append(keep, ...values.filter((v) => v !== OTHER).map((v) => new Option(v, v)));
      const label = document.createElement('label');
      label.className = 'fact';
      label.append(`${attributeLabel(name)} `, select);
      return label;
    }),
  );
}

/** Shows each attribute's prediction in its "as predicted" option, so the seller sees what they would change. */
export function showPredictions(container: HTMLElement, listing: Listing): void {
  for (const select of Array.from(container.querySelectorAll('select'))) {
    const p = listing.attributes[select.name];
    if (p && !p.fact) select.options[0].text = `as predicted: ${p.value} (${Math.round(p.confidence * 100)}%)`;
  }
}

/** Clears the corrections (a new photo is a new item); the brand stays, as a seller often lists one brand. */
export function resetCorrections(container: HTMLElement): void {
  for (const select of Array.from(container.querySelectorAll('select'))) {
    select.value = AS_PREDICTED;
    select.options[0].text = 'as predicted';
  }
}

/** The corrected attributes, then the brand when one is typed. */
export function readFacts(container: HTMLElement, brand: HTMLInputElement): PromptFact[] {
  const facts = Array.from(container.querySelectorAll('select')).filter((s) => s.value !== AS_PREDICTED).map((s) => ({ name: s.name, value: s.value }));
  const brandName = brand.value.trim().replace(/\s+/g, ' ');
  return brandName ? [...facts, { name: 'brand', value: brandName }] : facts;
}
