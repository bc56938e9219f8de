/**
 * Matrix multiplication at the shapes that matter: the 1024^3 headline, the model's MLP layers
 * (96 tokens x 128 <-> 512, weights [out, in]), f16 weights, decode rows (matvec against the tile
 * kernel), a batched attention-score product and B given as [k, n] (transposed by the op first).
 * Shapes are "MxKxN" (A [M, K] times B [K, N]), with a leading "Bx" for batched products.
 */
import type { BenchCase } from '../harness.ts';
import { matmul, type MatmulOptions } from '../../src/runtime/ops/matmul.ts';
import { matmulRef } from '../../src/reference/matmul.ts';
import { fromF16Array, toF16Array } from '../../src/runtime/dtype.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

/** Rows of the output checked against the float64 reference (all of them for small products). */
const VERIFY_ROWS = 24;

interface Spec {
  kernel: string;
  m: number;
  k: number;
  n: number;
  batch?: number;
  transB?: boolean;
  f16?: boolean;
  choice?: MatmulOptions['kernel'];
  note?: string;
}

function matmulCase(s: Spec): BenchCase {
  const batch = s.batch ?? 1;
  const aShape = batch > 1 ? [batch, s.m, s.k] : [s.m, s.k];
  const bMatrix = s.transB ? [s.n, s.k] : [s.k, s.n];
  const bShape = batch > 1 ? [batch, ...bMatrix] : bMatrix;
  const aData = randomArray(batch * s.m * s.k, s.m + s.k, 1);
  let bData = randomArray(batch * s.k * s.n, s.k + s.n + 1, 1);
  if (s.f16) bData = fromF16Array(toF16Array(bData)); // the reference sees the weights the kernel sees
  const opts: MatmulOptions = { transB: s.transB, kernel: s.choice };
  return {
    kernel: s.kernel,
    shape: `${batch > 1 ? `${batch}x` : ''}${s.m}x${s.k}x${s.n}`,
    flops: 2 * batch * s.m * s.k * s.n,
    note: s.note,
    async setup(ctx) {
      const a = ctx.tensor(aData, aShape);
      const b = ctx.tensor(bData, bShape, s.f16 ? 'f16' : 'f32');
      const out = ctx.empty(batch > 1 ? [batch, s.m, s.n] : [s.m, s.n]);
      return {
        record(reps) {
          const rec = ctx.recorder(`bench-${s.kernel}-${s.m}x${s.k}x${s.n}`);
          for (let i = 0; i < reps; i++) matmul(rec, a, b, { ...opts, out });
          rec.submit();
        },
        async verify() {
          const got = await out.read();
          // The first VERIFY_ROWS rows of every batch: a float64 1024^3 product takes seconds in JS.
          const rows = Math.min(s.m, VERIFY_ROWS);
          const pick = (data: Float32Array | Float64Array | ArrayLike<number>, cols: number) =>
            Float64Array.from({ length: batch * rows * cols }, (_, i) => {
              const t = Math.floor(i / (rows * cols));
              return data[t * s.m * cols + (i % (rows * cols))];
            });
          const want = matmulRef(pick(aData, s.k), batch > 1 ? [batch, rows, s.k] : [rows, s.k], bData, bShape, { transB: s.transB });
          return maxRelErr(pick(got, s.n), want.data, 1e-4, 1e-4) <= 1;
        },
        dispose() {
          a.dispose();
          b.dispose();
          out.dispose();
        },
      };
    },
    async tfjs(tf) {
      const a = tf.tensor(aData, aShape);
      const b = tf.tensor(bData, bShape);
      return {
        async run() {
          const y = tf.matMul(a, b, false, s.transB);
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose() {
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

const weights = { transB: true };

export const cases: BenchCase[] = [
  matmulCase({ kernel: 'matmul', m: 1024, k: 1024, n: 1024, ...weights }),
  matmulCase({ kernel: 'matmul', m: 96, k: 128, n: 512, ...weights }),
  matmulCase({ kernel: 'matmul', m: 96, k: 512, n: 128, ...weights }),
  matmulCase({ kernel: 'matmul B[k,n]', m: 1024, k: 1024, n: 1024, note: 'B given as [k, n]: the op transposes it first' }),
  matmulCase({ kernel: 'matmul B[k,n]', m: 96, k: 128, n: 512, note: 'B given as [k, n]: the op transposes it first' }),
  matmulCase({ kernel: 'matmul f16', m: 1024, k: 1024, n: 1024, f16: true, ...weights, note: 'f16 weights; tfjs runs them as f32' }),
  matmulCase({ kernel: 'matmul f16', m: 96, k: 128, n: 512, f16: true, ...weights, note: 'f16 weights; tfjs runs them as f32' }),
  matmulCase({ kernel: 'matmul batched', batch: 12, m: 96, k: 64, n: 96, ...weights, note: 'attention scores q k^T' }),
  ...[1, 2, 4].flatMap((m) => [
    matmulCase({ kernel: 'matvec', m, k: 384, n: 1536, choice: 'matvec', ...weights }),
    matmulCase({ kernel: 'matmul tile', m, k: 384, n: 1536, choice: 'tile', ...weights, note: 'the tile kernel at decode rows, against matvec' }),
  ]),
  matmulCase({ kernel: 'matmul tile', m: 8, k: 384, n: 1536, choice: 'tile', ...weights }),
  matmulCase({ kernel: 'matvec f16', m: 1, k: 384, n: 1536, choice: 'matvec', f16: true, ...weights, note: 'f16 weights; tfjs runs them as f32' }),
  matmulCase({ kernel: 'matvec', m: 1, k: 128, n: 4096, choice: 'matvec', ...weights, note: "the tiny decoder's vocabulary projection, f32" }),
  matmulCase({ kernel: 'matvec f16', m: 1, k: 128, n: 4096, choice: 'matvec', f16: true, ...weights, note: "the tiny decoder's vocabulary projection, f16 (the default for f16-stored weights)" }),
];
