import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { COPY_LANES, laneVector, rowGrid } from './rows.ts';

/** Keys and values of one attention layer for B sequences: both [B, Tmax, D]. */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

/**
 * Write the K and V rows of new tokens ([B, Tnew, D] each) into the cache at rows pos .. pos+Tnew-1
 * of every sequence, in place (kernels/kv_cache.wgsl). `pos` is one position for every sequence
 * (checked: throws if the rows pass the capacity Tmax) or a u32 tensor of B positions on the GPU
 * (ragged batches; rows past Tmax are dropped by the kernel, as the CPU cannot see the values).
 */
export function appendKv(rec: Recorder, cache: KvCache, kNew: Tensor, vNew: Tensor, pos: number | Tensor): void {
  const shapes = `cache [${cache.k.shape.join(', ')}], k [${kNew.shape.join(', ')}], v [${vNew.shape.join(', ')}]`;
  if (cache.k.shape.length !== 3 || cache.v.shape.join() !== cache.k.shape.join()) {
    throw new AtelierGpuError('usage', `appendKv: cache k and v must both be [B, Tmax, D] (${shapes})`);
  }
  const [batch, tmax, dim] = cache.k.shape;
  if (kNew.shape.length !== 3 || vNew.shape.join() !== kNew.shape.join() || kNew.shape[0] !== batch || kNew.shape[2] !== dim) {
    throw new AtelierGpuError('usage', `appendKv: new k and v must both be [${batch}, Tnew, ${dim}] (${shapes})`);
  }
  if ([cache.k, cache.v, kNew, vNew].some((t) => t.dtype !== 'f32')) throw new AtelierGpuError('usage', `appendKv: f32 tensors only (${shapes})`);
  const tnew = kNew.shape[1];
  const rowPositions = typeof pos === 'number' ? null : pos;
  if (rowPositions && (rowPositions.dtype !== 'u32' || rowPositions.size !== batch)) {
    throw new AtelierGpuError('usage', `appendKv: positions must be u32 with one per sequence (${batch}), got ${rowPositions.dtype} [${rowPositions.shape.join(', ')}] (${shapes})`);
  }
  if (typeof pos === 'number' && (!Number.isInteger(pos) || pos < 0 || pos + tnew > tmax)) {
    throw new AtelierGpuError('usage', `appendKv: writing ${tnew} rows at position ${pos} overflows the cache capacity ${tmax} (${shapes})`);
  }
  if (kNew.size === 0) return;
  const ctx = rec.ctx;
  const lanes = laneVector(dim);
  const kernel = ctx.kernels.get({ file: 'kv_cache', includes: ['lane_vector'], defines: { WG: COPY_LANES, ROW_POSITIONS: rowPositions !== null, ...lanes.defines } });
  const rows = batch * tnew;
  const grid = rowGrid(rows);
  rec.dispatch(
    kernel,
    // Without GPU positions k_new stands in for the positions binding (never read).
    { k_new: kNew, v_new: vNew, k_cache: cache.k, v_cache: cache.v, positions: rowPositions ?? kNew },
    { d: dim / lanes.width, rows, tnew, tmax, pos: rowPositions ? 0 : (pos as number), grid_x: grid.gridX },
    grid.workgroups,
  );
}
