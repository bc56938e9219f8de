/**
 * Training throughput on the local adapter (lavapipe here): `npm run bench:train [-- --json]
 * [--steps=N] [--mode=multitask|backbone|decoder] [--profile]`.
 *
 * Steps of the tiny config on synthetic inputs of the real shapes (fresh random weights; 15
 * attributes of 12 classes + 3 price outputs; 191-token sequences, 50 of them prompt, the
 * 4096-token vocabulary), run as the trainer runs them (one recorder, one submit per step):
 *  - multitask: 32 images, the decoder on 8 of them (the trainer's default step);
 *  - backbone:  32 images, backbone + heads only (`--no-decoder`, the first stage);
 *  - decoder:   32 text rows on image tokens given as input (`--stage decoder`, cached tokens).
 * Medians over the timed steps after two warm-up steps (pipeline compilation). Every loss must be
 * finite. Each row reports the step's model FLOPs counted from the shapes (modelFlops below: the
 * products of the forward, backward counted as twice the forward), the achieved GFLOP/s, and the
 * engine's own 1024^3 f32 matmul measured in the same run on the same adapter, so
 * `utilization = achieved / matmul` can be compared between runs on a noisy machine.
 * `--profile` adds one step's GPU time per kernel family (timestamp queries; each dispatch then
 * gets its own pass, so the total is above the step's).
 */
import { catalogSchema } from '../src/model/bundle.ts';
import { presetConfig, tokenGrid, type ModelConfig } from '../src/model/config.ts';
import { initialValues, modelParams } from '../src/model/params.ts';
import { seededRandom } from '../src/data/random.ts';
import { createNodeContext } from '../src/node/gpu.ts';
import { matmul } from '../src/runtime/ops/matmul.ts';
import type { GpuContext } from '../src/runtime/gpu.ts';
import { Parameter, Tape, type Var } from '../src/train/autograd.ts';
import type { HostBatch } from '../src/train/batches.ts';
import { AdamW } from '../src/train/optimizer.ts';
import { DEFAULT_SETTINGS, disposeInputs, lossGraph, paramVars, textLoss, upload } from '../src/train/trainer.ts';
import * as F from '../src/train/ops.ts';
import { median } from './harness.ts';

type Mode = 'multitask' | 'backbone' | 'decoder';
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const json = process.argv.includes('--json');
const profile = process.argv.includes('--profile');
const STEPS = Number(arg('steps') ?? 7);
const MODES: Mode[] = arg('mode') ? [arg('mode') as Mode] : ['multitask', 'backbone', 'decoder'];
const BATCH = 32;
const ATTRIBUTES = 15;
const CLASSES = 12;
const PROMPT = 50;

const config = presetConfig('tiny', 4096);
const L = config.decoder.maxLength - 1;
const random = seededRandom(7);
const schema = catalogSchema({
  name: 'bench',
  labels: {
    format: 'atelier-labels',
    version: 1,
    minCount: 20,
    minCoverage: 0.05,
    attributes: Array.from({ length: ATTRIBUTES }, (_, a) => ({ name: `attr${a}`, classes: [...Array.from({ length: CLASSES - 1 }, (_, c) => `v${c}`), 'other'], counts: new Array(CLASSES).fill(1), coverage: 1, distinctValues: CLASSES })),
  },
  price: { format: 'atelier-price', version: 1, transform: 'log1p', mean: 3, std: 1, count: 1, currency: null },
});

/**
 * Forward FLOPs (2 per multiply-add) of the products: the backbone and heads per image, and the
 * decoder per text row of `rows` positions, `targets` of them target tokens (every position runs
 * the layers, prompt included; only targets go through the vocabulary projection, as the trainer
 * computes it; causal self-attention counted over the keys each query sees).
 */
