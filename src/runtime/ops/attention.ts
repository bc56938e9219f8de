import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { rowReduction } from './rows.ts';

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
 * k, v [B, Tcap, H*Dh] of which the first kvLength rows are used; returns [B, Tq, H*Dh].
 */
export function attention(rec: Recorder, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  const shapes = `q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`;
  const fail = (why: string) => new AtelierGpuError('usage', `attention: ${why} (${shapes}, heads ${options.heads})`);
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.join() !== k.shape.join()) throw fail('expects q [B, Tq, D] and k, v of one shape [B, Tcap, D]');
  const [batch, tq, dim] = q.shape;
  const [kBatch, capacity, kDim] = k.shape;
  if (kBatch !== batch || kDim !== dim) throw fail('batch and model dimension of q, k and v must match');
  if ([q, k, v].some((t) => t.dtype !== 'f32')) throw fail('f32 tensors only');
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
  const out = options.out ?? ctx.empty(q.shape, 'f32', 'attention');
  if (out.shape.join() !== q.shape.join()) throw fail(`out [${out.shape.join(', ')}] must have q's shape`);
  if (q.size === 0) return out;

  const kernelName = options.kernel ?? (tq < FLASH_MIN_QUERIES ? 'decode' : 'flash');
  const red = rowReduction(ctx);
  const kernel = ctx.kernels.get({
    file: 'attention',
    entry: kernelName,
    includes: red.includes,
    defines: { WG: red.wg, DH4: headDim / 4, ROW_LENGTHS: kvLengths !== undefined },
  });
  const row = dim / 4;
  const params = {
    tq,
    tk: kvLength,
    past: causal && !kvLengths ? past : 0,
    causal: causal ? 1 : 0,
    q_batch: tq * row,
    q_row: row,
    kv_batch: capacity * row,
    kv_row: row,
    o_batch: tq * row,
    o_row: row,
    scale: options.scale ?? 1 / Math.sqrt(headDim),
  };
  const blocks = kernelName === 'flash' ? Math.ceil(tq / red.wg) : tq;
  // Without per-item lengths q stands in for the kv_lengths binding (ROW_LENGTHS = false: never read).
  rec.dispatch(kernel, { q, k, v, o: out, kv_lengths: kvLengths ?? q }, params, [blocks, heads, batch]);
  return out;
}
