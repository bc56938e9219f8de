import { AtelierGpuError } from '../errors.ts';
import type { GpuContext } from '../gpu.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { COPY_LANES, laneVector, rowGrid } from './rows.ts';

/**
 * Upload token ids from the host as a u32 tensor, checking each against the vocabulary first:
 * the kernel clamps out-of-range ids (they can only come from the GPU there), so host ids are
 * checked here, where the bad id and its position can be named.
 */
export function tokenIdTensor(ctx: GpuContext, ids: ArrayLike<number>, shape: readonly number[], vocab: number): Tensor {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new AtelierGpuError('usage', `token id ${id} at position ${i} is outside the vocabulary of ${vocab} tokens`);
    }
  }
  return ctx.tensor(Uint32Array.from(ids), shape, 'u32', 'token-ids');
}

export interface EmbeddingOptions {
  /** Position table [maxPos, D], added at position posOffset + t for token t of each sequence. */
  positions?: Tensor;
  /** Absolute position of the first token (a decode step passes its step index). Default 0. */
  posOffset?: number;
  /** u32, ids' shape: each token's own position in `positions` (instead of posOffset + t); clamped on the GPU. */
  positionIds?: Tensor;
  out?: Tensor;
}

/**
 * Gather rows of `table` [vocab, D] for u32 ids [..., T]; returns [..., T, D]
 * (kernels/embedding.wgsl). Ids >= vocab are clamped to vocab - 1 on the GPU.
 */
export function embedding(rec: Recorder, table: Tensor, ids: Tensor, options: EmbeddingOptions = {}): Tensor {
  const { positions, posOffset = 0, positionIds } = options;
  const shapes = `table [${table.shape.join(', ')}], ids [${ids.shape.join(', ')}]${positions ? `, positions [${positions.shape.join(', ')}]` : ''}`;
  const fail = (why: string) => new AtelierGpuError('usage', `embedding: ${why} (${shapes})`);
  if (table.shape.length !== 2 || table.dtype !== 'f32') throw fail('table must be f32 [vocab, D]');
  if (ids.dtype !== 'u32' || ids.shape.length === 0) throw fail('ids must be a u32 tensor [..., T]');
  const [vocab, dim] = table.shape;
  const seqLen = ids.dim(-1);
  if (positions) {
    if (positions.shape.length !== 2 || positions.shape[1] !== dim || positions.dtype !== 'f32') throw fail(`positions must be f32 [maxPos, ${dim}]`);
    if (positionIds && (positionIds.dtype !== 'u32' || positionIds.size !== ids.size)) throw fail(`positionIds must be u32 with one position per id, got ${positionIds.dtype} [${positionIds.shape.join(', ')}]`);
    if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + seqLen > positions.shape[0]) {
      throw fail(`positions ${posOffset}..${posOffset + seqLen - 1} are past the position table's ${positions.shape[0]} rows`);
    }
  }
  if (positionIds && !positions) throw fail('positionIds need a positions table');
  const ctx = rec.ctx;
  const outShape = [...ids.shape, dim];
  const out = options.out ?? ctx.empty(outShape, 'f32', 'embedding');
  if (out.size !== ids.size * dim) throw fail(`out [${out.shape.join(', ')}] should be [${outShape.join(', ')}]`);
  if (out.size === 0) return out;
  const lanes = laneVector(dim);
  const kernel = ctx.kernels.get({
    file: 'embedding',
    entry: positionIds ? 'gather_pos_ids' : positions ? 'gather_pos' : 'gather',
    includes: ['lane_vector'],
    defines: { WG: COPY_LANES, ...lanes.defines },
  });
  const grid = rowGrid(ids.size);
  const params = { d: dim / lanes.width, rows: ids.size, vocab, seq_len: seqLen, pos_offset: posOffset, max_pos: positions?.shape[0] ?? 0, grid_x: grid.gridX };
  const bindings = positions ? { ids, table, pos_table: positions, out, ...(positionIds ? { pos_ids: positionIds } : {}) } : { ids, table, out };
  rec.dispatch(kernel, bindings, params, grid.workgroups);
  return out;
}
