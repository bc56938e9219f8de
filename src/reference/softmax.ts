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

/** maskedSoftmax: x [blocks, blockRows, n]; masked entries and rows >= validRows are 0. */
export function maskedSoftmaxRef(x: ArrayLike<number>, blockRows: number, n: number, mask: { validRows: number; validCols: number; causal?: boolean; past?: number }): Float64Array {
  const out = new Float64Array(x.length);
  for (let row = 0; row * n < x.length; row++) {
    const i = row % blockRows;
    const keep = i >= mask.validRows ? 0 : mask.causal ? Math.min(mask.validCols, (mask.past ?? 0) + i + 1) : mask.validCols;
    if (keep === 0) continue;
    const base = row * n;
    let m = -Infinity;
    for (let j = 0; j < keep; j++) m = Math.max(m, x[base + j]);
    let s = 0;
    for (let j = 0; j < keep; j++) s += Math.exp(x[base + j] - m);
    for (let j = 0; j < keep; j++) out[base + j] = Math.exp(x[base + j] - m) / s;
  }
  return out;
}
