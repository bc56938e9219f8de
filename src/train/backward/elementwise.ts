/**
 * Typed wrappers for kernels/elementwise_backward.wgsl: activation derivatives and the gradient
 * plumbing of the autograd driver (accumulate, scaled copy, fill, broadcast expand, reduce-to-shape).
 * Like the forward ops they validate shapes, allocate outputs from the pool and only record.
 */
import { AtelierGpuError } from '../../runtime/errors.ts';
import { ACTIVATION_CODE, broadcastShape, broadcastStrides, type Activation } from '../../runtime/ops/elementwise.ts';
import { grid1d } from '../../runtime/ops/grid.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';

const NO_SHAPE = { d0: 1, d1: 1, d2: 1, d3: 1, i0: 1, i1: 1, i2: 1, i3: 1, o0: 0, o1: 0, o2: 0, o3: 0 };

function kernel(rec: Recorder, entry: string, act: Activation = 'none', mulOther = false) {
  return rec.ctx.kernels.get({ file: 'elementwise_backward', entry, defines: { ACT: ACTIVATION_CODE[act], MUL_OTHER: mulOther } });
}

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new AtelierGpuError('usage', `${op}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
}

function pad4(shape: readonly number[], op: string): number[] {
  if (shape.length > 4) throw new AtelierGpuError('usage', `${op}: at most 4 dimensions, got [${shape.join(', ')}]`);
  return [...Array(4 - shape.length).fill(1), ...shape];
}

/** dx = dy * act'(x), x the pre-activation input. */
export function activationBackward(rec: Recorder, dy: Tensor, x: Tensor, act: Activation): Tensor {
  sameShape(`${act} backward`, dy, x);
  const dx = rec.ctx.empty(x.shape, 'f32', `d${act}`);
  const k = kernel(rec, 'activation_backward', act);
  const g = grid1d(x.size, k.workgroupSize[0]);
  rec.dispatch(k, { dy, x, dx }, { ...NO_SHAPE, n: x.size, row_pitch: g.rowPitch, s: 1 }, g.workgroups);
  return dx;
}

/** acc += g, in place (the two must not be the same buffer). */
export function accumulate(rec: Recorder, acc: Tensor, g: Tensor): void {
  sameShape('accumulate', acc, g);
  if (acc.buffer === g.buffer) throw new AtelierGpuError('usage', 'accumulate: a gradient cannot be added into its own buffer');
  const k = kernel(rec, 'accumulate');
  const grid = grid1d(acc.size, k.workgroupSize[0]);
  rec.dispatch(k, { acc, g }, { ...NO_SHAPE, n: acc.size, row_pitch: grid.rowPitch, s: 1 }, grid.workgroups);
}

/** out = s * a (a new tensor; s = 1 copies without ending the compute pass). */
export function scale(rec: Recorder, a: Tensor, s: number, out?: Tensor): Tensor {
  const y = out ?? rec.ctx.empty(a.shape, 'f32', 'scaled');
  sameShape('scale', a, y);
  const k = kernel(rec, 'scale');
  const g = grid1d(a.size, k.workgroupSize[0]);
  rec.dispatch(k, { a, out: y }, { ...NO_SHAPE, n: a.size, row_pitch: g.rowPitch, s }, g.workgroups);
  return y;
}

/**
 * A tensor filled with `value` by a kernel. Inside an open recorder this is the safe way to
 * initialise a pooled buffer: a queue write would land before earlier recorded reads of the same
 * (recycled) buffer.
 */
export function fill(rec: Recorder, shape: readonly number[], value: number, out?: Tensor): Tensor {
  const y = out ?? rec.ctx.empty(shape, 'f32', `fill(${value})`);
  const k = kernel(rec, 'fill');
  const g = grid1d(y.size, k.workgroupSize[0]);
  rec.dispatch(k, { out: y }, { ...NO_SHAPE, n: y.size, row_pitch: g.rowPitch, s: value }, g.workgroups);
  return y;
}

/**
 * Sum a gradient of the broadcast output shape back to an input's shape: out = s * sum over the
 * broadcast dimensions of g (times `other`, broadcast to g's shape, when given: the gradient of mul).
 */
export function reduceToShape(rec: Recorder, g: Tensor, shape: readonly number[], s = 1, other?: Tensor): Tensor {
  const outShape = broadcastShape(g.shape, shape);
  if (outShape.length !== g.shape.length || outShape.some((d, i) => d !== g.shape[i])) {
    throw new AtelierGpuError('usage', `reduceToShape: [${shape.join(', ')}] does not broadcast to the gradient's shape [${g.shape.join(', ')}]`);
  }
  const out4 = pad4(g.shape, 'reduceToShape');
  const in4 = pad4(shape, 'reduceToShape');
  const os = other ? broadcastStrides(other.shape, out4) : [0, 0, 0, 0];
  if (other) broadcastShape(other.shape, g.shape);
  const y = rec.ctx.empty(shape, 'f32', 'reduced');
  const k = kernel(rec, 'reduce_to_shape', 'none', other !== undefined);
  const grid = grid1d(y.size, k.workgroupSize[0]);
  // `other` is statically used by the kernel; without it, g stands in (MUL_OTHER=false never reads it)
  const bindings = { g, other: other ?? g, out: y };
  rec.dispatch(
    k,
    bindings,
    {
      n: y.size, row_pitch: grid.rowPitch, s,
      d0: out4[0], d1: out4[1], d2: out4[2], d3: out4[3],
      i0: in4[0], i1: in4[1], i2: in4[2], i3: in4[3],
      o0: os[0], o1: os[1], o2: os[2], o3: os[3],
    },
    grid.workgroups,
  );
  return y;
}

/** out = s * g broadcast to `shape` (the adjoint of reduceToShape). */
export function expand(rec: Recorder, g: Tensor, shape: readonly number[], s = 1): Tensor {
  const outShape = broadcastShape(g.shape, shape);
  if (outShape.length !== shape.length || outShape.some((d, i) => d !== shape[i])) {
    throw new AtelierGpuError('usage', `expand: [${g.shape.join(', ')}] does not broadcast to [${shape.join(', ')}]`);
  }
  const out4 = pad4(shape, 'expand');
  const gs = broadcastStrides(g.shape, out4);
  const y = rec.ctx.empty(shape, 'f32', 'expanded');
  const k = kernel(rec, 'expand');
  const grid = grid1d(y.size, k.workgroupSize[0]);
  rec.dispatch(
    k,
    { g, out: y },
    { ...NO_SHAPE, n: y.size, row_pitch: grid.rowPitch, s, d0: out4[0], d1: out4[1], d2: out4[2], d3: out4[3], o0: gs[0], o1: gs[1], o2: gs[2], o3: gs[3] },
    grid.workgroups,
  );
  return y;
}
