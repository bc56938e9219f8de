/** Typed wrapper for kernels/attention_backward.wgsl (the gradient of src/runtime/ops/attention.ts). */
import { AtelierGpuError } from '../../runtime/errors.ts';
import { rowReduction } from '../../runtime/ops/rows.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export interface AttentionBackwardOptions {
  heads: number;
  causal: boolean;
  /** Absolute position of the first query (causal). */
  past: number;
  /** Valid rows of k and v. */
  kvLength: number;
  scale: number;
}

export interface AttentionGrads {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/** dQ, dK, dV of attention(q, k, v) given its output `o` and the output's gradient `dO`. */
export function attentionBackward(rec: Recorder, dO: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, opts: AttentionBackwardOptions): AttentionGrads {
  const [batch, tq, dim] = q.shape;
  const capacity = k.dim(1);
  if (dO.shape.join() !== q.shape.join() || o.shape.join() !== q.shape.join()) {
    throw new AtelierGpuError('usage', `attention backward: dO [${dO.shape.join(', ')}] and O [${o.shape.join(', ')}] must have q's shape [${q.shape.join(', ')}]`);
  }
  const headDim = dim / opts.heads;
  const ctx = rec.ctx;
  // lanes are independent queries/keys (no reductions), so any width works; use the row kernels' WG
  const wg = rowReduction(ctx).wg;
  const defines = { WG: wg, DH4: headDim / 4 };
  const row = dim / 4;
  const params = {
    tq,
    tk: opts.kvLength,
    tcap: capacity,
    past: opts.causal ? opts.past : 0,
    causal: opts.causal ? 1 : 0,
    heads: opts.heads,
    q_batch: tq * row,
    q_row: row,
    kv_batch: capacity * row,
    kv_row: row,
    scale: opts.scale,
  };
  const dq = ctx.empty(q.shape, 'f32', 'dattention.q');
  const dk = ctx.empty(k.shape, 'f32', 'dattention.k');
  const dv = ctx.empty(v.shape, 'f32', 'dattention.v');
  const lse = ctx.empty([batch, opts.heads, tq], 'f32', 'dattention.lse');
  const delta = ctx.empty([batch, opts.heads, tq], 'f32', 'dattention.delta');
  const dqKernel = ctx.kernels.get({ file: 'attention_backward', entry: 'main_dq', defines });
  rec.dispatch(dqKernel, { q, k, v, o, d_o: dO, dq, lse, delta }, params, [Math.ceil(tq / wg), opts.heads, batch]);
  const dkvKernel = ctx.kernels.get({ file: 'attention_backward', entry: 'main_dkv', defines });
  rec.dispatch(dkvKernel, { q, k, v, d_o: dO, dk, dv, lse, delta }, params, [Math.ceil(capacity / wg), opts.heads, batch]);
  lse.dispose();
  delta.dispose();
  return { dq, dk, dv };
}
