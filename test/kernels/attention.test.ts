import { describe, expect, it } from 'vitest';
import { attention, type AttentionKernel } from '../../src/runtime/ops/attention.ts';
import { columns } from '../../src/runtime/ops/columns.ts';
import { attentionRef, type AttentionRefOptions } from '../../src/reference/attention.ts';
import { sliceRef } from '../../src/reference/layout.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances (f32): outputs are convex combinations of V rows (|v| <= 1); the online softmax
// rescales in f32, so errors stay near a few ulps of the accumulated sums.
const ATOL = 3e-6;
const RTOL = 1e-4;

type Case = Omit<AttentionRefOptions, 'past' | 'scale'> & { past?: number };

const cases: [string, Case][] = [
  ['single query, key and head', { batch: 1, tq: 1, capacity: 1, tk: 1, heads: 1, headDim: 4, causal: true }],
  ['causal block with an offset', { batch: 2, tq: 5, capacity: 7, tk: 7, heads: 2, headDim: 8, causal: true, past: 2 }],
  ['causal prefill, Tq not a multiple of the lanes', { batch: 1, tq: 13, capacity: 13, tk: 13, heads: 3, headDim: 12, causal: true }],
  ['cross-attention from a partly filled cache', { batch: 2, tq: 9, capacity: 20, tk: 15, heads: 4, headDim: 16, causal: false }],
  ['decode step in a cache', { batch: 1, tq: 1, capacity: 64, tk: 37, heads: 4, headDim: 32, causal: true }],
  ['decode step, long cache', { batch: 2, tq: 1, capacity: 300, tk: 300, heads: 8, headDim: 64, causal: true }],
  ['decode over image tokens', { batch: 2, tq: 1, capacity: 49, tk: 49, heads: 8, headDim: 64, causal: false }],
  ['causal rows whose prefix is past the cache end', { batch: 1, tq: 3, capacity: 40, tk: 30, heads: 2, headDim: 4, causal: true, past: 27 }],
];

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('attention (%s)', (_name, options) => {
  const gpu = useGpu(options);

  for (const kernel of ['flash', 'decode'] as AttentionKernel[]) {
    it.each(cases)(`${kernel}: %s`, async (_label, c) => {
      const ctx = gpu();
      const dim = c.heads * c.headDim;
      const qData = randomArray(c.batch * c.tq * dim, c.tq * 31 + dim, 1.5);
      const kData = randomArray(c.batch * c.capacity * dim, c.tk * 17 + dim, 1.5);
      const vData = randomArray(c.batch * c.capacity * dim, c.tk * 5 + 3, 1);
      const q = ctx.tensor(qData, [c.batch, c.tq, dim]);
      const k = ctx.tensor(kData, [c.batch, c.capacity, dim]);
      const v = ctx.tensor(vData, [c.batch, c.capacity, dim]);
      const past = c.past ?? c.tk - c.tq;
      const rec = ctx.recorder('attention');
      const o = attention(rec, q, k, v, { heads: c.heads, causal: c.causal, past, kvLength: c.tk, kernel });
      rec.submit();
      const want = attentionRef(qData, kData, vData, { ...c, past, scale: 1 / Math.sqrt(c.headDim) });
      expect(o.shape).toEqual([c.batch, c.tq, dim]);
      expect(maxRelErr(await o.read(), want, ATOL, RTOL)).toBeLessThanOrEqual(1);
      for (const t of [q, k, v, o]) t.dispose();
    });
  }

  for (const kernel of ['flash', 'decode'] as AttentionKernel[]) {
    it.each([
      ['decode step, non-causal', 1, false],
      ['decode step, causal', 1, true],
      ['block of 5, causal, one item shorter than the block', 5, true],
    ] as [string, number, boolean][])(`${kernel}: ragged batch with per-item lengths, %s`, async (_label, tq, causal) => {
      const ctx = gpu();
      const c = { batch: 4, tq, capacity: 20, tk: 18, heads: 2, headDim: 8, causal, past: 0 };
      const lengths = [7, 20, 3, 0]; // 20 is clamped to tk; 0 leaves the item without keys (zeros)
      const dim = c.heads * c.headDim;
      const qData = randomArray(c.batch * tq * dim, tq + 1, 1.5);
      const kData = randomArray(c.batch * c.capacity * dim, 2, 1.5);
      const vData = randomArray(c.batch * c.capacity * dim, 3, 1);
      const q = ctx.tensor(qData, [c.batch, tq, dim]);
      const k = ctx.tensor(kData, [c.batch, c.capacity, dim]);
      const v = ctx.tensor(vData, [c.batch, c.capacity, dim]);
      const kvLengths = ctx.tensor(Uint32Array.from(lengths), [c.batch], 'u32');
      const rec = ctx.recorder('attention-ragged');
      const o = attention(rec, q, k, v, { heads: c.heads, causal, kvLength: c.tk, kvLengths, kernel });
      rec.submit();
      const want = attentionRef(qData, kData, vData, { ...c, scale: 1 / Math.sqrt(c.headDim), kvLengths: lengths });
      expect(maxRelErr(await o.read(), want, ATOL, RTOL)).toBeLessThanOrEqual(1);
      for (const t of [q, k, v, kvLengths, o]) t.dispose();
    });
  }

  for (const kernel of ['flash', 'decode'] as AttentionKernel[]) {
    it(`${kernel}: reads q, k and v as column views of one fused QKV tensor`, async () => {
      const ctx = gpu();
      const c = { batch: 2, tq: 6, capacity: 6, tk: 6, heads: 2, headDim: 8, causal: true, past: 0 };
      const dim = c.heads * c.headDim;
      const shape = [c.batch, c.tq, 3 * dim];
      const qkvData = randomArray(c.batch * c.tq * 3 * dim, 77, 1.5);
      const qkv = ctx.tensor(qkvData, shape);
      const rec = ctx.recorder('attention-views');
      const o = attention(rec, columns(qkv, 0, dim), columns(qkv, dim, dim), columns(qkv, 2 * dim, dim), { heads: c.heads, causal: true, kernel });
      rec.submit();
      const part = (i: number) => sliceRef(qkvData, shape, 2, i * dim, dim);
      const want = attentionRef(part(0), part(1), part(2), { ...c, scale: 1 / Math.sqrt(c.headDim) });
      expect(maxRelErr(await o.read(), want, ATOL, RTOL)).toBeLessThanOrEqual(1);
      for (const t of [qkv, o]) t.dispose();
    });
  }

  it('uses a given scale', async () => {
    const ctx = gpu();
    const c = { batch: 1, tq: 6, capacity: 6, tk: 6, heads: 2, headDim: 8, causal: false, past: 0, scale: 0.05 };
    const dim = 16;
    const [qd, kd, vd] = [randomArray(6 * dim, 1, 3), randomArray(6 * dim, 2, 3), randomArray(6 * dim, 3)];
    const [q, k, v] = [ctx.tensor(qd, [1, 6, dim]), ctx.tensor(kd, [1, 6, dim]), ctx.tensor(vd, [1, 6, dim])];
    const rec = ctx.recorder('attention-scale');
    const o = attention(rec, q, k, v, { heads: 2, scale: 0.05 });
    rec.submit();
    expect(maxRelErr(await o.read(), attentionRef(qd, kd, vd, c), ATOL, RTOL)).toBeLessThanOrEqual(1);
    for (const t of [q, k, v, o]) t.dispose();
  });

  it('explains bad shapes and positions', () => {
    const ctx = gpu();
    const q = ctx.zeros([1, 4, 24]);
    const kv = ctx.zeros([1, 8, 24]);
    const rec = ctx.recorder('attention-bad');
    expect(() => attention(rec, q, kv, kv, { heads: 4 })).toThrow(/head dimension 6 must be a multiple of 4/);
    expect(() => attention(rec, q, kv, kv, { heads: 2, causal: true, past: 6 })).toThrow(/positions 6\.\.9 need keys up to there, but only 8 are valid/);
    expect(() => attention(rec, q, kv, kv, { heads: 2, kvLength: 9 })).toThrow(/kvLength 9 must be in 1\.\.8/);
    expect(() => attention(rec, q, kv, kv, { heads: 2, kvLengths: q })).toThrow(/kvLengths must be u32 with one length per batch item \(1\), got f32 \[1, 4, 24\]/);
    rec.submit();
    q.dispose();
    kv.dispose();
  });
});
