import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { asColumns, type ColumnView, type Rows } from './columns.ts';
import { grid1d } from './grid.ts';

/**
 * Layout changes (kernels/layout.wgsl): slice (e.g. q, k, v out of a fused projection), concat
 * (e.g. a CLS token before the patch tokens), pad (a slice's gradient), transpose, and the
 * head split/merge of the GEMM attention path.
 */

function axisOf(op: string, shape: readonly number[], axis: number): number {
  const a = axis < 0 ? shape.length + axis : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length) throw new AtelierGpuError('usage', `${op}: axis ${axis} is outside [${shape.join(', ')}]`);
  return a;
}

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/** Every entry shares one params struct; each fills the fields it reads, the rest keep these defaults. */
const UNUSED = { inner: 1, len: 1, src_axis: 1, src_off: 0, dst_axis: 1, dst_off: 0, rows: 1, cols: 1, heads: 1, head_dim: 1, seq: 1, seq_pad: 1, src_seq: 1, width: 1, col_off: 0 };
type LayoutParams = Partial<typeof UNUSED>;
type LayoutEntry = 'copy_window' | 'pad' | 'transpose' | 'transpose4' | 'split_heads' | 'split_heads_t' | 'merge_heads';

function record(rec: Recorder, entry: LayoutEntry, src: Tensor, dst: Tensor, threads: number, p: LayoutParams): void {
  const kernel = rec.ctx.kernels.get({ file: 'layout', entry });
  const g = grid1d(threads, kernel.workgroupSize[0]);
  const buffers: Record<string, Tensor> = entry === 'transpose4' ? { src4: src, dst4: dst } : { src, dst };
  rec.dispatch(kernel, buffers, { ...UNUSED, n: threads, row_pitch: g.rowPitch, ...p }, g.workgroups);
}

/** x[..., start : start + length, ...] along `axis`, as a new tensor. */
export function slice(rec: Recorder, x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = axisOf('slice', x.shape, axis);
  const size = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > size) {
    throw new AtelierGpuError('usage', `slice: [${start}, ${start + length}) is outside axis ${a} of [${x.shape.join(', ')}]`);
  }
  const shape = [...x.shape];
  shape[a] = length;
  const y = rec.ctx.empty(shape, 'f32', 'slice');
  const inner = product(x.shape.slice(a + 1));
  record(rec, 'copy_window', x, y, y.size, { inner, len: length, src_axis: size, src_off: start, dst_axis: length, dst_off: 0 });
  return y;
}

/** Tensors joined along `axis` (all other dimensions equal). */
export function concat(rec: Recorder, xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new AtelierGpuError('usage', 'concat: no tensors');
  const first = xs[0].shape;
  const a = axisOf('concat', first, axis);
  for (const x of xs) {
    if (x.shape.length !== first.length || x.shape.some((d, i) => i !== a && d !== first[i])) {
      throw new AtelierGpuError('usage', `concat: shapes ${xs.map((t) => `[${t.shape.join(', ')}]`).join(', ')} differ outside axis ${a}`);
    }
  }
  const total = xs.reduce((s, x) => s + x.shape[a], 0);
  const shape = [...first];
  shape[a] = total;
  const y = rec.ctx.empty(shape, 'f32', 'concat');
  const inner = product(first.slice(a + 1));
  let offset = 0;
  for (const x of xs) {
    record(rec, 'copy_window', x, y, x.size, { inner, len: x.shape[a], src_axis: x.shape[a], src_off: 0, dst_axis: total, dst_off: offset });
    offset += x.shape[a];
  }
  return y;
}

/** x placed at [start, start + x.shape[axis]) of a zero tensor whose `axis` has size `size` (a slice's adjoint). */
export function padAxis(rec: Recorder, x: Tensor, axis: number, start: number, size: number): Tensor {
  const a = axisOf('padAxis', x.shape, axis);
  const len = x.shape[a];
  if (!Number.isInteger(start) || start < 0 || start + len > size) {
    throw new AtelierGpuError('usage', `padAxis: [${start}, ${start + len}) does not fit an axis of size ${size} (x [${x.shape.join(', ')}])`);
  }
  const shape = [...x.shape];
  shape[a] = size;
  const y = rec.ctx.empty(shape, 'f32', 'pad');
  const inner = product(x.shape.slice(a + 1));
  record(rec, 'pad', x, y, y.size, { inner, len, src_axis: len, src_off: 0, dst_axis: size, dst_off: start });
  return y;
}

