import { describe, expect, it } from 'vitest';
import { embeddingBackward } from '../../src/train/backward/embedding.ts';
import { maxRelErr, randomArray, rng } from '../../src/reference/numeric.ts';
import { useGpu } from '../helpers/gpu.ts';

// Sums of a few f32 rows in a fixed order: exact up to f32 rounding of the sum.
const ATOL = 1e-6;
const RTOL = 1e-6;

/** dtable[v] = sum of the dout rows whose id is v, in float64. */
function scatterAddRef(ids: ArrayLike<number>, dout: ArrayLike<number>, vocab: number, dim: number): Float64Array {
  const out = new Float64Array(vocab * dim);
  for (let t = 0; t < ids.length; t++) {
    if (ids[t] < 0 || ids[t] >= vocab) continue;
    for (let c = 0; c < dim; c++) out[ids[t] * dim + c] += dout[t * dim + c];
  }
  return out;
}

describe('embedding backward (deterministic scatter-add)', () => {
  const gpu = useGpu();

  it.each([
    [1, 1, 1],
    [9, 13, 8],
    [50, 7, 3], // more rows than tokens: most rows get zero gradient
    [5, 40, 300], // repeated ids, a dimension past one pass of 64 vec4 lanes
    [17, 33, 6],
  ])('vocab %i, %i tokens, dim %i, with repeats and -1 padding ids', async (vocab, tokens, dim) => {
    const ctx = gpu();
    const r = rng(vocab * 31 + tokens);
    const ids = Int32Array.from({ length: tokens }, (_, t) => (t % 7 === 6 ? -1 : Math.floor(r() * vocab)));
    const dout = randomArray(tokens * dim, tokens + dim);
    const idsT = ctx.tensor(ids, [tokens], 'i32');
    const doutT = ctx.tensor(dout, [tokens, dim]);
    const results: Float32Array[] = [];
    for (let run = 0; run < 2; run++) {
      const rec = ctx.recorder('embedding-backward');
      const dtable = embeddingBackward(rec, doutT, idsT, vocab);
      rec.submit();
      results.push((await dtable.read()) as Float32Array);
      dtable.dispose();
    }
    expect(maxRelErr(results[0], scatterAddRef(ids, dout, vocab, dim), ATOL, RTOL)).toBeLessThanOrEqual(1);
    expect(Array.from(results[1])).toEqual(Array.from(results[0])); // bitwise the same run to run
    idsT.dispose();
    doutT.dispose();
  });

  it('rejects ids that do not match the rows of dout', () => {
    const ctx = gpu();
    const rec = ctx.recorder('bad');
    expect(() => embeddingBackward(rec, ctx.zeros([4, 8]), ctx.zeros([3], 'i32'), 10)).toThrow(/ids must be u32\/i32 with 4 values/);
    rec.submit();
  });
});
