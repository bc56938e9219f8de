/** CPU references (float64) for kernels/loss.wgsl: weighted means over rows, 0 when no row counts. */

export interface WindowRef {
  rows: number;
  ld: number;
  col0?: number;
}

function weightedMean(terms: { l: number; w: number }[]): number {
  let sum = 0;
  let den = 0;
  for (const { l, w } of terms) {
    if (w === 0) continue;
    sum += w * l;
    den += w;
  }
  return den > 0 ? sum / den : 0;
}

/** Softmax cross-entropy; label -1 = missing; a label >= classes gives +Inf like the kernel. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  window: WindowRef,
  opts: { classWeight?: ArrayLike<number>; mask?: ArrayLike<number> } = {},
): number {
  const { rows, ld, col0 = 0 } = window;
  const terms: { l: number; w: number }[] = [];
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    let w = opts.mask ? opts.mask[r] : 1;
    if (y < 0 || w === 0) continue;
    if (y >= classes) return Infinity;
    if (opts.classWeight) w *= opts.classWeight[y];
    const base = r * ld + col0;
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[base + c]);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(logits[base + c] - m);
    terms.push({ l: m + Math.log(s) - logits[base + y], w });
  }
  return weightedMean(terms);
}

/** MSE (delta 0) or Huber on pred[r * ld + col0] - target[r]. */
export function regressionRef(pred: ArrayLike<number>, target: ArrayLike<number>, window: WindowRef, huberDelta = 0, mask?: ArrayLike<number>): number {
  const { rows, ld, col0 = 0 } = window;
  const terms: { l: number; w: number }[] = [];
  for (let r = 0; r < rows; r++) {
    const w = mask ? mask[r] : 1;
    const d = pred[r * ld + col0] - target[r];
    const a = Math.abs(d);
    const l = huberDelta === 0 ? d * d : a <= huberDelta ? 0.5 * d * d : huberDelta * (a - 0.5 * huberDelta);
    terms.push({ l, w });
  }
  return weightedMean(terms);
}

/** Mean over quantiles of the pinball loss, then the weighted mean over rows. */
export function pinballRef(pred: ArrayLike<number>, target: ArrayLike<number>, taus: ArrayLike<number>, window: WindowRef, mask?: ArrayLike<number>): number {
  const { rows, ld, col0 = 0 } = window;
  const terms: { l: number; w: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let l = 0;
    for (let q = 0; q < taus.length; q++) {
      const e = target[r] - pred[r * ld + col0 + q];
      l += Math.max(taus[q] * e, (taus[q] - 1) * e);
    }
    terms.push({ l: l / taus.length, w: mask ? mask[r] : 1 });
  }
  return weightedMean(terms);
}
