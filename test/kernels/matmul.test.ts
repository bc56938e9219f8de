import { describe, expect, it } from 'vitest';
import { matmul, type MatmulOptions } from '../../src/runtime/ops/matmul.ts';
import { matmulRef } from '../../src/reference/matmul.ts';
import { fromF16Array, toF16Array } from '../../src/runtime/dtype.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import { maxRelErr, randomArray, rng, useGpu } from '../helpers/gpu.ts';

// Tolerances. f32: products of values in [-1, 1] summed over k <= 200 terms in f32, in another order
// than the float64 reference: |error| <= 2e-5 + 1e-4 |want|. f16 weights: the reference is given the
// same f16-rounded weights, so only f32 accumulation differs and the f32 tolerance applies (against
// unrounded weights the error would be ~1e-3 relative, the f16 rounding itself).
const ATOL = 2e-5;
const RTOL = 1e-4;

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

interface Case {
  a: number[];
  b: number[];
  /** bias: add a random bias; out: write into a given tensor (with accumulate: one holding random values). */
  opts?: Omit<MatmulOptions, 'bias' | 'out' | 'normalizeA'> & { bias?: boolean; out?: boolean; normalizeA?: boolean };
  f16?: boolean;
}

async function check(ctx: GpuContext, name: string, c: Case, seed: number): Promise<void> {
  const a = randomArray(size(c.a), seed);
  let b = randomArray(size(c.b), seed + 1);
  if (c.f16) b = fromF16Array(toF16Array(b));
  const { out: givenOut, normalizeA, ...opts } = c.opts ?? {};
  const n = opts.transB ? c.b.at(-2)! : c.b.at(-1)!;
  const k = c.a.at(-1)!;
  const bias = opts.bias ? randomArray(n, seed + 2) : undefined;
  const norm = normalizeA ? { gamma: randomArray(k, seed + 5), beta: randomArray(k, seed + 6), eps: 1e-5 } : undefined;
  const tnorm = norm ? { gamma: ctx.tensor(norm.gamma, [k]), beta: ctx.tensor(norm.beta, [k]), eps: norm.eps } : undefined;
  const ta = ctx.tensor(a, c.a);
  const tb = ctx.tensor(b, c.b, c.f16 ? 'f16' : 'f32');
  const tbias = bias ? ctx.tensor(bias, [n]) : undefined;
  const want = matmulRef(a, c.a, b, c.b, { ...opts, bias, normalizeA: norm });
  let previous: Float32Array | undefined;
  let out;
  if (opts.accumulate) {
    previous = randomArray(size(want.shape), seed + 3);
    out = ctx.tensor(previous, want.shape);
  } else if (givenOut) {
    out = ctx.tensor(randomArray(size(want.shape), seed + 4), want.shape);
  }
  // A label per case: the context sizes its wait from earlier runs under the same label, and a run
  // that compiled a pipeline would make the next cases sleep for seconds.
  const rec = ctx.recorder(`matmul ${name}`);
  const y = matmul(rec, ta, tb, { ...opts, bias: tbias, out, normalizeA: tnorm });
  rec.submit();
  const got = await y.read();
  if (out) expect(y).toBe(out);
  expect(y.shape).toEqual(want.shape);
  const expected = previous ? want.data.map((v, i) => v + previous[i]) : want.data;
  expect(maxRelErr(got, expected, ATOL, RTOL)).toBeLessThanOrEqual(1);
  for (const t of [ta, tb, tbias, y, tnorm?.gamma, tnorm?.beta]) t?.dispose();
}

