/**
 * The recorded sweep that chooses the trainer's default loss weights and class balancing (issue 5):
 * short multitask runs on both catalogs that differ only in `--loss-weights` (and `--class-balance`),
 * each scored on its validation items, written as a Markdown table.
 *
 *   npx tsx scripts/sweep-loss-weights.ts [--steps 120] [--val-items 300] [--out docs/sweep.md]
 *        [--runs runs/sweep] [--setting "attr=1,price=0.5,text=1" --setting "attr=1,price=1,text=1 0.5" ...]
 *
 * A setting is the loss weights, optionally followed by a class-balance power. Every run: same data,
 * seed, batch size, learning rate and step count (`atelier train --steps`), so only those differ.
 * Score: the mean over catalogs of attribute mean macro-F1 plus price R² (the two heads' headline
 * metrics), with the decoder's validation cross-entropy beside it;
 * the chosen setting has the best score among those whose text cross-entropy is within 3% of the
 * best one (the text must not pay for the heads); the current default (the first setting) stays
 * unless that best beats it by CLEAR_MARGIN. A run folder that already finished is read, not
 * retrained, so an interrupted sweep continues where it stopped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/node/gpu.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function options(name: string, fallback: string[]): string[] {
  const out = process.argv.flatMap((a, i) => (a === `--${name}` && i + 1 < process.argv.length ? [process.argv[i + 1]] : []));
  return out.length ? out : fallback;
}

const steps = option('steps', '120');
const valItems = option('val-items', '300');
const runsDir = option('runs', join(PROJECT_ROOT, 'runs', 'sweep'));
const out = option('out', join(PROJECT_ROOT, 'docs', 'sweep.md'));
const settings = options('setting', ['attr=1,price=0.5,text=1', 'attr=1,price=1,text=1', 'attr=1,price=0.25,text=1', 'attr=1,price=0.5,text=0.5', 'attr=1,price=0.5,text=1 0.5']);
const data = ['../shared/data/myntra', '../shared/data/hm'].map((d) => join(PROJECT_ROOT, d));
/** Score difference below which a setting does not replace the default (noise of 120-step runs). */
const CLEAR_MARGIN = 0.01;

interface CatalogScore {
  catalog: string;
  macroF1: number;
  r2: number;
  textCe: number;
}
interface Row {
  setting: string;
  catalogs: CatalogScore[];
  score: number;
  textCe: number;
  trainSeconds: number;
}

/** The last validation and end records of a run's train-log.jsonl, or null if it has not finished. */
function finished(dir: string): { catalogs: CatalogScore[]; trainSeconds: number } | null {
  const log = join(dir, 'train-log.jsonl');
  if (!existsSync(log)) return null;
  const records: { type: string; [k: string]: any }[] = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).reverse();
  const end = records.find((r) => r.type === 'end');
  const validation = records.find((r) => r.type === 'validation');
  if (!end || !validation) return null;
  const catalogs: CatalogScore[] = validation.metrics.map((m: { catalog: string; mean_macro_f1: number; price: { r2: number }; text: { ce: number } }) => ({
    catalog: m.catalog,
    macroF1: m.mean_macro_f1,
    r2: m.price.r2,
    textCe: m.text.ce,
  }));
  return { catalogs, trainSeconds: end.train_seconds as number };
}

const rows: Row[] = [];
mkdirSync(runsDir, { recursive: true });
for (const setting of settings) {
  const [weights, balance] = setting.split(' ');
  const dir = join(runsDir, weights.replace(/[=,]/g, '_') + (balance ? `_balance_${balance}` : ''));
  let result = finished(dir);
  if (!result) {
    const args = ['bin/atelier.mjs', 'train', ...data.flatMap((d) => ['--data', d]), '--config', 'tiny', '--out', dir, '--steps', steps, '--val-items', valItems, '--loss-weights', weights, '--lr', '2e-3', '--seed', '1', ...(balance ? ['--class-balance', balance] : [])];
    console.log(`> node ${args.join(' ')}`);
    const run = spawnSync('node', args, { cwd: PROJECT_ROOT, stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`training with ${setting} failed (exit ${run.status})`);
    result = finished(dir);
    if (!result) throw new Error(`${dir}: the run ended without a final validation`);
  }
  const { catalogs, trainSeconds } = result;
  const mean = (f: (c: CatalogScore) => number) => catalogs.reduce((s, c) => s + f(c), 0) / catalogs.length;
  rows.push({ setting, catalogs, score: mean((c) => c.macroF1 + c.r2), textCe: mean((c) => c.textCe), trainSeconds });
}

const bestText = Math.min(...rows.map((r) => r.textCe));
const eligible = rows.filter((r) => r.textCe <= bestText * 1.03);
const best = eligible.reduce((a, b) => (b.score > a.score ? b : a));
// The current default (the first setting) stays unless another beats it clearly: short runs differ
// by noise too, and the committed weights were trained with the default.
const incumbent = rows[0];
const chosen = eligible.includes(incumbent) && best.score - incumbent.score < CLEAR_MARGIN ? incumbent : best;
const catalogNames = rows[0].catalogs.map((c) => c.catalog);
const label = (r: Row) => r.setting.replace(' ', ' (balance ') + (r.setting.includes(' ') ? ')' : '');
const f = (x: number) => x.toFixed(3);
const lines = [
  '# Loss-weight sweep (issue 5)',
  '',
  'Chooses the trainer\'s default `--loss-weights` and `--class-balance`. Produced by:',
  '',
  '```',
  `npx tsx scripts/sweep-loss-weights.ts --steps ${steps} --val-items ${valItems}`,
  '```',
  '',
  `- Date: ${new Date().toISOString()}; machine: 2 CPU cores, Mesa lavapipe (no GPU).`,
  `- Each run: \`atelier train\` on both shared catalogs, config tiny, ${steps} steps of 32 images, lr 2e-3, seed 1; only \`--loss-weights\` (and \`--class-balance\`) differ.`,
  `- Scored on the first ${valItems} items of each catalog's validation split (our split, not a test set).`,
  `- Score = mean over catalogs of (attribute mean macro-F1 + price R²); chosen: the best score among the runs whose decoder validation cross-entropy is within 3% of the lowest, unless the current default (first row) is within ${CLEAR_MARGIN} of it (then the default stays).`,
  '- Short runs rank settings early in training; they do not predict the final values of a long run.',
  '',
  `| loss weights (class balance) | ${catalogNames.map((c) => `${c} macro-F1 | ${c} R² | ${c} text CE`).join(' | ')} | score | mean text CE | train s |`,
  `|---|${catalogNames.map(() => '---|---|---').join('|')}|---|---|---|`,
  ...rows.map((r) => `| ${r === chosen ? `**${label(r)}** (chosen)` : label(r)} | ${r.catalogs.map((c) => `${f(c.macroF1)} | ${f(c.r2)} | ${f(c.textCe)}`).join(' | ')} | ${f(r.score)} | ${f(r.textCe)} | ${r.trainSeconds.toFixed(0)} |`),
  '',
];
writeFileSync(out, lines.join('\n'));
console.log(lines.join('\n'));
console.log(`chosen: ${chosen.setting} (written to ${out})`);
