import { describe, expect, it } from 'vitest';
import { meanAxis1, reduceAll, reduceLastDim, type Reduction } from '../../src/runtime/ops/reduce.ts';
import { meanAxis1Ref, reduceAllRef, reduceLastDimRef } from '../../src/reference/reduce.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances (f32 accumulation, per lane then across lanes): relative to the sum of |terms|,
// which bounds the rounding error; ~n * 2^-24 in the worst case, far less in practice.
function tolerance(x: ArrayLike<number>, op: Reduction, count: number): number {
  let mass = 0;
  for (let i = 0; i < x.length; i++) mass += op === 'sumsq' ? x[i] * x[i] : Math.abs(x[i]);
  return (mass / (op === 'mean' ? count : 1)) * 1e-6 + 1e-7;
}

const ops: Reduction[] = ['sum', 'mean', 'sumsq'];

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('reductions (%s)', (_name, options) => {
  const gpu = useGpu(options);

  it.each([[1, 1], [3, 1], [1, 5], [4, 8], [2, 3, 131], [7, 1024], [1, 9999]])('over the last dim of %j', async (...shape) => {
    const ctx = gpu();
    const n = shape[shape.length - 1];
    const size = shape.reduce((p, d) => p * d, 1);
    const data = randomArray(size, size + 7, 3);
    const x = ctx.tensor(data, shape);
    for (const op of ops) {
      const rec = ctx.recorder('reduce');
      const y = reduceLastDim(rec, x, op);
      rec.submit();
      expect(y.shape).toEqual(shape.slice(0, -1));
      const want = reduceLastDimRef(data, n, op);
      const got = await y.read();
      for (let r = 0; r < want.length; r++) {
        expect(Math.abs(got[r] - want[r]), `${op} row ${r}`).toBeLessThanOrEqual(tolerance(data.subarray(r * n, (r + 1) * n), op, n));
      }
      y.dispose();
    }
    x.dispose();
  });

  it.each([1, 3, 4096, 4097, 10_000, 1_000_003])('over all %i elements', async (size) => {
    const ctx = gpu();
    const data = randomArray(size, size, 2).map((v) => v + 0.5);
    const x = ctx.tensor(data, [size]);
    for (const op of ops) {
      const rec = ctx.recorder('reduce-all');
      const y = reduceAll(rec, x, op);
      rec.submit();
      expect(y.shape).toEqual([]);
      const [got] = await y.read();
      expect(Math.abs(got - reduceAllRef(data, op)), op).toBeLessThanOrEqual(tolerance(data, op, size));
      y.dispose();
    }
    x.dispose();
  });

  it('keeps its scratch buffer until the recording is submitted', async () => {
    // The partial sums of a large reduction must survive an upload recorded after the op.
    const ctx = gpu();
    const data = randomArray(50_000, 3, 1);
    const x = ctx.tensor(data, [50_000]);
    const rec = ctx.recorder('reduce-then-upload');
    const y = reduceAll(rec, x, 'sum');
    const other = ctx.tensor(new Float32Array(200).fill(1e6), [200]); // a pool buffer of the partials' size class
    rec.submit();
    const [got] = await y.read();
    expect(Math.abs(got - reduceAllRef(data, 'sum'))).toBeLessThanOrEqual(tolerance(data, 'sum', 1));
    for (const t of [x, y, other]) t.dispose();
  });

  it.each([[2, 5, 8], [3, 1, 7], [1, 4], [2, 49, 384], [3, 6, 2, 5]])('mean over axis 1 of %j', async (...shape) => {
    const ctx = gpu();
    const size = shape.reduce((p, d) => p * d, 1);
    const data = randomArray(size, size + 1, 2);
    const x = ctx.tensor(data, shape);
    const rec = ctx.recorder('mean-axis1');
    const y = meanAxis1(rec, x);
    rec.submit();
    expect(y.shape).toEqual([shape[0], ...shape.slice(2)]);
    // a mean of T terms of size <= 2, accumulated in f32
    expect(maxRelErr(await y.read(), meanAxis1Ref(data, shape[0], shape[1]), 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    x.dispose();
    y.dispose();
  });

  it('rejects an empty last dimension', () => {
    const ctx = gpu();
    const x = ctx.zeros([3, 0]);
    const rec = ctx.recorder('reduce-bad');
    expect(() => reduceLastDim(rec, x, 'sum')).toThrow(/last dimension of \[3, 0\] is empty/);
    rec.submit();
    x.dispose();
  });
});
