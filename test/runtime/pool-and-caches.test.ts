import { describe, expect, it } from 'vitest';
import { attention } from '../../src/runtime/ops/attention.ts';
import { embedding, tokenIdTensor } from '../../src/runtime/ops/embedding.ts';
import { appendKv } from '../../src/runtime/ops/kv_cache.ts';
import { layerNorm } from '../../src/runtime/ops/layernorm.ts';
import { argmaxTokens } from '../../src/runtime/ops/sampling.ts';
import { softmax } from '../../src/runtime/ops/softmax.ts';
import { randomArray, useGpu } from '../helpers/gpu.ts';

describe('decode-like loop: pool, pipeline cache, bind group cache', () => {
  const gpu = useGpu();

  it('allocates no buffers, compiles no pipelines and creates no bind groups after warm-up over 1,000 steps', async () => {
    const ctx = gpu();
    const [dim, heads, steps] = [64, 4, 1000];
    const vocab = dim; // the attention output doubles as logits over a vocabulary of `dim` tokens
    const table = ctx.tensor(randomArray(vocab * dim, 1, 1), [vocab, dim]);
    const positions = ctx.tensor(randomArray(steps * dim, 2, 0.1), [steps, dim]);
    const gamma = ctx.tensor(new Float32Array(dim).fill(1), [dim]);
    const beta = ctx.zeros([dim]);
    const cache = { k: ctx.zeros([1, steps, dim]), v: ctx.zeros([1, steps, dim]) };
    const ids = tokenIdTensor(ctx, [3], [1, 1], vocab); // each step's argmax overwrites it in place

    const snapshot = () => ({ pool: ctx.storagePool.getStats(), kernels: ctx.kernels.getStats(), bindGroups: ctx.bindGroups.getStats() });
    const marks: ReturnType<typeof snapshot>[] = [];
    for (let step = 0; step < steps; step++) {
      const rec = ctx.recorder('decode-step');
      const x = embedding(rec, table, ids, { positions, posOffset: step });
      const { y } = layerNorm(rec, x, gamma, beta);
      appendKv(rec, cache, y, y, step);
      const context = attention(rec, y, cache.k, cache.v, { heads, causal: true, kvLength: step + 1 });
      const probs = softmax(rec, context.reshape([1, dim]));
      argmaxTokens(rec, probs, { out: ids.reshape([1]) });
      rec.submit();
      for (const t of [x, y, context, probs]) t.dispose();
      marks.push(snapshot());
    }
    const [token] = await ids.read();
    expect(token).toBeLessThan(vocab);

    const [first, third, last] = [marks[0], marks[2], marks[steps - 1]];
    const dispatchesPerStep = 6;
    // Buffers: everything the loop needs exists after step 1.
    expect(last.pool.created).toBe(first.pool.created);
    expect(last.pool.live).toBe(first.pool.live);
    // Pipelines: compiled in step 1, then every dispatch is a cache hit.
    expect(last.kernels.misses).toBe(first.kernels.misses);
    expect(last.kernels.hits - first.kernels.hits).toBe((steps - 1) * dispatchesPerStep);
    // Bind groups: the pool's free lists are LIFO, so the same buffers come back in a cycle of two
    // steps; from step 3 on every bind group is a cache hit.
    expect(last.bindGroups.misses).toBe(third.bindGroups.misses);
    expect(last.bindGroups.hits - third.bindGroups.hits).toBe((steps - 3) * dispatchesPerStep);

    for (const t of [table, positions, gamma, beta, cache.k, cache.v, ids]) t.dispose();
  });

  it('reuses a bind group when the same kernel sees the same buffers again', async () => {
    const ctx = gpu();
    const x = ctx.tensor(randomArray(40, 9), [4, 10]);
    const out = ctx.empty([4, 10]);
    const before = ctx.bindGroups.getStats();
    const rec = ctx.recorder('bind-groups');
    for (let i = 0; i < 5; i++) softmax(rec, x, out);
    rec.submit();
    const after = ctx.bindGroups.getStats();
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(4);
    await out.read();
    x.dispose();
    out.dispose();
  });
});
