/** CPU reference (float64) for kernels/optimizer.wgsl: one AdamW update with global-norm clipping. */

export interface AdamWRefOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 0 = no clipping. */
  clipNorm: number;
}

export interface AdamWRefTensor {
  param: Float64Array;
  /** null: no gradient this step (the tensor is left alone). */
  grad: ArrayLike<number> | null;
  m: Float64Array;
  v: Float64Array;
  decay: boolean;
}

/**
 * Update the tensors in place for the update number t (1-based, for the bias correction).
 * Returns the global gradient norm before clipping and the clip scale.
 */
export function adamwStepRef(tensors: AdamWRefTensor[], t: number, o: AdamWRefOptions): { norm: number; scale: number } {
  let sumsq = 0;
  for (const { grad } of tensors) if (grad) for (let i = 0; i < grad.length; i++) sumsq += grad[i] * grad[i];
  const norm = Math.sqrt(sumsq);
  const scale = o.clipNorm > 0 ? Math.min(1, o.clipNorm / (norm + 1e-6)) : 1;
  const c1 = 1 - o.beta1 ** t;
  const c2 = 1 - o.beta2 ** t;
  for (const { param, grad, m, v, decay } of tensors) {
    if (!grad) continue;
    const wd = decay ? o.weightDecay : 0;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i] * scale;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      param[i] -= o.lr * (m[i] / c1 / (Math.sqrt(v[i] / c2) + o.eps) + wd * param[i]);
    }
  }
  return { norm, scale };
}
