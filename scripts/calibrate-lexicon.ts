/**
 * Calibrates the attribute lexicon on the catalogs' own human-written text: the contradiction
 * check applied to each item's true title and description against its true attributes (the
 * `human_baseline` of the evaluation). Prints, per catalog, the share of listings flagged, per
 * attribute the mentions checked and the listings flagged, and examples of flagged items.
 *
 *   npx tsx scripts/calibrate-lexicon.ts [--data ../shared/data] [--catalog hm,myntra]
 *        [--examples 5] [--attribute base_colour] [--seed 1]
 *
 * Reads <data>/<catalog>/listings.jsonl with the catalog parser of src/data (attribute values such
 * as 'Unknown' and 'NA' are missing); images are not read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseListings, seededRandom, type CatalogItem } from '../src/data/index.ts';
import { checkListing, type CheckedMention, lexiconFromItems } from '../src/model/lexicon.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function readListings(path: string): CatalogItem[] {
  const { items, problems } = parseListings(readFileSync(path, 'utf8'));
  if (problems.length > 0) console.warn(`${path}: ${problems.length} rows skipped (first: line ${problems[0].line}, ${problems[0].reason})`);
  return items;
}

/** The items in a reproducible random order. */
function shuffled<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(2) + '%' : '-');

function calibrate(catalog: string, listings: CatalogItem[], examples: number, onlyAttribute: string | undefined, seed: number): void {
  const lexicon = lexiconFromItems(catalog, listings);

  let flagged = 0, withMention = 0;
  const perAttr = new Map<string, { checked: number; listingsChecked: number; agree: number; contradict: number; excused: number; flagged: number }>();
  const flaggedExamples = new Map<string, { l: CatalogItem; bad: CheckedMention[] }[]>();
  const confusions = new Map<string, Map<string, number>>();
  for (const l of listings) {
    const check = checkListing(lexicon, { title: l.title, description: l.description ?? '' }, l.attributes, l.brand ? [l.brand] : []);
    if (check.mentions.length > 0) withMention++;
    if (check.contradicted.length > 0) flagged++;
    const seen = new Set<string>();
    for (const m of check.mentions) {
      const s = perAttr.get(m.attribute) ?? { checked: 0, listingsChecked: 0, agree: 0, contradict: 0, excused: 0, flagged: 0 };
      perAttr.set(m.attribute, s);
      s.checked++;
      if (m.verdict === 'agrees') s.agree++;
      else if (m.verdict === 'contradicts') s.contradict++;
      else s.excused++;
      if (!seen.has(m.attribute)) s.listingsChecked++;
      seen.add(m.attribute);
    }
    for (const a of check.contradicted) {
      perAttr.get(a)!.flagged++;
      const list = flaggedExamples.get(a) ?? [];
      const bad = check.mentions.filter((m) => m.attribute === a && m.verdict === 'contradicts');
      list.push({ l, bad });
      flaggedExamples.set(a, list);
      const pairs = confusions.get(a) ?? new Map<string, number>();
      confusions.set(a, pairs);
      for (const key of new Set(bad.map((m) => `${m.reference} ← ${m.mentioned}`))) pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
  }

  console.log(`\n=== ${catalog}: ${listings.length} listings`);
  console.log(`human_baseline (listings with a contradiction): ${flagged} = ${pct(flagged, listings.length)}`);
  console.log(`listings with at least one checked mention: ${withMention} = ${pct(withMention, listings.length)}`);
  console.log('attribute            kind     values(checked/all)  listings-with-mention  mentions  agree  excused  contradict  listings-flagged');
  for (const attr of lexicon.attributes.values()) {
    const { attribute, kind } = attr;
    const s = perAttr.get(attribute) ?? { checked: 0, listingsChecked: 0, agree: 0, contradict: 0, excused: 0, flagged: 0 };
    const nValues = `${attr.valueFamilies.size}/${attr.valueFamilies.size + attr.unchecked.size}`;
    console.log(
      `${attribute.padEnd(20)} ${kind.padEnd(8)} ${nValues.padStart(19)}  ${String(s.listingsChecked).padStart(21)}  ${String(s.checked).padStart(8)}  ${String(s.agree).padStart(5)}  ${String(s.excused).padStart(7)}  ${String(s.contradict).padStart(10)}  ${String(s.flagged).padStart(7)} = ${pct(s.flagged, listings.length)}`,
    );
    if (attr.unchecked.size > 0) console.log(`    unchecked: ${[...attr.unchecked].map(([v, why]) => `${v} (${why})`).join('; ')}`);
  }
  for (const [attribute, list] of flaggedExamples) {
    if (onlyAttribute && attribute !== onlyAttribute) continue;
    console.log(`\n-- ${attribute}: ${examples} of ${list.length} flagged`);
    const top = [...confusions.get(attribute)!].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(`  most frequent (true ← mentioned): ${top.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
    for (const { l, bad } of shuffled(list, seed).slice(0, examples)) {
      const said = bad.map((m) => `"${m.text}"→${m.mentioned} (${m.segment})`).join(', ');
      console.log(`  [${l.id}] true ${l.attributes[attribute]}; said ${said}`);
      console.log(`      title: ${l.title}`);
      const d = l.description ?? '';
      const at = bad.find((m) => m.segment === 'description');
      if (at) console.log(`      desc: …${d.slice(Math.max(0, at.start - 80), at.end + 60)}…`);
    }
  }
}

const dataDir = option('data', join(import.meta.dirname, '..', '..', 'shared', 'data'));
const examples = Number(option('examples', '5'));
const attribute = option('attribute', '') || undefined;
const seed = Number(option('seed', '1'));
for (const catalog of option('catalog', 'myntra,hm').split(',')) {
  calibrate(catalog, readListings(join(dataDir, catalog, 'listings.jsonl')), examples, attribute, seed);
}