const cases: [string, Case][] = [
  ['tile multiples', { a: [64, 32], b: [32, 64] }],
  ['awkward m, n, k', { a: [33, 29], b: [29, 37] }],
  ['size-1 edges', { a: [1, 1], b: [1, 1] }],
  ['k = 1', { a: [40, 1], b: [1, 35] }],
  ['n = 1 (transB)', { a: [45, 12], b: [1, 12], opts: { transB: true } }],
  ['m = 1 column vector out', { a: [70, 9], b: [9, 1] }],
  ['k not a multiple of 4', { a: [19, 7], b: [23, 7], opts: { transB: true } }],
  ['transA', { a: [21, 34], b: [21, 18], opts: { transA: true } }],
  ['transA and transB', { a: [13, 30], b: [41, 13], opts: { transA: true, transB: true } }],
  ['batched', { a: [3, 17, 20], b: [3, 20, 9] }],
  ['batched, transB', { a: [2, 2, 33, 8], b: [2, 2, 31, 8], opts: { transB: true } }],
  ['shared B (rank 2)', { a: [4, 10, 24], b: [24, 40] }],
  ['shared A (rank 2)', { a: [10, 24], b: [3, 24, 11] }],
  ['bias + gelu', { a: [35, 16], b: [50, 16], opts: { transB: true, bias: true, activation: 'gelu' } }],
  ['bias + relu, alpha', { a: [9, 40], b: [40, 70], opts: { bias: true, activation: 'relu', alpha: 0.5 } }],
  ['silu', { a: [32, 12], b: [33, 12], opts: { transB: true, activation: 'silu' } }],
  ['out given (overwritten)', { a: [30, 20], b: [26, 20], opts: { transB: true, out: true } }],
  ['accumulate', { a: [30, 20], b: [20, 26], opts: { accumulate: true, alpha: -2 } }],
  ['layernorm fused into matvec', { a: [1, 128], b: [40, 128], opts: { transB: true, bias: true, normalizeA: true } }],
  ['layernorm fused, 3 rows, k past one lane sweep, accumulate', { a: [3, 36], b: [21, 36], opts: { transB: true, normalizeA: true, accumulate: true } }],
  ['layernorm with k not a multiple of 4 (separate layernorm)', { a: [2, 10], b: [7, 10], opts: { transB: true, normalizeA: true } }],
  ['layernorm on the tile path (separate layernorm)', { a: [9, 24], b: [33, 24], opts: { transB: true, normalizeA: true, activation: 'gelu', bias: true } }],
  ['accumulate with bias + relu', { a: [7, 20], b: [41, 20], opts: { transB: true, accumulate: true, bias: true, activation: 'relu' } }],
  ['accumulate, transA (a weight gradient)', { a: [50, 24], b: [50, 20], opts: { transA: true, accumulate: true } }],
  ['matvec m = 1', { a: [1, 64], b: [100, 64], opts: { transB: true } }],
  ['matvec m = 3 (a spare row), awkward k', { a: [3, 43], b: [37, 43], opts: { transB: true, bias: true, activation: 'gelu' } }],
  ['matvec m = 4, k past one lane sweep', { a: [4, 100], b: [100, 19] }],
  ['m = 5, just past matvec', { a: [5, 20], b: [20, 45] }],
  ['matvec batched', { a: [3, 2, 36], b: [3, 36, 21] }],
  ['matvec accumulate', { a: [2, 16], b: [9, 16], opts: { transB: true, accumulate: true } }],
  ['tile kernel forced at m = 2', { a: [2, 20], b: [20, 30], opts: { kernel: 'tile' } }],
  ['matvec forced at m = 4 with n = 1', { a: [4, 12], b: [12, 1], opts: { kernel: 'matvec' } }],
];

const f16Cases: [string, Case][] = [
  ['f16 weights', { a: [37, 24], b: [45, 24], opts: { transB: true, bias: true }, f16: true }],
  ['f16 weights, matvec', { a: [3, 40], b: [33, 40], opts: { transB: true }, f16: true }],
  ['f16 weights, batched', { a: [2, 9, 8], b: [2, 17, 8], opts: { transB: true }, f16: true }],
];

const seedOf = (c: Case) => c.a.length * 100 + c.a[0] * 7 + c.b.at(-1)!;

