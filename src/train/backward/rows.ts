/**
 * Typed wrappers for the row-kernel backward passes (kernels/layernorm_backward.wgsl,
 * kernels/softmax_backward.wgsl). They use the forward ops' row machinery (src/runtime/ops/rows.ts):
 * one workgroup per row, vec4 lanes when the row length allows, subgroup or shared reductions.
 */
import { AtelierGpuError } from '../../runtime/errors.ts';
import { grid1d } from '../../runtime/ops/grid.ts';
import { laneVector, rowGrid, rowReduction } from '../../runtime/ops/rows.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';

function rowKernel(rec: Recorder, file: string, n: number, entry = 'main') {
  const red = rowReduction(rec.ctx);
  const lanes = laneVector(n);
  const kernel = rec.ctx.kernels.get({ file, entry, includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, ...lanes.defines } });
  return { kernel, width: lanes.width };
}

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new AtelierGpuError('usage', `${op}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
}

export interface LayerNormGrads {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

/** Gradients of layerNorm from the forward's saved mean and rstd ([rows] each). */
export function layerNormBackward(rec: Recorder, dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, rstd: Tensor): LayerNormGrads {
  sameShape('layerNorm backward', dy, x);
  const n = x.dim(-1);
  const rows = x.size / n;
  if (gamma.size !== n || mean.size !== rows || rstd.size !== rows) {
    throw new AtelierGpuError('usage', `layerNorm backward: gamma [${gamma.shape.join(', ')}], mean [${mean.shape.join(', ')}], rstd [${rstd.shape.join(', ')}] do not fit x [${x.shape.join(', ')}]`);
  }
  const ctx = rec.ctx;
  const dx = ctx.empty(x.shape, 'f32', 'dlayernorm.x');
  const dgamma = ctx.empty(gamma.shape, 'f32', 'dlayernorm.gamma');
  const dbeta = ctx.empty(gamma.shape, 'f32', 'dlayernorm.beta');
  const main = rowKernel(rec, 'layernorm_backward', n);
  const chunks = n / main.width;
  const grid = rowGrid(rows);
  rec.dispatch(main.kernel, { x, dy, gamma, mean, rstd, dx }, { n: chunks, rows, grid_x: grid.gridX }, grid.workgroups);
  const cols = rowKernel(rec, 'layernorm_backward', n, 'dparams');
  const wg = cols.kernel.workgroupSize[0];
  const g = grid1d(chunks, wg);
  rec.dispatch(cols.kernel, { x, dy, mean, rstd, dgamma, dbeta }, { n: chunks, rows, grid_x: g.rowPitch / wg }, g.workgroups);
  return { dx, dgamma, dbeta };
}

/** dx = y * (dy - sum(dy * y)) over the last dimension, from softmax's output y. */
export function softmaxBackward(rec: Recorder, dy: Tensor, y: Tensor): Tensor {
  sameShape('softmax backward', dy, y);
  const n = y.dim(-1);
  const rows = y.size / n;
  const dx = rec.ctx.empty(y.shape, 'f32', 'dsoftmax');
  const { kernel, width } = rowKernel(rec, 'softmax_backward', n);
  const grid = rowGrid(rows);
  rec.dispatch(kernel, { y, dy, dx }, { n: n / width, rows, grid_x: grid.gridX }, grid.workgroups);
  return dx;
}
