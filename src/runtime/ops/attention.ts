import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { asColumns, viewShape, type Rows } from './columns.ts';
import { mergeHeads, splitHeads } from './layout.ts';
import { matmul, roundUp4 } from './matmul.ts';
import { rowReduction } from './rows.ts';
import { maskedSoftmax } from './softmax.ts';

export type AttentionKernel = 'flash' | 'decode';

export interface AttentionOptions {
  heads: number;
  /** Causal mask: query i sits at absolute position past + i and sees keys 0 ..= past + i. */
  causal?: boolean;
  /** Absolute position of the first query (causal only). Default: kvLength - Tq. */
  past?: number;
  /** Valid rows of k and v, whose second dimension is the capacity (a KV cache). Default: all. */
  kvLength?: number;
  /**
   * u32 [B]: a valid length per batch item (ragged decode), each clamped to kvLength. Causal
   * queries are then each item's last Tq positions, so `past` must not be given.
   */
  kvLengths?: Tensor;
  /** Score scale; default 1 / sqrt(head dim). */
  scale?: number;
  /** Which kernel; by default `decode` for fewer than FLASH_MIN_QUERIES queries, else `flash`. */
  kernel?: AttentionKernel;
  out?: Tensor;
}

/** From this many queries on, `flash` (queries across lanes) beats `decode` (keys across lanes). */
export const FLASH_MIN_QUERIES = 4;
const MAX_HEAD_DIM = 64;

/**
 * softmax(q k^T * scale + mask) v per head, fused (kernels/attention.wgsl). q [B, Tq, H*Dh];
 * k, v [B, Tcap, H*Dh] of which the first kvLength rows are used; returns [B, Tq, H*Dh]. Each of
 * q, k, v may be a column view of a wider tensor (e.g. of a fused QKV projection), read in place;
 * k and v must then share their row width.
 */
export function attention(rec: Recorder, qIn: Rows, kIn: Rows, vIn: Rows, options: AttentionOptions): Tensor {
  const [q, k, v] = [qIn, kIn, vIn].map(asColumns);
  const [qShape, kShape, vShape] = [q, k, v].map(viewShape);
  const shapes = `q [${qShape.join(', ')}], k [${kShape.join(', ')}], v [${vShape.join(', ')}]`;
  const fail = (why: string) => new AtelierGpuError('usage', `attention: ${why} (${shapes}, heads ${options.heads})`);
  if (qShape.length !== 3 || kShape.length !== 3 || vShape.join() !== kShape.join()) throw fail('expects q [B, Tq, D] and k, v of one shape [B, Tcap, D]');
  const [batch, tq, dim] = qShape;
  const [kBatch, capacity, kDim] = kShape;
  if (kBatch !== batch || kDim !== dim) throw fail('batch and model dimension of q, k and v must match');
  if ([q, k, v].some((t) => t.tensor.dtype !== 'f32')) throw fail('f32 tensors only');
  const kvRow = k.tensor.dim(-1);
  if (v.tensor.dim(-1) !== kvRow) throw fail('k and v views must come from rows of one width');
  if ([q, k, v].some((t) => t.start % 4 !== 0 || t.tensor.dim(-1) % 4 !== 0)) throw fail('column views must start at, and have rows of, multiples of 4 elements');
  const { heads, causal = false, kvLength = capacity } = options;
  if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) throw fail(`model dimension ${dim} is not a multiple of the head count`);
  const headDim = dim / heads;
  if (headDim % 4 !== 0 || headDim > MAX_HEAD_DIM) throw fail(`head dimension ${headDim} must be a multiple of 4 and at most ${MAX_HEAD_DIM}`);
  if (!Number.isInteger(kvLength) || kvLength < 1 || kvLength > capacity) throw fail(`kvLength ${kvLength} must be in 1..${capacity}`);
  const { kvLengths } = options;
  if (kvLengths && (kvLengths.dtype !== 'u32' || kvLengths.size !== batch)) throw fail(`kvLengths must be u32 with one length per batch item (${batch}), got ${kvLengths.dtype} [${kvLengths.shape.join(', ')}]`);
  if (kvLengths && options.past !== undefined) throw fail('with kvLengths, causal positions follow from each length; do not pass past');
  const past = options.past ?? kvLength - tq;
  if (causal && !kvLengths && (past < 0 || past + tq > kvLength)) throw fail(`causal queries at positions ${past}..${past + tq - 1} need keys up to there, but only ${kvLength} are valid`);
  const ctx = rec.ctx;
  const out = options.out ?? ctx.empty(qShape, 'f32', 'attention');
  if (out.shape.join() !== qShape.join()) throw fail(`out [${out.shape.join(', ')}] must have q's shape`);
  if (out.size === 0) return out;

  const kernelName = options.kernel ?? (tq < FLASH_MIN_QUERIES ? 'decode' : 'flash');
  const red = rowReduction(ctx);
  const kernel = ctx.kernels.get({
    file: 'attention',
    entry: kernelName,
    includes: red.includes,
    defines: { WG: red.wg, DH4: headDim / 4, ROW_LENGTHS: kvLengths !== undefined },
  });
  const qRow = q.tensor.dim(-1) / 4;
  const params = {
    tq,
    tk: kvLength,
    past: causal && !kvLengths ? past : 0,
    causal: causal ? 1 : 0,
    q_batch: tq * qRow,
    q_row: qRow,
    kv_batch: (capacity * kvRow) / 4,
    kv_row: kvRow / 4,
    o_batch: (tq * dim) / 4,
    o_row: dim / 4,
    q_off: q.start / 4,
    k_off: k.start / 4,
    v_off: v.start / 4,
    scale: options.scale ?? 1 / Math.sqrt(headDim),
  };
  const blocks = kernelName === 'flash' ? Math.ceil(tq / red.wg) : tq;
  // Without per-item lengths q stands in for the kv_lengths binding (ROW_LENGTHS = false: never read).
  rec.dispatch(kernel, { q: q.tensor, k: k.tensor, v: v.tensor, o: out, kv_lengths: kvLengths ?? q.tensor }, params, [blocks, heads, batch]);
  return out;
}

