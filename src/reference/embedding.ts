/** CPU reference (float64) for kernels/embedding.wgsl. */

/**
 * Rows of `table` ([vocab, dim]) for ids (clamped to vocab - 1, as the kernel does), plus position
 * rows: offset + t for token t of each sequence, or each token's own `ids` (clamped to the table).
 */
export function embeddingRef(
  table: ArrayLike<number>,
  dim: number,
  ids: ArrayLike<number>,
  seqLen: number,
  positions?: { table: ArrayLike<number>; offset: number; ids?: ArrayLike<number> },
): Float64Array {
  const vocab = table.length / dim;
  const out = new Float64Array(ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    const src = Math.min(ids[r], vocab - 1) * dim;
    const maxPos = positions ? positions.table.length / dim : 0;
    const pos = !positions ? 0 : positions.ids ? Math.min(positions.ids[r], maxPos - 1) * dim : (positions.offset + (r % seqLen)) * dim;
    for (let d = 0; d < dim; d++) out[r * dim + d] = table[src + d] + (positions ? positions.table[pos + d] : 0);
  }
  return out;
}
