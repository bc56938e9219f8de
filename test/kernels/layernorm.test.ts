import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/runtime/ops/layernorm.ts';
import { layerNormRef } from '../../src/reference/layernorm.ts';
import { maxRelErr, randomArray, useGpu } from '../helpers/gpu.ts';

// Tolerances (f32): normalised values are O(1); the mean and variance are accumulated in f32 over
// n elements, so errors grow slowly with n. Stats (mean, rstd) are compared relatively.
const ATOL = 2e-5;
const RTOL = 1e-4;

const shapes: number[][] = [[1, 1], [4, 1], [1, 3], [2, 8], [3, 5, 12], [7, 255], [2, 768], [1, 3001], [33, 64]];

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('layernorm (%s)', (_name, options) => {
  const gpu = useGpu(options);

  it.each(shapes)('rows of shape %j with stats', async (...shape) => {
    const ctx = gpu();
    const n = shape[shape.length - 1];
    const size = shape.reduce((p, d) => p * d, 1);
    // a large common offset: E[x^2] - E[x]^2 would lose every digit of the variance here
    const data = randomArray(size, size * 3 + n, 2).map((v) => v + 1000);
    const g = randomArray(n, n + 1, 1.5);
    const b = randomArray(n, n + 2, 0.5);
    const [x, gamma, beta] = [ctx.tensor(data, shape), ctx.tensor(g, [n]), ctx.tensor(b, [n])];
    const rec = ctx.recorder('layernorm');
    const r = layerNorm(rec, x, gamma, beta, { stats: true, eps: 1e-5 });
    rec.submit();
    const want = layerNormRef(data, n, g, b, 1e-5);
    expect(r.y.shape).toEqual(shape);
    expect(r.mean!.shape).toEqual(shape.slice(0, -1));
    expect(maxRelErr(await r.y.read(), want.y, ATOL * 10, RTOL * 10)).toBeLessThanOrEqual(1);
    expect(maxRelErr(await r.mean!.read(), want.mean, 0, 1e-6)).toBeLessThanOrEqual(1);
    expect(maxRelErr(await r.rstd!.read(), want.rstd, 0, 1e-2)).toBeLessThanOrEqual(1);
    for (const t of [x, gamma, beta, r.y, r.mean!, r.rstd!]) t.dispose();
  });

  it.each([[5, 96], [2, 3, 17]])('without stats, shape %j, unit-scale data', async (...shape) => {
    const ctx = gpu();
    const n = shape[shape.length - 1];
    const size = shape.reduce((p, d) => p * d, 1);
    const data = randomArray(size, 11, 3);
    const g = randomArray(n, 12, 1);
    const b = randomArray(n, 13, 1);
    const [x, gamma, beta] = [ctx.tensor(data, shape), ctx.tensor(g, [n]), ctx.tensor(b, [n])];
    const rec = ctx.recorder('layernorm');
    const r = layerNorm(rec, x, gamma, beta, { eps: 1e-3 });
    rec.submit();
    expect(r.mean).toBeUndefined();
    expect(maxRelErr(await r.y.read(), layerNormRef(data, n, g, b, 1e-3).y, ATOL, RTOL)).toBeLessThanOrEqual(1);
    for (const t of [x, gamma, beta, r.y]) t.dispose();
  });

  it('names the shapes when gamma does not match', () => {
    const ctx = gpu();
    const x = ctx.zeros([2, 6]);
    const g = ctx.zeros([5]);
    const rec = ctx.recorder('layernorm-bad');
    expect(() => layerNorm(rec, x, g, g)).toThrow(/gamma and beta need 6 elements \(x \[2, 6\], gamma \[5\]/);
    rec.submit();
    x.dispose();
    g.dispose();
  });
});
