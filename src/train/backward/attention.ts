/**
 * The gradient of the GEMM attention path (src/runtime/ops/attention.ts attentionGemm), from the
 * probabilities its forward kept: with S = scale * Q K^T, P = masked softmax(S), O = P V per head,
 *   dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = scale * dS K,  dK = scale * dS^T Q,  dV = P^T dO,
 * each product a batched GEMM over per-head operands (masked and padded entries of P are 0, so
 * they pass no gradient).
 */
import type { GemmAttentionOptions } from '../../runtime/ops/attention.ts';
import { qkvColumns, type Rows } from '../../runtime/ops/columns.ts';
import { padAxis, mergeHeads, splitHeads } from '../../runtime/ops/layout.ts';
import { matmul, roundUp4 } from '../../runtime/ops/matmul.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { softmaxBackward } from './rows.ts';

export interface AttentionSaved extends GemmAttentionOptions {
  /** The forward's probabilities [B, H, Tq4, Tk4]. */
  probs: Tensor;
}

/** The per-head gradients [B, H, rows4, Dh] of q, k and v (rows past Tq or kvLength are padding). */
interface HeadGrads {
  dQh: Tensor;
  dKh: Tensor;
  dVh: Tensor;
}

/**
 * dQ, dK, dV of attention(q, k, v) given the output's gradient dO [B, Tq, H*Dh]: each [B, T, H*Dh]
 * (keys past kvLength, a cache's unused capacity, get zero gradient).
 */
export function attentionBackward(rec: Recorder, dO: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionSaved): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const [, tq] = q.shape;
  const capacity = k.dim(1);
  const g = headGrads(rec, dO, q, k, v, s);
  const take = (t: Tensor, f: (t: Tensor) => Tensor): Tensor => {
    const y = f(t);
    t.dispose();
    return y;
  };
  const toKeys = (t: Tensor) => take(t, (x) => {
    const merged = mergeHeads(rec, x, s.kvLength);
    return s.kvLength === capacity ? merged : take(merged, (m) => padAxis(rec, m, 1, 0, capacity));
  });
  return { dq: take(g.dQh, (x) => mergeHeads(rec, x, tq)), dk: toKeys(g.dKh), dv: toKeys(g.dVh) };
}

/**
 * The gradient of self-attention over the q, k, v column thirds of one fused projection qkv
 * [B, L, 3D] (all L keys valid): written straight into the columns of one [B, L, 3D] tensor.
 */
export function attentionQkvBackward(rec: Recorder, dO: Tensor, qkv: Tensor, s: AttentionSaved): Tensor {
  const [q, k, v] = qkvColumns(qkv);
  const g = headGrads(rec, dO, q, k, v, s);
  const dqkv = rec.ctx.empty(qkv.shape, 'f32', 'dattention.qkv');
  const into = qkvColumns(dqkv);
  [g.dQh, g.dKh, g.dVh].forEach((x, i) => {
    mergeHeads(rec, x, qkv.dim(1), into[i]);
    x.dispose();
  });
  return dqkv;
}

function headGrads(rec: Recorder, dO: Tensor, q: Rows, k: Rows, v: Rows, s: AttentionSaved): HeadGrads {
  const tq = dO.dim(1);
  const tq4 = roundUp4(tq);
  const queries = { heads: s.heads, padTo: tq4 };
  const keys = { heads: s.heads, seq: s.kvLength, padTo: roundUp4(s.kvLength) };
  const dOh = splitHeads(rec, dO, queries);
  const vh = splitHeads(rec, v, keys);
  const dP = matmul(rec, dOh, vh, { transB: true });
  dOh.dispose();
  vh.dispose();
  const dS = softmaxBackward(rec, dP, s.probs);
  dP.dispose();

  const kt = splitHeads(rec, k, { ...keys, transposed: true });
  const dQh = matmul(rec, dS, kt, { transB: true, alpha: s.scale });
  kt.dispose();
  const qt = splitHeads(rec, q, { ...queries, transposed: true });
  const dKh = matmul(rec, dS, qt, { transA: true, transB: true, alpha: s.scale });
  qt.dispose();
  dS.dispose();
  const dOt = splitHeads(rec, dO, { ...queries, transposed: true });
  const dVh = matmul(rec, s.probs, dOt, { transA: true, transB: true });
  dOt.dispose();

  return { dQh, dKh, dVh };
}