/** x [..., rows, cols] -> [..., cols, rows] (at least 2 dimensions). */
export function transpose(rec: Recorder, x: Tensor): Tensor {
  if (x.shape.length < 2) throw new AtelierGpuError('usage', `transpose: needs at least 2 dimensions, got [${x.shape.join(', ')}]`);
  const rows = x.dim(-2);
  const cols = x.dim(-1);
  const y = rec.ctx.empty([...x.shape.slice(0, -2), cols, rows], 'f32', 'transpose');
  if (rows % 4 === 0 && cols % 4 === 0) record(rec, 'transpose4', x, y, y.size / 16, { rows, cols });
  else record(rec, 'transpose', x, y, y.size, { rows, cols });
  return y;
}

export interface SplitHeadsOptions {
  heads: number;
  /** Sequence rows to take from each batch item (default all: x.dim(1)). */
  seq?: number;
  /** Rows of the result per head, the rows past `seq` zero (default `seq`). */
  padTo?: number;
  /** [B, H, headDim, padTo] (each head transposed) instead of [B, H, padTo, headDim]. */
  transposed?: boolean;
}

/**
 * x [B, T, H*dh] -> per-head [B, H, padTo, dh] (or [B, H, dh, padTo]): the GEMM attention's
 * operands. x may be a column view (q, k or v of a fused projection), read in place.
 */
export function splitHeads(rec: Recorder, rows: Rows, o: SplitHeadsOptions): Tensor {
  const { tensor: x, start, width: dim } = asColumns(rows);
  const fail = (why: string) => new AtelierGpuError('usage', `splitHeads: ${why} (x [${x.shape.join(', ')}], heads ${o.heads})`);
  if (x.shape.length !== 3) throw fail('x must be [batch, seq, width]');
  const [batch, srcSeq, width] = x.shape;
  if (!Number.isInteger(o.heads) || o.heads < 1 || dim % o.heads !== 0) throw fail(`width ${dim} is not a multiple of the head count`);
  const seq = o.seq ?? srcSeq;
  const seqPad = o.padTo ?? seq;
  if (seq < 1 || seq > srcSeq || seqPad < seq) throw fail(`seq ${seq} must be in 1..${srcSeq} and padTo ${seqPad} at least seq`);
  const headDim = dim / o.heads;
  const shape = o.transposed ? [batch, o.heads, headDim, seqPad] : [batch, o.heads, seqPad, headDim];
  const y = rec.ctx.empty(shape, 'f32', 'split-heads');
  record(rec, o.transposed ? 'split_heads_t' : 'split_heads', x, y, y.size, { heads: o.heads, head_dim: headDim, seq, seq_pad: seqPad, src_seq: srcSeq, width, col_off: start });
  return y;
}

/**
 * The inverse of splitHeads: x [B, H, padded, dh] -> [B, seq, H*dh] (rows past seq dropped), or,
 * with `into`, written into that column view of a [B, seq, width] tensor (returned).
 */
export function mergeHeads(rec: Recorder, x: Tensor, seq: number, into?: ColumnView): Tensor {
  if (x.shape.length !== 4 || seq < 1 || seq > x.dim(2)) throw new AtelierGpuError('usage', `mergeHeads: x must be [batch, heads, rows, headDim] with at least seq ${seq} rows, got [${x.shape.join(', ')}]`);
  const [batch, heads, seqPad, headDim] = x.shape;
  const dim = heads * headDim;
  const y = into?.tensor ?? rec.ctx.empty([batch, seq, dim], 'f32', 'merge-heads');
  const width = y.dim(-1);
  const start = into?.start ?? 0;
  if (y.shape.length !== 3 || y.dim(0) !== batch || y.dim(1) !== seq || (into && into.width !== dim) || start < 0 || start + dim > width) {
    throw new AtelierGpuError('usage', `mergeHeads: columns ${start}..${start + dim - 1} of [${y.shape.join(', ')}] cannot hold [${batch}, ${seq}, ${dim}]`);
  }
  record(rec, 'merge_heads', x, y, batch * seq * dim, { heads, head_dim: headDim, seq, seq_pad: seqPad, width, col_off: start });
  return y;
}
