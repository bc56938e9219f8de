import { describe, expect, it } from 'vitest';
import { adamwStepRef, type AdamWRefTensor } from '../../src/reference/optimizer.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { Parameter } from '../../src/train/autograd.ts';
import { AdamW, learningRate, NonFiniteError, type AdamWOptions } from '../../src/train/optimizer.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import { useGpu } from '../helpers/gpu.ts';

// Tolerance: the GPU update is f32 (params ~1, steps ~lr); after a few steps the difference to the
// float64 reference is a few f32 ulps of the parameter values.
const ATOL = 2e-6;
const RTOL = 2e-5;

const shapes = [[7, 5], [5], [300], [1], [33, 70]];

function setup(ctx: GpuContext, seed: number) {
  const params = shapes.map((s, i) => new Parameter(`p${i}`, ctx.tensor(randomArray(s.reduce((a, b) => a * b, 1), seed + i), s)));
  const ref: AdamWRefTensor[] = params.map((p, i) => {
    const n = p.value.size;
    return { param: Float64Array.from(randomArray(n, seed + i)), grad: null, m: new Float64Array(n), v: new Float64Array(n), decay: p.decay };
  });
  return { params, ref };
}

function setGrads(ctx: GpuContext, params: Parameter[], ref: AdamWRefTensor[], step: number, skip: number[] = [], scale = 1) {
  params.forEach((p, i) => {
    if (skip.includes(i)) {
      ref[i].grad = null;
      return;
    }
    const g = randomArray(p.value.size, 1000 * step + i, scale);
    p.grad = ctx.tensor(g, p.value.shape);
    ref[i].grad = Float64Array.from(g);
  });
}

