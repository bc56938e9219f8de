/** Small generated inputs for the batch tests: PNG folders with known pixel colours, catalogs, temp dirs. */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll } from 'vitest';
import type { ShopifyOptions } from '../../src/node/batch/csv.ts';
import { readBatchInput } from '../../src/node/batch/inputs.ts';
import { runBatchJob, type BatchSummary } from '../../src/node/batch/job.ts';
import type { ListingEngine } from '../../src/node/batch/listing-engine.ts';
import { openOutput } from '../../src/node/batch/output.ts';

/** A temporary directory removed after the test file. */
export function useTempDir(prefix: string): () => string {
  const dir = mkdtempSync(join(tmpdir(), `atelier-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return () => {
    const sub = join(dir, String(n++));
    mkdirSync(sub);
    return sub;
  };
}

export function pngBytes(width: number, height: number, rgb: [number, number, number]): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([...rgb, 255], i * 4);
  return PNG.sync.write(png);
}

/** The colour fixture i gets: distinct for every i below 4096, so listings identify their image. */
export function fixtureColour(i: number): [number, number, number] {
  return [(i * 37) % 256, (i * 11) % 256, (Math.floor(i / 16) * 16) % 256];
}

/** Writes `count` PNGs named img0000.png ... under `dir` (nested in sub-folders when `nested`). */
export function writePngFolder(dir: string, count: number, nested = false): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = nested && i % 3 === 0 ? `sub${i % 2}/img${String(i).padStart(4, '0')}.png` : `img${String(i).padStart(4, '0')}.png`;
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), pngBytes(3 + (i % 4), 2 + (i % 3), fixtureColour(i)));
    names.push(name);
  }
  return names.sort();
}

/** A catalog folder: listings.jsonl lines plus their PNGs under images/. */
export function writeCatalog(dir: string, ids: string[]): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const lines = ids.map((id, i) => {
    writeFileSync(join(dir, 'images', `${id}.png`), pngBytes(4, 6, fixtureColour(i)));
    return JSON.stringify({ id, image: `images/${id}.png`, title: null, price: null });
  });
  writeFileSync(join(dir, 'listings.jsonl'), `${lines.join('\n')}\n`);
}

/** Every line of a JSONL file, parsed; fails the test on a line that is not complete JSON. */
export function readJsonlStrict<T = Record<string, unknown>>(path: string): T[] {
  const text = readFileSync(path, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${path} does not end with a newline`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new Error(`${path}:${i + 1} is not valid JSON: ${line.slice(0, 80)}`);
      }
    });
}

/** Runs the job the way the command does (enumerate, open output, run, close) with a given engine. */
export async function runJob(
  input: string,
  out: string,
  options: { engine: ListingEngine; resume?: boolean; batchSize?: number; signal?: AbortSignal; shopify?: ShopifyOptions },
): Promise<BatchSummary> {
  const { items } = await readBatchInput(input);
  const output = openOutput(out, { resume: options.resume ?? false, shopify: options.shopify });
  try {
    return await runBatchJob({ items, engine: options.engine, output, batchSize: options.batchSize ?? 4, signal: options.signal });
  } finally {
    output.close();
  }
}

/** Ids with how many times each occurs. */
export function countIds(records: { id: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  return counts;
}

const BATCH_CHILD = join(import.meta.dirname, 'batch-child.ts');

/** The real `atelier batch` command with the fake engine (batch-child.ts) as a child process; `env` tunes the fake engine. */
export function startBatchChild(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', BATCH_CHILD, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // `--import tsx` resolves from the working directory: the project root, wherever vitest was started.
    cwd: join(import.meta.dirname, '..', '..'),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited };
}

/** Complete (newline-terminated) lines in a file so far; 0 when it does not exist yet. */
export function completeLines(path: string): number {
  try {
    if (statSync(path).size === 0) return 0;
  } catch {
    return 0;
  }
  return readFileSync(path, 'utf8').split('\n').length - 1;
}
