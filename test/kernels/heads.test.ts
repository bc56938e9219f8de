import { describe, expect, it } from 'vitest';
import { classifierHeads, headLayout, type HeadSegment } from '../../src/runtime/ops/heads.ts';
import { classifierHeadsRef } from '../../src/reference/heads.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances (f32): logits are dot products over D accumulated in f32 (4 partial sums per lane with
// vec4 loads); probabilities inherit that error through exp.
const ATOL = 1e-5;
const RTOL = 1e-4;

const catalogHeads: HeadSegment[] = [
  { name: 'category', size: 23, kind: 'softmax' },
  { name: 'colour', size: 12, kind: 'softmax' },
  { name: 'pattern', size: 1, kind: 'softmax' },
  { name: 'sleeve', size: 9, kind: 'softmax' },
  { name: 'price', size: 3, kind: 'raw' },
];

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('fused classifier heads (%s)', (_name, options) => {
  const gpu = useGpu(options);

  it.each([
    [1, 64, catalogHeads],
    [3, 37, catalogHeads],
    [6, 128, catalogHeads],
    [2, 16, [{ name: 'wide', size: 70, kind: 'softmax' }] as HeadSegment[]],
    [1, 1, [{ name: 'only-raw', size: 2, kind: 'raw' }, { name: 'binary', size: 2, kind: 'softmax' }] as HeadSegment[]],
  ])('batch %i, D %i', async (batch, dim, heads) => {
    const ctx = gpu();
    const layout = headLayout(ctx, heads);
    const xData = randomArray(batch * dim, batch + dim, 1);
    const wData = randomArray(layout.total * dim, dim * 7, 4 / Math.sqrt(dim));
    const bData = randomArray(layout.total, 3, 0.5);
    const [x, w, bias] = [ctx.tensor(xData, [batch, dim]), ctx.tensor(wData, [layout.total, dim]), ctx.tensor(bData, [layout.total])];
    const rec = ctx.recorder('heads');
    const r = classifierHeads(rec, x, w, bias, layout);
    rec.submit();
    const want = classifierHeadsRef(xData, wData, bData, dim, heads);
    expect(r.probs.shape).toEqual([batch, layout.total]);
    expect(r.argmax.shape).toEqual([batch, heads.length]);
    expect(maxRelErr(await r.probs.read(), want.probs, ATOL, RTOL)).toBeLessThanOrEqual(1);
    expect(maxRelErr(await r.confidence.read(), want.confidence, ATOL, RTOL)).toBeLessThanOrEqual(1);
    const argmax = await r.argmax.read();
    for (let i = 0; i < argmax.length; i++) {
      if (argmax[i] === want.argmax[i]) continue;
      // only a near-tie may come out either way: the two classes' probabilities must agree to f32 noise
      const [b, h] = [Math.floor(i / heads.length), i % heads.length];
      const base = b * layout.total + layout.heads[h].offset;
      expect(Math.abs(want.probs[base + argmax[i]] - want.probs[base + want.argmax[i]]), `row ${b} head ${h}`).toBeLessThan(1e-5);
    }
    for (const t of [x, w, bias, layout.segments, r.probs, r.argmax, r.confidence]) t.dispose();
  });

  it('rejects weights that do not fit the layout', () => {
    const ctx = gpu();
    const layout = headLayout(ctx, catalogHeads);
    const x = ctx.zeros([2, 8]);
    const w = ctx.zeros([layout.total - 1, 8]);
    const rec = ctx.recorder('heads-bad');
    expect(() => classifierHeads(rec, x, w, w, layout)).toThrow(/w must be \[Ctot, D\] and bias \[Ctot\] for the layout \(x \[2, 8\], w \[47, 8\]/);
    rec.submit();
    for (const t of [x, w, layout.segments]) t.dispose();
    expect(() => headLayout(ctx, [{ name: 'empty', size: 0, kind: 'softmax' }])).toThrow(/head 'empty' has size 0/);
  });
});
