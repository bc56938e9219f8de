import { describe, expect, it } from 'vitest';
import { columns } from '../../src/runtime/ops/columns.ts';
import { concat, mergeHeads, padAxis, slice, splitHeads, transpose } from '../../src/runtime/ops/layout.ts';
import { concatRef, mergeHeadsRef, sliceRef, splitHeadsRef, transposeRef } from '../../src/reference/layout.ts';
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

  it.each([[[1, 1]], [[3, 5]], [[2, 7, 4]], [[2, 3, 1, 6]], [[4, 8]], [[3, 12, 4]], [[2, 2, 4, 20]]])('transpose of the last two dimensions of %j (4 x 4 blocks where both are multiples of 4)', async (shape) => {
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

  // [batch, srcSeq, width, colOff, heads, headDim, seq, seqPad]: awkward lengths, padding, one head, column windows
  const headCases: number[][] = [
    [2, 5, 8, 0, 2, 4, 5, 8],
    [1, 7, 12, 4, 1, 4, 6, 6],
    [3, 3, 30, 6, 3, 6, 3, 4],
    [1, 1, 2, 0, 2, 1, 1, 1],
  ];
  it.each(headCases)('split heads: batch %i, seq %i, width %i from column %i, %i heads of %i, %i rows padded to %i', async (batch, srcSeq, width, colOff, heads, headDim, seq, seqPad) => {
    const ctx = gpu();
    const data = randomArray(batch * srcSeq * width, 6);
    const x = ctx.tensor(data, [batch, srcSeq, width]);
    for (const transposed of [false, true]) {
      const rec = ctx.recorder('split-heads');
      const y = splitHeads(rec, columns(x, colOff, heads * headDim), { heads, seq, padTo: seqPad, transposed });
      rec.submit();
      expect(y.shape).toEqual(transposed ? [batch, heads, headDim, seqPad] : [batch, heads, seqPad, headDim]);
      expect(Array.from(await y.read())).toEqual(Array.from(splitHeadsRef(data, { batch, srcSeq, width, colOff, heads, headDim, seq, seqPad, transposed })));
      y.dispose();
    }
    x.dispose();
  });

  it.each([[2, 3, 8, 4, 5], [1, 1, 4, 1, 4], [3, 2, 3, 6, 1]])('merge heads: batch %i, %i heads, %i rows of %i, first %i', async (batch, heads, seqPad, headDim, seq) => {
    const ctx = gpu();
    const data = randomArray(batch * heads * seqPad * headDim, 8);
    const x = ctx.tensor(data, [batch, heads, seqPad, headDim]);
    const rec = ctx.recorder('merge-heads');
    const y = mergeHeads(rec, x, seq);
    rec.submit();
    expect(y.shape).toEqual([batch, seq, heads * headDim]);
    expect(Array.from(await y.read())).toEqual(Array.from(mergeHeadsRef(data, batch, heads, seqPad, headDim, seq)));
    x.dispose();
    y.dispose();
  });

  it('merge heads into a column window of a wider tensor leaves the other columns alone', async () => {
    const ctx = gpu();
    const [batch, heads, seqPad, headDim, seq, width, colOff] = [2, 2, 4, 3, 3, 13, 5];
    const data = randomArray(batch * heads * seqPad * headDim, 12);
    const base = randomArray(batch * seq * width, 13);
    const x = ctx.tensor(data, [batch, heads, seqPad, headDim]);
    const into = ctx.tensor(base, [batch, seq, width]);
    const rec = ctx.recorder('merge-into');
    mergeHeads(rec, x, seq, columns(into, colOff, heads * headDim));
    rec.submit();
    const want = mergeHeadsRef(data, batch, heads, seqPad, headDim, seq, { out: Float64Array.from(base), width, colOff });
    expect(Array.from(await into.read())).toEqual(Array.from(want));
    const bad = ctx.recorder('merge-into-bad');
    expect(() => mergeHeads(bad, x, seq, columns(into, 9, heads * headDim))).toThrow(/columns 9..14/);
    bad.submit();
    x.dispose();
    into.dispose();
  });

  it('rejects windows outside the tensor and mismatched concat shapes', () => {
    const ctx = gpu();
    const x = ctx.zeros([2, 3]);
    const rec = ctx.recorder('bad');
    expect(() => slice(rec, x, 1, 2, 2)).toThrow(/slice: \[2, 4\) is outside axis 1 of \[2, 3\]/);
    expect(() => concat(rec, [x, ctx.zeros([3, 3])], 1)).toThrow(/differ outside axis 1/);
    expect(() => slice(rec, x, 2, 0, 1)).toThrow(/axis 2 is outside/);
    expect(() => splitHeads(rec, x.reshape([1, 2, 3]), { heads: 2 })).toThrow(/splitHeads: width 3 is not a multiple of the head count/);
    expect(() => mergeHeads(rec, x, 1)).toThrow(/mergeHeads: x must be \[batch, heads, rows, headDim\]/);
    rec.submit();
    x.dispose();
  });
});
