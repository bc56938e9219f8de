import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { grid1d } from './grid.ts';

export type Activation = 'none' | 'relu' | 'gelu' | 'silu';
export const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, gelu: 2, silu: 3 };

export type BinaryOp = 'add' | 'mul' | 'sub';
const OP_CODE: Record<BinaryOp, number> = { add: 0, mul: 1, sub: 2 };

/** out = act(x). */
export function activation(rec: Recorder, x: Tensor, act: Activation, out?: Tensor): Tensor {
  const ctx = rec.ctx;
  const y = out ?? ctx.empty(x.shape, 'f32', `${act}`);
  const kernel = ctx.kernels.get({ file: 'elementwise', entry: 'unary', includes: ['activation'], defines: { ACT: ACTIVATION_CODE[act], OP: 0 } });
  const g = grid1d(x.size, kernel.workgroupSize[0]);
  rec.dispatch(kernel, { a: x, out: y }, { ...emptyBroadcast, n: x.size, row_pitch: g.rowPitch }, g.workgroups);
  return y;
}

const emptyBroadcast = { d1: 1, d2: 1, d3: 1, a0: 0, a1: 0, a2: 0, a3: 0, b0: 0, b1: 0, b2: 0, b3: 0 };

/** NumPy broadcasting of two shapes (up to 4 dims). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new AtelierGpuError('usage', `shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(Math.max(da, db));
  }
  return out;
}

/** Element strides of `shape` read as the 4-D output `out4`, 0 where the input is broadcast. */
export function broadcastStrides(shape: readonly number[], out4: readonly number[]): number[] {
  const padded = [...Array(4 - shape.length).fill(1), ...shape];
  const strides = [0, 0, 0, 0];
  let s = 1;
  for (let i = 3; i >= 0; i--) {
    strides[i] = padded[i] === 1 && out4[i] !== 1 ? 0 : s;
    s *= padded[i];
  }
  return strides;
}

/** out = act(a OP b) with broadcasting (up to 4-D). */
export function binary(rec: Recorder, op: BinaryOp, a: Tensor, b: Tensor, act: Activation = 'none', out?: Tensor): Tensor {
  const shape = broadcastShape(a.shape, b.shape);
  if (shape.length > 4) throw new AtelierGpuError('usage', `binary ${op}: at most 4 dimensions, got ${shape.length}`);
  const ctx = rec.ctx;
  const y = out ?? ctx.empty(shape, 'f32', op);
  const out4 = [...Array(4 - shape.length).fill(1), ...shape];
  const sa = broadcastStrides(a.shape, out4);
  const sb = broadcastStrides(b.shape, out4);
  const kernel = ctx.kernels.get({ file: 'elementwise', entry: 'binary', includes: ['activation'], defines: { ACT: ACTIVATION_CODE[act], OP: OP_CODE[op] } });
  const g = grid1d(y.size, kernel.workgroupSize[0]);
  rec.dispatch(
    kernel,
    { a, b, out: y },
    { n: y.size, d1: out4[1], d2: out4[2], d3: out4[3], a0: sa[0], a1: sa[1], a2: sa[2], a3: sa[3], b0: sb[0], b1: sb[1], b2: sb[2], b3: sb[3], row_pitch: g.rowPitch },
    g.workgroups,
  );
  return y;
}
