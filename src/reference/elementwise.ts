/** CPU references (float64) for kernels/elementwise.wgsl. */
import type { Activation, BinaryOp } from '../runtime/ops/elementwise.ts';
import { broadcastShape } from '../runtime/ops/elementwise.ts';

export function activateRef(v: number, act: Activation): number {
  switch (act) {
    case 'relu':
      return Math.max(v, 0);
    case 'gelu':
      return 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v ** 3)));
    case 'silu':
      return v / (1 + Math.exp(-v));
    default:
      return v;
  }
}

export function activationRef(x: ArrayLike<number>, act: Activation): Float64Array {
  return Float64Array.from(x, (v) => activateRef(v, act));
}

export function binaryRef(
  op: BinaryOp,
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  act: Activation = 'none',
): { data: Float64Array; shape: number[] } {
  const shape = broadcastShape(aShape, bShape);
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(n);
  const index = (flat: number, s: readonly number[]) => {
    // map an output index to an input index with broadcasting
    let rem = flat;
    let idx = 0;
    let stride = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      const coord = rem % shape[i];
      rem = Math.floor(rem / shape[i]);
      const d = s[s.length - shape.length + i] ?? 1;
      if (s.length - shape.length + i >= 0) {
        idx += (d === 1 ? 0 : coord) * stride;
        stride *= d;
      }
    }
    return idx;
  };
  for (let i = 0; i < n; i++) {
    const x = a[index(i, aShape)];
    const y = b[index(i, bShape)];
    const r = op === 'add' ? x + y : op === 'mul' ? x * y : x - y;
    out[i] = activateRef(r, act);
  }
  return { data: out, shape };
}
