/** CPU reference (float64) for kernels/matmul.wgsl and matvec.wgsl: the semantics of src/runtime/ops/matmul.ts. */
import type { Activation } from '../runtime/ops/elementwise.ts';
import { activateRef } from './elementwise.ts';
import { layerNormRef } from './layernorm.ts';

export interface EpilogueRef {
  bias?: ArrayLike<number>;
  activation?: Activation;
  alpha?: number;
  /** The output's previous contents, when the op accumulates into it. */
  accumulateInto?: ArrayLike<number>;
}

/** out[i] = act(alpha * product[i] + bias[i % n]) (+ previous[i]). */
export function epilogueRef(product: Float64Array, n: number, e: EpilogueRef): Float64Array {
  const alpha = e.alpha ?? 1;
  return product.map((p, i) => {
    const y = activateRef(alpha * p + (e.bias ? e.bias[i % n] : 0), e.activation ?? 'none');
    return e.accumulateInto ? y + e.accumulateInto[i] : y;
  });
}

export interface MatmulRefOptions extends EpilogueRef {
  transA?: boolean;
  transB?: boolean;
  /** LayerNorm each row of A (not transA) first. */
  normalizeA?: { gamma: ArrayLike<number>; beta: ArrayLike<number>; eps: number };
}

/**
 * op(A) · op(B) with the op's batch rules: equal batch dimensions, B of rank 2 shared by all of A's
 * batches, or A of rank 2 shared by all of B's.
 */
export function matmulRef(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  opts: MatmulRefOptions = {},
): { data: Float64Array; shape: number[] } {
  const [m, k] = opts.transA ? [aShape.at(-1)!, aShape.at(-2)!] : [aShape.at(-2)!, aShape.at(-1)!];
  const [kb, n] = opts.transB ? [bShape.at(-1)!, bShape.at(-2)!] : [bShape.at(-2)!, bShape.at(-1)!];
  if (k !== kb) throw new Error(`matmulRef: inner dimensions differ (${k} vs ${kb})`);
  if (opts.normalizeA) a = layerNormRef(a, k, opts.normalizeA.gamma, opts.normalizeA.beta, opts.normalizeA.eps).y;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batchShape = aBatch.length > 0 ? aBatch : bBatch;
  const batches = batchShape.reduce((p, d) => p * d, 1);
  const aStride = aBatch.length > 0 ? m * k : 0;
  const bStride = bBatch.length > 0 ? k * n : 0;
  const product = new Float64Array(batches * m * n);
  for (let t = 0; t < batches; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a[t * aStride + (opts.transA ? p * m + i : i * k + p)];
          const bv = b[t * bStride + (opts.transB ? j * k + p : p * n + j)];
          s += av * bv;
        }
        product[(t * m + i) * n + j] = s;
      }
    }
  }
  return { data: epilogueRef(product, n, opts), shape: [...batchShape, m, n] };
}
