import { describe, expect, it } from 'vitest';
import { embedding, tokenIdTensor } from '../../src/runtime/ops/embedding.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { randomArray, rng, useGpu } from '../helpers/gpu.ts';

// A gather copies values and an add is one f32 rounding: results must match to f32 precision.
const TOL = 1e-6;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('embedding gather', () => {
  const gpu = useGpu();

  it.each([
    [1, 1, 1, 4],
    [2, 5, 11, 7],
    [3, 17, 50, 64],
    [1, 40, 1000, 33],
  ])('batch %i x %i tokens, vocab %i, dim %i, with and without positions', async (batch, seqLen, vocab, dim) => {
    const ctx = gpu();
    const r = rng(batch * 1000 + dim);
    const idList = Array.from({ length: batch * seqLen }, () => Math.floor(r() * vocab));
    const tableData = randomArray(vocab * dim, vocab + dim, 2);
    const posData = randomArray((seqLen + 3) * dim, dim, 1);
    const table = ctx.tensor(tableData, [vocab, dim]);
    const positions = ctx.tensor(posData, [seqLen + 3, dim]);
    const ids = tokenIdTensor(ctx, idList, [batch, seqLen], vocab);
    const rec = ctx.recorder('embedding');
    const plain = embedding(rec, table, ids);
    const withPos = embedding(rec, table, ids, { positions, posOffset: 3 });
    rec.submit();
    expect(plain.shape).toEqual([batch, seqLen, dim]);
    expect(maxAbsDiff(await plain.read(), embeddingRef(tableData, dim, idList, seqLen))).toBe(0);
    expect(maxAbsDiff(await withPos.read(), embeddingRef(tableData, dim, idList, seqLen, { table: posData, offset: 3 }))).toBeLessThanOrEqual(TOL);
    for (const t of [table, positions, ids, plain, withPos]) t.dispose();
  });

  it('adds each token its own position from GPU position ids (clamped to the table)', async () => {
    const ctx = gpu();
    const [vocab, dim, maxPos] = [30, 12, 9];
    const idList = [3, 29, 0, 7];
    const posList = [0, 8, 4, 50]; // 50 is past the table: clamped to its last row
    const tableData = randomArray(vocab * dim, 5, 2);
    const posData = randomArray(maxPos * dim, 6, 1);
    const [table, positions] = [ctx.tensor(tableData, [vocab, dim]), ctx.tensor(posData, [maxPos, dim])];
    const ids = ctx.tensor(Uint32Array.from(idList), [4, 1], 'u32');
    const positionIds = ctx.tensor(Uint32Array.from(posList), [4, 1], 'u32');
    const rec = ctx.recorder('embedding-pos-ids');
    const out = embedding(rec, table, ids, { positions, positionIds });
    rec.submit();
    expect(maxAbsDiff(await out.read(), embeddingRef(tableData, dim, idList, 1, { table: posData, offset: 0, ids: posList }))).toBeLessThanOrEqual(TOL);
    for (const t of [table, positions, ids, positionIds, out]) t.dispose();
  });

  it('clamps ids from the GPU that are past the vocabulary to its last row', async () => {
    const ctx = gpu();
    const tableData = randomArray(5 * 8, 9);
    const table = ctx.tensor(tableData, [5, 8]);
    const ids = ctx.tensor(Uint32Array.from([0, 4, 5, 4_000_000_000]), [4], 'u32');
    const rec = ctx.recorder('embedding-clamp');
    const out = embedding(rec, table, ids);
    rec.submit();
    expect(maxAbsDiff(await out.read(), embeddingRef(tableData, 8, [0, 4, 4, 4], 4))).toBe(0);
    for (const t of [table, ids, out]) t.dispose();
  });

  it('names an out-of-range host id and a position table that is too short', () => {
    const ctx = gpu();
    expect(() => tokenIdTensor(ctx, [1, 2, 12], [3], 12)).toThrow(/token id 12 at position 2 is outside the vocabulary of 12 tokens/);
    const table = ctx.zeros([12, 4]);
    const positions = ctx.zeros([8, 4]);
    const ids = tokenIdTensor(ctx, [1, 2, 3], [1, 3], 12);
    const rec = ctx.recorder('embedding-bad');
    expect(() => embedding(rec, table, ids, { positions, posOffset: 6 })).toThrow(/positions 6\.\.8 are past the position table's 8 rows/);
    rec.submit();
    for (const t of [table, positions, ids]) t.dispose();
  });
});
