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
  rec.dispatch(kernel, { x, out: y }, { n: n / lanes.width, rows, grid_x: grid.gridX }, grid.workgroups);
  return y;
}
