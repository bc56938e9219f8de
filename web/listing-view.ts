/**
 * Rendering a listing (src/model/listing.ts) into the demo page: attributes with confidence bars,
 * the price with its interval, the text with its grounded attribute mentions marked, the grounding
 * summary and the timings. Plain DOM; every string goes in as text, never as HTML.
 */
import { OTHER } from '../src/data/labels.ts';
import type { CatalogSchema } from '../src/model/bundle.ts';
import type { AttributePrediction, GroundingMention, Listing, PricePrediction } from '../src/model/listing.ts';
import { attributeLabel } from '../src/model/prompt.ts';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, ...children: (string | Node)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

const percent = (p: number) => `${Math.round(p * 100)}%`;

/** Whether an attribute reaches the prompt the text is written from (src/model/listing-model.ts), and why. */
function attributeKind(p: AttributePrediction, threshold: number): { kind: 'fact' | 'prompted' | 'uncertain'; note: string } {
  if (p.fact) return { kind: 'fact', note: 'your fact' };
  if (p.value === OTHER) return { kind: 'uncertain', note: `"${OTHER}" (none of the catalog's classes): left out of the text` };
  if (p.confidence < threshold) return { kind: 'uncertain', note: `below ${percent(threshold)}: left out of the text` };
  return { kind: 'prompted', note: 'written into the text' };
}

/** One row per attribute, in the catalog's head order, with a bar for the confidence. */
export function renderAttributes(list: HTMLElement, attributes: Listing['attributes'], schema: CatalogSchema, threshold: number): void {
  const names = [...schema.head.attributes.map((a) => a.name), ...Object.keys(attributes).filter((n) => !schema.head.attributes.some((a) => a.name === n))];
  list.replaceChildren(
    ...names
      .filter((name) => attributes[name])
      .map((name) => {
        const p = attributes[name];
        const fill = el('span', 'fill');
        fill.style.width = percent(p.confidence);
        const bar = el('span', 'confidence', fill);
        bar.setAttribute('role', 'meter');
        bar.setAttribute('aria-valuemin', '0');
        bar.setAttribute('aria-valuemax', '1');
        bar.setAttribute('aria-valuenow', String(p.confidence));
        bar.setAttribute('aria-label', `${attributeLabel(name)} confidence`);
        const li = el('li', '', el('span', 'attr-name', attributeLabel(name)), el('span', 'attr-value', p.value), el('span', 'attr-pct', p.fact ? 'fact' : percent(p.confidence)), bar);
        const { kind, note } = attributeKind(p, threshold);
        li.dataset.attribute = name;
        li.dataset.kind = kind;
        li.title = note;
        return li;
      }),
  );
}

function money(value: number, currency: string | null): string {
  if (currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 2 }).format(value);
    } catch {
      // not an ISO 4217 code: write the catalog's currency as it is
    }
  }
  const amount = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(value);
  return currency ? `${currency} ${amount}` : amount;
}

/** "₹1,321.44", then the interval between the configured quantiles. */
export function renderPrice(target: HTMLElement, price: PricePrediction, quantiles: readonly [number, number]): void {
  const [lo, hi] = quantiles.map((q) => `${Math.round(q * 100)}th`);
  target.replaceChildren(
    el('strong', '', money(price.value, price.currency)),
    el('span', 'muted', ` likely between ${money(price.low, price.currency)} and ${money(price.high, price.currency)} (${lo}–${hi} percentile)${price.currency ? '' : '; the catalog has no single currency'}`),
  );
}

/**
 * The text with each grounding mention of this field marked. Mentions come in reading order; each
 * is looked up after the previous one, so repeated words are marked where they occur.
 */
export function renderMarkedText(target: HTMLElement, text: string, mentions: readonly GroundingMention[]): void {
  const lower = text.toLowerCase();
  const ranges: { start: number; end: number; mention: GroundingMention }[] = [];
  let cursor = 0;
  for (const mention of mentions) {
    const needle = mention.text.toLowerCase();
    let start = lower.indexOf(needle, cursor);
    if (start === -1) start = lower.indexOf(needle);
    if (start === -1 || ranges.some((r) => start < r.end && start + needle.length > r.start)) continue;
    ranges.push({ start, end: start + needle.length, mention });
    cursor = start + needle.length;
  }
  ranges.sort((a, b) => a.start - b.start);
  const nodes: (string | Node)[] = [];
  let at = 0;
  for (const { start, end, mention } of ranges) {
    nodes.push(text.slice(at, start));
    const mark = el('mark', 'mention', text.slice(start, end));
    mark.dataset.agrees = String(mention.agrees);
    mark.dataset.attribute = mention.attribute;
    mark.title = `${attributeLabel(mention.attribute)}: ${mention.value}${mention.prompted ? ` (written from: ${mention.prompted})` : ''}`;
    nodes.push(mark);
    at = end;
  }
  nodes.push(text.slice(at));
  target.replaceChildren(...nodes);
}

/** One line per distinct mention (attribute, words, value), with how often it occurs. */
export function renderGrounding(list: HTMLElement, mentions: readonly GroundingMention[]): void {
  const groups = new Map<string, { mention: GroundingMention; count: number }>();
  for (const m of mentions) {
    const key = JSON.stringify([m.attribute, m.text.toLowerCase(), m.value, m.agrees]);
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { mention: m, count: 1 });
  }
  if (groups.size === 0) {
    list.replaceChildren(el('li', 'muted', 'No attribute of the prompt is mentioned in the text.'));
    return;
  }
  list.replaceChildren(
    ...[...groups.values()].map(({ mention: m, count }) => {
      const li = el(
        'li',
        '',
        el('mark', 'mention', m.text),
        ` ${attributeLabel(m.attribute)} = ${m.value}: `,
        el('span', m.agrees ? 'ok-text' : 'error-text', m.agrees ? 'agrees with the facts' : `contradicts ${m.prompted ?? 'the facts'}`),
        count > 1 ? el('span', 'muted', ` (${count}×)`) : '',
      );
      li.querySelector('mark')!.dataset.agrees = String(m.agrees);
      return li;
    }),
  );
}

/** Stage times, decoding speed and the adapter that ran them. */
export function renderTimings(list: HTMLElement, timings: Record<string, number>, adapter: string): void {
  const ms = (name: string) => `${(timings[name] ?? 0).toFixed(1)} ms`;
  const tokens = (timings.decode_steps ?? 0) + 1; // the prefill chooses the first token
  const perSecond = timings.decode_ms_per_token > 0 ? `${(1000 / timings.decode_ms_per_token).toFixed(1)} tokens/s` : '–';
  const total = ['preprocess_ms', 'backbone_ms', 'heads_ms', 'prefill_ms', 'decode_ms'].reduce((s, k) => s + (timings[k] ?? 0), 0);
  const rows: [string, string][] = [
    ['backbone', ms('backbone_ms')],
    ['heads', ms('heads_ms')],
    ['prefill', ms('prefill_ms')],
    ['decode', `${ms('decode_ms')} for ${tokens} tokens`],
    ['speed', perSecond],
    ['total', `${total.toFixed(1)} ms`],
    ['adapter', adapter],
  ];
  list.replaceChildren(...rows.flatMap(([name, value]) => [el('dt', '', name), el('dd', '', value)]));
  list.querySelectorAll('dd')[4].dataset.timing = 'tokens-per-second';
}
