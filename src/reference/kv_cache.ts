/** CPU reference for kernels/kv_cache.wgsl. */

/**
 * The cache [batch, tmax, dim] after writing rows [batch, tnew, dim] at position pos (one for all
 * sequences, or one per sequence); rows that would land at or past tmax are dropped, as the kernel does.
 */
export function appendKvRef(cache: ArrayLike<number>, rows: ArrayLike<number>, batch: number, tmax: number, dim: number, pos: number | ArrayLike<number>): Float64Array {
  const out = Float64Array.from(cache);
  const tnew = rows.length / (batch * dim);
  for (let b = 0; b < batch; b++) {
    const start = typeof pos === 'number' ? pos : pos[b];
    for (let t = 0; t < tnew && start + t < tmax; t++) {
      for (let d = 0; d < dim; d++) out[(b * tmax + start + t) * dim + d] = rows[(b * tnew + t) * dim + d];
    }
  }
  return out;
}
