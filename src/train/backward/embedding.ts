/** Typed wrapper for kernels/embedding_backward.wgsl: the table gradient of an embedding lookup. */
import { AtelierGpuError } from '../../runtime/errors.ts';
import { grid1d } from '../../runtime/ops/grid.ts';
import { laneVector, rowGrid } from '../../runtime/ops/rows.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';

/** Lanes per table row in `accumulate`: lanes are independent (no reduction); 32 vec4 lanes cover 128 columns. */
const LANES = 32;

/** dtable [vocab, dim] from dout [..., dim] and the looked-up ids (u32 or i32, one per row of dout). */
export function embeddingBackward(rec: Recorder, dout: Tensor, ids: Tensor, vocab: number): Tensor {
  const dim = dout.dim(-1);
  const tokens = dout.size / dim;
  if (ids.size !== tokens || (ids.dtype !== 'u32' && ids.dtype !== 'i32')) {
    throw new AtelierGpuError('usage', `embedding backward: ids must be u32/i32 with ${tokens} values (one per row of dout [${dout.shape.join(', ')}]), got ${ids.dtype} [${ids.shape.join(', ')}]`);
  }
  const ctx = rec.ctx;
  const lanes = laneVector(dim);
  const spec = (entry: string) => ({ file: 'embedding_backward', entry, includes: ['lane_vector'], defines: { WG: LANES, ...lanes.defines } });
  const start = ctx.empty([vocab + 1], 'u32', 'dembedding.start');
  const order = ctx.empty([Math.max(1, tokens)], 'u32', 'dembedding.order');
  const dtable = ctx.empty([vocab, dim], 'f32', 'dembedding');
  const base = { tokens, vocab, n: dim / lanes.width };

  const starts = grid1d(vocab + 1, LANES);
  rec.dispatch(ctx.kernels.get(spec('row_starts')), { ids, start }, { ...base, grid_x: starts.rowPitch / LANES }, starts.workgroups);
  const place = grid1d(tokens, LANES);
  rec.dispatch(ctx.kernels.get(spec('place')), { ids, start, order }, { ...base, grid_x: place.rowPitch / LANES }, place.workgroups);
  const rows = rowGrid(vocab);
  rec.dispatch(ctx.kernels.get(spec('accumulate')), { dout, start, order, dtable }, { ...base, grid_x: rows.gridX }, rows.workgroups);
  start.dispose();
  order.dispose();
  return dtable;
}
