/**
 * `atelier merge a.jsonl b.jsonl ... --out all.jsonl [--csv all.csv]`: joins shard outputs of
 * `atelier batch`, reports ids found more than once, and exports a Shopify CSV from JSONL.
 */
import { mergeOutputs } from '../node/batch/merge.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import { SHOPIFY_OPTION_SPEC, shopifyOptions } from './batch.ts';

const SPEC: Record<string, OptionSpec> = {
  out: { type: 'string', description: 'merged JSONL output' },
  csv: { type: 'string', description: 'Shopify product CSV of the listed items (failures in <name>.errors.jsonl)' },
  dedupe: { type: 'boolean', description: 'when an id occurs more than once, keep its first occurrence (default: report and write nothing)' },
  ...SHOPIFY_OPTION_SPEC,
  json: { type: 'boolean', description: 'print the report as JSON on stdout' },
  help: { type: 'boolean', description: 'show this help' },
};

const SYNOPSIS = '<a.jsonl> [b.jsonl ...] [--out all.jsonl] [--csv all.csv] [options]';
/** Duplicate ids printed in the text report; --json has them all. */
const SHOWN_DUPLICATES = 10;

export async function run(argv: string[]): Promise<number> {
  const { positionals, options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('merge', SYNOPSIS, SPEC));
    return 0;
  }
  if (positionals.length === 0) throw new UsageError(`no input files\n${usage('merge', SYNOPSIS, SPEC)}`);
  if (!options.out && !options.csv) throw new UsageError('nothing to write: give --out and/or --csv');
  const report = mergeOutputs(positionals, {
    out: options.out as string | undefined,
    csv: options.csv as string | undefined,
    dedupe: options.dedupe === true,
    shopify: shopifyOptions(options),
  });
  const blocked = report.duplicates.length > 0 && options.dedupe !== true;
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
    return blocked ? 1 : 0;
  }
  for (const input of report.inputs) {
    const tail = input.droppedTail > 0 ? ' — its last line is cut short (an unfinished shard? resume it); ignored' : '';
    console.error(`${input.path}: ${input.records} records${tail}`);
  }
  if (report.duplicates.length > 0) {
    console.error(`${report.duplicates.length} ids occur more than once:`);
    for (const d of report.duplicates.slice(0, SHOWN_DUPLICATES)) console.error(`  ${d.id}: ${d.places.join(', ')}`);
    if (report.duplicates.length > SHOWN_DUPLICATES) console.error(`  ... and ${report.duplicates.length - SHOWN_DUPLICATES} more (--json lists all)`);
  }
  console.error(`${report.unique} distinct items: ${report.listed} listed, ${report.failed} failed`);
  if (blocked) {
    console.error('nothing written: rerun with --dedupe to keep the first occurrence of each id');
    return 1;
  }
  console.error(`wrote ${report.written.join(', ')}`);
  return 0;
}
