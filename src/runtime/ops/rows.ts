/**
 * Shared choices of the row kernels (softmax, layernorm, reductions, sampling, attention decode):
 * how lanes of a workgroup combine their partial results, and how wide each lane's loads are.
 */
import type { GpuContext } from '../gpu.ts';
import type { Defines } from '../kernels.ts';
import { grid1d } from './grid.ts';

export interface RowReduction {
  /** kernels/ files to include: the reduction helpers (row_sum, row_max, ...). */
  includes: string[];
  /** Lanes per workgroup (the WG define). */
  wg: number;
}

/**
 * With `subgroups` and a known minimum subgroup size, a workgroup is one subgroup (8 lanes on
 * lavapipe, up to 64 elsewhere) and reductions are subgroup operations; otherwise 64 lanes reduce
 * through workgroup memory.
 */
export function rowReduction(ctx: GpuContext): RowReduction {
  const min = ctx.features.subgroupMinSize;
  if (ctx.features.subgroups && min >= 4) return { includes: ['row_reduce_subgroup'], wg: Math.min(min, 64) };
  return { includes: ['row_reduce_shared'], wg: 64 };
}

/** Lanes per workgroup of the row copy kernels (embedding gather, KV-cache append). */
export const COPY_LANES = 32;

/** vec4 lanes when rows of `n` elements start on 16-byte boundaries, else scalar lanes (kernels/lane_vector.wgsl). */
export function laneVector(n: number): { defines: Defines; width: number } {
  const width = n % 4 === 0 ? 4 : 1;
  return { defines: { V: width === 4 ? 'vec4<f32>' : 'f32', W: width }, width };
}

/** Workgroups for one workgroup per row: a 2-D grid, row = wid.y * grid_x + wid.x. */
export function rowGrid(rows: number): { workgroups: [number, number]; gridX: number } {
  const g = grid1d(rows, 1);
  return { workgroups: g.workgroups, gridX: g.rowPitch };
}
