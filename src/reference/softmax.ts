/** CPU reference (float64) for kernels/softmax.wgsl. */

/** Softmax of each row of length n; rows that are all -inf give zeros (as the kernel does). */
export function softmaxRef(x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += n) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[base + j]);
    if (m === -Infinity) continue;
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[base + j] - m);
    for (let j = 0; j < n; j++) out[base + j] = Math.exp(x[base + j] - m) / s;
  }
  return out;
}
