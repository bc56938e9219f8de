import { describe, expect, it } from 'vitest';
import { activationRef } from '../../src/reference/elementwise.ts';
import { attentionRef } from '../../src/reference/attention.ts';
import { layerNormRef } from '../../src/reference/layernorm.ts';
import { sliceRef } from '../../src/reference/layout.ts';
import { crossEntropyRef, pinballRef, regressionRef } from '../../src/reference/loss.ts';
import { adamwStepRef, type AdamWRefTensor } from '../../src/reference/optimizer.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { Parameter, Tape, type Var } from '../../src/train/autograd.ts';
import * as F from '../../src/train/ops.ts';
import { AdamW } from '../../src/train/optimizer.ts';
import { useGpu } from '../helpers/gpu.ts';

/**
 * A whole training step of a tiny pre-LN transformer block with fused multitask heads, on the GPU
 * (forward, loss, backward, AdamW) against the same step on the CPU in float64: gradients of every
 * parameter by central differences of the float64 forward, then the float64 AdamW update.
 */
const [B, T, D, HEADS, MLP, CLASSES] = [3, 5, 8, 2, 16, 4];
const OUT = CLASSES + 2; // 4 classes | log price | one price quantile

const SHAPES: Record<string, number[]> = {
  'ln1.gamma': [D],
  'ln1.beta': [D],
  'qkv.weight': [3 * D, D],
  'qkv.bias': [3 * D],
  'proj.weight': [D, D],
  'proj.bias': [D],
  'ln2.gamma': [D],
  'ln2.beta': [D],
  'fc1.weight': [MLP, D],
  'fc1.bias': [MLP],
  'fc2.weight': [D, MLP],
  'fc2.bias': [D],
  'head.weight': [OUT, D],
  'head.bias': [OUT],
};
const NAMES = Object.keys(SHAPES);
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

const labels = Int32Array.from([2, -1, 0]); // the second image has no label
const price = Float32Array.from([0.3, -1.2, 2.5]);
const hasPrice = Float32Array.from([1, 1, 0]); // the third has no price
const TAU = 0.8;
const HUBER = 1;
const WEIGHTS = { ce: 1, price: 0.5, interval: 0.25 };

function initial(name: string, i: number): Float32Array {
  const n = size(SHAPES[name]);
  if (name.endsWith('gamma')) return randomArray(n, 100 + i).map((v) => 1 + 0.2 * v);
  return randomArray(n, 100 + i, name.endsWith('weight') ? 0.6 : 0.2);
}

// ---- float64 reference -----------------------------------------------------------------------

function linearRef(x: Float64Array, w: Float64Array, b: Float64Array, inDim: number): Float64Array {
  const out = b.length;
  const rows = x.length / inDim;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * out + o] = s;
    }
  return y;
}

const addRef = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);

function lossRef(input: Float64Array, p: Record<string, Float64Array>): number {
  const h = layerNormRef(input, D, p['ln1.gamma'], p['ln1.beta']).y;
  const qkv = linearRef(h, p['qkv.weight'], p['qkv.bias'], D);
  const [q, k, v] = [0, 1, 2].map((i) => sliceRef(qkv, [B, T, 3 * D], 2, i * D, D));
  const a = attentionRef(q, k, v, { batch: B, tq: T, capacity: T, tk: T, heads: HEADS, headDim: D / HEADS, causal: false, past: 0, scale: 1 / Math.sqrt(D / HEADS) });
  const x1 = addRef(input, linearRef(a, p['proj.weight'], p['proj.bias'], D));
  const m = activationRef(linearRef(layerNormRef(x1, D, p['ln2.gamma'], p['ln2.beta']).y, p['fc1.weight'], p['fc1.bias'], D), 'gelu');
  const x2 = addRef(x1, linearRef(m, p['fc2.weight'], p['fc2.bias'], MLP));
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) pooled[b * D + d] += x2[(b * T + t) * D + d] / T;
  const out = linearRef(pooled, p['head.weight'], p['head.bias'], D);
  const win = { rows: B, ld: OUT };
  return (
    WEIGHTS.ce * crossEntropyRef(out, labels, CLASSES, win) +
    WEIGHTS.price * regressionRef(out, price, { ...win, col0: CLASSES }, HUBER, hasPrice) +
    WEIGHTS.interval * pinballRef(out, price, [TAU], { ...win, col0: CLASSES + 1 }, hasPrice)
  );
}

// ---- the GPU step ----------------------------------------------------------------------------

