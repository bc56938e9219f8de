/** CPU reference (float64) for kernels/reduce.wgsl. */
import type { Reduction } from '../runtime/ops/reduce.ts';

function reduceRange(x: ArrayLike<number>, start: number, end: number, op: Reduction): number {
  let acc = 0;
  for (let i = start; i < end; i++) acc += op === 'sumsq' ? x[i] * x[i] : x[i];
  return op === 'mean' ? acc / (end - start) : acc;
}

/** Reduce each row of length n. */
export function reduceLastDimRef(x: ArrayLike<number>, n: number, op: Reduction): Float64Array {
  return Float64Array.from({ length: x.length / n }, (_, r) => reduceRange(x, r * n, (r + 1) * n, op));
}

/** Reduce all elements. */
export function reduceAllRef(x: ArrayLike<number>, op: Reduction): number {
  return reduceRange(x, 0, x.length, op);
}

/** Mean over axis 1 of [outer, count, inner] -> [outer, inner]. */
export function meanAxis1Ref(x: ArrayLike<number>, outer: number, count: number): Float64Array {
  const inner = x.length / (outer * count);
  const out = new Float64Array(outer * inner);
  for (let a = 0; a < outer; a++) {
    for (let t = 0; t < count; t++) {
      for (let r = 0; r < inner; r++) out[a * inner + r] += x[(a * count + t) * inner + r] / count;
    }
  }
  return out;
}