function modelFlops(c: ModelConfig, rows: number, targets: number): { image: number; textRow: number } {
  const b = c.backbone;
  let h = b.imageHeight;
  let w = b.imageWidth;
  let cin = 3;
  let image = 0;
  for (const cout of b.stemChannels) {
    h = Math.floor((h - 1) / 2) + 1;
    w = Math.floor((w - 1) / 2) + 1;
    image += 2 * cin * 9 * cout * h * w;
    cin = cout;
  }
  const T = tokenGrid(b).tokens;
  image += 2 * cin * b.patch * b.patch * b.dim * T;
  image += b.layers * (2 * T * b.dim * (3 * b.dim + b.dim + 2 * b.mlpDim) + 4 * T * T * b.dim);
  image += 2 * b.dim * (ATTRIBUTES * CLASSES + 3);
  const d = c.decoder;
  const perPosition = d.layers * (2 * d.dim * (3 * d.dim + d.dim + 2 * d.dim + 2 * d.mlpDim) + 4 * T * d.dim);
  const selfAttention = d.layers * 4 * d.dim * ((rows * (rows + 1)) / 2);
  const memory = 2 * T * b.dim * d.dim + d.layers * 2 * T * d.dim * 2 * d.dim;
  return { image, textRow: rows * perPosition + targets * 2 * d.dim * d.vocabSize + selfAttention + memory };
}

function syntheticBatch(textRows: number): HostBatch {
  const b = config.backbone;
  const ids = Uint32Array.from({ length: textRows * L }, () => Math.floor(random() * config.decoder.vocabSize));
  const labels = Int32Array.from({ length: textRows * L }, (_, i) => (i % L < PROMPT ? -1 : Math.floor(random() * config.decoder.vocabSize)));
  return {
    count: BATCH,
    images: Float32Array.from({ length: BATCH * b.imageHeight * b.imageWidth * 3 }, () => 2 * random() - 1),
    attributeLabels: Array.from({ length: ATTRIBUTES }, () => Int32Array.from({ length: BATCH }, () => Math.floor(random() * (CLASSES + 1)) - 1)),
    price: Float32Array.from({ length: BATCH }, () => 2 * random() - 1),
    hasPrice: new Float32Array(BATCH).fill(1),
    tokens: textRows ? { ids, positions: Uint32Array.from({ length: textRows * L }, (_, i) => i % L), labels, rows: textRows, length: L, targetTokens: textRows * (L - PROMPT) } : null,
  };
}

/** The engine's 1024^3 f32 product (B as [n, k]), GFLOP/s: median of 5 runs after one warm-up. */
async function matmulGflops(ctx: GpuContext): Promise<number> {
  const n = 1024;
  const a = ctx.tensor(Float32Array.from({ length: n * n }, () => random() - 0.5), [n, n]);
  const b = ctx.tensor(Float32Array.from({ length: n * n }, () => random() - 0.5), [n, n]);
  const out = ctx.empty([n, n]);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const rec = ctx.recorder('bench-train-matmul');
    matmul(rec, a, b, { transB: true, out });
    rec.submit();
    await ctx.settle();
    if (i > 0) times.push(performance.now() - t0);
  }
  for (const t of [a, b, out]) t.dispose();
  return (2 * n ** 3) / (median(times) / 1000) / 1e9;
}

