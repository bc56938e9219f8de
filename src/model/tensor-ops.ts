/**
 * ModelOps over plain tensors (inference): each op records its dispatches into the recorder and
 * `release` returns intermediates to the pool right away (safe inside an open recorder: a recycled
 * buffer is only written by dispatches recorded later). The fused ops run as single dispatches: the
 * layernorm inside the matvec kernel (decode rows), the residual add as the matmul's accumulate
 * epilogue, and attention reading q, k, v as column views of the fused projection.
 */
import { conv2d } from '../runtime/ops/conv2d.ts';
import { binary } from '../runtime/ops/elementwise.ts';
import { embedding } from '../runtime/ops/embedding.ts';
import { attention } from '../runtime/ops/attention.ts';
import { qkvColumns } from '../runtime/ops/columns.ts';
import { slice } from '../runtime/ops/layout.ts';
import { layerNorm } from '../runtime/ops/layernorm.ts';
import { matmul } from '../runtime/ops/matmul.ts';
import { meanAxis1 } from '../runtime/ops/reduce.ts';
import type { Recorder } from '../runtime/recorder.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { ModelOps } from './graph.ts';

/**
 * @param keep tensors `release` must not free (the weights)
 * @param half f16 copies of weights to use in matmuls in their place (see ListingModel LoadOptions)
 */
export function tensorOps(rec: Recorder, keep: ReadonlySet<Tensor> = new Set(), half: ReadonlyMap<Tensor, Tensor> = new Map()): ModelOps<Tensor> {
  const release = (...xs: Tensor[]) => {
    for (const x of xs) if (!keep.has(x)) x.dispose();
  };
  return {
    linear: (x, w, b, act = 'none') => matmul(rec, x, half.get(w) ?? w, { transB: true, bias: b ?? undefined, activation: act }),
    normLinear: (x, gamma, beta, eps, w, b, act = 'none') =>
      matmul(rec, x, half.get(w) ?? w, { transB: true, bias: b ?? undefined, activation: act, normalizeA: { gamma, beta, eps } }),
    addLinear: (residual, x, w, b) => {
      if (keep.has(residual)) throw new Error('addLinear: the residual is added into in place, so it cannot be a weight');
      return matmul(rec, x, half.get(w) ?? w, { transB: true, bias: b ?? undefined, out: residual, accumulate: true });
    },
    attentionQkv: (qkv, o) => attention(rec, ...qkvColumns(qkv), o),
    conv2d: (x, w, b, o) => conv2d(rec, x, w, { bias: b, stride: o.stride, padding: o.padding, activation: o.activation }),
    layerNorm: (x, g, b, eps) => layerNorm(rec, x, g, b, { eps }).y,
    attention: (q, k, v, o) => attention(rec, q, k, v, o),
    add: (a, b) => binary(rec, 'add', a, b),
    slice: (x, axis, start, length) => slice(rec, x, axis, start, length),
    reshape: (x, shape) => x.reshape(shape),
    meanTokens: (x) => meanAxis1(rec, x),
    embed: (ids, table) => embedding(rec, table, ids),
    embedAt: (ids, table, positions, posTable) => embedding(rec, table, ids, { positions: posTable, positionIds: positions }),
    shape: (x) => x.shape,
    release,
  };
}
