import { describe, expect, it } from 'vitest';
import { concat, padAxis, slice, transpose } from '../../src/runtime/ops/layout.ts';
import { concatRef, sliceRef, transposeRef } from '../../src/reference/layout.ts';
import { randomArray, useGpu } from '../helpers/gpu.ts';

// Copies are exact.
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

describe('layout kernels', () => {
  const gpu = useGpu();

  it.each([
    [[4, 9], 1, 3, 3],
    [[2, 5, 7], 1, 0, 1],
    [[6], 0, 5, 1],
    [[3, 1, 4], 2, 1, 3],
    [[2, 3, 2, 5], 0, 1, 1],
  ])('slice %j along %i from %i, %i long', async (shape, axis, start, length) => {
    const ctx = gpu();
    const data = randomArray(size(shape), 3);
    const x = ctx.tensor(data, shape);
    const rec = ctx.recorder('slice');
    const y = slice(rec, x, axis, start, length);
    rec.submit();
    expect(Array.from(await y.read())).toEqual(Array.from(sliceRef(data, shape, axis, start, length)));
    x.dispose();
    y.dispose();
  });

  it.each([
    [[[2, 1, 4], [2, 5, 4]], 1],
    [[[3, 2], [3, 1], [3, 4]], -1],
    [[[1, 3]], 0],
    [[[2, 3], [5, 3]], 0],
  ])('concat %j along %i', async (shapes, axis) => {
    const ctx = gpu();
    const data = shapes.map((s, i) => randomArray(size(s), i + 1));
    const xs = shapes.map((s, i) => ctx.tensor(data[i], s));
    const rec = ctx.recorder('concat');
    const y = concat(rec, xs, axis);
    rec.submit();
    const a = axis < 0 ? shapes[0].length + axis : axis;
    expect(Array.from(await y.read())).toEqual(Array.from(concatRef(data, shapes, a)));
    for (const x of [...xs, y]) x.dispose();
  });

  it('pad is the zero-filled adjoint of slice', async () => {
    const ctx = gpu();
    const shape = [3, 2, 5];
    const data = randomArray(size(shape), 9);
    const x = ctx.tensor(data, shape);
    const rec = ctx.recorder('pad');
    const y = padAxis(rec, x, 1, 3, 7);
    rec.submit();
    const want = concatRef([new Float64Array(3 * 3 * 5), data, new Float64Array(3 * 2 * 5)], [[3, 3, 5], shape, [3, 2, 5]], 1);
    expect(Array.from(await y.read())).toEqual(Array.from(want));
    x.dispose();
    y.dispose();
  });

  it.each([[[1, 1]], [[3, 5]], [[2, 7, 4]], [[2, 3, 1, 6]]])('transpose of the last two dimensions of %j', async (shape) => {
    const ctx = gpu();
    const data = randomArray(size(shape), 4);
    const x = ctx.tensor(data, shape);
    const rec = ctx.recorder('transpose');
    const y = transpose(rec, x);
    rec.submit();
    const [rows, cols] = shape.slice(-2);
    expect(y.shape).toEqual([...shape.slice(0, -2), cols, rows]);
    expect(Array.from(await y.read())).toEqual(Array.from(transposeRef(data, size(shape) / (rows * cols), rows, cols)));
    x.dispose();
    y.dispose();
  });

  it('rejects windows outside the tensor and mismatched concat shapes', () => {
    const ctx = gpu();
    const x = ctx.zeros([2, 3]);
    const rec = ctx.recorder('bad');
    expect(() => slice(rec, x, 1, 2, 2)).toThrow(/slice: \[2, 4\) is outside axis 1 of \[2, 3\]/);
    expect(() => concat(rec, [x, ctx.zeros([3, 3])], 1)).toThrow(/differ outside axis 1/);
    expect(() => slice(rec, x, 2, 0, 1)).toThrow(/axis 2 is outside/);
    rec.submit();
    x.dispose();
  });
});
