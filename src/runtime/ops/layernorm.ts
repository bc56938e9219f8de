import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { laneVector, rowGrid, rowReduction } from './rows.ts';

export interface LayerNormOptions {
  /** Added to the variance; default 1e-5 (torch.nn.LayerNorm's default). */
  eps?: number;
  /** Also return mean and rstd per row (what the backward pass needs). */
  stats?: boolean;
  out?: Tensor;
}

export interface LayerNormResult {
  y: Tensor;
  /** [rows] mean of each row, when `stats` was asked for. */
  mean?: Tensor;
  /** [rows] 1 / sqrt(var + eps) of each row, when `stats` was asked for. */
  rstd?: Tensor;
}

/** LayerNorm over the last dimension with gamma and beta of that size (kernels/layernorm.wgsl). */
export function layerNorm(rec: Recorder, x: Tensor, gamma: Tensor, beta: Tensor, options: LayerNormOptions = {}): LayerNormResult {
  const shapes = `x [${x.shape.join(', ')}], gamma [${gamma.shape.join(', ')}], beta [${beta.shape.join(', ')}]`;
  if (x.shape.length === 0) throw new AtelierGpuError('usage', `layerNorm: x needs at least one dimension (${shapes})`);
  const n = x.dim(-1);
  if (gamma.size !== n || beta.size !== n) throw new AtelierGpuError('usage', `layerNorm: gamma and beta need ${n} elements (${shapes})`);
  if ([x, gamma, beta].some((t) => t.dtype !== 'f32')) throw new AtelierGpuError('usage', `layerNorm: f32 tensors only (${shapes})`);
  const { out, stats = false, eps = 1e-5 } = options;
  if (out && (out.size !== x.size || out.dtype !== 'f32')) throw new AtelierGpuError('usage', `layerNorm: out [${out.shape.join(', ')}] does not match (${shapes})`);
  const ctx = rec.ctx;
  const rows = x.size / Math.max(n, 1);
  const y = out ?? ctx.empty(x.shape, 'f32', 'layernorm');
  const result: LayerNormResult = { y };
  if (stats) {
    result.mean = ctx.empty(x.shape.slice(0, -1), 'f32', 'layernorm.mean');
    result.rstd = ctx.empty(x.shape.slice(0, -1), 'f32', 'layernorm.rstd');
  }
  if (x.size === 0) return result;
  const red = rowReduction(ctx);
  const lanes = laneVector(n);
  const kernel = ctx.kernels.get({
    file: 'layernorm',
    entry: stats ? 'main_stats' : 'main',
    includes: [...red.includes, 'lane_vector'],
    defines: { WG: red.wg, ...lanes.defines },
  });
  const grid = rowGrid(rows);
  const bindings: Record<string, Tensor> = stats ? { x, gamma, beta, y, mean: result.mean!, rstd: result.rstd! } : { x, gamma, beta, y };
  rec.dispatch(kernel, bindings, { n: n / lanes.width, rows, grid_x: grid.gridX, eps }, grid.workgroups);
  return result;
}
