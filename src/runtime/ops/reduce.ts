import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { ceilDiv } from './grid.ts';
import { laneVector, rowGrid, rowReduction } from './rows.ts';

/** 'sumsq' is the sum of squares (squared L2 norm, e.g. for gradient clipping). */
export type Reduction = 'sum' | 'mean' | 'sumsq';

/** Reduce over the last dimension: [..., n] -> [...] (kernels/reduce.wgsl). */
export function reduceLastDim(rec: Recorder, x: Tensor, op: Reduction, out?: Tensor): Tensor {
  if (x.shape.length === 0 || x.dtype !== 'f32') {
    throw new AtelierGpuError('usage', `reduceLastDim ${op}: needs an f32 tensor with at least one dimension, got ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const n = x.dim(-1);
  if (n === 0) throw new AtelierGpuError('usage', `reduceLastDim ${op}: the last dimension of [${x.shape.join(', ')}] is empty`);
  const shape = x.shape.slice(0, -1);
  const rows = x.size / n;
  if (out && out.size !== rows) throw new AtelierGpuError('usage', `reduceLastDim ${op}: out [${out.shape.join(', ')}] should hold ${rows} values`);
  const y = out ?? rec.ctx.empty(shape, 'f32', `reduce.${op}`);
  if (rows > 0) reduceRanges(rec, x, y, x.size, n, op === 'sumsq', op === 'mean' ? 1 / n : 1);
  return y;
}

/** Ranges of at least this many elements per workgroup in the first stage of reduceAll. */
const MIN_STAGE_ELEMENTS = 4096;
/** The first stage of reduceAll produces at most this many partial results. */
const MAX_PARTIALS = 256;

/** Reduce all elements to a scalar tensor (shape []), in two dispatches when the tensor is large. */
export function reduceAll(rec: Recorder, x: Tensor, op: Reduction, out?: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new AtelierGpuError('usage', `reduceAll ${op}: needs an f32 tensor, got ${x.dtype}`);
  if (x.size === 0) throw new AtelierGpuError('usage', `reduceAll ${op}: the tensor [${x.shape.join(', ')}] is empty`);
  if (out && out.size !== 1) throw new AtelierGpuError('usage', `reduceAll ${op}: out [${out.shape.join(', ')}] should hold 1 value`);
  const ctx = rec.ctx;
  const y = out ?? ctx.empty([], 'f32', `reduce.all.${op}`);
  const scale = op === 'mean' ? 1 / x.size : 1;
  if (x.size <= MIN_STAGE_ELEMENTS) {
    reduceRanges(rec, x, y, x.size, x.size, op === 'sumsq', scale);
    return y;
  }
  // Equal ranges (a multiple of 4 elements, so vec4 lanes stay aligned when the size allows).
  const rangeLen = Math.ceil(Math.max(MIN_STAGE_ELEMENTS, x.size / MAX_PARTIALS) / 4) * 4;
  const partialCount = Math.ceil(x.size / rangeLen);
  const partials = ctx.empty([partialCount], 'f32', 'reduce.partials');
  reduceRanges(rec, x, partials, x.size, rangeLen, op === 'sumsq', 1);
  reduceRanges(rec, partials, y, partialCount, partialCount, false, scale);
  rec.disposeAfterSubmit(partials);
  return y;
}

function reduceRanges(rec: Recorder, x: Tensor, out: Tensor, n: number, rangeLen: number, square: boolean, scale: number): void {
  const ctx = rec.ctx;
  const red = rowReduction(ctx);
  const lanes = laneVector(rangeLen % 4 === 0 && n % 4 === 0 ? 4 : 1);
  const kernel = ctx.kernels.get({ file: 'reduce', includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, SQUARE: square, ...lanes.defines } });
  const rows = Math.ceil(n / rangeLen);
  const grid = rowGrid(rows);
  rec.dispatch(kernel, { x, out }, { n: n / lanes.width, row_len: rangeLen / lanes.width, rows, grid_x: grid.gridX, scale }, grid.workgroups);
}

/** Mean over axis 1: [A, T, ...rest] -> [A, ...rest] (mean-pooling tokens [B, T, D] -> [B, D]). */
export function meanAxis1(rec: Recorder, x: Tensor, out?: Tensor): Tensor {
  if (x.shape.length < 2 || x.dtype !== 'f32' || x.shape[1] === 0) {
    throw new AtelierGpuError('usage', `meanAxis1: needs an f32 tensor [A, T, ...] with T >= 1, got ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const [outer, count] = x.shape;
  const shape = [outer, ...x.shape.slice(2)];
  const inner = x.size / (outer * count || 1);
  if (out && out.size !== outer * inner) throw new AtelierGpuError('usage', `meanAxis1: out [${out.shape.join(', ')}] should be [${shape.join(', ')}]`);
  const ctx = rec.ctx;
  const y = out ?? ctx.empty(shape, 'f32', 'mean-axis1');
  if (y.size === 0) return y;
  const red = rowReduction(ctx);
  const lanes = laneVector(inner);
  const kernel = ctx.kernels.get({ file: 'reduce', entry: 'mean_axis1', includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, SQUARE: false, ...lanes.defines } });
  const n = inner / lanes.width;
  const grid = rowGrid(ceilDiv(outer * n, red.wg));
  rec.dispatch(kernel, { x, out: y }, { n, row_len: count, rows: outer * n, grid_x: grid.gridX, scale: 1 / count }, grid.workgroups);
  return y;
}