/** What the GEMM attention path needs to know (every field resolved: training saves it for backward). */
export interface GemmAttentionOptions {
  heads: number;
  causal: boolean;
  /** Absolute position of the first query (causal). */
  past: number;
  /** Valid rows of k and v. */
  kvLength: number;
  scale: number;
}

/**
 * Attention as two batched GEMMs around a masked softmax, keeping the probabilities (the training
 * path: its backward reads them instead of recomputing). q [B, Tq, H*Dh], k and v [B, Tcap, H*Dh],
 * each a tensor or a column view (a fused projection's thirds); returns out [B, Tq, H*Dh] and probs [B, H, Tq4, Tk4] (Tq, kvLength rounded up to
 * multiples of 4, padding and masked entries 0).
 *
 * Why not the fused kernel: at training shapes (32 x 96 image tokens, 8 x 191 text tokens) the
 * flash kernels keep one query per lane and read k and v lane by lane, ~2 GFLOP/s on lavapipe;
 * the register-tiled GEMM of kernels/gemm.wgsl runs the same products at its full rate. The heads
 * are split into per-head operands (K-major for both products: k as rows, v transposed) with zero
 * rows up to multiples of 4, so the GEMMs need no scratch copies.
 */
export function attentionGemm(rec: Recorder, q: Rows, k: Rows, v: Rows, o: GemmAttentionOptions): { out: Tensor; probs: Tensor } {
  const tq = asColumns(q).tensor.dim(1);
  const tq4 = roundUp4(tq);
  const tk4 = roundUp4(o.kvLength);
  const kv = { heads: o.heads, seq: o.kvLength, padTo: tk4 };
  const qh = splitHeads(rec, q, { heads: o.heads, padTo: tq4 });
  const kh = splitHeads(rec, k, kv);
  const scores = matmul(rec, qh, kh, { transB: true, alpha: o.scale });
  qh.dispose();
  kh.dispose();
  const probs = maskedSoftmax(rec, scores, { validRows: tq, validCols: o.kvLength, causal: o.causal, past: o.past });
  scores.dispose();
  const vt = splitHeads(rec, v, { ...kv, transposed: true });
  const oh = matmul(rec, probs, vt, { transB: true });
  vt.dispose();
  const out = mergeHeads(rec, oh, tq);
  oh.dispose();
  return { out, probs };
}
