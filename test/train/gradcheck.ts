/**
 * Finite-difference checks of autograd rules. A case builds its op on a tape from parameter vars
 * and gives the float64 CPU reference of the same forward. The GPU gradient of
 * sum(out * seed) (seed random, fixed) is compared with central differences of the float64
 * reference, evaluated at the same (f32-rounded) input values.
 */
import { Parameter, Tape, type Var } from '../../src/train/autograd.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';

export interface GradInput {
  shape: number[];
  /** Values (default: uniform in [-scale, scale] from the input's seed). */
  data?: Float32Array;
  scale?: number;
  /** false: a constant input (no gradient checked). */
  grad?: boolean;
}

export interface GradCase {
  inputs: GradInput[];
  /** Record the op on the tape; `vars[i]` wraps input i. */
  build(vars: Var[], tape: Tape): Var;
  /** The float64 reference forward, flattened. */
  reference(inputs: Float64Array[]): ArrayLike<number>;
}

export interface GradCheckResult {
  /** Worst maxRelErr over all inputs (<= 1 passes). */
  worst: number;
  /** Per input: the GPU gradient and the finite-difference one (null for constants). */
  grads: ({ gpu: Float32Array; fd: Float64Array } | null)[];
  /** Pool buffers still live after the tape was disposed and the gradients released (should be 0). */
  leaked: number;
}

export interface Tolerance {
  atol: number;
  rtol: number;
  /** Finite-difference step relative to max(1, |x|). */
  h?: number;
}

export async function gradCheck(ctx: GpuContext, c: GradCase, tol: Tolerance, seed = 1): Promise<GradCheckResult> {
  const data = c.inputs.map((inp, i) => inp.data ?? randomArray(inp.shape.reduce((p, d) => p * d, 1), seed * 101 + i, inp.scale ?? 1));
  const liveBefore = ctx.storagePool.getStats().live;
  const params = c.inputs.map((inp, i) => new Parameter(`input${i}`, ctx.tensor(data[i], inp.shape)));
  const x64 = data.map((d) => Float64Array.from(d));
  const probe = c.reference(x64);
  const seedValues = randomArray(probe.length, seed * 7 + 3);
  const seedTensor = ctx.tensor(seedValues, [probe.length]);

  const rec = ctx.recorder('gradcheck');
  const tape = new Tape(rec);
  try {
    const vars = c.inputs.map((inp, i) => (inp.grad === false ? tape.constant(params[i].value) : tape.param(params[i])));
    const out = c.build(vars, tape);
    if (out.value.size !== probe.length) throw new Error(`GPU output has ${out.value.size} elements, the reference ${probe.length}`);
    tape.backward(out, seedTensor);
  } finally {
    tape.dispose();
    rec.submit();
  }

  const objective = (xs: Float64Array[]) => {
    const y = c.reference(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * seedValues[i];
    return s;
  };
  const h = tol.h ?? 1e-4;
  let worst = 0;
  const grads: GradCheckResult['grads'] = [];
  for (let i = 0; i < c.inputs.length; i++) {
    if (c.inputs[i].grad === false) {
      grads.push(null);
      continue;
    }
    const p = params[i];
    if (!p.grad) throw new Error(`input ${i} received no gradient`);
    const gpu = (await p.grad.read()) as Float32Array;
    const fd = new Float64Array(gpu.length);
    const x = x64[i];
    for (let j = 0; j < x.length; j++) {
      const keep = x[j];
      const step = h * Math.max(1, Math.abs(keep));
      x[j] = keep + step;
      const up = objective(x64);
      x[j] = keep - step;
      const down = objective(x64);
      x[j] = keep;
      fd[j] = (up - down) / (2 * step);
    }
    worst = Math.max(worst, maxRelErr(gpu, fd, tol.atol, tol.rtol));
    grads.push({ gpu, fd });
  }
  for (const p of params) {
    p.zeroGrad();
    p.value.dispose();
  }
  seedTensor.dispose();
  const leaked = ctx.storagePool.getStats().live - liveBefore;
  return { worst, grads, leaked };
}