const ctx = await createNodeContext();
try {
  const matmulRate = await matmulGflops(ctx);
  const init = seededRandom(1);
  const specs = modelParams(config, [schema.head]);
  const params = new Map(specs.map((s) => [s.name, new Parameter(s.name, ctx.tensor(initialValues(s, init), s.shape, 'f32', s.name))]));
  const decoderNames = new Set(specs.filter((s) => s.name.startsWith('decoder.')).map((s) => s.name));
  const flops = modelFlops(config, L, L - PROMPT);
  const tokens = tokenGrid(config.backbone).tokens;
  const rows: Record<string, unknown>[] = [];
  let finite = true;
  for (const mode of MODES) {
    const trained = [...params.values()].filter((p) => (mode === 'decoder' ? decoderNames.has(p.name) : mode === 'backbone' ? !decoderNames.has(p.name) : true));
    const opt = new AdamW(ctx, trained, { lr: 1e-4, weightDecay: 0.05, clipNorm: 1 });
    const taus = ctx.tensor(config.priceQuantiles, [2]);
    const textRows = mode === 'multitask' ? 8 : mode === 'decoder' ? BATCH : 0;
    const settings = { ...DEFAULT_SETTINGS, data: [], decoder: mode !== 'backbone' };
    const imageTokens = Float32Array.from({ length: textRows * tokens * config.backbone.dim }, () => random() - 0.5);
    const times: number[] = [];
    let kernels: Record<string, number> | undefined;
    for (let step = 0; step < STEPS + 2; step++) {
      const host = syntheticBatch(textRows);
      const inputs = upload(ctx, config, host);
      const memory = mode === 'decoder' ? ctx.tensor(imageTokens, [textRows, tokens, config.backbone.dim]) : null;
      await ctx.settle();
      if (profile && step === STEPS + 1) ctx.enableProfiling();
      const t0 = performance.now();
      const rec = ctx.recorder(`bench-train-${mode}`);
      const tape = new Tape(rec);
      let total: Var;
      let parts: Record<string, Var>;
      if (memory) {
        const text = tape.retain(textLoss(paramVars(tape, params), config, tape.constant(memory), inputs.text!));
        total = tape.retain(F.scale(text, 1));
        parts = { text, total };
      } else {
        const g = lossGraph(tape, params, config, schema, inputs, taus, settings, mode === 'multitask');
        total = g.total;
        parts = g.parts;
      }
      tape.backward(total);
      const result = opt.step(rec, Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.value])));
      tape.dispose();
      rec.submit();
      const loss = (await result.read()).losses.total;
      const ms = performance.now() - t0;
      finite &&= Number.isFinite(loss);
      if (step >= 2 && !(profile && step === STEPS + 1)) times.push(ms);
      if (ctx.timer) {
        kernels = {};
        for (const k of await ctx.timer.collect()) {
          const family = k.kernel.split(':')[0];
          kernels[family] = (kernels[family] ?? 0) + k.ms;
        }
        kernels = Object.fromEntries(Object.entries(kernels).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, Math.round(v)]));
        ctx.disableProfiling();
      }
      disposeInputs(inputs);
      memory?.dispose();
    }
    const stepMs = median(times);
    const stepFlops = 3 * ((mode === 'decoder' ? 0 : BATCH * flops.image) + textRows * flops.textRow);
    const gflops = stepFlops / (stepMs / 1000) / 1e9;
    rows.push({
      mode,
      images: mode === 'decoder' ? 0 : BATCH,
      text_rows: textRows,
      step_ms: Math.round(stepMs),
      images_per_s: mode === 'decoder' ? 0 : +(BATCH / (stepMs / 1000)).toFixed(1),
      tokens_per_s: +((textRows * (L - PROMPT)) / (stepMs / 1000)).toFixed(0),
      positions_per_s: +((textRows * L) / (stepMs / 1000)).toFixed(0),
      step_gflop: +(stepFlops / 1e9).toFixed(2),
      gflops: +gflops.toFixed(1),
      matmul_1024_gflops: +matmulRate.toFixed(1),
      utilization: +(gflops / matmulRate).toFixed(3),
      ...(kernels ? { kernel_ms: kernels } : {}),
    });
    opt.dispose();
    taus.dispose();
  }
  const report = {
    adapter: ctx.adapter.name,
    config: 'tiny',
    steps: STEPS,
    flops_per_image: +(3 * flops.image / 1e9).toFixed(3) + ' GFLOP (forward + backward)',
    flops_per_target_token: +((3 * flops.textRow) / (L - PROMPT) / 1e6).toFixed(2) + ' MFLOP (forward + backward, the row\'s positions over its target tokens)',
    rows,
    finite_loss: finite,
  };
  if (json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`${report.adapter}; ${report.flops_per_image} per image, ${report.flops_per_target_token} per target token`);
    for (const r of rows) console.log(Object.entries(r).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join('  '));
  }
  for (const p of params.values()) p.value.dispose();
  process.exitCode = finite ? 0 : 1;
} finally {
  ctx.destroy();
}
