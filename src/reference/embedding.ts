/** CPU reference (float64) for kernels/embedding.wgsl. */

/** Rows of `table` ([vocab, dim]) for ids (clamped to vocab - 1, as the kernel does), plus positions. */
export function embeddingRef(
  table: ArrayLike<number>,
  dim: number,
  ids: ArrayLike<number>,
  seqLen: number,
  positions?: { table: ArrayLike<number>; offset: number },
): Float64Array {
  const vocab = table.length / dim;
  const out = new Float64Array(ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    const src = Math.min(ids[r], vocab - 1) * dim;
    const pos = positions ? (positions.offset + (r % seqLen)) * dim : 0;
    for (let d = 0; d < dim; d++) out[r * dim + d] = table[src + d] + (positions ? positions.table[pos + d] : 0);
  }
  return out;
}
