import { AtelierGpuError } from '../errors.ts';
import type { GpuContext } from '../gpu.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { laneVector, rowReduction } from './rows.ts';

/** A softmax head classifies into `size` classes; a raw head outputs `size` plain values (regression). */
export type HeadKind = 'softmax' | 'raw';

export interface HeadSegment {
  name: string;
  size: number;
  kind: HeadKind;
}

const KIND_CODE: Record<HeadKind, number> = { softmax: 0, raw: 1 };

/** Where each head's outputs sit in the concatenated W rows / output columns; the GPU copy is owned by the caller. */
export interface HeadLayout {
  heads: readonly (HeadSegment & { offset: number })[];
  /** Total outputs (rows of W). */
  total: number;
  /** u32 [nHeads * 3]: (offset, size, kind) per head, as kernels/heads.wgsl reads it. */
  segments: Tensor;
}

/** Lay heads out back to back and upload the descriptor (once, at model load). */
export function headLayout(ctx: GpuContext, heads: readonly HeadSegment[]): HeadLayout {
  if (heads.length === 0) throw new AtelierGpuError('usage', 'headLayout: no heads given');
  let offset = 0;
  const placed = heads.map((h) => {
    if (!Number.isInteger(h.size) || h.size < 1) throw new AtelierGpuError('usage', `headLayout: head '${h.name}' has size ${h.size}; heads need at least one output`);
    const p = { ...h, offset };
    offset += h.size;
    return p;
  });
  const words = placed.flatMap((h) => [h.offset, h.size, KIND_CODE[h.kind]]);
  return { heads: placed, total: offset, segments: ctx.tensor(Uint32Array.from(words), [words.length], 'u32', 'head-segments') };
}

export interface HeadsResult {
  /** [B, Ctot]: probabilities for softmax heads, raw values for raw heads. */
  probs: Tensor;
  /** u32 [B, nHeads]: the most probable class within each softmax head (0 for raw heads). */
  argmax: Tensor;
  /** [B, nHeads]: that class's probability (0 for raw heads). */
  confidence: Tensor;
}

/** Batch rows per workgroup: each W load then serves this many rows. */
const MAX_ROWS_PER_GROUP = 4;

/**
 * All heads in one dispatch (kernels/heads.wgsl): logits = x w^T + bias, then per head a softmax,
 * argmax and confidence. x [B, D], w [Ctot, D], bias [Ctot]. `out` reuses result tensors.
 */
export function classifierHeads(rec: Recorder, x: Tensor, w: Tensor, bias: Tensor, layout: HeadLayout, out?: HeadsResult): HeadsResult {
  const shapes = `x [${x.shape.join(', ')}], w [${w.shape.join(', ')}], bias [${bias.shape.join(', ')}], ${layout.heads.length} heads with ${layout.total} outputs`;
  const fail = (why: string) => new AtelierGpuError('usage', `classifierHeads: ${why} (${shapes})`);
  if (x.shape.length !== 2 || w.shape.length !== 2) throw fail('x must be [B, D] and w [Ctot, D]');
  const [batch, dim] = x.shape;
  if (w.shape[1] !== dim || w.shape[0] !== layout.total || bias.size !== layout.total) throw fail('w must be [Ctot, D] and bias [Ctot] for the layout');
  if ([x, w, bias].some((t) => t.dtype !== 'f32')) throw fail('f32 tensors only');
  if (dim === 0) throw fail('the feature dimension is empty');
  const ctx = rec.ctx;
  const nHeads = layout.heads.length;
  const result: HeadsResult = out ?? {
    probs: ctx.empty([batch, layout.total], 'f32', 'heads.probs'),
    argmax: ctx.empty([batch, nHeads], 'u32', 'heads.argmax'),
    confidence: ctx.empty([batch, nHeads], 'f32', 'heads.confidence'),
  };
  if (result.probs.size !== batch * layout.total || result.argmax.size !== batch * nHeads || result.confidence.size !== batch * nHeads || result.argmax.dtype !== 'u32') {
    throw fail(`out tensors must be probs [${batch}, ${layout.total}], argmax u32 and confidence [${batch}, ${nHeads}]`);
  }
  if (batch === 0) return result;
  const red = rowReduction(ctx);
  const lanes = laneVector(dim);
  const rowsPerGroup = Math.min(batch, MAX_ROWS_PER_GROUP);
  const kernel = ctx.kernels.get({ file: 'heads', includes: [...red.includes, 'lane_vector'], defines: { WG: red.wg, RB: rowsPerGroup, ...lanes.defines } });
  rec.dispatch(
    kernel,
    { x, w, bias, segments: layout.segments, out: result.probs, argmax: result.argmax, confidence: result.confidence },
    { batch, d: dim / lanes.width, ctot: layout.total, heads: nHeads },
    [nHeads, Math.ceil(batch / rowsPerGroup)],
  );
  return result;
}
