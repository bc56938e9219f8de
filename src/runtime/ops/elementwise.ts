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
  const vec = x.size % 4 === 0;
  const kernel = ctx.kernels.get({ file: 'elementwise', entry: vec ? 'unary4' : 'unary', includes: ['activation'], defines: { ACT: ACTIVATION_CODE[act], OP: 0 } });
  const n = vec ? x.size / 4 : x.size;
  const g = grid1d(n, kernel.workgroupSize[0]);
  rec.dispatch(kernel, vec ? { a4: x, out4: y } : { a: x, out: y }, { ...emptyBroadcast, n, row_pitch: g.rowPitch }, g.workgroups);
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
  // Four elements per thread when the last dimension allows it and neither input repeats along it.
  const vec = out4[3] % 4 === 0 && sa[3] === 1 && sb[3] === 1;
  const u = vec ? 4 : 1;
  const kernel = ctx.kernels.get({ file: 'elementwise', entry: vec ? 'binary4' : 'binary', includes: ['activation'], defines: { ACT: ACTIVATION_CODE[act], OP: OP_CODE[op] } });
  const g = grid1d(y.size / u, kernel.workgroupSize[0]);
  rec.dispatch(
    kernel,
    vec ? { a4: a, b4: b, out4: y } : { a, b, out: y },
    {
      n: y.size / u,
      d1: out4[1],
      d2: out4[2],
      d3: out4[3] / u,
      // In vec4 units the last dimension's stride stays 1; the others (multiples of it) shrink by 4.
      ...Object.fromEntries(sa.map((s, i) => [`a${i}`, i === 3 ? s : s / u])),
      ...Object.fromEntries(sb.map((s, i) => [`b${i}`, i === 3 ? s : s / u])),
      row_pitch: g.rowPitch,
    },
    g.workgroups,
  );
  return y;
}
