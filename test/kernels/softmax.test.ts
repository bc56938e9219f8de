import { describe, expect, it } from 'vitest';
import { maskedSoftmax, softmax } from '../../src/runtime/ops/softmax.ts';
import { maskedSoftmaxRef, softmaxRef } from '../../src/reference/softmax.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances (f32): exp loses a few ulps and the row sum accumulates ~n/WG terms per lane in f32.
const ATOL = 1e-7;
const RTOL = 2e-5;

const shapes: number[][] = [[1, 1], [3, 1], [1, 7], [5, 8], [2, 3, 33], [4, 257], [2, 1000], [1, 5003], [70, 12]];

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('softmax (%s)', (_name, options) => {
  const gpu = useGpu(options);

  it.each(shapes)('rows of shape %j', async (...shape) => {
    const ctx = gpu();
    const n = shape[shape.length - 1];
    const size = shape.reduce((p, d) => p * d, 1);
    // large offsets and spread: exp would overflow without max subtraction
    const data = randomArray(size, size + n, 40).map((v, i) => v + (i % 3) * 300);
    const x = ctx.tensor(data, shape);
    const rec = ctx.recorder('softmax');
    const y = softmax(rec, x);
    rec.submit();
    expect(y.shape).toEqual(shape);
    expect(maxRelErr(await y.read(), softmaxRef(data, n), ATOL, RTOL)).toBeLessThanOrEqual(1);
    x.dispose();
    y.dispose();
  });

  it('gives -inf entries probability 0 and all -inf rows zeros', async () => {
    const ctx = gpu();
    const n = 37;
    const data = randomArray(3 * n, 5, 3);
    for (let j = 0; j < n; j += 3) data[j] = -Infinity; // row 0: every third masked
    for (let j = 0; j < n; j++) data[n + j] = -Infinity; // row 1: all masked
    data[2 * n + 5] = -Infinity;
    const x = ctx.tensor(data, [3, n]);
    const rec = ctx.recorder('softmax-mask');
    const y = softmax(rec, x);
    rec.submit();
    const got = await y.read();
    const want = softmaxRef(data, n);
    expect(maxRelErr(got, want, ATOL, RTOL)).toBeLessThanOrEqual(1);
    expect(Array.from(got.slice(n, 2 * n))).toEqual(new Array(n).fill(0));
    x.dispose();
    y.dispose();
  });

  // [blocks, blockRows, n, validRows, validCols, causal, past]: padding rows and columns, causal with and without past, one column
  const maskCases: [number, number, number, number, number, boolean, number][] = [
    [3, 8, 8, 5, 5, true, 0],
    [2, 4, 12, 3, 9, false, 0],
    [1, 4, 8, 2, 8, true, 6],
    [2, 4, 4, 4, 1, false, 0],
    [1, 12, 40, 12, 37, true, 25],
  ];
  it.each(maskCases)('masked: %i blocks of %i rows of %i, %i rows and %i columns valid, causal %s, past %i', async (blocks, blockRows, n, validRows, validCols, causal, past) => {
    const ctx = gpu();
    const data = randomArray(blocks * blockRows * n, blocks + n, 20);
    const x = ctx.tensor(data, [blocks, blockRows, n]);
    const rec = ctx.recorder('masked-softmax');
    const y = maskedSoftmax(rec, x, { validRows, validCols, causal, past });
    rec.submit();
    const got = await y.read();
    const want = maskedSoftmaxRef(data, blockRows, n, { validRows, validCols, causal, past });
    expect(maxRelErr(got, want, ATOL, RTOL)).toBeLessThanOrEqual(1);
    // masked entries are exactly 0
    want.forEach((w, i) => { if (w === 0) expect(got[i]).toBe(0); });
    x.dispose();
    y.dispose();
  });

  it('masked: rejects rows that are not multiples of 4 and masks larger than the tensor', () => {
    const ctx = gpu();
    const x = ctx.zeros([2, 6]);
    const rec = ctx.recorder('masked-bad');
    expect(() => maskedSoftmax(rec, x, { validRows: 2, validCols: 6 })).toThrow(/maskedSoftmax: needs f32 \[..., rows, n\] with n a multiple of 4/);
    expect(() => maskedSoftmax(rec, x.reshape([3, 4]), { validRows: 3, validCols: 5 })).toThrow(/validCols 5/);
    rec.submit();
    x.dispose();
  });

  it('rejects a mismatched out tensor', () => {
    const ctx = gpu();
    const x = ctx.zeros([2, 5]);
    const bad = ctx.zeros([2, 4]);
    const rec = ctx.recorder('softmax-bad');
    expect(() => softmax(rec, x, bad)).toThrow(/softmax: out \[2, 4\]/);
    rec.submit();
    x.dispose();
    bad.dispose();
  });
});
