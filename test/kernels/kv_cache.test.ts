import { describe, expect, it } from 'vitest';
import { appendKv } from '../../src/runtime/ops/kv_cache.ts';
import { columns } from '../../src/runtime/ops/columns.ts';
import { appendKvRef } from '../../src/reference/kv_cache.ts';
import { sliceRef } from '../../src/reference/layout.ts';
import { randomArray, useGpu } from '../helpers/gpu.ts';

describe('KV-cache append', () => {
  const gpu = useGpu();

  it.each([
    [1, 1, 1, 4, 0],
    [2, 10, 3, 6, 4],
    [3, 16, 16, 64, 0],
    [2, 40, 1, 33, 39],
  ])('batch %i, capacity %i, %i new rows of dim %i at position %i', async (batch, tmax, tnew, dim, pos) => {
    const ctx = gpu();
    const cacheK = randomArray(batch * tmax * dim, tmax + dim, 1);
    const cacheV = randomArray(batch * tmax * dim, tmax * 3 + dim, 1);
    const newK = randomArray(batch * tnew * dim, pos + 1, 5);
    const newV = randomArray(batch * tnew * dim, pos + 2, 5);
    const cache = { k: ctx.tensor(cacheK, [batch, tmax, dim]), v: ctx.tensor(cacheV, [batch, tmax, dim]) };
    const [k, v] = [ctx.tensor(newK, [batch, tnew, dim]), ctx.tensor(newV, [batch, tnew, dim])];
    const rec = ctx.recorder('append');
    appendKv(rec, cache, k, v, pos);
    rec.submit();
    // a copy is exact: everything else in the cache is untouched
    expect(Array.from(await cache.k.read())).toEqual(Array.from(appendKvRef(cacheK, newK, batch, tmax, dim, pos)));
    expect(Array.from(await cache.v.read())).toEqual(Array.from(appendKvRef(cacheV, newV, batch, tmax, dim, pos)));
    for (const t of [cache.k, cache.v, k, v]) t.dispose();
  });

  it('writes each sequence at its own GPU-side position, dropping rows past the capacity', async () => {
    const ctx = gpu();
    const [batch, tmax, tnew, dim] = [3, 12, 2, 8];
    const start = randomArray(batch * tmax * dim, 21, 1);
    const rowsData = randomArray(batch * tnew * dim, 22, 5);
    const positions = [0, 5, 11]; // the last sequence has room for one of its two rows
    const cache = { k: ctx.tensor(start, [batch, tmax, dim]), v: ctx.tensor(start, [batch, tmax, dim]) };
    const rows = ctx.tensor(rowsData, [batch, tnew, dim]);
    const pos = ctx.tensor(Uint32Array.from(positions), [batch, 1], 'u32');
    const rec = ctx.recorder('append-ragged');
    appendKv(rec, cache, rows, rows, pos);
    rec.submit();
    const want = Array.from(appendKvRef(start, rowsData, batch, tmax, dim, positions));
    expect(Array.from(await cache.k.read())).toEqual(want);
    expect(Array.from(await cache.v.read())).toEqual(want);
    for (const t of [cache.k, cache.v, rows, pos]) t.dispose();
  });

  it.each([
    ['vec4 chunks', 8, 8],
    ['scalar lanes (odd width)', 5, 5],
  ])('reads K and V as column views of a fused QKV projection (%s)', async (_label, dim, start) => {
    const ctx = gpu();
    const [batch, tmax, tnew, pos] = [2, 9, 3, 4];
    const shape = [batch, tnew, 3 * dim];
    const qkvData = randomArray(batch * tnew * 3 * dim, dim, 5);
    const cacheStart = randomArray(batch * tmax * dim, 31, 1);
    const cache = { k: ctx.tensor(cacheStart, [batch, tmax, dim]), v: ctx.tensor(cacheStart, [batch, tmax, dim]) };
    const qkv = ctx.tensor(qkvData, shape);
    const rec = ctx.recorder('append-views');
    appendKv(rec, cache, columns(qkv, start, dim), columns(qkv, 2 * start, dim), pos);
    rec.submit();
    const rowsOf = (i: number) => sliceRef(qkvData, shape, 2, i * start, dim);
    expect(Array.from(await cache.k.read())).toEqual(Array.from(appendKvRef(cacheStart, rowsOf(1), batch, tmax, dim, pos)));
    expect(Array.from(await cache.v.read())).toEqual(Array.from(appendKvRef(cacheStart, rowsOf(2), batch, tmax, dim, pos)));
    for (const t of [cache.k, cache.v, qkv]) t.dispose();
  });

  it('refuses to write past the capacity', () => {
    const ctx = gpu();
    const cache = { k: ctx.zeros([1, 8, 4]), v: ctx.zeros([1, 8, 4]) };
    const rows = ctx.zeros([1, 3, 4]);
    const rec = ctx.recorder('append-overflow');
    expect(() => appendKv(rec, cache, rows, rows, 6)).toThrow(/writing 3 rows at position 6 overflows the cache capacity 8/);
    rec.submit();
    for (const t of [cache.k, cache.v, rows]) t.dispose();
  });
});
