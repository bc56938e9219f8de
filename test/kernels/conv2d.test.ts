import { describe, expect, it } from 'vitest';
import { conv2d, type Conv2dOptions } from '../../src/runtime/ops/conv2d.ts';
import { conv2dRef } from '../../src/reference/conv2d.ts';
import { fromF16Array, toF16Array } from '../../src/runtime/dtype.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances: f32 sums of up to 3 * 3 * 16 = 144 products of values in [-1, 1], in another order than
// the float64 reference: |error| <= 2e-5 + 1e-4 |want|. f16 weights are rounded before the reference
// sees them, so the same tolerance applies.
const ATOL = 2e-5;
const RTOL = 1e-4;

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

interface Case {
  x: number[];
  w: number[];
  opts: Omit<Conv2dOptions, 'bias' | 'out'> & { bias?: boolean };
  f16?: boolean;
}

async function check(ctx: GpuContext, name: string, c: Case, seed: number): Promise<void> {
  const x = randomArray(size(c.x), seed);
  let w = randomArray(size(c.w), seed + 1);
  if (c.f16) w = fromF16Array(toF16Array(w));
  const cout = c.w[0];
  const bias = c.opts.bias ? randomArray(cout, seed + 2) : undefined;
  const want = conv2dRef(x, c.x, w, c.w, { ...c.opts, bias });
  const previous = c.opts.accumulate ? randomArray(size(want.shape), seed + 3) : undefined;
  const tx = ctx.tensor(x, c.x);
  const tw = ctx.tensor(w, c.w, c.f16 ? 'f16' : 'f32');
  const tb = bias ? ctx.tensor(bias, [cout]) : undefined;
  const out = previous ? ctx.tensor(previous, want.shape) : undefined;
  // A label per case: see test/kernels/matmul.test.ts.
  const rec = ctx.recorder(`conv2d ${name}`);
  const y = conv2d(rec, tx, tw, { ...c.opts, bias: tb, out });
  rec.submit();
  expect(y.shape).toEqual(want.shape);
  const expected = previous ? want.data.map((v, i) => v + previous[i]) : want.data;
  expect(maxRelErr(await y.read(), expected, ATOL, RTOL)).toBeLessThanOrEqual(1);
  for (const t of [tx, tw, tb, y]) t?.dispose();
}

const cases: [string, Case][] = [
  ['RGB stem 3x3 stride 2 pad 1 (Cin = 3), odd sizes', { x: [1, 13, 11, 3], w: [16, 3, 3, 3], opts: { stride: 2, padding: 1, bias: true, activation: 'gelu' } }],
  ['second stem conv (Cin = 16), batch 2', { x: [2, 7, 9, 16], w: [32, 3, 3, 16], opts: { stride: 2, padding: 1, bias: true, activation: 'gelu' } }],
  ['patchify 2x2 stride 2, no padding', { x: [1, 6, 10, 8], w: [40, 2, 2, 8], opts: { stride: 2, bias: true } }],
  ['patch that does not tile the input (stride 3 over 10)', { x: [1, 10, 10, 4], w: [5, 3, 3, 4], opts: { stride: 3 } }],
  ['1x1 conv, Cin = 5, stride 1', { x: [3, 4, 5, 5], w: [33, 1, 1, 5], opts: { activation: 'relu' } }],
  ['rectangular 1x3 kernel, padding 2', { x: [1, 5, 6, 4], w: [7, 1, 3, 4], opts: { padding: 2, activation: 'silu' } }],
  ['size-1 everything', { x: [1, 1, 1, 1], w: [1, 1, 1, 1], opts: {} }],
  ['kernel larger than the input with padding', { x: [1, 2, 2, 2], w: [3, 5, 5, 2], opts: { padding: 2, alpha: 0.5 } }],
  ['accumulate', { x: [1, 8, 8, 4], w: [12, 3, 3, 4], opts: { padding: 1, accumulate: true } }],
];

describe('conv2d (subgroups where the adapter has them)', () => {
  const gpu = useGpu();

  it.each(cases)('%s', async (name, c) => {
    await check(gpu(), name, c, size(c.x) + c.w[0]);
  });

  it('f16 weights', async () => {
    const ctx = gpu();
    if (!ctx.features.f16) return; // needs shader-f16; the f32 cases cover the rest
    await check(ctx, 'f16', { x: [1, 9, 7, 4], w: [20, 3, 3, 4], opts: { stride: 2, padding: 1, bias: true }, f16: true }, 5);
  });

  it('names the shapes on bad input', () => {
    const ctx = gpu();
    const rec = ctx.recorder('bad');
    expect(() => conv2d(rec, ctx.zeros([1, 4, 4, 3]), ctx.zeros([8, 3, 3, 4]))).toThrow(/input channels differ \(3 vs 4\): x f32 \[1, 4, 4, 3\] \(NHWC\), w f32 \[8, 3, 3, 4\]/);
    expect(() => conv2d(rec, ctx.zeros([1, 2, 2, 3]), ctx.zeros([8, 3, 3, 3]))).toThrow(/kernel does not fit the padded input/);
    expect(() => conv2d(rec, ctx.zeros([1, 4, 4, 3]), ctx.zeros([8, 3, 3, 3]), { stride: 0 })).toThrow(/stride must be an integer >= 1/);
    rec.submit();
  });
});

describe('conv2d without subgroups', () => {
  const gpu = useGpu({ disable: { subgroups: true } });

  it.each(cases.filter(([name]) => name.startsWith('RGB') || name.startsWith('second')))('%s', async (name, c) => {
    await check(gpu(), name, c, size(c.x) + c.w[0]);
  });
});
