import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/runtime/ops/softmax.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';
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
