import { describe, expect, it } from 'vitest';
import { activation, binary, type Activation, type BinaryOp } from '../../src/runtime/ops/elementwise.ts';
import { activationRef, binaryRef } from '../../src/reference/elementwise.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances: f32 elementwise math; exp-based activations lose a few ulps.
const ATOL = 1e-6;
const RTOL = 1e-5;

describe('elementwise kernels', () => {
  const gpu = useGpu();

  for (const act of ['none', 'relu', 'gelu', 'silu'] as Activation[]) {
    it.each([1, 7, 256, 1000, 70_001])(`${act} on %i elements`, async (n) => {
      const ctx = gpu();
      const x = randomArray(n, n, 8);
      const t = ctx.tensor(x, [n]);
      const rec = ctx.recorder('act');
      const y = activation(rec, t, act);
      rec.submit();
      const got = await y.read();
      expect(maxRelErr(got, activationRef(x, act), ATOL, RTOL)).toBeLessThanOrEqual(1);
      t.dispose();
      y.dispose();
    });
  }

  const cases: [BinaryOp, number[], number[]][] = [
    ['add', [5, 3], [5, 3]],
    ['add', [4, 33], [33]],
    ['mul', [2, 3, 17], [3, 1]],
    ['sub', [1], [3, 5, 2, 7]],
    ['mul', [2, 1, 4, 1], [1, 3, 1, 5]],
    // four elements per thread: last dimension a multiple of 4, broadcast over leading dimensions only
    ['add', [6, 128], [128]],
    ['sub', [2, 3, 8], [2, 1, 8]],
    ['mul', [4, 12], [4, 12]],
  ];
  it.each(cases)('%s %j with %j', async (op, as, bs) => {
    const ctx = gpu();
    const a = randomArray(as.reduce((p, d) => p * d, 1), 1);
    const b = randomArray(bs.reduce((p, d) => p * d, 1), 2);
    const ta = ctx.tensor(a, as);
    const tb = ctx.tensor(b, bs);
    const rec = ctx.recorder('binary');
    const y = binary(rec, op, ta, tb, 'relu');
    rec.submit();
    const want = binaryRef(op, a, as, b, bs, 'relu');
    expect(y.shape).toEqual(want.shape);
    expect(maxRelErr(await y.read(), want.data, ATOL, RTOL)).toBeLessThanOrEqual(1);
  });

  it('rejects shapes that do not broadcast', () => {
    const ctx = gpu();
    const rec = ctx.recorder('bad');
    expect(() => binary(rec, 'add', ctx.zeros([3, 4]), ctx.zeros([5]))).toThrow(/do not broadcast/);
    rec.submit();
  });
});
