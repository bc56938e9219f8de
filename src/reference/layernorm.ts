/** CPU reference (float64) for kernels/layernorm.wgsl. */

export interface LayerNormRef {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

/** LayerNorm over rows of length n with the biased variance (torch.nn.LayerNorm), two-pass in float64. */
export function layerNormRef(x: ArrayLike<number>, n: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps = 1e-5): LayerNormRef {
  const rows = x.length / n;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += x[base + j];
    const mu = sum / n;
    let sq = 0;
    for (let j = 0; j < n; j++) sq += (x[base + j] - mu) ** 2;
    const inv = 1 / Math.sqrt(sq / n + eps);
    for (let j = 0; j < n; j++) y[base + j] = (x[base + j] - mu) * inv * gamma[j] + beta[j];
    mean[r] = mu;
    rstd[r] = inv;
  }
  return { y, mean, rstd };
}