/** Seeded random shapes: m, n, k in [1, 70], random layouts and batches. */
function randomCases(count: number, seed: number): [string, Case][] {
  const r = rng(seed);
  const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: count }, () => {
    const [m, n, k] = [pick(1, 70), pick(1, 70), pick(1, 70)];
    const transA = r() < 0.5;
    const transB = r() < 0.5;
    const batch = r() < 0.3 ? [pick(2, 3)] : [];
    const a = [...batch, ...(transA ? [k, m] : [m, k])];
    const b = [...(r() < 0.5 ? batch : []), ...(transB ? [n, k] : [k, n])];
    return [`random A [${a}]${transA ? 'ᵀ' : ''} B [${b}]${transB ? 'ᵀ' : ''}`, { a, b, opts: { transA, transB, bias: r() < 0.5 } }];
  });
}

describe('matmul (subgroups where the adapter has them)', () => {
  const gpu = useGpu();

  it.each([...cases, ...randomCases(8, 2024)])('%s', async (name, c) => {
    await check(gpu(), name, c, seedOf(c));
  });

  it.each(f16Cases)('%s', async (name, c) => {
    const ctx = gpu();
    if (!ctx.features.f16) return; // f16 weights need shader-f16; the f32 cases cover the rest
    await check(ctx, name, c, seedOf(c));
  });
});

// The workgroup-memory variants differ only in how lanes share A rows (gemm_shared.wgsl), and each
// takes seconds to compile on lavapipe: a few cases cover edges, batches, the epilogue and matvec.
const sharedCases = cases.filter(([name]) => ['awkward m, n, k', 'size-1 edges', 'batched, transB', 'accumulate', 'bias + gelu', 'matvec m = 3 (a spare row), awkward k', 'layernorm fused into matvec'].includes(name));

describe('matmul without subgroups', () => {
  const gpu = useGpu({ disable: { subgroups: true } });

  it.each(sharedCases)('%s', async (name, c) => {
    await check(gpu(), name, c, seedOf(c));
  });
});

describe('matmul errors', () => {
  const gpu = useGpu();

  it('names the shapes when inner dimensions differ', () => {
    const ctx = gpu();
    const rec = ctx.recorder('bad');
    expect(() => matmul(rec, ctx.zeros([3, 4]), ctx.zeros([5, 6]))).toThrow(/inner dimensions differ \(4 vs 5\): A f32 \[3, 4\], B f32 \[5, 6\]/);
    rec.submit();
  });

  it('rejects mismatched batches, a wrong bias and accumulate without out', () => {
    const ctx = gpu();
    const rec = ctx.recorder('bad');
    expect(() => matmul(rec, ctx.zeros([2, 3, 4]), ctx.zeros([3, 4, 5]))).toThrow(/batch dimensions differ/);
    expect(() => matmul(rec, ctx.zeros([3, 4]), ctx.zeros([4, 5]), { bias: ctx.zeros([4]) })).toThrow(/bias must be f32 \[5\]/);
    expect(() => matmul(rec, ctx.zeros([3, 4]), ctx.zeros([4, 5]), { accumulate: true })).toThrow(/accumulate needs an out tensor/);
    expect(() => matmul(rec, ctx.zeros([3, 4]), ctx.zeros([4, 5]), { out: ctx.zeros([3, 4]) })).toThrow(/out must be f32 \[3, 5\]/);
    expect(() => matmul(rec, ctx.zeros([5, 4]), ctx.zeros([4, 5]), { kernel: 'matvec' })).toThrow(/at most 4 rows, got 5/);
    rec.submit();
  });

  it('requires f16 weights in the [n, k] layout', () => {
    const ctx = gpu();
    if (!ctx.features.f16) return;
    const rec = ctx.recorder('bad');
    expect(() => matmul(rec, ctx.zeros([3, 4]), ctx.zeros([4, 8], 'f16'))).toThrow(/f16 B must be stored \[n, k\] \(transB\)/);
    rec.submit();
  });
});
