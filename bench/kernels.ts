/**
 * Kernel benchmarks: runs every case exported (`cases: BenchCase[]`) by every module in
 * bench/kernels/, our kernels and, where a case has one, the same computation through
 * @tensorflow/tfjs-backend-webgpu on the same adapter in the same process.
 *
 *   npm run bench:kernels -- [--only NAME[,NAME...]] [--runs N] [--min-ms MS] [--no-tfjs] [--json]
 *                            [--disable subgroups,f16]
 *
 *   --only    keep cases whose kernel name or module file contains one of the names
 *   --runs    timed samples per case and side (default 7); the median is reported
 *   --min-ms  a sample batches enough runs to last about this long (default 40)
 *   --no-tfjs skip the tfjs-webgpu peer
 *   --json    one JSON object per measurement on stdout (everything else goes to stderr)
 *   --disable run our kernels without these adapter features (their fallback paths)
 *
 * How a case is measured, the same way for both sides:
 *  1. Warm-up: one run (compiles pipelines), then one run timed alone.
 *  2. reps = ceil(min-ms / that time), at most 64: a sample does `reps` runs and waits once, so
 *     fixed costs (submit, wake-up after the wait) are spread the way a model's many dispatches
 *     spread them, while a kernel that alone takes min-ms or more is timed one run at a time.
 *     Ours: the case's record(reps) puts the runs in one recorder (one command buffer, one compute
 *     pass), then ctx.settle(expected) waits the way the engine does: it sleeps for 85% of the
 *     expected time (the previous sample's), then awaits Dawn, whose polling would otherwise take a
 *     core from lavapipe's threads.
 *     tfjs: `reps` calls of the case's run() are started together and awaited together; each queues
 *     its op and waits for a 1-element slice of the output (bench/tfjs-peer.ts), so tfjs batches the
 *     queued dispatches the way it does for a model, and the wait includes its readback of 4 bytes.
 *     tfjs waits with data(), which polls Dawn: that is how it runs here.
 *  3. One untimed sample at that reps, then `runs` timed samples. The result is the median over
 *     samples of (wall time of the sample / reps), in ms. Our output is then verified against the
 *     case's float64 CPU reference.
 * GFLOP/s = the case's flops / median; GB/s = its bytes / median. speedup_vs_tfjs = tfjs_ms / ms.
 * The machine may be shared: compare medians of several invocations, not single numbers.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createNodeContext, nodeGpu } from '../src/node/gpu.ts';
import type { GpuContext } from '../src/runtime/gpu.ts';
import { median, type BenchCase, type BenchResult } from './harness.ts';

type Tf = typeof import('@tensorflow/tfjs-core');

const MAX_REPS = 64;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    runs: { type: 'string', default: '7' },
    'min-ms': { type: 'string', default: '40' },
    'no-tfjs': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    disable: { type: 'string', default: '' },
  },
});
const runs = Number(args.runs);
const minMs = Number(args['min-ms']);
if (!(Number.isInteger(runs) && runs > 0) || !(minMs > 0)) throw new Error(`--runs must be a positive integer and --min-ms positive, got ${args.runs} and ${args['min-ms']}`);
const only = args.only?.split(',').filter(Boolean) ?? [];
const features = ['subgroups', 'f16', 'timestamps'] as const;
const disabled = args.disable.split(',').filter(Boolean);
for (const f of disabled) if (!(features as readonly string[]).includes(f)) throw new Error(`--disable takes ${features.join(', ')}; got ${f}`);

// In --json mode stdout carries only the JSON lines: library chatter (tfjs prints notices with
// console.log) goes to stderr.
if (args.json) console.log = console.info = console.warn = console.error;

/**
 * Median ms per run over `runs` timed samples of `reps` runs each, after one untimed sample.
 * `sample(reps, expectedMs)` runs and waits; expectedMs is the previous sample's time (the first
 * gets half of `firstGuessMs`, an upper bound, so that its wait cannot oversleep).
 */
async function timeSamples(reps: number, firstGuessMs: number, sample: (reps: number, expectedMs: number) => Promise<void>): Promise<number> {
  let expected = (firstGuessMs * reps) / 2;
  const perRun: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    await sample(reps, expected);
    expected = performance.now() - t0;
    if (i > 0) perRun.push(expected / reps);
  }
  return median(perRun);
}

