import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { laneVector, rowGrid, rowReduction } from './rows.ts';

/** Softmax over the last dimension (kernels/softmax.wgsl). Rows that are all -inf give zeros. */
export function softmax(rec: Recorder, x: Tensor, out?: Tensor): Tensor {
  if (x.shape.length === 0 || x.dtype !== 'f32') {
    throw new AtelierGpuError('usage', `softmax: needs an f32 tensor with at least one dimension, got ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const n = x.dim(-1);
  if (out && (out.size !== x.size || out.dtype !== 'f32')) {
    throw new AtelierGpuError('usage', `softmax: out [${out.shape.join(', ')}] ${out.dtype} does not match x [${x.shape.join(', ')}]`);
  }
  const ctx = rec.ctx;
  const y = out ?? ctx.empty(x.shape, 'f32', 'softmax');
  if (x.size === 0) return y;
  const red = rowReduction(ctx);
  const lanes = laneVector(n);
  const kernel = ctx.kernels.get({ file: 'softmax', includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, ...lanes.defines } });
  const rows = x.size / n;
  const grid = rowGrid(rows);
  rec.dispatch(kernel, { x, out: y }, { ...NO_MASK, n: n / lanes.width, rows, grid_x: grid.gridX }, grid.workgroups);
  return y;
}

const NO_MASK = { block_rows: 1, valid_rows: 1, valid_cols: 0, causal: 0, past: 0 };

export interface SoftmaxMask {
  /** Rows per block (the last-but-one dimension of x: one block per batch item and head). */
  validRows: number;
  /** Columns each row keeps (at most x.dim(-1)). */
  validCols: number;
  /** Row i of a block also keeps only columns <= past + i. */
  causal?: boolean;
  past?: number;
}

/**
 * Softmax over the last dimension of x [..., rows, n] (n a multiple of 4) under a mask that is
 * computed, not stored: rows >= validRows and columns outside the mask come out as 0
 * (kernels/softmax.wgsl `masked`: the GEMM attention's scores over padded operands).
 */
export function maskedSoftmax(rec: Recorder, x: Tensor, mask: SoftmaxMask): Tensor {
  const n = x.dim(-1);
  const blockRows = x.shape.length >= 2 ? x.dim(-2) : 1;
  const { validRows, validCols, causal = false, past = 0 } = mask;
  if (x.dtype !== 'f32' || n % 4 !== 0 || validRows > blockRows || validCols > n || validRows < 0 || validCols < 0 || past < 0) {
    throw new AtelierGpuError('usage', `maskedSoftmax: needs f32 [..., rows, n] with n a multiple of 4, validRows <= rows and validCols <= n; got ${x.dtype} [${x.shape.join(', ')}], validRows ${validRows}, validCols ${validCols}, past ${past}`);
  }
  const ctx = rec.ctx;
  const y = ctx.empty(x.shape, 'f32', 'masked-softmax');
  if (x.size === 0) return y;
  const red = rowReduction(ctx);
  const kernel = ctx.kernels.get({ file: 'softmax', entry: 'masked', includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, ...laneVector(n).defines } });
  const rows = x.size / n;
  const grid = rowGrid(rows);
  rec.dispatch(kernel, { scores: x, probs: y }, { n: n / 4, rows, grid_x: grid.gridX, block_rows: blockRows, valid_rows: validRows, valid_cols: validCols, causal: causal ? 1 : 0, past }, grid.workgroups);
  return y;
}
