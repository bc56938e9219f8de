import { AtelierGpuError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Columns [start, start + width) of the last dimension of `tensor`: what a slice along the last
 * axis would copy, read in place instead by ops that take row strides (attention, KV-cache append).
 * A fused QKV projection [B, T, 3D] thus feeds attention as three views, with no copies.
 */
export interface ColumnView {
  tensor: Tensor;
  start: number;
  width: number;
}

/** A tensor, or a column range of one. */
export type Rows = Tensor | ColumnView;

/** Columns [start, start + width) of x's last dimension (checked). */
export function columns(tensor: Tensor, start: number, width: number): ColumnView {
  const rowWidth = tensor.dim(-1);
  if (!Number.isInteger(start) || !Number.isInteger(width) || start < 0 || width < 1 || start + width > rowWidth) {
    throw new AtelierGpuError('usage', `columns ${start}..${start + width - 1} are outside the rows of [${tensor.shape.join(', ')}]`);
  }
  return { tensor, start, width };
}

/** q, k and v of a fused projection [..., 3D]: its three column thirds. */
export function qkvColumns(qkv: Tensor): [ColumnView, ColumnView, ColumnView] {
  const dim = qkv.dim(-1) / 3;
  return [columns(qkv, 0, dim), columns(qkv, dim, dim), columns(qkv, 2 * dim, dim)];
}

/** A plain tensor as the view of all its columns. */
export function asColumns(x: Rows): ColumnView {
  return 'tensor' in x ? x : { tensor: x, start: 0, width: x.dim(-1) };
}

/** The logical shape of a view: the tensor's shape with the last dimension cut to the view's width. */
export function viewShape(v: ColumnView): number[] {
  return [...v.tensor.shape.slice(0, -1), v.width];
}
