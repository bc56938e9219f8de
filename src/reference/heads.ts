/** CPU reference (float64) for kernels/heads.wgsl: per head, its own matmul rows, then a softmax. */
import type { HeadSegment } from '../runtime/ops/heads.ts';
import { softmaxRef } from './softmax.ts';

export interface HeadsRef {
  probs: Float64Array;
  argmax: Uint32Array;
  confidence: Float64Array;
}

export function classifierHeadsRef(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>, dim: number, heads: readonly HeadSegment[]): HeadsRef {
  const total = bias.length;
  const batch = x.length / dim;
  const probs = new Float64Array(batch * total);
  const argmax = new Uint32Array(batch * heads.length);
  const confidence = new Float64Array(batch * heads.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < total; c++) {
      let acc = bias[c];
      for (let d = 0; d < dim; d++) acc += x[b * dim + d] * w[c * dim + d];
      probs[b * total + c] = acc;
    }
    let offset = 0;
    heads.forEach((head, h) => {
      const row = probs.subarray(b * total + offset, b * total + offset + head.size);
      offset += head.size;
      if (head.kind === 'raw') return;
      let best = 0;
      for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
      row.set(softmaxRef(row, head.size));
      argmax[b * heads.length + h] = best;
      confidence[b * heads.length + h] = row[best];
    });
  }
  return { probs, argmax, confidence };
}
