import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { asColumns, viewShape, type Rows } from './columns.ts';
import { COPY_LANES, laneVector, rowGrid } from './rows.ts';

/** Keys and values of one attention layer for B sequences: both [B, Tmax, D]. */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

/**
 * Write the K and V rows of new tokens ([B, Tnew, D] each, or column views of wider rows such as a
 * fused QKV projection) into the cache at rows pos .. pos+Tnew-1 of every sequence, in place
 * (kernels/kv_cache.wgsl). `pos` is one position for every sequence
 * (checked: throws if the rows pass the capacity Tmax) or a u32 tensor of B positions on the GPU
 * (ragged batches; rows past Tmax are dropped by the kernel, as the CPU cannot see the values).
 */
export function appendKv(rec: Recorder, cache: KvCache, kRows: Rows, vRows: Rows, pos: number | Tensor): void {
  const kNew = asColumns(kRows);
  const vNew = asColumns(vRows);
  const kShape = viewShape(kNew);
  const vShape = viewShape(vNew);
  const shapes = `cache [${cache.k.shape.join(', ')}], k [${kShape.join(', ')}], v [${vShape.join(', ')}]`;
  if (cache.k.shape.length !== 3 || cache.v.shape.join() !== cache.k.shape.join()) {
    throw new AtelierGpuError('usage', `appendKv: cache k and v must both be [B, Tmax, D] (${shapes})`);
  }
  const [batch, tmax, dim] = cache.k.shape;
  if (kShape.length !== 3 || vShape.join() !== kShape.join() || kShape[0] !== batch || kShape[2] !== dim) {
    throw new AtelierGpuError('usage', `appendKv: new k and v must both be [${batch}, Tnew, ${dim}] (${shapes})`);
  }
  if ([cache.k, cache.v, kNew.tensor, vNew.tensor].some((t) => t.dtype !== 'f32')) throw new AtelierGpuError('usage', `appendKv: f32 tensors only (${shapes})`);
  const tnew = kShape[1];
  const rowPositions = typeof pos === 'number' ? null : pos;
  if (rowPositions && (rowPositions.dtype !== 'u32' || rowPositions.size !== batch)) {
    throw new AtelierGpuError('usage', `appendKv: positions must be u32 with one per sequence (${batch}), got ${rowPositions.dtype} [${rowPositions.shape.join(', ')}] (${shapes})`);
  }
  if (typeof pos === 'number' && (!Number.isInteger(pos) || pos < 0 || pos + tnew > tmax)) {
    throw new AtelierGpuError('usage', `appendKv: writing ${tnew} rows at position ${pos} overflows the cache capacity ${tmax} (${shapes})`);
  }
  if (batch * tnew === 0) return;
  const ctx = rec.ctx;
  // vec4 chunks only when every row and view starts on a multiple of 4 elements.
  const lanes = laneVector([dim, kNew.start, vNew.start, kNew.tensor.dim(-1), vNew.tensor.dim(-1)].every((n) => n % 4 === 0) ? dim : 1);
  const kernel = ctx.kernels.get({ file: 'kv_cache', includes: ['lane_vector'], defines: { WG: COPY_LANES, ROW_POSITIONS: rowPositions !== null, ...lanes.defines } });
  const rows = batch * tnew;
  const grid = rowGrid(rows);
  rec.dispatch(
    kernel,
    // Without GPU positions k_new stands in for the positions binding (never read).
    { k_new: kNew.tensor, v_new: vNew.tensor, k_cache: cache.k, v_cache: cache.v, positions: rowPositions ?? kNew.tensor },
    {
      d: dim / lanes.width,
      k_row: kNew.tensor.dim(-1) / lanes.width,
      k_off: kNew.start / lanes.width,
      v_row: vNew.tensor.dim(-1) / lanes.width,
      v_off: vNew.start / lanes.width,
      rows,
      tnew,
      tmax,
      pos: rowPositions ? 0 : (pos as number),
      grid_x: grid.gridX,
    },
    grid.workgroups,
  );
}
