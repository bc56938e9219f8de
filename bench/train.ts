/**
 * Training throughput on the local adapter (lavapipe here): `npm run bench:train [-- --json]`.
 *
 * One multitask step of the tiny config (batch 32 images, the decoder on 8 of them over
 * 191-token sequences with the 4096-token vocabulary, 15 attributes of 12 classes + 3 price
 * outputs), on synthetic inputs of the real shapes, with fresh random weights. Reports images/s and
 * decoder tokens/s of the whole step (one recorder, one submit, as the trainer runs it), and the
 * step split into forward / backward / optimizer. Each step is run three times, each variant
 * submitted and settled on its own: forward only, forward + backward, the whole step; backward is
 * the second minus the first, the optimizer the third minus the second. Medians over the timed
 * steps after two warm-up steps (pipeline compilation). Every loss must be finite.
 */
import { presetConfig } from '../src/model/config.ts';
import { catalogSchema } from '../src/model/bundle.ts';
import { initialValues, modelParams } from '../src/model/params.ts';
import { seededRandom } from '../src/data/random.ts';
import { createNodeContext } from '../src/node/gpu.ts';
import { Parameter, Tape } from '../src/train/autograd.ts';
import type { HostBatch } from '../src/train/batches.ts';
import { AdamW } from '../src/train/optimizer.ts';
import { DEFAULT_SETTINGS, disposeInputs, lossGraph, upload } from '../src/train/trainer.ts';
import { median } from './harness.ts';

const json = process.argv.includes('--json');
const STEPS = Number(process.argv.find((a) => a.startsWith('--steps='))?.slice(8) ?? 10);
const BATCH = 32;
const TEXT_ITEMS = 8;
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

function syntheticBatch(): HostBatch {
  const b = config.backbone;
  const ids = Uint32Array.from({ length: TEXT_ITEMS * L }, () => Math.floor(random() * config.decoder.vocabSize));
  const labels = Int32Array.from({ length: TEXT_ITEMS * L }, (_, i) => (i % L < PROMPT ? -1 : Math.floor(random() * config.decoder.vocabSize)));
  return {
    count: BATCH,
    images: Float32Array.from({ length: BATCH * b.imageHeight * b.imageWidth * 3 }, () => 2 * random() - 1),
    attributeLabels: Array.from({ length: ATTRIBUTES }, () => Int32Array.from({ length: BATCH }, () => Math.floor(random() * (CLASSES + 1)) - 1)),
    price: Float32Array.from({ length: BATCH }, () => 2 * random() - 1),
    hasPrice: new Float32Array(BATCH).fill(1),
    tokens: { ids, positions: Uint32Array.from({ length: TEXT_ITEMS * L }, (_, i) => i % L), labels, rows: TEXT_ITEMS, length: L, targetTokens: TEXT_ITEMS * (L - PROMPT) },
  };
}

const ctx = await createNodeContext();
try {
  const init = seededRandom(1);
  const specs = modelParams(config, [schema.head]);
  const params = new Map(specs.map((s) => [s.name, new Parameter(s.name, ctx.tensor(initialValues(s, init), s.shape, 'f32', s.name))]));
  const opt = new AdamW(ctx, [...params.values()], { lr: 1e-4, weightDecay: 0.05, clipNorm: 1 });
  const taus = ctx.tensor(config.priceQuantiles, [2]);
  const settings = { ...DEFAULT_SETTINGS, data: [] };
  const parts = ['forward', 'forward+backward', 'step'] as const;
  const times: Record<(typeof parts)[number], number[]> = { forward: [], 'forward+backward': [], step: [] };
  let finite = true;
  for (let step = 0; step < STEPS + 2; step++) {
    const host = syntheticBatch();
    for (const part of parts) {
      const inputs = upload(ctx, config, host);
      await ctx.settle();
      // Each variant has its own recorder label: the context sizes its sleep before a readback by
      // the label's past durations, so sharing one label would mix the variants' waits.
      const rec = ctx.recorder(`bench-${part}`);
      const tape = new Tape(rec);
      const t0 = performance.now();
      const { total, parts: losses } = lossGraph(tape, params, config, schema, inputs, taus, settings, true);
      tape.retain(total);
      let loss: number;
      if (part === 'step') {
        tape.backward(total);
        const result = opt.step(rec, Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, v.value])));
        tape.dispose();
        rec.submit();
        loss = (await result.read()).losses.total;
      } else {
        if (part === 'forward+backward') tape.backward(total);
        rec.submit();
        loss = ((await total.value.read()) as Float32Array)[0];
        tape.dispose();
        for (const p of params.values()) p.zeroGrad();
      }
      const ms = performance.now() - t0;
      disposeInputs(inputs);
      finite &&= Number.isFinite(loss);
      if (step >= 2) times[part].push(ms);
    }
  }
  const forwardMs = median(times.forward);
  const backwardMs = median(times['forward+backward']) - forwardMs;
  const stepMs = median(times.step);
  const row = {
    adapter: ctx.adapter.name,
    config: 'tiny',
    batch: BATCH,
    text_items: TEXT_ITEMS,
    tokens_per_step: TEXT_ITEMS * L,
    step_ms: Math.round(stepMs),
    images_per_s: +(BATCH / (stepMs / 1000)).toFixed(2),
    tokens_per_s: +((TEXT_ITEMS * L) / (stepMs / 1000)).toFixed(1),
    forward_ms: Math.round(forwardMs),
    backward_ms: Math.round(backwardMs),
    optimizer_ms: Math.round(stepMs - forwardMs - backwardMs),
    steps: STEPS,
    finite_loss: finite,
  };
  if (json) console.log(JSON.stringify(row, null, 2));
  else console.log(Object.entries(row).map(([k, v]) => `${k}=${v}`).join('  '));
  opt.dispose();
  taus.dispose();
  for (const p of params.values()) p.value.dispose();
  process.exitCode = finite ? 0 : 1;
} finally {
  ctx.destroy();
}
