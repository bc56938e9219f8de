/**
 * `atelier list <photo> [photo...]` (also `npm start -- photo.jpg`): the main job. Decodes the
 * photos, batches them through the model and prints each listing, readable or as JSON.
 */
import { resolve } from 'node:path';
import type { Listing } from '../model/listing.ts';
import type { PromptFact } from '../model/prompt.ts';
import { AUTO_CATALOG } from '../model/listing-model.ts';
import { createListingEngine } from '../node/engine.ts';
import { decodeImageFile } from '../node/image.ts';
import { groundingOption, parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { warmWithProgress } from './warmup.ts';

const SPEC: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print JSON (one object, or an array for several photos)' },
  weights: { type: 'string', description: 'weights folder (default: the committed weights/)' },
  catalog: { type: 'string', description: "which catalog's attribute schema to use: auto (default: the catalog chooser picks the best-fitting one per photo) or a catalog of the weights (hm, myntra: see the README)" },
  brand: { type: 'string', description: 'the brand, given as a fact' },
  fact: { type: 'list', description: 'a fact name=value that overrides the prediction (e.g. --fact base_colour=Navy Blue)' },
  grounding: { type: 'string', description: "prompted (default: the text cannot contradict a prompted attribute), strict (nor name an attribute that was not prompted) or off" },
  flat: { type: 'boolean', description: 'do not put predicted attributes in the prompt (ablation)' },
  'max-tokens': { type: 'string', description: 'most tokens to generate (default 96)' },
  temperature: { type: 'string', description: 'sampling temperature; 0 (default) is greedy' },
  'top-k': { type: 'string', description: 'sample among the k most likely tokens' },
  'top-p': { type: 'string', description: 'sample from the smallest set with this much probability' },
  seed: { type: 'string', description: 'sampling seed (default 0)' },
  beams: { type: 'string', description: 'beam search with this many beams (default 1: greedy)' },
  precision: { type: 'string', description: 'matmul weights on the GPU: auto (default: f16 where the stored weights are f16 and the adapter has shader-f16), f32 or f16' },
  help: { type: 'boolean', description: 'show this help' },
};

function precisionOption(v: unknown): 'auto' | 'f32' | 'f16' {
  if (v === undefined || v === 'auto' || v === 'f32' || v === 'f16') return v ?? 'auto';
  throw new UsageError(`--precision must be auto, f32 or f16, got '${String(v)}'`);
}

function numberOption(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got '${v}'`);
  return n;
}

function parseFacts(list: string[], brand: string | undefined): PromptFact[] {
  const facts = list.map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`--fact needs name=value, got '${f}'`);
    return { name: f.slice(0, eq).trim(), value: f.slice(eq + 1).trim() };
  });
  if (brand) facts.push({ name: 'brand', value: brand });
  return facts;
}

/** "hm (chosen automatically, 98% confident; also available: myntra)". */
export function describeCatalog(l: Listing): string {
  const c = l.catalog_choice;
  if (!c) return l.catalog;
  const others = c.available.filter((n) => n !== c.used);
  const also = others.length ? `; also available: ${others.join(', ')}` : '';
  const how = c.chosen_by === 'auto' ? `chosen automatically, ${((c.confidence ?? 0) * 100).toFixed(0)}% confident` : c.chosen_by === 'flag' ? 'as asked (--catalog)' : "the weights' first catalog";
  return `${c.used} (${how}${also})`;
}

function formatListing(path: string, l: Listing): string {
  const lines = [`== ${path}`, `Catalog:     ${describeCatalog(l)}`, `Title:       ${l.title}`, `Description: ${l.description}`];
  const cur = l.price.currency ? ` ${l.price.currency}` : '';
  lines.push(`Price:       ${l.price.value.toFixed(2)}${cur}  (80% interval ${l.price.low.toFixed(2)} – ${l.price.high.toFixed(2)})`);
  lines.push('Attributes:');
  for (const [name, a] of Object.entries(l.attributes)) {
    lines.push(`  ${name.padEnd(24)} ${a.value.padEnd(24)} ${a.fact ? 'fact' : `${(a.confidence * 100).toFixed(0)}%`}`);
  }
  if (l.grounding.length) {
    lines.push('Grounding:   ' + l.grounding.map((g) => `"${g.text}" (${g.attribute}) ${g.agrees ? 'agrees' : `CONTRADICTS ${g.prompted}`}`).join('; '));
  }
  const t = l.timings_ms;
  lines.push(`Timings:     backbone ${t.backbone_ms?.toFixed(1)} ms, heads ${t.heads_ms?.toFixed(1)} ms, prefill ${t.prefill_ms?.toFixed(1)} ms, decode ${t.decode_ms?.toFixed(1)} ms (${t.decode_steps} steps)`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { positionals, options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('list', '<photo> [photo...]', SPEC));
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one photo (JPEG or PNG)');
  const images = [];
  for (const p of positionals) {
    try {
      images.push(await decodeImageFile(resolve(p)));
    } catch (e) {
      throw new Error(`cannot read ${p}: ${(e as Error).message}`);
    }
  }
  const catalog = (options.catalog as string | undefined) ?? AUTO_CATALOG;
  const engine = await createListingEngine({ weights: options.weights as string | undefined, catalog, batchSize: images.length, weightsDtype: precisionOption(options.precision) });
  try {
    // A cold shader cache: compile every kernel ahead, with progress, instead of a silent wait.
    const batches = [engine.maxBatch, images.length % engine.maxBatch].filter((b) => b > 0);
    await warmWithProgress(engine.model, { batches });
    const listings = await engine.list(images, {
      facts: parseFacts(options.fact as string[], options.brand as string | undefined),
      grounding: groundingOption(options.grounding),
      prompt: options.flat ? 'flat' : 'hierarchical',
      maxNewTokens: numberOption(options['max-tokens'], 'max-tokens'),
      temperature: numberOption(options.temperature, 'temperature'),
      topK: numberOption(options['top-k'], 'top-k'),
      topP: numberOption(options['top-p'], 'top-p'),
      seed: numberOption(options.seed, 'seed'),
      beams: numberOption(options.beams, 'beams'),
    });
    const note = listings.find((l) => l.catalog_choice?.note)?.catalog_choice?.note;
    if (note) console.error(`atelier list: --catalog auto: ${note}. Using '${listings[0].catalog}'.`);
    if (options.json) console.log(JSON.stringify(listings.length === 1 ? listings[0] : listings, null, 2));
    else console.log(listings.map((l, i) => formatListing(positionals[i], l)).join('\n\n'));
    return 0;
  } finally {
    engine.dispose();
  }
}