async function timeOnce(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

const repsFor = (oneRunMs: number) => Math.max(1, Math.min(MAX_REPS, Math.ceil(minMs / Math.max(oneRunMs, 1e-3))));

async function measureOurs(ctx: GpuContext, c: BenchCase): Promise<{ ms: number; verified: boolean; reps: number }> {
  const inst = await c.setup(ctx);
  try {
    // The first run compiles pipelines. It is awaited on the queue directly: ctx.settle() would
    // learn seconds of compilation as the recorder label's expected time and oversleep later.
    inst.record(1);
    await ctx.device.queue.onSubmittedWorkDone();
    // Timed waits go through ctx.settle(expectedMs), as the engine waits: sleep for most of the
    // expected time, then await Dawn (whose polling would otherwise take a core from lavapipe).
    const sample = async (reps: number, expectedMs: number) => {
      inst.record(reps);
      await ctx.settle(expectedMs);
    };
    // No sleep: an upper bound on one run (the polling competes with the GPU threads).
    const oneRunMs = await timeOnce(() => sample(1, 0));
    const reps = repsFor(oneRunMs);
    const ms = await timeSamples(reps, oneRunMs, sample);
    return { ms, verified: await inst.verify(), reps };
  } finally {
    inst.dispose();
  }
}

async function measurePeer(tf: Tf, c: BenchCase): Promise<number> {
  const peer = await c.tfjs!(tf);
  try {
    const sample = async (reps: number) => {
      await Promise.all(Array.from({ length: reps }, () => peer.run()));
    };
    await sample(1);
    const oneRunMs = await timeOnce(() => sample(1));
    return await timeSamples(repsFor(oneRunMs), oneRunMs, sample);
  } finally {
    peer.dispose();
  }
}

/** tfjs-core with the WebGPU backend on Dawn's adapter (Node 20 has no navigator.gpu: give it ours). */
async function loadTfjs(): Promise<Tf | null> {
  const gpu = await nodeGpu();
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) g.navigator = { gpu };
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) return null;
  await tf.ready();
  return tf;
}

/** Releases tfjs's device too (its backend's dispose() keeps it; Dawn can crash at exit with live devices). */
function closeTfjs(tf: Tf): void {
  const backend = tf.backend() as unknown as { device?: GPUDevice };
  tf.removeBackend('webgpu');
  backend.device?.destroy();
}

async function loadCases(): Promise<{ file: string; cases: BenchCase[] }[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'kernels');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
  const modules: { file: string; cases: BenchCase[] }[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { cases?: BenchCase[] };
    if (!Array.isArray(mod.cases)) throw new Error(`bench/kernels/${file} does not export cases: BenchCase[]`);
    modules.push({ file, cases: mod.cases });
  }
  return modules;
}

function formatRow(r: BenchResult): string {
  const rate = r.gflops !== undefined ? `${r.gflops.toFixed(2)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(2)} GB/s` : '';
  const peer = r.tfjs_ms !== undefined ? `${r.tfjs_ms.toFixed(3).padStart(10)} ${`${r.speedup_vs_tfjs!.toFixed(2)}x`.padStart(8)}` : `${'-'.padStart(10)} ${'-'.padStart(8)}`;
  return `${r.kernel.padEnd(24)} ${r.shape.padEnd(20)} ${r.ms.toFixed(3).padStart(10)} ${rate.padStart(17)} ${(r.verified ? 'yes' : 'NO').padStart(8)} ${peer} ${String(r.reps).padStart(5)}${r.note ? `  ${r.note}` : ''}`;
}

async function main(): Promise<number> {
  const modules = await loadCases();
  const selected = modules.flatMap(({ file, cases }) => cases.filter((c) => only.length === 0 || only.some((o) => c.kernel.includes(o) || file.includes(o))));
  if (selected.length === 0) {
    console.error(`no benchmark case matches --only ${only.join(',')}`);
    return 1;
  }
  const ctx = await createNodeContext({ disable: Object.fromEntries(disabled.map((f) => [f, true])) });
  const tf = args['no-tfjs'] ? null : await loadTfjs();
  const info = `adapter: ${ctx.adapter.name}; subgroups ${ctx.features.subgroups}, f16 ${ctx.features.f16}; tfjs-webgpu ${tf ? 'on' : 'off'}; median of ${runs} samples`;
  const header = `${'kernel'.padEnd(24)} ${'shape'.padEnd(20)} ${'ms'.padStart(10)} ${'rate'.padStart(17)} ${'verified'.padStart(8)} ${'tfjs ms'.padStart(10)} ${'speedup'.padStart(8)} ${'reps'.padStart(5)}`;
  console.error(info);
  if (!args.json) console.log(header);
  let failures = 0;
  try {
    for (const c of selected) {
      try {
        const ours = await measureOurs(ctx, c);
        const r: BenchResult = { kernel: c.kernel, shape: c.shape, ms: ours.ms, verified: ours.verified };
        if (c.flops) r.gflops = c.flops / ours.ms / 1e6;
        if (c.bytes) r.gbps = c.bytes / ours.ms / 1e6;
        if (tf && c.tfjs) {
          r.tfjs_ms = await measurePeer(tf, c);
          r.speedup_vs_tfjs = r.tfjs_ms / r.ms;
        }
        r.reps = ours.reps;
        if (c.note) r.note = c.note;
        if (!r.verified) failures++;
        if (args.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else console.log(formatRow(r));
      } catch (e) {
        failures++;
        console.error(`${c.kernel} ${c.shape}: ${(e as Error).stack ?? e}`);
      }
    }
  } finally {
    ctx.destroy();
    if (tf) closeTfjs(tf);
  }
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main();