function lossOnTape(tape: Tape, input: Tensor, w: (name: string) => Var, data: Record<string, Tensor>): Var {
  const x = tape.constant(input);
  const h = F.layerNorm(x, w('ln1.gamma'), w('ln1.beta'));
  const qkv = F.linear(h, w('qkv.weight'), w('qkv.bias'));
  const [q, k, v] = [0, 1, 2].map((i) => F.slice(qkv, 2, i * D, D));
  const a = F.attention(q, k, v, { heads: HEADS, causal: false });
  const x1 = F.add(x, F.linear(a, w('proj.weight'), w('proj.bias')));
  const m = F.linear(F.layerNorm(x1, w('ln2.gamma'), w('ln2.beta')), w('fc1.weight'), w('fc1.bias'), 'gelu');
  const x2 = F.add(x1, F.linear(m, w('fc2.weight'), w('fc2.bias')));
  const pooled = F.reshape(F.meanAxis(x2, 1), [B, D]);
  const out = F.linear(pooled, w('head.weight'), w('head.bias'));
  return F.headsLoss(out, [
    { kind: 'crossEntropy', name: 'attribute', weight: WEIGHTS.ce, col0: 0, classes: CLASSES, labels: data.labels },
    { kind: 'regression', name: 'price', weight: WEIGHTS.price, col0: CLASSES, target: data.price, mask: data.hasPrice, huberDelta: HUBER },
    { kind: 'pinball', name: 'interval', weight: WEIGHTS.interval, col0: CLASSES + 1, target: data.price, taus: data.taus, mask: data.hasPrice },
  ]).total;
}

function upload(ctx: GpuContext): Record<string, Tensor> {
  return {
    labels: ctx.tensor(labels, [B], 'i32'),
    price: ctx.tensor(price, [B]),
    hasPrice: ctx.tensor(hasPrice, [B]),
    taus: ctx.tensor([TAU], [1]),
  };
}

describe('a whole training step against the float64 CPU step', () => {
  const gpu = useGpu();

  it('matches the loss, the gradient of every parameter, and the AdamW update of a one-submit step', async () => {
    const ctx = gpu();
    const inputData = randomArray(B * T * D, 7, 1.5);
    const input = ctx.tensor(inputData, [B, T, D]);
    const data = upload(ctx);
    const params = NAMES.map((name, i) => new Parameter(name, ctx.tensor(initial(name, i), SHAPES[name])));
    const byName = new Map(params.map((p) => [p.name, p]));

    const rec = ctx.recorder('train-step');
    const tape = new Tape(rec);
    const loss = lossOnTape(tape, input, (name) => tape.param(byName.get(name)!), data);
    tape.backward(loss);
    rec.submit();
    const gpuLoss = (await loss.value.read())[0];

    // float64: the loss and central differences for every parameter element
    const p64: Record<string, Float64Array> = Object.fromEntries(NAMES.map((n, i) => [n, Float64Array.from(initial(n, i))]));
    const x64 = Float64Array.from(inputData);
    expect(maxRelErr([gpuLoss], [lossRef(x64, p64)], 1e-5, 1e-4)).toBeLessThanOrEqual(1);
    const fdGrads: Record<string, Float64Array> = {};
    for (const name of NAMES) {
      const values = p64[name];
      const g = new Float64Array(values.length);
      for (let j = 0; j < values.length; j++) {
        const keep = values[j];
        values[j] = keep + 1e-4;
        const up = lossRef(x64, p64);
        values[j] = keep - 1e-4;
        const down = lossRef(x64, p64);
        values[j] = keep;
        g[j] = (up - down) / 2e-4;
      }
      fdGrads[name] = g;
      // f32 through the block's ~10 layers; the gradients are O(0.1 .. 1)
      const got = await byName.get(name)!.grad!.read();
      expect(maxRelErr(got, g, 1e-5, 1e-4), name).toBeLessThanOrEqual(1);
    }

    tape.dispose();
    for (const p of params) p.zeroGrad();

    // The production path on fresh copies of the weights: forward, backward and the AdamW update
    // (clipping active) in one recorder, one submit, one readback of the stats (the loss included).
    // Adam's first step is about lr * sign(g); a larger eps makes it a smooth function of g, so that
    // gradients near 0 (f32 noise against float64) cannot flip a whole lr-sized step.
    const options = { lr: 0.01, weightDecay: 0.1, clipNorm: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-3 };
    for (const [i, p] of params.entries()) ctx.write(p.value, initial(p.name, i));
    const opt = new AdamW(ctx, params, options);
    const stepRec = ctx.recorder('train-step');
    const stepTape = new Tape(stepRec);
    const stepLoss = lossOnTape(stepTape, input, (name) => stepTape.param(byName.get(name)!), data);
    stepTape.backward(stepLoss);
    const result = opt.step(stepRec, { total: stepLoss.value });
    stepTape.dispose();
    stepRec.submit();
    const report = await result.read();
    const ref: AdamWRefTensor[] = params.map((p) => ({ param: p64[p.name], grad: fdGrads[p.name], m: new Float64Array(p.value.size), v: new Float64Array(p.value.size), decay: p.decay }));
    const lossBefore = lossRef(x64, p64);
    const want = adamwStepRef(ref, 1, options);
    expect(maxRelErr([report.losses.total], [lossBefore], 1e-5, 1e-4)).toBeLessThanOrEqual(1);
    expect(report.clipScale).toBeLessThan(1);
    expect(maxRelErr([report.gradNorm], [want.norm], 1e-5, 1e-3)).toBeLessThanOrEqual(1);
    for (const p of params) {
      expect(p.grad).toBeNull();
      expect(maxRelErr(await p.value.read(), p64[p.name], 5e-7, 2e-6), p.name).toBeLessThanOrEqual(1);
    }
    expect(lossRef(x64, p64)).toBeLessThan(lossBefore); // the step went downhill
    opt.dispose();
    for (const t of [input, ...Object.values(data), ...params.map((p) => p.value)]) t.dispose();
  });
});
