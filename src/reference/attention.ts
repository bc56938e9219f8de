/** CPU reference (float64) for kernels/attention.wgsl. */

export interface AttentionRefOptions {
  batch: number;
  tq: number;
  /** Rows of k/v per batch item (the cache capacity). */
  capacity: number;
  /** Valid rows of k/v. */
  tk: number;
  heads: number;
  headDim: number;
  causal: boolean;
  /** Absolute position of query 0 (causal). */
  past: number;
  scale: number;
  /** Per batch item valid lengths (clamped to tk); causal queries are then each item's last tq positions. */
  kvLengths?: ArrayLike<number>;
}

/** Attention per head with an explicit score matrix, softmax in float64. Layouts as in the kernel. */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, o: AttentionRefOptions): Float64Array {
  const dim = o.heads * o.headDim;
  const out = new Float64Array(o.batch * o.tq * dim);
  const scores = new Float64Array(o.tk);
  for (let b = 0; b < o.batch; b++) {
    const tk = o.kvLengths ? Math.min(o.kvLengths[b], o.tk) : o.tk;
    const past = o.kvLengths ? tk - o.tq : o.past;
    for (let h = 0; h < o.heads; h++) {
      for (let i = 0; i < o.tq; i++) {
        const qBase = (b * o.tq + i) * dim + h * o.headDim;
        const end = o.causal ? Math.max(0, Math.min(tk, past + i + 1)) : tk;
        let m = -Infinity;
        for (let j = 0; j < end; j++) {
          const kBase = (b * o.capacity + j) * dim + h * o.headDim;
          let s = 0;
          for (let d = 0; d < o.headDim; d++) s += q[qBase + d] * k[kBase + d];
          scores[j] = s * o.scale;
          m = Math.max(m, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < end; j++) sum += (scores[j] = Math.exp(scores[j] - m));
        for (let j = 0; j < end; j++) {
          const vBase = (b * o.capacity + j) * dim + h * o.headDim;
          const p = scores[j] / sum;
          for (let d = 0; d < o.headDim; d++) out[qBase + d] += p * v[vBase + d];
        }
      }
    }
  }
  return out;
}
