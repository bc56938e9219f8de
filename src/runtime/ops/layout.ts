import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { grid1d } from './grid.ts';

/**
 * Layout changes (kernels/layout.wgsl): slice (e.g. q, k, v out of a fused projection), concat
 * (e.g. a CLS token before the patch tokens), pad (a slice's gradient) and transpose.
 */

function axisOf(op: string, shape: readonly number[], axis: number): number {
  const a = axis < 0 ? shape.length + axis : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length) throw new AtelierGpuError('usage', `${op}: axis ${axis} is outside [${shape.join(', ')}]`);
  return a;
}

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

type LayoutParams = { inner: number; len: number; src_axis: number; src_off: number; dst_axis: number; dst_off: number; rows: number; cols: number };
const WINDOW_ONLY = { rows: 1, cols: 1 };
const TRANSPOSE_ONLY = { inner: 1, len: 1, src_axis: 1, src_off: 0, dst_axis: 1, dst_off: 0 };

function record(rec: Recorder, entry: 'copy_window' | 'pad' | 'transpose', src: Tensor, dst: Tensor, threads: number, p: LayoutParams): void {
  const kernel = rec.ctx.kernels.get({ file: 'layout', entry });
  const g = grid1d(threads, kernel.workgroupSize[0]);
  rec.dispatch(kernel, { src, dst }, { n: threads, row_pitch: g.rowPitch, ...p }, g.workgroups);
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
  record(rec, 'copy_window', x, y, y.size, { inner, len: length, src_axis: size, src_off: start, dst_axis: length, dst_off: 0, ...WINDOW_ONLY });
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
    record(rec, 'copy_window', x, y, x.size, { inner, len: x.shape[a], src_axis: x.shape[a], src_off: 0, dst_axis: total, dst_off: offset, ...WINDOW_ONLY });
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
  record(rec, 'pad', x, y, y.size, { inner, len, src_axis: len, src_off: 0, dst_axis: size, dst_off: start, ...WINDOW_ONLY });
  return y;
}

/** x [..., rows, cols] -> [..., cols, rows] (at least 2 dimensions). */
export function transpose(rec: Recorder, x: Tensor): Tensor {
  if (x.shape.length < 2) throw new AtelierGpuError('usage', `transpose: needs at least 2 dimensions, got [${x.shape.join(', ')}]`);
  const rows = x.dim(-2);
  const cols = x.dim(-1);
  const y = rec.ctx.empty([...x.shape.slice(0, -2), cols, rows], 'f32', 'transpose');
  record(rec, 'transpose', x, y, y.size, { ...TRANSPOSE_ONLY, rows, cols });
  return y;
}