describe('AdamW on the GPU', () => {
  const gpu = useGpu();

  it.each([
    ['no clipping', { lr: 1e-2, weightDecay: 0.1 }, 1],
    ['clipping active', { lr: 3e-3, weightDecay: 0.05, clipNorm: 0.5 }, 1],
    ['clipping inactive (norm below the limit)', { lr: 3e-3, clipNorm: 1e4 }, 1],
    ['a warm-up + cosine schedule', { lr: { peak: 1e-2, warmupSteps: 2, totalSteps: 5, floor: 1e-3 }, beta2: 0.99 }, 3],
  ] as [string, AdamWOptions, number][])('matches the float64 reference over 4 steps: %s', async (_, options, gradScale) => {
    const ctx = gpu();
    const { params, ref } = setup(ctx, 11);
    const opt = new AdamW(ctx, params, options);
    const full = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0, ...options };
    for (let step = 0; step < 4; step++) {
      // parameter 2 has no gradient at step 1 (an unused head): it must not move
      setGrads(ctx, params, ref, step, step === 1 ? [2] : [], gradScale);
      const rec = ctx.recorder('adamw');
      const res = opt.step(rec);
      rec.submit();
      const report = await res.read();
      const lr = typeof options.lr === 'number' ? options.lr : learningRate(step, options.lr);
      const want = adamwStepRef(ref, step + 1, { ...full, lr });
      expect(report.step).toBe(step);
      expect(report.lr).toBeCloseTo(lr, 12);
      expect(maxRelErr([report.gradNorm], [want.norm], 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      expect(maxRelErr([report.clipScale], [want.scale], 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      if (full.clipNorm === 0.5) expect(report.clipScale).toBeLessThan(1);
      for (const p of params) expect(p.grad).toBeNull();
    }
    for (let i = 0; i < params.length; i++) {
      expect(maxRelErr(await params[i].value.read(), ref[i].param, ATOL, RTOL)).toBeLessThanOrEqual(1);
    }
    opt.dispose();
    for (const p of params) p.value.dispose();
  });

  it('does not decay vectors by default (biases, norm gains) and decays matrices', () => {
    const ctx = gpu();
    const w = new Parameter('w', ctx.zeros([2, 3]));
    const b = new Parameter('b', ctx.zeros([3]));
    expect(w.decay).toBe(true);
    expect(b.decay).toBe(false);
    w.value.dispose();
    b.value.dispose();
  });

  it('stops on a NaN gradient, naming the step and the tensor, and leaves weights and moments untouched', async () => {
    const ctx = gpu();
    const { params, ref } = setup(ctx, 5);
    const opt = new AdamW(ctx, params, { lr: 1e-2 });
    setGrads(ctx, params, ref, 0);
    let rec = ctx.recorder('adamw');
    const loss = ctx.tensor([0.75], [1]);
    const first = opt.step(rec, { total: loss });
    rec.submit();
    await first.read();
    const before = await Promise.all(params.map((p) => p.value.read()));
    const momentsBefore = await opt.exportState();

    setGrads(ctx, params, ref, 1);
    const bad = randomArray(params[3].value.size, 3);
    bad[0] = NaN;
    ctx.write(params[3].grad!, bad);
    rec = ctx.recorder('adamw');
    const res = opt.step(rec, { total: loss });
    rec.submit();
    const err = await res.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(1);
    expect((err as Error).message).toMatch(/step 1: gradient of 'p3'/);
    const after = await Promise.all(params.map((p) => p.value.read()));
    after.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(before[i])));
    const momentsAfter = await opt.exportState();
    momentsAfter.moments.forEach((s, i) => expect(Array.from(s.v)).toEqual(Array.from(momentsBefore.moments[i].v)));
    loss.dispose();
    opt.dispose();
    for (const p of params) p.value.dispose();
  });

  it('stops on an infinite loss and names it; reports finite losses otherwise', async () => {
    const ctx = gpu();
    const { params, ref } = setup(ctx, 6);
    const opt = new AdamW(ctx, params, { lr: 1e-3 });
    const ok = ctx.tensor([1.25], [1]);
    const inf = ctx.tensor([Infinity], [1]);
    setGrads(ctx, params, ref, 0);
    let rec = ctx.recorder('adamw');
    let res = opt.step(rec, { attributes: ok, price: ok });
    rec.submit();
    expect((await res.read()).losses).toEqual({ attributes: 1.25, price: 1.25 });
    setGrads(ctx, params, ref, 1);
    rec = ctx.recorder('adamw');
    res = opt.step(rec, { attributes: ok, price: inf });
    rec.submit();
    await expect(res.read()).rejects.toThrow(/step 1: loss 'price' = Infinity/);
    ok.dispose();
    inf.dispose();
    opt.dispose();
    for (const p of params) p.value.dispose();
  });

  it('exports and imports its state so a resumed run continues exactly', async () => {
    const ctx = gpu();
    const a = setup(ctx, 21);
    const b = setup(ctx, 21);
    const optA = new AdamW(ctx, a.params, { lr: 1e-2, clipNorm: 1 });
    for (let step = 0; step < 2; step++) {
      setGrads(ctx, a.params, a.ref, step);
      const rec = ctx.recorder('adamw');
      const res = optA.step(rec);
      rec.submit();
      await res.read();
    }
    // b: same weights as a after two steps, fresh optimizer restored from a's state
    for (let i = 0; i < a.params.length; i++) ctx.write(b.params[i].value, await a.params[i].value.read());
    const optB = new AdamW(ctx, b.params, { lr: 1e-2, clipNorm: 1 });
    optB.importState(await optA.exportState());
    for (const [opt, s] of [[optA, a], [optB, b]] as const) {
      setGrads(ctx, s.params, s.ref, 2);
      const rec = ctx.recorder('adamw');
      const res = opt.step(rec);
      rec.submit();
      await res.read();
    }
    for (let i = 0; i < a.params.length; i++) expect(Array.from(await b.params[i].value.read())).toEqual(Array.from(await a.params[i].value.read()));
    for (const s of [a, b]) for (const p of s.params) p.value.dispose();
    optA.dispose();
    optB.dispose();
  });

  it('rejects a gradient of the wrong size and duplicate parameter names', () => {
    const ctx = gpu();
    const p = new Parameter('w', ctx.zeros([4, 4]));
    expect(() => new AdamW(ctx, [p, p], { lr: 1 })).toThrow(/two parameters are named 'w'/);
    const opt = new AdamW(ctx, [p], { lr: 1 });
    p.grad = ctx.zeros([3]);
    const rec = ctx.recorder('bad');
    expect(() => opt.step(rec)).toThrow(/gradient of 'w' has shape \[3\]/);
    rec.submit();
    p.zeroGrad();
    p.value.dispose();
    opt.dispose();
  });
});

describe('learning-rate schedule', () => {
  it('warms up linearly, then follows a cosine to the floor and stays there', () => {
    const s = { peak: 1, warmupSteps: 4, totalSteps: 14, floor: 0.1 };
    expect([0, 1, 2, 3].map((t) => learningRate(t, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(4, s)).toBeCloseTo(1, 12);
    expect(learningRate(9, s)).toBeCloseTo(0.55, 12); // halfway: floor + (peak - floor) / 2
    expect(learningRate(14, s)).toBeCloseTo(0.1, 12);
    expect(learningRate(100, s)).toBeCloseTo(0.1, 12);
    for (let t = 4; t < 14; t++) expect(learningRate(t + 1, s)).toBeLessThan(learningRate(t, s));
  });
});
